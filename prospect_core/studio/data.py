"""The events behind the pages: the warehouse of a source string, its cached queries, events files.

What is expensive and identical for everyone is shared, keyed by the source and its version (a
changed file must not serve old rows): small query results (event counts, notices) in
`st.cache_data`; training sets, the big one, in `shared_training_set` (one copy per server).
An events file is loaded, and every query runs, in this session's background jobs, never inside the
page script, under the server's query limits (time, and DuckDB's memory and threads).
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Mapping

import pandas as pd
import streamlit as st

from prospect_core.events.build import Load, LoadedSet, load_training_set
from prospect_core.infra.errors import SourceError, UserError
from prospect_core.events.events_files import EventsFileWarehouse, LoadControl, LoadedEvents, load_events_file
from prospect_core.infra.limits import events_file_limits, over_time_message
from prospect_core.infra.paths import UPLOAD_ROOT, demo_db_path
from prospect_core.events import databricks
from prospect_core.events.snowflake import MISSING_CONFIG, SnowflakeWarehouse
from prospect_core.events.sources import SOURCE_KINDS, data_dirs, file_in_data_dirs, open_source, parse_source
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.studio import keys
from prospect_core.studio.config import databricks_config, query_limits, secrets, snowflake_config
from prospect_core.studio.jobs import background_result, follow_job, pending_job, start_job
from prospect_core.studio.uploads import own_upload
from prospect_core.events.warehouse import (Warehouse, columns_sql, counts_by_name, event_counts_sql, event_identities,
                                            missing_event_notice, null_timestamp_notices)
from prospect_core.trainingset.attributes import EventRef
from prospect_core.trainingset.wording import plain




def _source_version(source: str) -> str:
    """Part of the cache key: a DuckDB or events file that changed must not serve old rows."""
    kind, argument = parse_source(source)
    if kind == "snowflake":  # which account, user, role and database; never the secrets
        config = snowflake_config()
        return repr(sorted(config.describe().items())) if config else ""
    if kind == "databricks":  # which host, path and table; never the token
        settings = databricks_config()
        return repr(sorted(settings.describe().items())) if settings else ""
    path = demo_db_path() if kind == "demo" else Path(argument) if kind in ("duckdb", "events") else None
    if path is not None and path.exists():
        stat = path.stat()
        return f"{stat.st_mtime_ns}:{stat.st_size}"
    return ""


@st.cache_data(show_spinner=False, max_entries=8)
def _query(source: str, version: str, sql: str, params: tuple[tuple[str, Any], ...], _warehouse: Warehouse) -> pd.DataFrame:
    # `_warehouse` is not part of the key (leading underscore): the source and its version are.
    return _warehouse.query(sql, dict(params))


def run_query(source: str, warehouse: Warehouse, sql: str, params: Mapping[str, Any], *, kind: str, title: str,
              show_errors: bool = True) -> pd.DataFrame | None:
    """A query's rows, cached by (source, SQL, values) for every session of this server; None while it
    runs in this session's background job of `kind` (its progress shown, titled `title`) or when it
    failed (said, unless not `show_errors`). See `jobs.background_result`."""
    key, seconds = (source, _source_version(source), sql, tuple(sorted(params.items()))), query_limits().seconds
    return background_result(kind, title, key, lambda: _query(*key, warehouse), cancel=warehouse.cancel,
                             stop_after=(seconds, over_time_message(title, seconds)), show_errors=show_errors)


# Training sets: one copy per server, held exactly as long as some session's set refers to it.
# Not `st.cache_data`: it keeps a pickle of the frame and gives every hit its own unpickled copy (a
# 1M-event set three times over for one user). Not `st.cache_resource` either: it would keep frames
# the sessions have let go (prospect_core/infra/session_memory.py's grace period and caps) until evicted.
# So a weak map from the key to the normalised frame: every session building the same set gets the
# same object (read-only by convention: nothing in the studio writes to a built frame), and it is
# freed when the last BuiltSet referring to it is released.
_SHARED_SETS: weakref.WeakValueDictionary[Hashable, pd.DataFrame] = weakref.WeakValueDictionary()
_SHARED_NOTES: dict[Hashable, str | None] = {}  # the row-limit note of each key, a few bytes each
_SHARED_LOCK = threading.Lock()


def shared_training_set(source: str) -> Load:
    """The build's load step (query, cap, normalise) through this server's shared training sets."""

    def load(warehouse: Warehouse, spec: TrainingSpec, sql: str, params: Mapping[str, Any], max_rows: int) -> LoadedSet:
        key = (source, _source_version(source), sql, tuple(sorted(params.items())), spec, max_rows)
        with _SHARED_LOCK:
            frame = _SHARED_SETS.get(key)
            if frame is not None:
                return LoadedSet(frame, _SHARED_NOTES.get(key))
        loaded = load_training_set(warehouse, spec, sql, params, max_rows)  # outside the lock: minutes
        with _SHARED_LOCK:
            frame = _SHARED_SETS.setdefault(key, loaded.frame)  # a session that loaded it meanwhile wins
            _SHARED_NOTES[key] = loaded.note
            for gone in [held for held in _SHARED_NOTES if held not in _SHARED_SETS]:
                del _SHARED_NOTES[gone]
        return LoadedSet(frame, loaded.note)

    return load


# Sources that are a warehouse with a login: their errors are said on Test connection and on build,
# not on every page draw.
WAREHOUSES = ("snowflake", "databricks")


def dialect_of(source: str) -> str:
    return source if source in WAREHOUSES else "duckdb"


def readable_source(source: str) -> str:
    """`source` when this session may read it, a file's path resolved; else SourceError saying why.

    The one check of every source the app opens, whether typed in the path box, uploaded, or a
    restored run's: the demo and Snowflake (this session's or the server's settings) always; a file
    in this session's own upload folder; any other file only inside the server's data folders
    (`sources.file_in_data_dirs`), and never in another session's upload folder, even under a data
    folder. So a run logged by the CLI, or by another session, reaches no further than the path box.
    """
    kind, argument = parse_source(source)
    if source == "demo" or source in WAREHOUSES:
        return source
    if kind not in ("duckdb", "events") or not argument:
        raise SourceError(f"the studio opens only these sources: {', '.join(SOURCE_KINDS)}")
    path = own_upload(argument)
    if path is not None:
        return f"{kind}:{path}"
    name = Path(argument).name
    try:
        uploaded_elsewhere = Path(argument).resolve().is_relative_to(UPLOAD_ROOT.resolve())
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL byte, a symlink loop
        uploaded_elsewhere = False
    if uploaded_elsewhere:
        raise SourceError(f"{name} was uploaded in another session, and a session reads only its own uploads: "
                          "upload it again")
    try:
        return f"{kind}:{file_in_data_dirs(argument, data_dirs(secrets()))}"
    except SourceError:
        if kind == "duckdb":
            raise
        raise SourceError(f"{name} is neither uploaded in this session nor in this server's data folders: upload it "
                          "under Events export") from None


def open_warehouse(source: str, spec: TrainingSpec, *, automatic: bool = False) -> Warehouse:
    """The warehouse behind `source`, once `readable_source` let this session read it; raises UserError
    with what is wrong.

    `automatic`: opened as the page draws, not at a click. For Snowflake that connection is kept for
    the session and its settings, so redrawing the page does not log in again, and after a failed
    login it is not tried again on its own (see `snowflake.LoginBackoff`).
    """
    checked = readable_source(source)
    kind, argument = parse_source(source)
    bounds = query_limits()
    loaded = loaded_events(argument, spec.events_table) if kind == "events" else None
    if loaded is not None:  # loaded in this session's background job
        return EventsFileWarehouse(loaded, threads=bounds.threads, memory_mb=bounds.memory_mb)
    if kind == "events" and Path(argument).is_relative_to(UPLOAD_ROOT):  # never loaded inside the page script
        raise SourceError(f"{Path(argument).name} is not loaded yet; choose it under Events export to load it")
    if source == "databricks":
        settings = databricks_config()
        if settings is None:
            raise SourceError(databricks.MISSING_CONFIG)
        if not automatic:
            return databricks.DatabricksWarehouse(settings)
        kept = st.session_state.get(keys.DATABRICKS_AUTOMATIC)
        if kept is None or kept.config != settings:
            kept = st.session_state[keys.DATABRICKS_AUTOMATIC] = databricks.DatabricksWarehouse(settings)
        return kept
    if source != "snowflake":
        return open_source(checked, events_table=spec.events_table, query_limits=bounds)
    config = snowflake_config()
    if not automatic:
        return open_source(source, events_table=spec.events_table, snowflake_config=config)
    if config is None:
        raise SourceError(MISSING_CONFIG)
    kept = st.session_state.get(keys.SNOWFLAKE_AUTOMATIC)
    if kept is None or kept.config != config or kept.config.secrets != config.secrets:
        kept = st.session_state[keys.SNOWFLAKE_AUTOMATIC] = SnowflakeWarehouse(config, connect_attempts=1, automatic=True)
    return kept


def loaded_events(path: str | Path, events_table: str) -> LoadedEvents | None:
    """This session's load of the events file at `path` into `events_table`, or None."""
    loaded = st.session_state.get(keys.EVENTS_LOADED)
    if loaded is None or str(loaded.source_file) != str(path) or loaded.events_table != events_table:
        return None
    return loaded


