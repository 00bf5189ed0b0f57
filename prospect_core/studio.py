"""The Streamlit app's shared layer: per-session state, cached queries and the sidebar.

Pages import this module, never each other. What a user builds lives in `st.session_state`
(one browser session, never shared); what is expensive and identical for everyone (a query's
result for the same source and SQL) lives in `st.cache_data`. The rest of `prospect_core` knows
nothing of Streamlit.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
import streamlit as st

from prospect_core.dataset import DatasetSummary, normalize_training_set, summarize
from prospect_core.spec import TrainingSpec

MAX_RUNS = 6  # runs kept per session; each holds a fitted model and its test rows
RARE_POSITIVES = 20  # below this many positive rows a model cannot be judged reliably
# Each conversion makes dozens of positive rows (every event in the hour before it), so what a model
# learns from is the number of prospects behind them. Below these, say so.
FEW_POSITIVE_PROSPECTS = 20  # in the training set
FEW_TEST_POSITIVE_PROSPECTS = 10  # in a model's test rows


# ----- session state -------------------------------------------------------------------------------


@dataclass
class BuiltSet:
    """The training set a session built, with what built it."""

    source: str
    spec: TrainingSpec
    frame: pd.DataFrame
    summary: DatasetSummary
    seconds: float
    notes: tuple[str, ...] = ()  # what the user should know about it, e.g. that it was sampled to the row limit


@dataclass
class StudioRun:
    """One training run as the app keeps it: the core's run plus what the app adds lazily."""

    number: int
    source: str
    run: Any  # prospect_core.model.TrainingRun
    created: dt.datetime
    shap: Any = None  # prospect_core.explain.ShapSample, computed on first visit to Explain
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        params = self.run.params
        return f"Run {self.number} · {self.run.split} · {params.n_estimators} trees, depth {params.max_depth}"


def init_state() -> None:
    state = st.session_state
    state.setdefault("source", "demo")
    state.setdefault("spec", TrainingSpec())
    state.setdefault("built", None)
    state.setdefault("runs", [])
    state.setdefault("run_counter", 0)


def spec() -> TrainingSpec:
    """The last valid spec of this session (widgets that fail validation do not replace it)."""
    init_state()
    return st.session_state["spec"]


def built_set() -> BuiltSet | None:
    init_state()
    return st.session_state["built"]


def runs() -> list[StudioRun]:
    init_state()
    return st.session_state["runs"]


def add_run(run: Any, source: str) -> StudioRun:
    state = st.session_state
    state["run_counter"] += 1
    record = StudioRun(number=state["run_counter"], source=source, run=run, created=dt.datetime.now())
    state["runs"] = [*state["runs"], record][-MAX_RUNS:]
    return record


def selected_run(label: str = "Run") -> StudioRun | None:
    """A run picker (latest first); None, with a hint, when the session has no run yet."""
    by_number = {record.number: record for record in reversed(runs())}
    if not by_number:
        st.info("No model yet. Build a training set on **Data & target**, then train one on **Train**.")
        return None
    # Pick by number: a widget may hand back a copy of an option, and runs are mutated in place
    # (their SHAP sample and export are computed once and kept on the record).
    number = st.selectbox(label, list(by_number), format_func=lambda n: by_number[n].label, key=f"pick_{label}")
    return by_number[number]


def counted(number: int, noun: str) -> str:
    """"1 prospect", "4 prospects": a count and its noun, for messages."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


# ----- data ----------------------------------------------------------------------------------------


def source_label(source: str) -> str:
    kind, _, argument = source.partition(":")
    names = {"demo": "Demo events (embedded DuckDB)", "duckdb": "DuckDB file", "events": "Events export",
             "snowflake": "Snowflake"}
    return names.get(kind, source) + (f" · {Path(argument).name}" if argument else "")


def _source_version(source: str) -> str:
    """Part of the cache key: a DuckDB or events file that changed must not serve old rows."""
    from prospect_core.sources import demo_db_path

    kind, _, argument = source.partition(":")
    if kind == "snowflake":  # which account, user, role and database; never the secrets
        config = snowflake_config()
        return repr(sorted(config.describe().items())) if config else ""
    path = demo_db_path() if kind == "demo" else Path(argument) if kind in ("duckdb", "events") else None
    if path is not None and path.exists():
        stat = path.stat()
        return f"{stat.st_mtime_ns}:{stat.st_size}"
    return ""


@st.cache_data(show_spinner=False, max_entries=8)
def _query(source: str, version: str, sql: str, params: tuple[tuple[str, Any], ...], _warehouse: Any) -> pd.DataFrame:
    # `_warehouse` is not part of the key (leading underscore): the source and its version are.
    return _warehouse.query(sql, dict(params))


def run_query(source: str, warehouse: Any, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    """A query's rows, cached by (source, SQL, values) for every session of this server."""
    return _query(source, _source_version(source), sql, tuple(sorted(params.items())), warehouse)


