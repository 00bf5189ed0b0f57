"""Where the events live: one small interface, one implementation per engine.

`Warehouse.query(sql, params)` runs a query rendered for `Warehouse.dialect` and returns a pandas
DataFrame with lower-case column names. Caching belongs to the app layer, not here.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import threading
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from prospect_core.trainingset import atomic
from prospect_core.infra.errors import SourceError, first_line
from prospect_core.infra.limits import over_memory_message
from prospect_core.trainingset.attributes import Attribute, EventRef
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import (LANE_LIMIT_MESSAGE, DialectName, RenderedSQL, features_reading,
                                                    missing_optional_columns, render_template)


class Warehouse(Protocol):
    """Everything the build, the CLI and the app ask of a source of events."""

    dialect: DialectName
    # The events table this source's own settings name (Snowflake's ENV_ATOMIC_TABLE, the table a file
    # was loaded into), which then replaces the spec's default; None when the spec says where to read.
    events_table: str | None
    notices: tuple[str, ...]  # what the user should know about these events before building, said once

    @property
    def label(self) -> str:
        """What to show a user about this source; never credentials."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one query and return its rows."""

    def preflight(self, spec: TrainingSpec) -> Preflight:
        """The cheap checks and counts before the training-set query (`run_preflight`)."""

    def cancel(self) -> bool:
        """Stop the query running in another thread; False when none is running."""


_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """Lower-case columns; whole-number DECIMALs (NUMBER(38,0)) become int64, others float; timestamps in microseconds."""
    columns = []
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_decimal(column.type):
            if column.type.scale == 0 and column.null_count == 0:
                column = pc.cast(column, pa.int64())
            else:
                column = pc.cast(column, pa.float64())
        elif pa.types.is_timestamp(column.type) and column.type.unit == "ns":
            # Snowplow timestamps are milliseconds; microseconds is what the DuckDB path returns too.
            column = pc.cast(column, pa.timestamp("us", column.type.tz), safe=False)
        columns.append(column)
    frame = pa.table(columns, names=[name.lower() for name in table.column_names]).to_pandas()
    return frame


class DuckDBWarehouse:
    """A DuckDB database file, opened read-only for each query so several sessions can share it."""

    dialect: DialectName = "duckdb"
    events_table: str | None = None
    notices: tuple[str, ...] = ()

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None, memory_mb: int | None = None) -> None:
        self.path = Path(path)
        self.threads, self.memory_mb = threads, memory_mb  # DuckDB's own defaults (all cores, 80% of RAM) when None
        self._running: duckdb.DuckDBPyConnection | None = None
        if not self.path.is_file():
            raise SourceError(f"DuckDB file not found: {self.path} (expected an existing .duckdb file)")

    @property
    def label(self) -> str:
        return f"DuckDB file {self.path.name}"

    def connect(self) -> duckdb.DuckDBPyConnection:
        try:
            connection = connect_locked_down(self.path, threads=self.threads, memory_mb=self.memory_mb)
        except duckdb.Error as error:
            raise SourceError(_open_failure(self.path, error)) from None
        try:
            identity = _identity(self.path)
            if identity not in _VIEWS_CHECKED:
                check_views(connection, self.path.name)
                if len(_VIEWS_CHECKED) > 1_000:
                    _VIEWS_CHECKED.clear()
                _VIEWS_CHECKED.add(identity)
        except BaseException:
            connection.close()
            raise
        return connection

    def preflight(self, spec: TrainingSpec) -> Preflight:
        return run_preflight(self, spec)

    def cancel(self) -> bool:
        """Interrupt the running query (from another thread); False when nothing is running."""
        connection = self._running
        if connection is None:
            return False
        connection.interrupt()
        return True

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self.connect() as connection:
            self._running = connection
            try:
                table = connection.sql(sql, params=dict(params or {})).to_arrow_table()
            except duckdb.InterruptException:
                raise SourceError("the query was cancelled; press the button again to rerun it") from None
            except duckdb.OutOfMemoryException as error:
                if self.memory_mb is None:
                    raise _failed_while_running(self.path, error) from None
                raise SourceError(over_memory_message(self.path.name, self.memory_mb)) from None
            except duckdb.CatalogException as error:
                raise SourceError(f"the query refers to something missing in {self.path.name}: {first_line(error)}") from None
            except duckdb.BinderException as error:
                raise SourceError(f"the events table in {self.path.name} lacks a column the query needs: {first_line(error)}") from None
            except duckdb.InvalidInputException as error:
                if LANE_LIMIT_MESSAGE not in str(error):
                    raise _failed_while_running(self.path, error) from None
                raise SourceError(f"cannot build this training set with the fast query: {first_line(error).removeprefix('Invalid Input Error: ')}") from None
            except duckdb.Error as error:  # anything else failing mid-query: I/O, memory, conversion, a bad page
                raise _failed_while_running(self.path, error) from None
            finally:
                self._running = None
        # Text as Arrow strings (what normalize_training_set keeps), never one Python object per value:
        # at 1M events those are 235 MB of small objects whose freed heap the server cannot give back.
        frame = table.to_pandas(types_mapper=_ARROW_TEXT.get)
        frame.columns = [str(column).lower() for column in frame.columns]
        return frame


