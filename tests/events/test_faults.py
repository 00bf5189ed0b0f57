"""Faults: a warehouse failing mid-query, DuckDB files that are locked, read-only or corrupt, a full disk
while writing, and a training run the user walks away from or clicks again.

Each ends in one clear message (`SourceError`/`UserError` in the core, `st.error` in the app, no
exception, the user's settings kept), and no half-written file where a complete one is expected.
Tests run as root here, where chmod does not stop writes: "read-only" and "disk full" are then
simulated by making the write raise the OSError the kernel would.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from prospect_core.outputs import artifact

from prospect_core.events import demo_data, events_files

from prospect_core.modelling import model

from prospect_core.infra import safe_io

from prospect_core import studio
from prospect_core.infra.errors import SourceError, UserError
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.studio.test_app import app, build, messages, small_demo_db  # noqa: F401  (fixtures)

RUNNING_AS_ROOT = os.geteuid() == 0


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# ----- warehouse errors mid-query ----------------------------------------------------------------


def test_an_error_while_the_query_runs_is_one_source_error(tmp_path):
    path = tmp_path / "typed.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table t as select case when i = 90000 then 'x' else i::varchar end as v "
                           "from range(100000) r(i)")
    with pytest.raises(SourceError, match=r"the query on typed\.duckdb failed while running: Conversion Error"):
        DuckDBWarehouse(path).query("select sum(cast(v as integer)) from t")


def test_a_query_failing_mid_build_shows_an_error_and_the_app_stays_usable(app, monkeypatch):
    """The preflight succeeds, the training-set query dies with an I/O error; building again then works."""
    real_connect = DuckDBWarehouse.connect

    class FailingConnection:  # DuckDB raising while it executes the training-set query
        def __init__(self, connection):
            self.connection = connection

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.connection.close()

        def interrupt(self):
            self.connection.interrupt()

        def sql(self, sql, params=None):
            if "had_conversions" in sql.lower():  # the training-set query, not the preflight or event counts
                raise duckdb.IOException("IO Error: Could not read from file: Input/output error")
            return self.connection.sql(sql, params=params)

    app.number_input(key="long_days").set_value(29).run()  # a spec no other test has cached
    kept = app.session_state["spec"]
    monkeypatch.setattr(DuckDBWarehouse, "connect", lambda self: FailingConnection(real_connect(self)))
    build(app)
    assert any("failed while running: IO Error: Could not read from file" in text for text in messages(app)), messages(app)
    assert app.session_state["built"] is None
    assert app.session_state["spec"] == kept and app.number_input(key="long_days").value == 29

    monkeypatch.setattr(DuckDBWarehouse, "connect", real_connect)
    build(app)
    assert not app.error, messages(app)
    assert app.session_state["built"].spec == kept


# ----- locked, read-only, corrupt DuckDB files ----------------------------------------------------


@pytest.fixture
def events_db(small_demo_db, tmp_path):
    copy = tmp_path / "events.duckdb"
    copy.write_bytes(small_demo_db.read_bytes())
    return copy


@pytest.fixture
def locked(events_db):
    """Another process holds the file open read-write (DuckDB then locks it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(events_db)!r}); print('ready', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    yield events_db, holder.pid
    holder.stdin.close()
    holder.wait(timeout=20)


def test_a_file_locked_by_another_process_names_the_process(locked):
    path, pid = locked
    with pytest.raises(SourceError, match=rf"another program \(process {pid}\) has it open for writing"):
        DuckDBWarehouse(path).query("select 1")


def test_a_corrupt_file_is_called_not_a_duckdb_database(tmp_path):
    path = tmp_path / "random.duckdb"
    path.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(SourceError, match=r"random\.duckdb: it is not a DuckDB database file"):
        DuckDBWarehouse(path).query("select 1")


def test_a_read_only_file_in_a_read_only_folder_is_still_read(events_db):
    """Queries open DuckDB read-only, so chmod 0444 on the file and 0555 on its folder do not matter."""
    events_db.chmod(0o444)
    events_db.parent.chmod(0o555)
    try:
        rows = DuckDBWarehouse(events_db).query("select count(*) as n from atomic.events")
    finally:
        events_db.parent.chmod(0o755)
        events_db.chmod(0o644)
    assert rows["n"].iloc[0] > 1000


def choose_duckdb_file(app, path: Path) -> None:
    app.radio(key="source_kind").set_value("duckdb").run()
    app.text_input(key="duckdb_path").input(str(path)).run()
    assert not app.exception, messages(app)


@pytest.mark.parametrize("fault, expected", [
    ("locked", "has it open for writing"),
    ("corrupt", "it is not a DuckDB database file"),
])
def test_a_locked_or_corrupt_file_in_the_app_is_an_error_and_settings_are_kept(app, request, tmp_path, fault, expected):
    if fault == "locked":
        path, _ = request.getfixturevalue("locked")
    else:
        path = tmp_path / "corrupt.duckdb"
        path.write_bytes(os.urandom(64 * 1024))
    app.number_input(key="short_days").set_value(5).run()
    choose_duckdb_file(app, path)
    kept = app.session_state["spec"]
    build(app)
    assert not app.exception
    assert any(expected in text for text in messages(app)), messages(app)
    assert app.session_state["built"] is None and app.session_state["spec"] == kept
    assert app.text_input(key="duckdb_path").value == str(path) and app.number_input(key="short_days").value == 5


# ----- writes: demo database, artifact, events cache ----------------------------------------------


def no_write_access(monkeypatch, module, error_number: int) -> None:
    """Make creating files in a folder fail as the kernel would (root ignores chmod, so simulate)."""
    def refuse(*args, **kwargs):
        raise PermissionError(error_number, os.strerror(error_number))

    monkeypatch.setattr(module.tempfile, "TemporaryDirectory", refuse)
    monkeypatch.setattr(module.tempfile, "mkstemp", refuse)


def test_a_read_only_folder_for_the_demo_database_is_a_clear_message(tmp_path, monkeypatch):
    from prospect_core.events.sources import ensure_demo_db

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if RUNNING_AS_ROOT:  # root writes through chmod: make the write fail as it would for anyone else
        no_write_access(monkeypatch, safe_io, errno.EACCES)
    try:
        with pytest.raises(SourceError, match=r"cannot write the demo database at .*: permission denied.*PROSPECT_DEMO_DB"):
            ensure_demo_db(folder / "demo.duckdb")
    finally:
        folder.chmod(0o755)
    assert leftovers(folder, set()) == []


class FullDiskConnection:
    """A DuckDB connection whose bulk insert fails the way DuckDB reports a full disk."""

    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.connection.close()

    def execute(self, sql, *args):
        if sql.startswith("insert"):
            raise duckdb.IOException('IO Error: Could not write file "demo.duckdb": No space left on device')
        return self.connection.execute(sql, *args)

    def register(self, *args):
        return self.connection.register(*args)


def fill_the_disk(monkeypatch) -> None:
    """From here on, every DuckDB connection fails its bulk inserts as on a full disk."""
    real_connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *args, **kwargs: FullDiskConnection(real_connect(*args, **kwargs)))