def dialect_of(source: str) -> str:
    return "snowflake" if source == "snowflake" else "duckdb"


def snowflake_config() -> Any:
    """Settings from secrets, connections.toml or the environment, with this session's form on top.

    None when no account is configured anywhere. The form's values live in session state only.
    """
    from prospect_core.errors import UserError
    from prospect_core.snowflake import resolve_config, streamlit_secrets

    try:
        return resolve_config(streamlit_secrets(), st.session_state.get("snowflake_overrides"))
    except UserError:
        return None


def snowflake_configured() -> bool:
    return snowflake_config() is not None


def secrets() -> dict[str, Any]:
    """`st.secrets` as a plain dict; empty without a secrets.toml (or with one that does not parse)."""
    from prospect_core.snowflake import streamlit_secrets

    return dict(streamlit_secrets() or {})


def max_training_rows() -> int:
    from prospect_core.limits import max_training_rows as resolve

    return resolve(secrets())


def shap_max_rows() -> int:
    from prospect_core.limits import shap_max_rows as resolve

    return resolve(secrets())


def open_warehouse(source: str, spec_: TrainingSpec) -> Any:
    """The warehouse behind `source`; raises UserError with what is wrong."""
    from prospect_core.sources import open_source

    kind, _, argument = source.partition(":")
    if kind == "events" and loaded_events(argument) is not None:  # loaded in this session's background job
        from prospect_core.events_files import EventsFileWarehouse

        return EventsFileWarehouse(loaded_events(argument))
    if kind == "events" and Path(argument).is_relative_to(UPLOAD_ROOT):  # never loaded inside the page script
        from prospect_core.errors import SourceError

        raise SourceError(f"{Path(argument).name} is not loaded yet; choose it under Events export to load it")
    config = snowflake_config() if source == "snowflake" else None
    return open_source(source, events_table=spec_.events_table, snowflake_config=config)


# ----- background jobs ---------------------------------------------------------------------------
# Long work (a query, a fit) runs in a worker thread while the page polls it. The page can then show
# elapsed time, offer Cancel (a click reruns the script, whose callback cancels the query), and a user
# who leaves the page finds the job still running, or its result, when they come back.

_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="studio-job")


@dataclass
class Job:
    kind: str  # "build" or "train": at most one of each per session
    title: str
    future: Future
    started: float
    progress: list[str]
    cancel: Callable[[], bool] | None = None
    deliver: Callable[[Any], None] | None = None  # puts the result into session state

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def start_job(kind: str, title: str, work: Callable[[Callable[[str], None]], Any],
              cancel: Callable[[], bool] | None = None, deliver: Callable[[Any], None] | None = None) -> Job:
    """Run `work` in the background as this session's one job of `kind`; a second one is refused."""
    from prospect_core.errors import UserError

    if pending_job(kind) is not None:
        raise UserError(f"a {kind} job is already running in this session; wait for it or cancel it")
    progress: list[str] = []
    job = Job(kind, title, _EXECUTOR.submit(work, progress.append), time.perf_counter(), progress, cancel, deliver)
    st.session_state[f"job_{kind}"] = job
    return job


def pending_job(kind: str) -> Job | None:
    """This session's running (or finished, not yet collected) job of `kind`.

    Where a page asks, it also confirms a job of that kind that finished on the previous run.
    """
    init_state()
    finished = st.session_state.pop(f"finished_{kind}", None)
    if finished:
        st.success(finished, icon=":material/check_circle:")
    return st.session_state.get(f"job_{kind}")