def load_events(path: Path, events_table: str) -> LoadedEvents | None:
    """The events file at `path` loaded into `events_table` in a cancellable background job; None (with a
    reason) until then."""
    job = pending_job("load")  # also confirms a load that finished on the previous run
    loaded = loaded_events(path, events_table)
    if loaded is not None:
        return loaded
    failed = st.session_state.get(keys.EVENTS_LOAD_FAILED)
    if job is None and failed and failed[0] == (str(path), events_table):
        st.error(plain(failed[1]), icon=":material/error:")  # said again on every rerun, never loaded again
        return None
    if job is None:
        try:
            limits = events_file_limits(secrets())
        except UserError as error:
            st.error(plain(error), icon=":material/error:")
            return None
        control, cache, table = LoadControl(), path.parent / "cache", events_table

        def work(report: Callable[[str], None]) -> LoadedEvents:
            report(f"Reading {path.name} (at most {limits.megabytes:,} MB decompressed, {limits.rows:,} events)…")
            return load_events_file(path, events_table=table, cache_dir=cache, limits=limits, control=control)

        def deliver(result: LoadedEvents) -> None:
            st.session_state[keys.EVENTS_LOADED] = result

        job = start_job("load", f"Loading {path.name}", work, cancel=control.cancel, deliver=deliver)
        st.session_state[keys.EVENTS_LOADING] = (str(path), table)
    follow_job(job, done=f"{job.title.removeprefix('Loading ')} loaded")  # reruns the page once delivered
    error = job.future.exception() if job.future.done() else None
    if isinstance(error, UserError):  # remembered for the file that failed, which may not be `path`
        st.session_state[keys.EVENTS_LOAD_FAILED] = (st.session_state.get(keys.EVENTS_LOADING), str(error))
    return None