# ----- opening a file someone else wrote ---------------------------------------------------------
# A DuckDB file is a program as much as data: its views are SQL its author chose, run by every query
# that reads them. So a file is opened with no file system beyond itself (no read_text of the server's
# files, no COPY, no ATTACH), no extension downloads or loads, and settings locked so that no
# statement can turn these back on. Views are checked before any query runs.

LOCKED_DOWN = {"enable_external_access": False, "autoinstall_known_extensions": False,
               "autoload_known_extensions": False}


def connect_locked_down(path: str | os.PathLike[str], *, read_only: bool = True, threads: int | None = None,
                        memory_mb: int | None = None, allowed_paths: tuple[str, ...] = ()) -> duckdb.DuckDBPyConnection:
    """A connection to the database at `path` that can reach no other file except `allowed_paths`.

    `threads` and `memory_mb` bound what its queries may take; they are locked with the rest, so no
    statement can raise them.
    """
    config: dict[str, Any] = dict(LOCKED_DOWN, **({"threads": threads} if threads else {}),
                                  **({"memory_limit": f"{memory_mb}MB"} if memory_mb else {}))
    if allowed_paths:  # DuckDB takes allowed_paths only once the database runs: external access goes off then
        del config["enable_external_access"]
    with _CONNECTING:  # a second session joining the instance between our connect and lock would see it half set
        return _lock_down(duckdb.connect(str(path), read_only=read_only, config=config), allowed_paths)


# DuckDB shares one database instance between a process's connections to the same file.
_CONNECTING = threading.Lock()