def _cancel(kind: str) -> None:
    job = st.session_state.get(f"job_{kind}")
    if job is not None and job.cancel is not None:
        job.cancel()


def follow_job(job: Job, *, done: str) -> Any:
    """Show `job`'s progress until it ends; its result, or None after showing its error.

    A click or a page change while this waits stops the script at its next `st.*` call; the job keeps
    running and stays in session state, so the next visit follows it again. The result is put into
    session state (`job.deliver`) before any further `st.*` call, so it cannot be lost that way.
    """
    with st.status(f"{job.title}…", expanded=True) as status:
        if job.cancel is not None and not job.future.done():
            st.button("Cancel", key=f"cancel_{job.kind}", on_click=_cancel, args=(job.kind,), icon=":material/stop:")
        shown, second = 0, -1
        while True:
            finished = job.future.done()
            for line in job.progress[shown:]:
                st.write(line)
            shown = len(job.progress)
            if finished:
                break
            if int(job.elapsed) != second:
                second = int(job.elapsed)
                status.update(label=f"{job.title}… {second} s")
            time.sleep(0.1)
        result, error = _collect(job)
        if error is not None:
            status.update(label=f"{job.title}: stopped after {job.elapsed:.1f} s", state="error", expanded=True)
            st.error(str(error), icon=":material/error:")
            return None
        if job.deliver is not None:
            # Rerun, so everything drawn before this point (the sidebar above all) shows the result.
            st.session_state[f"finished_{job.kind}"] = f"{done} in {job.elapsed:.1f} s."
            st.rerun()
        status.update(label=f"{done} in {job.elapsed:.1f} s", state="complete", expanded=False)
        return result


def _collect(job: Job) -> tuple[Any, Exception | None]:
    """Take a finished job out of session state and deliver its result; no `st.*` call in here."""
    from prospect_core.errors import UserError

    try:
        result = job.future.result()
    except UserError as error:
        return None, error
    finally:
        if st.session_state.get(f"job_{job.kind}") is job:
            del st.session_state[f"job_{job.kind}"]
    if job.deliver is not None:
        job.deliver(result)
    return result, None


def start_build(source: str, spec_: TrainingSpec) -> Job:
    """Preflight, query and type-check the training set in the background."""
    from prospect_core.errors import SourceError
    from prospect_core.limits import cap_rows, check_estimate
    from prospect_core.training_sql import render_training_sql

    warehouse = open_warehouse(source, spec_)
    limit = max_training_rows()

    def work(report: Callable[[str], None]) -> BuiltSet:
        started = time.perf_counter()
        for notice in getattr(warehouse, "notices", ()):
            report(f"Note: {notice}")
        report("Checking the events table and counting the cohort…")
        preflight = warehouse.preflight(spec_)
        if not preflight.ok:
            raise SourceError(preflight.problems[0])
        report(preflight.summary())
        check_estimate(preflight.training_rows, limit)  # refuse before the rows reach memory
        report("Running the training-set query (cached for the same source and SQL)…")
        rendered = render_training_sql(spec_, warehouse.dialect)
        frame = run_query(source, warehouse, rendered.text, rendered.params)
        frame, note = cap_rows(frame, limit, seed=0)
        if note:
            report(note)
        report(f"Checking columns and types of {len(frame):,} rows…")
        frame = normalize_training_set(frame, spec_)
        return BuiltSet(source, spec_, frame, summarize(frame, spec_), time.perf_counter() - started,
                        notes=(note,) if note else ())

    def deliver(built: BuiltSet) -> None:
        st.session_state["built"] = built

    return start_job("build", f"Building the training set from {source_label(source)}", work,
                     cancel=warehouse.cancel, deliver=deliver)


TRAINING_STAGES = {"check": "Checking the training set", "split": "Splitting train and test rows",
                   "fit": "Fitting XGBoost", "score": "Scoring the test rows", "evaluate": "Computing metrics"}


def start_training(built: BuiltSet, params: Any, split: str) -> Job:
    from prospect_core.model import train_model

    def work(report: Callable[[str], None]) -> Any:
        return train_model(built.frame, built.spec, params, split=split,
                           progress=lambda stage: report(f"{TRAINING_STAGES.get(stage, stage)}…"))

    return start_job("train", "Training", work, deliver=lambda run: add_run(run, built.source))