def test_disk_full_while_writing_the_demo_database_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "demo.duckdb"
    demo_data.write_demo_db(path, n_users=50, seed=1)
    before = path.read_bytes()
    fill_the_disk(monkeypatch)
    with pytest.raises(duckdb.IOException, match="No space left on device"):
        demo_data.write_demo_db(path, n_users=50, seed=2)
    assert path.read_bytes() == before  # the complete earlier file, untouched
    assert leftovers(tmp_path, {"demo.duckdb"}) == []  # the scratch folder is gone


def test_disk_full_while_creating_the_demo_database_in_the_app_is_an_error(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.studio.test_app import APP, TIMEOUT

    fill_the_disk(monkeypatch)
    monkeypatch.setattr(demo_data, "DEFAULT_DEMO_USERS", 50)
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tmp_path / "demo.duckdb"))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, messages(at)
    assert any("cannot write the demo database" in text and "the disk is full" in text for text in messages(at)), messages(at)
    assert leftovers(tmp_path, set()) == []


@pytest.fixture(scope="module")
def fitted_pipeline():
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    X = pd.DataFrame({"a": np.arange(20) % 5, "b": np.arange(20) % 3})
    return Pipeline([("classifier", LogisticRegression().fit(X, np.arange(20) % 2))])


def test_disk_full_while_saving_the_artifact_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch, fitted_pipeline):
    target = tmp_path / "model.joblib"
    target.write_bytes(b"the complete earlier artifact")
    real_fdopen = os.fdopen

    class HalfWritten:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            enospc()

    monkeypatch.setattr(safe_io.os, "fdopen", lambda fd, mode: HalfWritten(real_fdopen(fd, mode)))
    with pytest.raises(UserError, match=r"cannot write the model artifact at .*model\.joblib: the disk is full"):
        artifact.save_artifact(fitted_pipeline, target)
    assert target.read_bytes() == b"the complete earlier artifact"
    assert leftovers(tmp_path, {"model.joblib"}) == []


