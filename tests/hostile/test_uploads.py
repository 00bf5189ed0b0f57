"""Issue 11, findings 1, 5, 6 and 9 (data): what a user's file may do on the server, and what it is told.

Real DuckDB files, real gzip and Parquet files, the real loader, the real CLI and the real app.
"""

from __future__ import annotations

import datetime as dt
import gc
import gzip
import os
import threading
import time
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from prospect_core import studio
from prospect_core.cli import main
from prospect_core.infra.errors import SourceError
from prospect_core.events.events_files import LoadControl, load_events_file, sniff_kind
from prospect_core.infra.limits import EventsFileLimits
from prospect_core.events.sources import file_in_data_dirs
from prospect_core.events.warehouse import DuckDBWarehouse, connect_locked_down
from tests.conftest import event, write_events_db
from tests.hostile.conftest import SPEC, T0

APP = Path(__file__).resolve().parents[2] / "app.py"
ONE = [event("e1", T0)]  # a table needs one row to be written
HEADER = "event_id,derived_tstamp,domain_userid,domain_sessionid,event_name,app_id"


def csv_rows(count: int, *, start: int = 0, name: str = "page_view") -> list[str]:
    """`count` page views of one prospect, a minute apart from T0."""
    return [f"e{start + index},{(T0 + dt.timedelta(minutes=index)).isoformat(sep=' ')},u1,s1,{name},website"
            for index in range(count)]


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


# ----- finding 1: a DuckDB file can reach nothing beyond itself ----------------------------------------