# ----- uploads ---------------------------------------------------------------------------------------
# An upload is hostile until read: it lives in this session's own folder (a random name, mode 0700,
# outside every data folder the DuckDB path box accepts), its type is read from its first bytes, and
# the folder goes when the session's state does, or after UPLOAD_TTL_SECONDS unused (swept every few
# minutes while anyone uses uploads), whichever comes first.

UPLOAD_ROOT = Path(tempfile.gettempdir()) / "prospect-studio-uploads"
UPLOAD_TTL_SECONDS = 6 * 3600


class UploadFolder:
    """A session's private folder for uploads, removed when this object is garbage-collected."""

    def __init__(self, root: Path = UPLOAD_ROOT) -> None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if root.is_symlink() or not root.is_dir() or root.stat().st_uid != os.getuid():  # planted in /tmp by another user
            raise OSError(f"{root} is not a folder of this server's user; remove it and upload again")
        self.path = Path(tempfile.mkdtemp(dir=root, prefix="session-"))  # random name, mode 0700
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.path), ignore_errors=True)

    def touch(self) -> None:
        """Mark the folder as in use, so the TTL sweep leaves it alone."""
        try:
            os.utime(self.path)
        except OSError:
            pass


def sweep_uploads(root: Path = UPLOAD_ROOT, *, ttl_seconds: float = UPLOAD_TTL_SECONDS) -> list[Path]:
    """Delete session folders unused for `ttl_seconds` (their session ended without cleaning up)."""
    removed = []
    cutoff = time.time() - ttl_seconds
    for folder in root.glob("session-*") if root.is_dir() else ():
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        except OSError:
            continue
    return removed


_SWEEP_EVERY_SECONDS = 600
_last_sweep = [0.0]  # when this server last swept, shared by its sessions


def upload_folder() -> UploadFolder:
    """This session's upload folder, created on first use; every few minutes, old folders are swept."""
    if time.monotonic() - _last_sweep[0] > _SWEEP_EVERY_SECONDS:
        _last_sweep[0] = time.monotonic()
        sweep_uploads()
    folder = st.session_state.get("upload_folder")
    if folder is None or not folder.path.is_dir():
        folder = st.session_state["upload_folder"] = UploadFolder()
    folder.touch()
    return folder


def _display_name(name: str) -> str:
    """The uploaded file's own name, reduced to characters that are safe in a path and on screen."""
    kept = "".join(char if char.isalnum() or char in "._- " else "_" for char in Path(name).name).strip(" .")
    return kept[:100] or "upload"


def _save_upload(upload: Any) -> Path:
    """Keep an upload in this session's folder under its own name; only the latest upload is kept."""
    import hashlib

    data = upload.getvalue()
    folder = upload_folder().path
    place = folder / hashlib.sha256(data).hexdigest()[:16]  # the same file again reuses its load
    path = place / _display_name(upload.name)
    for earlier in folder.iterdir():
        if earlier != place:
            shutil.rmtree(earlier, ignore_errors=True)
    if not path.is_file():
        place.mkdir(exist_ok=True)
        partial = place / ".partial"
        partial.write_bytes(data)
        partial.replace(path)
    return path


def _duckdb_path_source(text: str) -> str | None:
    from prospect_core.errors import UserError
    from prospect_core.sources import data_dirs, file_in_data_dirs

    try:
        return f"duckdb:{file_in_data_dirs(text, data_dirs(secrets()))}"
    except UserError as error:
        st.error(str(error), icon=":material/error:")
        return None


def loaded_events(path: str | Path) -> Any:
    """This session's load of the events file at `path` into the spec's events table (a LoadedEvents), or None."""
    loaded = st.session_state.get("events_loaded")
    if loaded is None or str(loaded.source_file) != str(path) or loaded.events_table != spec().events_table:
        return None
    return loaded