def _lock_down(connection: duckdb.DuckDBPyConnection, allowed_paths: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    try:
        if _already_locked_down(connection):
            return connection  # another session's connection to this file shares its database instance
        if allowed_paths:
            connection.execute("set allowed_paths = ?", [list(allowed_paths)])
            connection.execute("set enable_external_access = false")
        # TIMESTAMPTZ columns compare with the as-of cut-offs in UTC, not in this machine's time zone.
        # Global, not per connection: once locked, later connections to the same instance cannot set it.
        connection.execute("set global TimeZone = 'UTC'")
        connection.execute("set lock_configuration = true")
    except BaseException:
        connection.close()
        raise
    return connection


def _already_locked_down(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection joined a database instance that `connect_locked_down` already locked.

    DuckDB shares one instance between the connections of a process to the same file, so a second
    session opening the demo database while a first one queries it finds the settings locked. They
    were locked by this function, but check what matters rather than trust that.
    """
    locked, timezone, external = connection.execute(
        "select current_setting('lock_configuration'), current_setting('TimeZone'), "
        "current_setting('enable_external_access')"
    ).fetchall()[0]
    if not locked:
        return False
    if timezone != "UTC" or external:
        raise SourceError("cannot open the DuckDB file: another connection in this server opened it with other "
                          "settings; try again when its query has finished")
    return True


# Scalar functions that read the server's settings (a file path, the temp folder) instead of the data.
_SERVER_FUNCTIONS = {"current_setting", "getenv", "getvariable"}
_VIEW_PREFIX = re.compile(r'CREATE VIEW (?:"?([A-Za-z_][A-Za-z0-9_$]*)"?\.)?"?([A-Za-z_][A-Za-z0-9_$]*)"? AS ', re.I)


# Files whose views passed check_views, by identity: any write to a file changes its identity, so a
# changed file is checked again (only passes are remembered; a refusal is checked, and said, every time).
_VIEWS_CHECKED: set[tuple] = set()


def _identity(path: Path) -> tuple:
    """The file and its write-ahead log (which a read-only open replays, views included) as they are now."""
    def stat(file: Path) -> tuple:
        try:
            found = file.stat()
        except FileNotFoundError:
            return ()
        return (found.st_ino, found.st_size, found.st_mtime_ns)

    return (str(path.resolve()), stat(path), stat(Path(f"{path}.wal")))


def check_views(connection: duckdb.DuckDBPyConnection, file_name: str) -> None:
    """Refuse a database holding a view, or a computed column, that does more than select from its own tables.

    Allowed: selects, joins, subqueries and CTEs over tables and views of this file, with scalar
    functions. Refused, with the reason: table functions (read_text, read_csv, glob, ...), file paths
    used as tables, other databases, macros defined in the file, and views this check cannot parse.
    A generated column is a view in a table (its expression runs on every read), so it is refused too,
    as is a default that calls a function. Nothing here runs a view or an expression: they are parsed
    by DuckDB's own parser (json_serialize_sql).
    """
    _check_columns(connection, file_name)
    views = connection.execute(
        "select schema_name, view_name, sql from duckdb_views() where not internal and not temporary "
        "and database_name = current_database()"
    ).fetchall()
    if not views:
        return
    relations = {(schema, name) for schema, name in connection.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
        "union all select schema_name, view_name from duckdb_views() where database_name = current_database()"
    ).fetchall()}
    macros = {name for (name,) in connection.execute(
        "select distinct function_name from duckdb_functions() where function_type in ('macro', 'table_macro') "
        "and not internal"
    ).fetchall()}
    for schema, name, sql in views:
        problem = _view_problem(connection, sql, relations, macros)
        if problem:
            raise SourceError(
                f"{file_name} is refused: its view {schema}.{name} {problem}. Only tables, and views that select "
                "from tables in the same file, are read; store the events as a table"
            )


def _check_columns(connection: duckdb.DuckDBPyConnection, file_name: str) -> None:
    columns = connection.execute(
        "select schema_name, table_name, column_name, column_default, is_generated from duckdb_columns() "
        "where not internal and database_name = current_database() and (is_generated or column_default is not null)"
    ).fetchall()
    for schema, table, column, default, generated in columns:
        problem = f"the generated column {column}, computed by an expression each time it is read" if generated \
            else _default_problem(connection, column, default)
        if problem:
            raise SourceError(
                f"{file_name} is refused: its table {schema}.{table} has {problem}. Only plain columns are read: "
                "no generated columns, no defaults that call functions"
            )


def _default_problem(connection: duckdb.DuckDBPyConnection, column: str, default: str) -> str | None:
    """Why the default of `column` may not stay in a file we read (a function call); None for a constant."""
    parsed = json.loads(connection.execute("select json_serialize_sql(?)", [f"select {default}"]).fetchall()[0][0])
    if parsed.get("error") or len(parsed.get("statements", ())) != 1:
        return f"a column {column} whose default cannot be checked"
    called = next((node["function_name"] for node in _nodes(parsed["statements"][0])
                   if node.get("class") == "FUNCTION" and not node.get("is_operator")), None)  # 'a' || 'b' is data
    return None if called is None else f"a column {column} whose default calls {str(called)[:80]}()"


def _view_problem(connection: duckdb.DuckDBPyConnection, sql: str, relations: set[tuple[str, str]],
                  macros: set[str]) -> str | None:
    """Why the view `sql` (as duckdb_views() stores it) may not be read; None when it may."""
    prefix = _VIEW_PREFIX.match(sql)
    if prefix is None:
        return "cannot be checked (only views with plain names and no column list are read)"
    parsed = json.loads(connection.execute("select json_serialize_sql(?)", [sql[prefix.end():]]).fetchall()[0][0])
    if parsed.get("error") or len(parsed.get("statements", ())) != 1:
        return "cannot be checked (its body is not one SELECT statement)"
    tree = parsed["statements"][0]
    ctes = {str(entry.get("key", "")).lower() for node in _nodes(tree) if isinstance(node.get("cte_map"), dict)
            for entry in node["cte_map"].get("map", [])}  # a CTE is referenced like a table
    qualified = {(schema.lower(), name.lower()) for schema, name in relations}
    unqualified = {name for _, name in qualified} | ctes
    database = connection.execute("select current_database()").fetchall()[0][0]
    for node in _nodes(tree):
        kind, function = node.get("type"), str(node.get("function_name", ""))
        if kind == "TABLE_FUNCTION":
            name = (node.get("function") or {}).get("function_name", "?")
            return f"calls the table function {name}(), which can read files or run other code"
        if kind == "BASE_TABLE":
            table, schema = str(node.get("table_name", "")).lower(), str(node.get("schema_name", "")).lower()
            if node.get("catalog_name") not in ("", None, database):
                return f"reads from another database ({str(node.get('catalog_name'))[:80]})"
            if (schema, table) not in qualified and (schema or table not in unqualified):
                return f"reads {node.get('table_name', '')[:80]!r}, which is not a table of this file (a file path?)"
        if node.get("class") == "FUNCTION" and function in macros:
            return f"calls the macro {function}() defined in the file"
        if node.get("class") == "FUNCTION" and function.lower() in _SERVER_FUNCTIONS:
            return f"calls {function}(), which tells about this server rather than the events"
    return None


def _nodes(tree: Any) -> Iterator[dict]:
    """Every object of a parsed statement (json_serialize_sql's tree), depth first."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _failed_while_running(path: Path, error: Exception) -> SourceError:
    return SourceError(
        f"the query on {path.name} failed while running: {first_line(error)}. Nothing was kept; "
        "check the file (is it complete, is the disk healthy?) and build again"
    )


def _open_failure(path: Path, error: Exception) -> str:
    text = str(error)
    if "Could not set lock" in text or "Conflicting lock" in text:
        holder = re.search(r"PID (\d+)", text)
        by = f" (process {holder.group(1)})" if holder else ""
        return (f"cannot open DuckDB file {path.name}: another program{by} has it open for writing, which locks it. "
                "Close that program (or its connection) and try again")
    if "not a valid DuckDB database" in text or "corrupt" in text.lower() or "checksum" in text.lower():
        return (f"cannot open {path.name}: it is not a DuckDB database file (or it is damaged). Expected a .duckdb "
                "file written by DuckDB")
    if "different configuration" in text:  # DuckDB shares one instance per file, and its settings
        return (f"cannot open DuckDB file {path.name}: another query in this server has it open with other limits "
                "(duckdb_memory_mb, duckdb_threads); try again when that query has finished")
    if "Permission denied" in text:
        return f"cannot open DuckDB file {path.name}: permission denied; this user may not read it"
    return f"cannot open DuckDB file {path.name}: {first_line(error)}"


def sql_string(text: str) -> str:
    """`text` as a quoted SQL string literal, for the few statements that take no bind parameter (ATTACH)."""
    return "'" + text.replace("'", "''") + "'"


# ----- preflight ---------------------------------------------------------------------------------

# Columns the training-set SQL cannot do without; a missing optional one reads as NULL (with a notice).
TRAINING_SQL_COLUMNS = atomic.REQUIRED_COLUMNS
# Rough in-memory size of one training-set row (ids, timestamp, 20 features, target) in pandas.
BYTES_PER_TRAINING_ROW = 400
# The window queries sort each prospect's events on one worker: past this share of the cohort's events
# (and this many events, so a tiny demo cohort says nothing) one prospect's sort is most of the run time.
HEAVY_PROSPECT_SHARE = 0.10
HEAVY_PROSPECT_MIN_EVENTS = 1_000


def missing_columns_notice(where: str, missing: tuple[str, ...], constant_features: list[str] | None = None) -> str | None:
    """What to say when an events table or file lacks optional columns: they read as NULL. Nothing for
    event_vendor and event_version alone: no feature is constant without them (events are matched by
    name, and the Signals definitions say where they guessed an identity)."""
    said = [name for name in missing if name not in atomic.IDENTITY_COLUMNS]
    if not said:
        return None
    which = f": {', '.join(constant_features)}" if constant_features else ""
    return (f"{where} has no column(s) {', '.join(said)}; they are read as NULL, so the features built from "
            f"them are constant{which}")


@dataclass(frozen=True)
class Preflight:
    """What the training-set query would scan and return, measured cheaply before running it."""

    events_table: str
    # the warehouse's label (`events file sample.csv (5,398 events)`), what messages name: not a measure,
    # so two sources of the same events have equal preflights
    source: str = field(default="", compare=False)
    as_of: dt.date | None = None
    missing_columns: tuple[str, ...] = ()
    events_in_lookback: int = 0
    users_in_lookback: int = 0
    eligible_users: int = 0
    training_rows: int = 0
    self_join_pairs: int = 0
    largest_user_events: int = 0
    columns: frozenset[str] | None = None  # the table's, lower case; None when it was not read
    constant_features: tuple[str, ...] = ()  # built from a missing optional column

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> tuple[str, ...]:
        if self.missing_columns:
            return (f"{self.events_table} lacks column(s) {', '.join(self.missing_columns)} that the training-set "
                    "query needs; is it a Snowplow atomic events table?",)
        if not self.events_in_lookback:
            before = f" before the as-of date {self.as_of:%Y-%m-%d}" if self.as_of else ""
            return (f"{self.source or self.events_table} has no events in the lookback window{before}; check the "
                    "as-of date",)
        if not self.eligible_users:
            return ("no user was first seen in the cohort window on the chosen apps; widen the cohort or check app_ids",)
        return ()

    @property
    def missing_optional(self) -> tuple[str, ...]:
        return missing_optional_columns(self.columns)

    @property
    def largest_user_share(self) -> float:
        """The heaviest prospect's share of the training set's events."""
        return self.largest_user_events / self.training_rows if self.training_rows else 0.0

    @property
    def notices(self) -> tuple[str, ...]:
        """What the user should know before the build: missing optional columns, one prospect dominating."""
        notices = [missing_columns_notice(self.events_table, self.missing_optional, list(self.constant_features))]
        if self.largest_user_share >= HEAVY_PROSPECT_SHARE and self.largest_user_events >= HEAVY_PROSPECT_MIN_EVENTS:
            notices.append(
                f"one prospect has {self.largest_user_events:,} of the cohort's {self.training_rows:,} events "
                f"({self.largest_user_share:.0%}); the query sorts each prospect's events on one worker, so this one "
                "sets the run time, and it is most likely a bot or a shared device: exclude its app or events, or "
                "sample prospects"
            )
        return tuple(notice for notice in notices if notice)

    @property
    def estimated_megabytes(self) -> float:
        return self.training_rows * BYTES_PER_TRAINING_ROW / 1e6

    def summary(self) -> str:
        if self.missing_columns:
            return self.problems[0]
        return (
            f"{self.events_in_lookback:,} events from {self.users_in_lookback:,} users in the lookback window; "
            f"{self.eligible_users:,} users in the cohort give about {self.training_rows:,} training rows "
            f"(~{self.estimated_megabytes:,.1f} MB)"
        )


def events_table_columns(warehouse: Warehouse, table: str) -> frozenset[str]:
    """The columns of `table` (validated as an identifier by the spec), lower case, without reading a row.

    Raises SourceError when the table cannot be read (missing, no access)."""
    return frozenset(str(column).lower() for column in warehouse.query(columns_sql(table)).columns)


def columns_sql(table: str) -> str:
    """A query of no rows whose columns are the table's (`table` validated as an identifier by the spec)."""
    return f"select * from {table} limit 0"


def run_preflight(warehouse: Warehouse, spec: TrainingSpec) -> Preflight:
    """Check the events table and count what the spec would select: one cheap pass of counts.

    Raises SourceError when the table cannot be read (missing, no access); reports missing required
    columns in the result instead of running the counts. The result's `columns` are what the
    training-set query is then rendered for (`render_training_sql(columns=...)`).
    """
    table = spec.events_table
    columns = events_table_columns(warehouse, table)
    missing = tuple(column for column in TRAINING_SQL_COLUMNS if column not in columns)
    named = dict(events_table=table, source=warehouse.label, as_of=spec.as_of)
    if missing:
        return Preflight(**named, missing_columns=missing, columns=columns)
    rendered = render_template("preflight.sql", spec, warehouse.dialect, columns=columns)
    row = warehouse.query(rendered.text, rendered.params).iloc[0]
    counts = {name: int(row[name]) for name in (
        "events_in_lookback", "users_in_lookback", "eligible_users", "training_rows", "self_join_pairs",
        "largest_user_events")}
    constant = tuple(features_reading(spec, missing_optional_columns(columns)))
    return Preflight(**named, columns=columns, constant_features=constant, **counts)


# ----- the target event ----------------------------------------------------------------------------

# event_counts.sql returns at most this many identities; with a full list an absent name may just be rarer.
EVENT_NAMES_SHOWN = 200


def event_counts_sql(spec: TrainingSpec, dialect: DialectName, columns: frozenset[str] | None = None) -> RenderedSQL:
    """The query behind `event_identity_counts`, for callers that run it their own way (the app caches
    it), for an events table with `columns` (`events_table_columns`; None: every atomic column)."""
    return render_template("event_counts.sql", spec, dialect, columns=columns,
                           context={"names_shown": EVENT_NAMES_SHOWN})


def event_identity_counts(warehouse: Warehouse, spec: TrainingSpec) -> pd.DataFrame:
    """Events per identity (event_vendor, event_name, event_version; vendor and version NULL where the
    source lacks them) in the spec's lookback scan, most frequent first (at most EVENT_NAMES_SHOWN)."""
    columns = events_table_columns(warehouse, spec.events_table)
    rendered = event_counts_sql(spec, warehouse.dialect, columns)
    return warehouse.query(rendered.text, rendered.params)


def counts_by_name(identity_counts: pd.DataFrame) -> pd.DataFrame:
    """`event_name`, `events`: the identities' counts summed by name, most frequent first."""
    by_name = identity_counts.groupby("event_name", sort=False, as_index=False)["events"].sum()
    return by_name.sort_values(["events", "event_name"], ascending=[False, True], kind="stable").reset_index(drop=True)


def event_counts(warehouse: Warehouse, spec: TrainingSpec) -> pd.DataFrame:
    """Events per name in the spec's lookback scan, most frequent first."""
    return counts_by_name(event_identity_counts(warehouse, spec))


def event_identities(identity_counts: pd.DataFrame) -> dict[str, tuple[EventRef, ...]]:
    """Per event name, the identities the source gives it, most frequent first; none for a name whose
    events have no vendor (a source without event_vendor and event_version)."""
    identities: dict[str, tuple[EventRef, ...]] = {}
    for row in identity_counts.itertuples(index=False):
        known = isinstance(row.event_vendor, str) and isinstance(row.event_version, str)
        refs = identities.setdefault(str(row.event_name), ())
        if known:
            identities[str(row.event_name)] = refs + (EventRef(str(row.event_name), row.event_vendor, row.event_version),)
    return identities


def with_event_identities(attribute: Attribute, identities: Mapping[str, tuple[EventRef, ...]]) -> Attribute:
    """`attribute` with each event it names alone replaced by the identities the source gives that name
    (one EventRef each, so the SQL and Signals read the same events); a name the source gives no
    identity, and an event given with its own vendor or version, stay as they are."""
    events = tuple(ref for event in attribute.events
                   for ref in (identities.get(event.name) or (event,) if event.vendor is None and event.version is None
                               else (event,)))
    return dataclasses.replace(attribute, events=events)


def missing_event_notice(event: str, names: list[str]) -> str | None:
    """"no event named X; did you mean Y?" when `event` is not among the names the source holds.

    A near miss (letter case, spaces around it, a typo) names the likely event. Nothing is said when
    the source holds no events at all (the preflight says that) or when the list of names is cut off.
    """
    if not names or event in names or len(names) >= EVENT_NAMES_SHOWN:
        return None
    by_key = {name.strip().casefold(): name for name in names}
    guess = by_key.get(event.strip().casefold())
    if guess is None:
        close = difflib.get_close_matches(event.strip().casefold(), list(by_key), n=1, cutoff=0.75)
        guess = by_key[close[0]] if close else None
    hint = f"; did you mean {guess}?" if guess is not None else f"; the most frequent are {', '.join(names[:5])}"
    return f"no event named {event!r} in the lookback window, so the target has no positives{hint}"


def target_event_notice(warehouse: Warehouse, spec: TrainingSpec) -> str | None:
    """missing_event_notice for the spec's target event, against the names `warehouse` holds."""
    names = event_counts(warehouse, spec)["event_name"].astype(str).tolist()
    return missing_event_notice(spec.target_event, names)


def null_timestamp_notice(events: int, without_tstamp: int, table: str) -> str | None:
    """What to say when events lack derived_tstamp: no query can place them in time, so all leave them out."""
    if not without_tstamp:
        return None
    return (f"{without_tstamp:,} of the {events:,} events in {table} have no derived_tstamp and are left out of "
            "every count and of the training set")


def null_timestamp_notices(
    warehouse: Warehouse, spec: TrainingSpec, query: Callable[[str], pd.DataFrame | None] | None = None
) -> tuple[str, ...]:
    """For a DuckDB file: how many events lack derived_tstamp. A loaded events file counted them when it
    was loaded (its `notices` say so), and Snowflake is not scanned for this. `query` runs the count
    (the app passes its cached background query, None until it has answered); by default `warehouse.query`."""
    if warehouse.events_table is not None or not isinstance(warehouse, DuckDBWarehouse):
        return ()
    sql = (f"select count(*) as events, count(*) - count(derived_tstamp) as without_tstamp "
           f"from {spec.events_table}")  # validated as an identifier by the spec
    frame = (query or warehouse.query)(sql)
    if frame is None:
        return ()
    row = frame.iloc[0]
    notice = null_timestamp_notice(int(row["events"]), int(row["without_tstamp"]), spec.events_table)
    return (notice,) if notice else ()