def default_events_table(kind: str, spec: TrainingSpec) -> str:
    """The warehouse settings' events table (e.g. ENV_ATOMIC_TABLE) when set, else `spec`'s."""
    config = snowflake_config() if kind == "snowflake" else databricks_config() if kind == "databricks" else None
    return (config.events_table if config is not None and config.events_table else None) or spec.events_table


def event_identity_counts(source: str, spec: TrainingSpec) -> pd.DataFrame | None:
    """Events per identity (vendor, name, version) in the spec's lookback scan, most frequent first;
    None while they are counted, or if the source can't be read.

    The picker then falls back to free text. For a file the reason is shown at once (a file this
    server refuses to read says why); Snowflake reports its errors on Test connection and on build.
    The table's columns are read first (a query of no rows): a source without event_vendor and
    event_version is counted by name alone.
    """
    try:
        warehouse = open_warehouse(source, spec, automatic=True)
    except UserError as error:
        if source not in WAREHOUSES:
            st.error(plain(error), icon=":material/error:")
        return None
    table = run_query(source, warehouse, columns_sql(spec.events_table), {}, kind="columns",
                      title="Reading the events table's columns", show_errors=source != "snowflake")
    if table is None:
        return None
    rendered = event_counts_sql(spec, dialect_of(source), frozenset(str(c).lower() for c in table.columns))
    frame = run_query(source, warehouse, rendered.text, rendered.params, kind="counts", title="Counting events",
                      show_errors=source not in WAREHOUSES)
    return None if frame is None else frame.astype({"event_name": str, "events": "int64"})


def event_counts(source: str, spec: TrainingSpec) -> pd.DataFrame | None:
    """Events per name in the spec's lookback scan, most frequent first; None as `event_identity_counts`."""
    return counted_events(source, spec)[0]


def counted_events(source: str, spec: TrainingSpec) -> tuple[pd.DataFrame | None, dict[str, tuple[EventRef, ...]]]:
    """`event_counts`, and per event name the vendor and version the source gives it (none where it has
    no event_vendor), from one count."""
    counts = event_identity_counts(source, spec)
    return (None, {}) if counts is None else (counts_by_name(counts), event_identities(counts))


def source_notices(source: str, spec: TrainingSpec, counts: pd.DataFrame | None) -> tuple[str, ...]:
    """What to know about a DuckDB file's events before building (events without derived_tstamp).

    An events file says the same once, when it is loaded; Snowflake is not scanned for this. Nor is a
    file whose event `counts` are not in yet (None): it runs after them, not beside them, and not at
    all when they failed or were stopped (it would fail the same way).
    """
    if parse_source(source)[0] not in ("demo", "duckdb") or counts is None:
        return ()
    try:
        warehouse = open_warehouse(source, spec)
    except UserError:
        return ()  # event_counts has said why
    return null_timestamp_notices(warehouse, spec, query=lambda sql: run_query(
        source, warehouse, sql, {}, kind="notices", title="Counting events without a timestamp"))


def target_event_notice(counts: pd.DataFrame | None, spec: TrainingSpec) -> str | None:
    """"no event named X; did you mean Y?" when the target event is not in the source's events."""
    return None if counts is None else missing_event_notice(spec.target_event, counts["event_name"].tolist())


def event_options(counts: pd.DataFrame | None, must_include: Iterable[str]) -> list[str]:
    """Event names for pickers: those present in the source, most frequent first, plus the current ones."""
    names = [] if counts is None else counts["event_name"].tolist()
    return names + [name for name in must_include if name not in names]


def app_id_options(spec: TrainingSpec) -> list[str]:
    return list(dict.fromkeys([*TrainingSpec().app_ids, *spec.app_ids]))