def _load_events(path: Path) -> Any:
    """The events file at `path` loaded in a cancellable background job; None (with a reason) until then."""
    from prospect_core.errors import UserError
    from prospect_core.events_files import LoadControl, load_events_file
    from prospect_core.limits import events_file_limits

    job = pending_job("load")  # also confirms a load that finished on the previous run
    loaded = loaded_events(path)
    if loaded is not None:
        return loaded
    failed = st.session_state.get("events_load_failed")
    if job is None and failed and failed[0] == (str(path), spec().events_table):
        st.error(failed[1], icon=":material/error:")  # said again on every rerun, never loaded again
        return None
    if job is None:
        try:
            limits = events_file_limits(secrets())
        except UserError as error:
            st.error(str(error), icon=":material/error:")
            return None
        control, cache, table = LoadControl(), path.parent / "cache", spec().events_table

        def work(report: Callable[[str], None]) -> Any:
            report(f"Reading {path.name} (at most {limits.megabytes:,} MB decompressed, {limits.rows:,} events)…")
            return load_events_file(path, events_table=table, cache_dir=cache, limits=limits, control=control)

        def deliver(result: Any) -> None:
            st.session_state["events_loaded"] = result

        job = start_job("load", f"Loading {path.name}", work, cancel=control.cancel, deliver=deliver)
        st.session_state["events_loading"] = (str(path), table)
    follow_job(job, done=f"{job.title.removeprefix('Loading ')} loaded")  # reruns the page once delivered
    error = job.future.exception() if job.future.done() else None
    if isinstance(error, UserError):  # remembered for the file that failed, which may not be `path`
        st.session_state["events_load_failed"] = (st.session_state.get("events_loading"), str(error))
    return None


def choose_source(kind: str) -> str | None:
    """Widgets for the chosen kind of source; its source string, or None until it is usable."""
    if kind == "demo":
        ensure_demo_database()
        return "demo"
    if kind == "duckdb":
        text = st.text_input(
            "DuckDB file path", key="duckdb_path", persist_state="session", placeholder="data/events.duckdb",
            help="A DuckDB database in this server's data folders (data/ unless `data_dirs` is set in secrets), "
            "with the atomic events table named in the spec (atomic.events by default).",
        )
        if not text.strip():
            st.info("Enter the path of a DuckDB file in this server's data folders, or upload one under Events "
                    "export, to continue.")
            return None
        return _duckdb_path_source(text)
    if kind == "events":
        upload = st.file_uploader(
            "Events export", type=["csv", "gz", "parquet", "duckdb"], key="events_upload",
            help="Atomic events as CSV, CSV.gz or Parquet (column names in any case), or a DuckDB database; "
            "the type is read from the file's content, not its name.",
        )
        if upload is not None and upload.file_id != st.session_state.get("events_upload_id"):
            from prospect_core.errors import write_failure

            try:
                st.session_state["events_path"] = str(_save_upload(upload))
            except OSError as error:  # a full disk, or an upload folder that is not ours
                st.error(write_failure(f"the upload {_display_name(upload.name)}", "the server's upload folder", error),
                         icon=":material/error:")
                return None
            st.session_state["events_upload_id"] = upload.file_id
            st.session_state.pop("events_load_failed", None)  # a new upload is a new try
        path_text = st.session_state.get("events_path")
        if not path_text or not Path(path_text).is_file():
            st.info("Upload a CSV, CSV.gz or Parquet export of your atomic events (or a DuckDB database) to continue.")
            return None
        from prospect_core.errors import UserError
        from prospect_core.events_files import sniff_kind

        path = Path(path_text)
        upload_folder()  # in use: keep it from the TTL sweep
        try:
            file_kind = sniff_kind(path)
        except UserError as error:
            st.error(str(error), icon=":material/error:")
            return None
        if file_kind == "duckdb":
            st.caption(f"{path.name} is a DuckDB database (read from its content): its tables are read as a DuckDB file.")
            return f"duckdb:{path}"
        loaded = _load_events(path)
        if loaded is None:
            return None
        for notice in loaded.notices:
            st.info(notice, icon=":material/info:")
        return f"events:{path}"
    return "snowflake" if snowflake_connection_panel() else None


def default_events_table(kind: str) -> str:
    """The Snowflake settings' events table (e.g. ENV_ATOMIC_TABLE) when set, else the spec's."""
    config = snowflake_config() if kind == "snowflake" else None
    return (config.events_table if config is not None and config.events_table else None) or spec().events_table