def test_a_read_only_folder_for_the_artifact_is_a_clear_message(tmp_path, monkeypatch, fitted_pipeline):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if RUNNING_AS_ROOT:
        no_write_access(monkeypatch, safe_io, errno.EROFS)
    try:
        with pytest.raises(UserError, match=r"cannot write the model artifact at .*: (the file system is read-only|permission denied)"):
            artifact.save_artifact(fitted_pipeline, folder / "model.joblib")
    finally:
        folder.chmod(0o755)
    assert leftovers(folder, set()) == []


EVENTS_CSV = (
    "event_id,derived_tstamp,domain_userid,domain_sessionid,event_name,app_id\n"
    "e1,2025-05-01 10:00:00,u1,s1,page_view,website\n"
    "e2,2025-05-01 10:05:00,u1,s1,submit_form,website\n"
)


def test_disk_full_while_caching_an_events_export_leaves_no_partial_file(tmp_path, monkeypatch):
    export = tmp_path / "events.csv"
    export.write_text(EVENTS_CSV)
    cache = tmp_path / "cache"
    real_load = events_files._load

    def load_then_fill_the_disk(source, file_format, table, database, **options):
        real_load(source, file_format, table, database, **options)  # the partial file is fully there...
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")  # ...and then not

    monkeypatch.setattr(events_files, "_load", load_then_fill_the_disk)
    with pytest.raises(SourceError, match=r"cannot write the cached copy of events\.csv at .*: the disk is full"):
        events_files.load_events_file(export, cache_dir=cache)
    assert [p for p in cache.rglob("*") if p.is_file()] == []

    monkeypatch.setattr(events_files, "_load", real_load)
    loaded = events_files.load_events_file(export, cache_dir=cache)  # nothing stale stands in the way
    assert loaded.rows == 2 and [p.name for p in loaded.database.parent.iterdir()] == [loaded.database.name]


# ----- an interrupted training run ----------------------------------------------------------------


def test_training_survives_leaving_the_page_and_a_second_click_starts_no_second_job(app, monkeypatch):
    build(app)
    gate, calls = threading.Event(), []
    real_train = model.train_model

    def slow_train(*args, **kwargs):
        calls.append(1)
        assert gate.wait(120), "the test never opened the gate"
        return real_train(*args, **kwargs)

    monkeypatch.setattr(model, "train_model", slow_train)
    real_follow = studio.follow_job

    def leave_at_once(job, **kwargs):  # the user clicks another page while the job runs: the script stops
        import streamlit as st

        st.stop()

    monkeypatch.setattr(studio, "follow_job", leave_at_once)
    app.switch_page("screens/train.py").run()
    app.button[0].click().run()
    assert not app.exception, messages(app)
    assert app.session_state["job_train"] is not None and app.session_state["runs"] == []

    app.switch_page("screens/evaluate.py").run()  # another page works while the job runs
    assert not app.exception and not app.error, messages(app)
    assert any("No model yet" in info.value for info in app.info)
    assert not app.session_state["job_train"].future.done()

    app.switch_page("screens/train.py").run()  # back, and (still impatient) away again before it is done
    app.button[0].click().run()  # "Train model" again while the first run is still going
    assert not app.exception and not app.error, messages(app)
    assert any("already training" in info.value for info in app.info)
    assert len(calls) == 1 and app.session_state["runs"] == []  # no second job

    monkeypatch.setattr(studio, "follow_job", real_follow)
    threading.Timer(1.0, gate.set).start()
    app.switch_page("screens/evaluate.py").run()
    app.switch_page("screens/train.py").run()  # this time the user waits on the Train page
    assert not app.exception and not app.error, messages(app)
    assert len(calls) == 1
    assert len(app.session_state["runs"]) == 1  # the first job's result arrived, once
    assert "job_train" not in app.session_state
    assert [m.label for m in app.metric][:1] == ["ROC AUC"]


def test_start_job_refuses_a_second_job_of_a_kind(monkeypatch):
    """The core layer itself refuses a second job, so two quick clicks cannot race past the page's check."""
    monkeypatch.setattr(studio.jobs.st, "session_state", {})
    gate = threading.Event()
    first = studio.start_job("train", "Training", lambda report: gate.wait(60))
    try:
        with pytest.raises(UserError, match="a train job is already running in this session"):
            studio.start_job("train", "Training", lambda report: None)
        studio.start_job("build", "Building", lambda report: "other kinds may run").future.result(timeout=10)
    finally:
        gate.set()
    assert first.future.result(timeout=10) is True