def test_a_locked_down_connection_reads_no_file_installs_nothing_and_cannot_be_unlocked(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("canary")
    database = write_events_db(tmp_path / "events.duckdb", ONE)
    with connect_locked_down(database) as connection:
        for statement, message in [
            (f"select * from read_text('{secret}')", "file system operations are disabled"),
            (f"copy (select 1) to '{tmp_path / 'out.csv'}'", "disabled"),
            (f"attach '{tmp_path / 'other.duckdb'}' as other", "disabled"),
            ("install httpfs", "disabled"),
            ("set enable_external_access = true", "the configuration has been locked"),
            ("set autoinstall_known_extensions = true", "the configuration has been locked"),
        ]:
            with pytest.raises(duckdb.Error, match=message):
                connection.execute(statement).fetchall()
        assert connection.execute("select current_setting('TimeZone')").fetchall() == [("UTC",)]
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()


VIEWS = {
    "table function": ("select * from read_csv('{secret}')", "calls the table function read_csv()"),
    "table function in a subquery": ("select *, (select count(*) from read_text('{secret}')) as n from atomic.base",
                                     "calls the table function read_text()"),
    "glob": ("select file as event_name from glob('/etc/*')", "calls the table function glob()"),
    "macro defined in the file": ("select leak() as x from atomic.base", "calls the macro leak() defined in the file"),
    "server setting": ("select current_setting('temp_directory') as event_name from atomic.base",
                       "calls current_setting(), which tells about this server"),
    "quoted name": (None, "cannot be checked"),
}


@pytest.mark.parametrize("case", list(VIEWS))
def test_a_view_that_does_more_than_select_from_the_file_is_refused_with_the_reason(tmp_path, case):
    secret = tmp_path / "secret.txt"
    secret.write_text("canary")
    path = write_events_db(tmp_path / "view.duckdb", ONE, table="atomic.base")
    body, reason = VIEWS[case]
    with duckdb.connect(str(path)) as connection:
        connection.execute("create macro leak() as 1")
        if body is None:
            connection.execute('create view atomic."events; x" as select * from atomic.base')
        else:
            connection.execute(f"create view atomic.events as {body.format(secret=secret)}")
    with pytest.raises(SourceError, match=r"view\.duckdb is refused: its view atomic\..* " + reason.replace("(", r"\(").replace(")", r"\)")):
        DuckDBWarehouse(path).query("select 1 as one")


def test_a_plain_view_over_a_table_of_the_file_is_read_like_the_table(tmp_path, tiny_demo_db):
    from prospect_core.events.build import query_training_set

    path = tmp_path / "viewed.duckdb"
    path.write_bytes(tiny_demo_db.read_bytes())
    with duckdb.connect(str(path)) as connection:
        connection.execute("alter table atomic.events rename to raw_events")
        connection.execute("create view atomic.events as with e as (select * from atomic.raw_events) "
                           "select * from e where event_id is not null")
    spec = SPEC.replace(as_of=dt.date.today())
    viewed = query_training_set(DuckDBWarehouse(path), spec)
    assert len(viewed) > 100 and viewed.equals(query_training_set(DuckDBWarehouse(tiny_demo_db), spec))


# ----- finding 1: the path box and the upload folder ------------------------------------------------


def test_the_path_box_accepts_only_files_inside_data_folders_and_says_the_same_for_everything_else(tmp_path):
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir(), outside.mkdir()
    inside = write_events_db(data / "events.duckdb", ONE)
    secret = outside / "secret.duckdb"
    secret.write_bytes(inside.read_bytes())
    (data / "link.duckdb").symlink_to(secret)  # a link inside pointing out is outside
    assert file_in_data_dirs(str(inside), [data]) == inside.resolve()
    assert file_in_data_dirs(f"{data}/../data/events.duckdb", [data]) == inside.resolve()
    messages = set()
    for text in [str(secret), str(outside / "missing.duckdb"), str(data / "link.duckdb"), str(data), "/dev/zero",
                 f"{data}/../outside/secret.duckdb", "/etc/passwd", "x\x00y", "~root/.ssh/id_rsa"]:
        with pytest.raises(SourceError) as refused:
            file_in_data_dirs(text, [data])
        messages.add(str(refused.value))
    assert len(messages) == 1  # nothing tells an existing file outside from a missing one
    assert "outside" not in messages.pop()


def test_an_upload_folder_goes_with_its_session_or_after_the_ttl(tmp_path):
    folder = studio.UploadFolder(tmp_path)
    path = folder.path
    (path / "evil.csv").write_bytes(b"x")
    assert path.parent == tmp_path and path.name.startswith("session-") and oct(path.stat().st_mode)[-3:] == "700"
    del folder
    gc.collect()
    assert not path.exists()  # the session's state was released: its uploads and cached loads with it

    kept, stale = studio.UploadFolder(tmp_path), studio.UploadFolder(tmp_path)
    two_days_ago = time.time() - 48 * 3600
    os.utime(stale.path, (two_days_ago, two_days_ago))
    assert studio.sweep_uploads(tmp_path, ttl_seconds=3600) == [stale.path]
    assert kept.path.is_dir() and not stale.path.exists()


@pytest.mark.parametrize("name, data, kind", [
    ("events.parquet", b"event_id,derived_tstamp\n", "csv"),
    ("events.csv", b"PAR1....", "parquet"),
    ("events.csv", gzip.compress(b"a,b\n"), "csv.gz"),
    ("events.csv", None, "duckdb"),
])
def test_an_upload_is_typed_by_its_content_not_its_name(tmp_path, name, data, kind):
    path = tmp_path / name
    if data is None:
        write_events_db(tmp_path / "real.duckdb", ONE).rename(path)
    else:
        path.write_bytes(data)
    assert sniff_kind(path) == kind


def test_a_duckdb_file_given_as_an_events_export_is_refused_by_the_loader(tmp_path):
    path = write_events_db(tmp_path / "db.duckdb", ONE).rename(tmp_path / "events.csv")
    with pytest.raises(SourceError, match="events.csv is a DuckDB database, not an events export"):
        load_events_file(path, cache_dir=tmp_path / "cache")


def test_a_glob_character_in_an_events_path_is_taken_literally(tmp_path, capsys):
    write_csv(tmp_path / "q1.csv", csv_rows(50, start=1000, name="submit_form"))  # would match q?.csv as a glob
    literal = write_csv(tmp_path / "q?.csv", csv_rows(3))
    assert load_events_file(literal, cache_dir=tmp_path / "cache").rows == 3
    status = main(["dataset", "--source", f"events:{literal}", "--as-of", SPEC.as_of.isoformat(),
                   "--out", str(tmp_path / "set.parquet")])
    assert status == 0 and "3 rows" in capsys.readouterr().out


# ----- finding 5: bad rows anywhere in a CSV, damaged gzip -------------------------------------------


def bad_row_csv(path: Path) -> Path:
    """25,000 good rows (past DuckDB's 20,480-row sniffing sample), then a row with one field too many."""
    return write_csv(path, [*csv_rows(25_000), "x,2025-04-01 10:00:00,u1,s1,page_view,website,extra", *csv_rows(5, start=90)])


def test_a_bad_row_past_the_sniffing_sample_is_one_source_error_naming_the_line(tmp_path):
    with pytest.raises(SourceError) as refused:
        load_events_file(bad_row_csv(tmp_path / "bad.csv"), cache_dir=tmp_path / "cache")
    message = str(refused.value)
    assert message.startswith("cannot read bad.csv as CSV: line 25,002 has 7 fields where the header has 6")
    assert str(tmp_path) not in message and "\n" not in message


def test_the_cli_prints_one_line_for_a_bad_row_and_exits_2(tmp_path, capsys):
    path = bad_row_csv(tmp_path / "bad.csv")
    status = main(["dataset", "--source", f"events:{path}", "--out", str(tmp_path / "out.parquet")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith("error: cannot read bad.csv as CSV: line 25,002")
    assert not (tmp_path / "out.parquet").exists()


def test_a_truncated_gzip_is_called_truncated_and_no_cache_path_is_shown(tmp_path):
    whole = gzip.compress(("\n".join([HEADER, *csv_rows(5_000)]) + "\n").encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[:-40])
    cache = tmp_path / "the-cache-folder"
    with pytest.raises(SourceError) as refused:
        load_events_file(path, cache_dir=cache)
    message = str(refused.value)
    assert message.startswith("cut.csv.gz is a damaged gzip file: it ends before its end marker (truncated")
    assert "cannot write" not in message and "the-cache-folder" not in message
    assert [p for p in cache.rglob("*") if p.is_file()] == []


# ----- finding 6: bounded work on uploads ----------------------------------------------------------------


def bomb(path: Path, megabytes: int) -> Path:
    """A small gzip that expands to `megabytes` MB of valid events."""
    line = f"{csv_rows(1)[0]}\n".encode()
    block = line * (1_000_000 // len(line))
    with gzip.open(path, "wb", compresslevel=9) as file:
        file.write((HEADER + "\n").encode())
        for _ in range(megabytes):
            file.write(block)
    return path


def test_a_gzip_bomb_is_refused_at_the_size_bound_without_expanding_it_all(tmp_path):
    path = bomb(tmp_path / "bomb.csv.gz", 200)
    started = time.perf_counter()
    with pytest.raises(SourceError, match=r"bomb\.csv\.gz is larger than 20 MB once decompressed, the limit .*"
                                          r"PROSPECT_MAX_EVENTS_FILE_MB or `max_events_file_mb` in secrets"):
        load_events_file(path, cache_dir=tmp_path / "cache", limits=EventsFileLimits(megabytes=20))
    seconds = time.perf_counter() - started
    assert path.stat().st_size < 2_000_000 and seconds < 30, seconds
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []  # the expanded part is gone too


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_file_with_more_rows_than_the_bound_is_refused(tmp_path, kind):
    path = write_csv(tmp_path / "many.csv", csv_rows(150))
    if kind == "parquet":
        with duckdb.connect() as connection:
            connection.execute(f"copy (select * from read_csv('{path}')) to '{tmp_path / 'many.parquet'}' (format parquet)")
        path = tmp_path / "many.parquet"
    with pytest.raises(SourceError, match=rf"many\.{kind} has more than 100 events, the limit for an events file .*"
                                          "PROSPECT_MAX_EVENTS_FILE_ROWS"):
        load_events_file(path, cache_dir=tmp_path / "cache", limits=EventsFileLimits(rows=100))
    assert load_events_file(path, cache_dir=tmp_path / "cache", limits=EventsFileLimits(rows=150)).rows == 150


def test_the_bounds_come_from_the_environment_then_secrets(monkeypatch):
    from prospect_core.infra.errors import UserError
    from prospect_core.infra.limits import events_file_limits

    assert events_file_limits({"max_events_file_mb": 5, "max_events_file_rows": "1_000"}) == EventsFileLimits(5, 1000)
    monkeypatch.setenv("PROSPECT_MAX_EVENTS_FILE_MB", "7")
    assert events_file_limits({"max_events_file_mb": 5}).megabytes == 7
    monkeypatch.setenv("PROSPECT_MAX_EVENTS_FILE_MB", "lots")
    with pytest.raises(UserError, match="PROSPECT_MAX_EVENTS_FILE_MB must be a whole number of megabytes >= 1"):
        events_file_limits()


def test_a_load_can_be_cancelled_from_another_thread_and_leaves_nothing(tmp_path):
    path = bomb(tmp_path / "big.csv.gz", 400)
    control = LoadControl()
    threading.Timer(0.3, control.cancel).start()
    started = time.perf_counter()
    with pytest.raises(SourceError, match="loading the events file was cancelled"):
        load_events_file(path, cache_dir=tmp_path / "cache", control=control)
    assert time.perf_counter() - started < 10
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


# ----- finding 9: silent data problems become notices ------------------------------------------------


def test_events_without_derived_tstamp_are_counted_in_a_notice(tmp_path):
    rows = csv_rows(9) + ["nul,,u1,s1,page_view,website"]
    loaded = load_events_file(write_csv(tmp_path / "some-null.csv", rows), cache_dir=tmp_path / "cache")
    assert loaded.null_timestamps == 1
    assert ("1 of the 10 events in some-null.csv have no derived_tstamp and are left out of every count and of the "
            "training set") in loaded.notices
    again = load_events_file(tmp_path / "some-null.csv", cache_dir=tmp_path / "cache")  # from the cache
    assert again.notices == loaded.notices


def test_a_parquet_context_column_stored_as_a_number_is_refused(tmp_path):
    path = tmp_path / "int-context.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            "copy (select 'e1' as event_id, timestamp '2025-04-01 10:00:00' as derived_tstamp, 'u1' as domain_userid, "
            "'s1' as domain_sessionid, 'page_view' as event_name, 'website' as app_id, "
            f"42 as contexts_nl_basjes_yauaa_context_1) to '{path}' (format parquet)"
        )
    with pytest.raises(SourceError, match="column contexts_nl_basjes_yauaa_context_1 in int-context.parquet has type "
                                          "INTEGER; expected JSON text or nested values"):
        load_events_file(path, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("typed, meant", [("Submit_Form", "submit_form"), ("page_view ", "page_view"),
                                          ("submitform", "submit_form")])
def test_the_cli_dataset_says_when_the_target_event_is_not_in_the_source(tmp_path, tiny_demo_db, capsys, typed, meant):
    status = main(["dataset", "--source", f"duckdb:{tiny_demo_db}", "--target-event", typed,
                   "--out", str(tmp_path / "set.parquet")])
    err = capsys.readouterr().err
    assert f"notice: no event named {typed!r} in the lookback window, so the target has no positives; did you mean {meant}?" in err
    assert status == 0


def test_the_cli_says_nothing_about_a_target_event_that_is_there(tmp_path, tiny_demo_db, capsys):
    assert main(["dataset", "--source", f"duckdb:{tiny_demo_db}", "--out", str(tmp_path / "set.parquet")]) == 0
    assert "no event named" not in capsys.readouterr().err


# ----- the same through the app ---------------------------------------------------------------------------


@pytest.fixture
def app(tiny_demo_db, monkeypatch):
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.radio(key="source_kind").set_value("events").run()
    return at


def messages(at: AppTest) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return [element.value for element in [*at.error, *at.warning, *at.info]]


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="events_upload").set_value((name, data, "text/csv")).run()
    return at


def test_a_bad_row_in_an_upload_is_an_error_on_the_page_and_the_page_keeps_working(app, tmp_path):
    upload(app, "bad.csv", bad_row_csv(tmp_path / "bad.csv").read_bytes())
    errors = [text for text in messages(app) if "line 25,002 has 7 fields where the header has 6" in text]
    assert len(errors) == 1 and "Traceback" not in errors[0] and str(studio.UPLOAD_ROOT) not in errors[0]
    app.run()  # a rerun says it again, without loading again
    assert len([text for text in messages(app) if "line 25,002" in text]) == 1 and "job_load" not in app.session_state
    app.radio(key="source_kind").set_value("demo").run()  # other sources work, settings too
    app.number_input(key="short_days").set_value(5).run()
    assert not messages(app) and app.session_state["spec"].short_window_days == 5
    app.radio(key="source_kind").set_value("events").run()
    good = write_csv(tmp_path / "good.csv", [*csv_rows(20), *csv_rows(2, start=50, name="submit_form")])
    upload(app, "good.csv", good.read_bytes())
    assert not any("line 25,002" in text for text in messages(app))
    assert app.session_state["source"].startswith("events:") and app.session_state["events_loaded"].rows == 22


def test_an_upload_loads_in_a_background_job_with_its_notices(app, tmp_path):
    rows = [*csv_rows(9), "nul,,u1,s1,page_view,website"]
    upload(app, "with-nulls.csv", write_csv(tmp_path / "n.csv", rows).read_bytes())
    shown = messages(app)
    assert "job_load" not in app.session_state  # the job ran, delivered, and was collected
    assert any(s.value == "with-nulls.csv loaded" or "with-nulls.csv loaded in" in s.value for s in app.success)
    assert any("1 of the 10 events in with-nulls.csv have no derived_tstamp" in text for text in shown)
    loaded = app.session_state["events_loaded"]
    assert loaded.database.is_relative_to(studio.UPLOAD_ROOT)  # its cached copy goes with the session folder


def test_a_target_event_that_is_not_there_gets_did_you_mean_on_the_page(app, tmp_path):
    rows = [*csv_rows(20), *csv_rows(2, start=50, name="submit_form")]
    upload(app, "events.csv", write_csv(tmp_path / "e.csv", rows).read_bytes())
    app.date_input(key="as_of").set_value(SPEC.as_of).run()
    assert not any("no event named" in text for text in messages(app))
    app.selectbox(key="target_pick").set_value("Other event…").run()
    app.text_input(key="target_other").input("Submit_Form").run()
    assert any("No event named 'Submit_Form' in the lookback window, so the target has no positives; did you mean "
               "submit_form?" in text for text in messages(app)), messages(app)


def test_a_gzip_bomb_upload_is_refused_on_the_page(app, tmp_path, monkeypatch):
    monkeypatch.setenv("PROSPECT_MAX_EVENTS_FILE_MB", "10")
    upload(app, "bomb.csv.gz", bomb(tmp_path / "bomb.csv.gz", 50).read_bytes())
    assert any("bomb.csv.gz is larger than 10 MB once decompressed" in text for text in messages(app))
    app.radio(key="source_kind").set_value("demo").run()  # the page keeps working
    assert not messages(app) or not any("bomb" in text for text in messages(app))


def test_cached_loads_unused_for_a_week_are_pruned_and_nothing_else(tmp_path):
    from prospect_core.events.events_files import prune_cache

    cache = tmp_path / "cache"
    old = load_events_file(write_csv(tmp_path / "old.csv", csv_rows(3)), cache_dir=cache).database.parent
    fresh = load_events_file(write_csv(tmp_path / "fresh.csv", csv_rows(3)), cache_dir=cache).database.parent
    foreign = cache / "notes-0123456789abcdef"  # named like an entry, but holds no cached load
    foreign.mkdir()
    week_ago = time.time() - 8 * 24 * 3600
    for folder in (old, foreign):
        os.utime(folder, (week_ago, week_ago))
    assert prune_cache(cache) == [old]
    assert fresh.is_dir() and foreign.is_dir()


def test_events_without_derived_tstamp_in_a_duckdb_file_are_counted_in_the_cli_and_the_app(tmp_path, capsys, monkeypatch):
    from tests.conftest import event

    rows = [event(f"e{index}", T0 + dt.timedelta(minutes=index)) for index in range(18)]
    rows += [event("n1", None), event("n2", None)]
    path = write_events_db(tmp_path / "nulls.duckdb", rows)
    main(["dataset", "--source", f"duckdb:{path}", "--as-of", SPEC.as_of.isoformat(), "--out", str(tmp_path / "s.parquet")])
    notice = ("2 of the 20 events in atomic.events have no derived_tstamp and are left out of every count and of the "
              "training set")
    assert f"notice: {notice}" in capsys.readouterr().err

    monkeypatch.setenv("PROSPECT_DATA_DIRS", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.radio(key="source_kind").set_value("duckdb").run()
    at.text_input(key="duckdb_path").input(str(path)).run()
    assert notice in messages(at)


def test_a_view_added_after_a_file_was_read_is_checked_too(tmp_path):
    path = write_events_db(tmp_path / "later.duckdb", ONE)
    warehouse = DuckDBWarehouse(path)
    assert warehouse.query("select count(*) as n from atomic.events")["n"].iloc[0] == 1
    with duckdb.connect(str(path)) as connection:  # the file changes once it passed the check
        connection.execute(f"create view atomic.leak as select * from read_text('{path}')")
    with pytest.raises(SourceError, match="its view atomic.leak calls the table function read_text()"):
        warehouse.query("select count(*) as n from atomic.events")


def test_the_loader_connection_may_read_its_one_file_and_no_other(tmp_path):
    allowed, other = write_csv(tmp_path / "allowed.csv", csv_rows(2)), write_csv(tmp_path / "other.csv", csv_rows(3))
    with connect_locked_down(tmp_path / "load.duckdb", read_only=False, allowed_paths=(str(allowed),)) as connection:
        assert connection.execute(f"select count(*) from read_csv('{allowed}')").fetchall() == [(2,)]
        for path in (other, tmp_path / "*.csv"):
            with pytest.raises(duckdb.PermissionException, match="file system operations are disabled"):
                connection.execute(f"select count(*) from read_csv('{path}')").fetchall()
        with pytest.raises(duckdb.Error, match="the configuration has been locked"):
            connection.execute(f"set allowed_paths = ['{other}']")


def test_the_cli_refuses_the_evil_duckdb_file_in_one_line(tmp_path, capsys):
    from tests.hostile.test_attack_chain import evil_duckdb_file

    secret = tmp_path / "secret.txt"
    secret.write_text("canary-cli-7d1e")
    evil_duckdb_file(tmp_path / "evil.csv", [secret])
    status = main(["dataset", "--source", f"duckdb:{tmp_path / 'evil.csv'}", "--out", str(tmp_path / "o.parquet")])
    captured = capsys.readouterr()
    assert status == 2 and captured.err.strip().splitlines() == [
        "error: evil.csv is refused: its view atomic.events calls the table function read_text(), which can read files "
        "or run other code. Only tables, and views that select from tables in the same file, are read; store the "
        "events as a table"]
    assert "canary-cli-7d1e" not in captured.out + captured.err


def test_an_uploaded_duckdb_file_with_an_events_table_builds(app, tiny_demo_db):
    upload(app, "my events.csv", tiny_demo_db.read_bytes())  # any name: its content says DuckDB
    assert app.session_state["source"].startswith("duckdb:") and app.session_state["source"].endswith("my events.csv")
    assert any(option.startswith("submit_form · ") for option in app.selectbox(key="target_pick").options)
    app.button(key="build").click().run()
    assert not messages(app) or not any("refused" in text for text in messages(app))
    assert app.session_state["built"].summary.positives > 0


def test_an_upload_root_planted_as_a_symlink_is_not_used(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "root").symlink_to(target)
    with pytest.raises(OSError, match="is not a folder of this server's user"):
        studio.UploadFolder(tmp_path / "root")
    assert list(target.iterdir()) == []


def test_two_sessions_querying_one_file_at_once_share_its_locked_down_instance(tmp_path, monkeypatch):
    """DuckDB gives connections of one process to the same file one database instance, so a second
    session opening the file while a first one's query runs finds the settings locked. It must still
    open, in UTC and with external access off (five browser sessions building at once hit this)."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # +14: a cut-off compared in local time would move a day
    time.tzset()
    db = tmp_path / "events.duckdb"
    write_events_db(db, ONE)
    first = connect_locked_down(db)
    try:
        second = connect_locked_down(db)
        timezone, external, locked = second.execute(
            "select current_setting('TimeZone'), current_setting('enable_external_access'), "
            "current_setting('lock_configuration')").fetchall()[0]
        assert (timezone, external, locked) == ("UTC", False, True)
        with pytest.raises(duckdb.Error, match="locked"):
            second.execute("set enable_external_access = true")
        second.close()
    finally:
        first.close()
        monkeypatch.delenv("TZ")
        time.tzset()