AUTH_METHODS = {"password": "Password", "keypair": "Key pair (private key file)", "externalbrowser": "Browser SSO"}


def snowflake_connection_panel() -> bool:
    """Show where the Snowflake settings come from, a form to override them for this session only, and
    a Test connection button. True when a connection is configured."""
    from prospect_core.errors import UserError
    from prospect_core.snowflake import test_connection

    config = snowflake_config()
    with st.expander("Snowflake connection", expanded=config is None, icon=":material/ac_unit:"):
        if config is not None:
            st.dataframe(pd.DataFrame(config.describe().items(), columns=["setting", "value"]), hide_index=True)
        else:
            st.info(
                "No Snowflake settings found. Add `[connections.snowflake]` to `.streamlit/secrets.toml` (see "
                "`secrets.toml.example`), set SNOWFLAKE_* or the tutorial's ENV_SF_* variables, or fill in the form."
            )
        with st.form("snowflake_form"):
            st.caption("Overrides for this browser session only: kept in memory, never written to disk.")
            left, right = st.columns(2)
            values = {
                "account": left.text_input("Account", placeholder="myorg-myaccount"),
                "user": right.text_input("User"),
                "role": left.text_input("Role"),
                "warehouse": right.text_input("Warehouse"),
                "database": left.text_input("Database"),
                "schema": right.text_input("Schema"),
                "events_table": left.text_input("Events table", placeholder="snowplow_db.atomic.events"),
            }
            method = right.selectbox("Authentication", list(AUTH_METHODS), format_func=AUTH_METHODS.get)
            if method == "password":
                values["password"] = right.text_input("Password", type="password")
            elif method == "keypair":
                values["private_key_file"] = right.text_input("Private key file (.p8)")
                values["private_key_file_pwd"] = right.text_input("Key passphrase", type="password")
            else:
                values["authenticator"] = "externalbrowser"
            if st.form_submit_button("Use for this session"):
                st.session_state["snowflake_overrides"] = {k: v for k, v in values.items() if v}
                st.rerun()
        if st.session_state.get("snowflake_overrides") and st.button("Forget this session's overrides"):
            st.session_state.pop("snowflake_overrides")
            st.rerun()
        if config is not None and st.button("Test connection", icon=":material/lan:"):
            try:
                with st.spinner("Connecting…"):
                    st.success(test_connection(config), icon=":material/check_circle:")
            except UserError as error:
                st.error(str(error), icon=":material/error:")
    return config is not None


def event_counts(source: str, spec_: TrainingSpec) -> pd.DataFrame | None:
    """Events per name in the spec's lookback scan, most frequent first; None if the source can't be read.

    The picker then falls back to free text. For a file the reason is shown at once (a file this
    server refuses to read says why); Snowflake reports its errors on Test connection and on build.
    """
    from prospect_core.errors import UserError
    from prospect_core.training_sql import render_template

    rendered = render_template("event_counts.sql", spec_, dialect_of(source))
    try:
        frame = run_query(source, open_warehouse(source, spec_), rendered.text, rendered.params)
    except UserError as error:
        if source != "snowflake":
            st.error(str(error), icon=":material/error:")
        return None
    return frame.astype({"event_name": str, "events": "int64"})


def source_notices(source: str, spec_: TrainingSpec) -> tuple[str, ...]:
    """What to know about a DuckDB file's events before building (events without derived_tstamp).

    An events file says the same once, when it is loaded; Snowflake is not scanned for this.
    """
    from prospect_core.errors import UserError
    from prospect_core.warehouse import null_timestamp_notice, null_timestamp_sql

    if source.partition(":")[0] not in ("demo", "duckdb"):
        return ()
    try:
        row = run_query(source, open_warehouse(source, spec_), null_timestamp_sql(spec_), {}).iloc[0]
    except UserError:
        return ()  # event_counts has said why
    notice = null_timestamp_notice(int(row["events"]), int(row["without_tstamp"]), spec_.events_table)
    return (notice,) if notice else ()


def target_event_notice(counts: pd.DataFrame | None, spec_: TrainingSpec) -> str | None:
    """"no event named X; did you mean Y?" when the target event is not in the source's events."""
    from prospect_core.warehouse import missing_event_notice

    return None if counts is None else missing_event_notice(spec_.target_event, counts["event_name"].tolist())


def event_options(counts: pd.DataFrame | None, must_include: Iterable[str]) -> list[str]:
    """Event names for pickers: those present in the source, most frequent first, plus the current ones."""
    names = [] if counts is None else counts["event_name"].tolist()
    return names + [name for name in must_include if name not in names]


def app_id_options(spec_: TrainingSpec) -> list[str]:
    return list(dict.fromkeys([*TrainingSpec().app_ids, *spec_.app_ids]))


def ensure_demo_database() -> None:
    """Create the demo database on first run, with a visible progress indication."""
    from prospect_core.sources import demo_db_is_current, ensure_demo_db

    if demo_db_is_current():
        return
    from prospect_core.errors import UserError

    with st.status("Creating the demo database (on first run, then weekly)…", expanded=True) as status:
        st.write("Simulating Snowplow events for a few thousand prospects…")
        started = time.perf_counter()
        try:
            ensure_demo_db()
        except UserError as error:
            status.update(label="The demo database could not be created", state="error")
            st.error(str(error), icon=":material/error:")
            st.stop()
        status.update(label=f"Demo database ready in {time.perf_counter() - started:.1f} s", state="complete")


# ----- shared chrome -------------------------------------------------------------------------------


def show_build_notes(built: BuiltSet) -> None:
    """What the user should know about a built set: sampled to the row limit, and the limit itself."""
    for note in built.notes:
        st.info(note, icon=":material/filter_alt:")
    if built.notes:
        return
    limit = max_training_rows()
    if built.summary.rows > limit // 2:  # near the limit: say where it is before the next build hits it
        st.info(f"{built.summary.rows:,} rows, close to this server's limit of {limit:,} training rows per build "
                "(PROSPECT_MAX_TRAINING_ROWS or `max_training_rows` in secrets).", icon=":material/filter_alt:")


def render_sidebar() -> None:
    init_state()
    current = spec()
    with st.sidebar:
        st.caption("DATA SOURCE")
        st.markdown(f"**{source_label(st.session_state['source'])}**")
        st.caption("CURRENT SPEC")
        st.markdown(
            f"Target **{current.target_column}**  \n"
            f"Cohort: first seen {current.cohort_first_seen_from_days}–{current.cohort_first_seen_to_days} "
            f"days before **{current.as_of}**  \n"
            f"History: {current.short_window_days} d and {current.long_window_days} d"
        )
        built = built_set()
        if built is not None:
            stale = " (settings changed since)" if built.spec != current or built.source != st.session_state["source"] else ""
            st.caption("TRAINING SET")
            st.markdown(
                f"{built.summary.rows:,} rows · {built.summary.positive_rate:.2%} positive{stale}"
            )
        for kind, page in (("build", "Data & target"), ("train", "Train")):
            job = st.session_state.get(f"job_{kind}")
            if job is not None:
                state = "finished; open" if job.future.done() else f"running ({job.elapsed:.0f} s); see"
                st.caption(f"{job.title}: {state} **{page}**", help="Jobs keep running while you visit other pages.")
        if runs():
            st.caption("MODELS THIS SESSION")
            for record in reversed(runs()):
                st.markdown(f"{record.label} — AUC {record.run.evaluation.roc_auc:.3f}")


def runs_table(records: list[StudioRun]) -> pd.DataFrame:
    """One row per run: what it was trained on and how it scored, for side-by-side comparison."""
    rows = []
    for record in records:
        run, evaluation = record.run, record.run.evaluation
        rows.append({
            "run": record.label,
            "target": run.spec.target_column,
            "split": run.split,
            "train rows": run.n_train,
            "test rows": run.n_test,
            "base rate": evaluation.base_rate,
            "ROC AUC": evaluation.roc_auc,
            "PR AUC": evaluation.pr_auc,
            "log loss": evaluation.log_loss,
            "Brier": evaluation.brier,
            "best F1": evaluation.best_f1,
            "seconds": sum(run.timings.values()),
        })
    return pd.DataFrame(rows).round(4)


def shap_sample(record: StudioRun) -> Any:
    """The run's SHAP sample, computed once per run on first use and kept with it."""
    from prospect_core.explain import explain_sample

    if record.shap is None:
        with st.spinner("Computing SHAP values on a sample of test rows…"):
            record.shap = explain_sample(record.run.pipeline, record.run.X_test, max_rows=shap_max_rows())
    return record.shap


def prospect_choices(record: StudioRun, limit: int = 500) -> dict[int, str]:
    """Test rows to explain, highest score first: position -> label with score and outcome."""
    import numpy as np

    run = record.run
    order = np.argsort(-run.y_score, kind="stable")[:limit]
    return {
        int(position): f"score {run.y_score[position]:.3f} · {'converted' if run.y_test[position] else 'did not convert'}"
        f" · prospect {str(run.test_ids['domain_userid'].iloc[position])[:12]}"
        for position in order
    }


def top_feature_index(sample: Any) -> int:
    """Position in `sample.features` of the feature with the largest mean |SHAP|."""
    import numpy as np

    return int(np.argmax(np.abs(sample.values).mean(axis=0)))


@dataclass(frozen=True)
class ExportBundle:
    artifact: bytes
    sha256: str
    card_json: bytes
    card_markdown: str

    @property
    def artifact_name(self) -> str:
        return f"prospect_model_{self.sha256[:8]}.joblib"

    @property
    def card_name(self) -> str:
        return f"prospect_model_{self.sha256[:8]}.card.json"


def signing_key() -> bytes:
    """This installation's model signing key: `artifact_signing_key` in secrets, else the key file."""
    from prospect_core.signing import SECRET_NAME
    from prospect_core.signing import signing_key as resolve

    return resolve(secrets().get(SECRET_NAME))


def export_bundle(record: StudioRun) -> ExportBundle:
    """The run's artifact and model card (signed by this installation), serialised once per run."""
    import json

    from prospect_core.artifact import artifact_bytes, model_card, model_card_markdown, sha256_hex
    from prospect_core.signing import sign_card
    from prospect_core.training_sql import render_training_sql

    if "export" not in record.extras:
        data = artifact_bytes(record.run.pipeline)
        digest = sha256_hex(data)
        sql = render_training_sql(record.run.spec, "snowflake", inline=True).text
        card = sign_card(model_card(record.run, sql_snowflake=sql, artifact_sha256=digest), data, signing_key())
        record.extras["export"] = ExportBundle(
            artifact=data,
            sha256=digest,
            card_json=json.dumps(card, indent=2).encode("utf-8"),
            card_markdown=model_card_markdown(card),
        )
    return record.extras["export"]


@dataclass(frozen=True)
class LoadedModel:
    """A model exported earlier, uploaded again and verified: its pipeline, card and spec."""

    name: str
    pipeline: Any
    card: dict[str, Any]
    spec: TrainingSpec

    @property
    def label(self) -> str:
        metrics = self.card.get("metrics") or {}
        auc = f" · AUC {metrics['roc_auc']:.3f}" if isinstance(metrics.get("roc_auc"), (int, float)) else ""
        return f"{self.name} · {self.spec.target_column}{auc}"


def load_uploaded_model(artifact: Any, card: Any) -> LoadedModel:
    """Verify an uploaded joblib file and its model card, then load it; UserError when refused.

    Nothing is unpickled unless the card carries this installation's signature over both files, and
    then only the classes a studio pipeline is made of (see `artifact.load_artifact_bytes`): a signed
    pickle that asks for anything else is refused by name, without running it.
    """
    from prospect_core.errors import UserError, shown
    from prospect_core.signing import ArtifactError, load_verified

    pipeline, card_ = load_verified(artifact.getvalue(), card.getvalue(), signing_key())
    try:
        spec_ = TrainingSpec.from_dict({k: tuple(v) if isinstance(v, list) else v for k, v in card_["spec"].items()})
    except (KeyError, TypeError, AttributeError, UserError) as error:
        raise ArtifactError(f"the model card's spec cannot be read: {shown(str(error), limit=200, quote=False)}") from None
    return LoadedModel(name=Path(artifact.name).name, pipeline=pipeline, card=card_, spec=spec_)
