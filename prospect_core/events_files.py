"""Exports of the atomic events table (CSV, CSV.gz, Parquet) as a DuckDB source.

A file is read by DuckDB itself (`read_csv` / `read_parquet`, no pandas round-trip) and written once
into a cached DuckDB database in the atomic layout the training SQL expects, under the events table
name asked for. The cache is keyed on the file's path, size and modification time, so rebuilding a
training set from the same export costs nothing.

What an export may look like:
- column names in any letter case (Snowflake unloads are UPPER CASE);
- `derived_tstamp` typed (TIMESTAMP, TIMESTAMP WITH TIME ZONE, DATE) or text such as
  `2025-05-14 10:11:12.123`, `2025-05-14T10:11:12.123Z` or `2025-05-14 10:11:12.123 -0700`
  (text without an offset is read as UTC, text with one is converted to UTC);
- context columns as JSON text or as nested values (LIST of STRUCT), stored as JSON;
- NULL written as an empty field or as `\\N` (Snowflake's unload default) in CSV.

Only the six columns the cohort and the windows need are required; the others are optional and a
missing one is read as NULL, with a notice listing them (their features are then constant).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from prospect_core import safe_io
from prospect_core.errors import SourceError, write_failure
from prospect_core.warehouse import DuckDBWarehouse

FileFormat = Literal["csv", "parquet"]

REQUIRED_COLUMNS = ("event_id", "derived_tstamp", "domain_userid", "domain_sessionid", "event_name", "app_id")
CONTEXT_COLUMNS = (
    "contexts_nl_basjes_yauaa_context_1",
    "contexts_com_snowplowanalytics_snowplow_media_player_2",
)
OPTIONAL_COLUMNS = ("page_url", "refr_medium", "mkt_medium", "mkt_campaign", *CONTEXT_COLUMNS)
EVENTS_LAYOUT = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

DEFAULT_EVENTS_TABLE = "atomic.events"
# Bump when the loaded layout changes, so cached databases from older code are not reused.
LOADER_VERSION = 1
_SUFFIXES: dict[str, FileFormat] = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class LoadedEvents:
    """An export loaded into a DuckDB database, and what the user should know about it."""

    source_file: Path
    database: Path
    events_table: str
    rows: int
    missing_optional: tuple[str, ...] = ()

    @property
    def notices(self) -> tuple[str, ...]:
        if not self.missing_optional:
            return ()
        return (
            f"{self.source_file.name} has no column(s) {', '.join(self.missing_optional)}; "
            "they are read as NULL, so the features built from them are constant",
        )


class EventsFileWarehouse(DuckDBWarehouse):
    """A DuckDB warehouse over a loaded events export; `notices` says what the file lacked."""

    def __init__(self, loaded: LoadedEvents, *, threads: int | None = None) -> None:
        super().__init__(loaded.database, threads=threads)
        self.loaded = loaded
        self.events_table = loaded.events_table
        self.notices = loaded.notices

    @property
    def label(self) -> str:
        return f"events file {self.loaded.source_file.name} ({self.loaded.rows} events)"


def open_events_file(
    path: str | os.PathLike[str],
    *,
    events_table: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> EventsFileWarehouse:
    """Load (or reuse the cached load of) an events export and return a warehouse over it."""
    return EventsFileWarehouse(load_events_file(path, events_table=events_table, cache_dir=cache_dir))


def detect_format(path: Path) -> FileFormat:
    name = path.name.lower()
    for suffix, kind in sorted(_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return kind
    raise SourceError(
        f"cannot tell the format of {path.name}: expected a file ending in .csv, .csv.gz or .parquet"
    )


def default_cache_dir() -> Path:
    """$PROSPECT_CACHE_DIR, else data/cache next to the demo database (git-ignored)."""
    from prospect_core.sources import REPO_ROOT

    return Path(os.environ.get("PROSPECT_CACHE_DIR") or REPO_ROOT / "data" / "cache")


def load_events_file(
    path: str | os.PathLike[str],
    *,
    events_table: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> LoadedEvents:
    """Normalise an export into `events_table` of a cached DuckDB database (created on first use)."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise SourceError(f"events file not found: {source} (expected a CSV, CSV.gz or Parquet export)")
    file_format = detect_format(source)
    if source.stat().st_size == 0:
        raise SourceError(f"events file {source.name} is empty (0 bytes); expected a header row and events")
    table = events_table or DEFAULT_EVENTS_TABLE
    _check_table_name(table)

    database = _cache_path(source, table, Path(cache_dir) if cache_dir else default_cache_dir())
    if database.is_file():
        cached = _read_metadata(database, source)
        if cached is not None:
            return cached
    # Built under a private name, then renamed into place: a crash or a full disk never leaves a
    # half-written cache at `database`, and two sessions loading the same file do not collide.
    partial = database.with_name(f"{database.stem}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        loaded = safe_io.write_file(database, lambda building: _load(source, file_format, table, building),
                                    what=f"the cached copy of {source.name}")
    except (OSError, duckdb.IOException) as error:
        raise SourceError(write_failure(f"the cached copy of {source.name}", database.parent, error)) from None
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}.wal").unlink(missing_ok=True)
    return LoadedEvents(source, database, table, loaded.rows, loaded.missing_optional)


# ----- loading -----------------------------------------------------------------------------------


def _check_table_name(table: str) -> None:
    from prospect_core.spec import TrainingSpec

    TrainingSpec(events_table=table)  # the spec's identifier check, with its message


def _cache_path(source: Path, table: str, cache_dir: Path) -> Path:
    stat = source.stat()
    key = json.dumps([str(source.resolve()), stat.st_size, stat.st_mtime_ns, table, LOADER_VERSION])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    parts = table.split(".")
    # A three-part name's database is the DuckDB catalog, which is named after the file.
    filename = f"{parts[0]}.duckdb" if len(parts) == 3 else "events.duckdb"
    return cache_dir / f"{_safe_stem(source)}-{digest}" / filename


def _safe_stem(source: Path) -> str:
    stem = "".join(char if char.isalnum() or char in "-_" else "_" for char in source.name)
    return stem[:60]


def _read_metadata(database: Path, source: Path) -> LoadedEvents | None:
    try:
        with duckdb.connect(str(database), read_only=True) as connection:
            table, rows, missing = connection.execute(
                "select events_table, rows, missing_optional from prospect_load_info"
            ).fetchone()
    except duckdb.Error:
        return None  # an unreadable cache entry is rebuilt
    return LoadedEvents(source, database, table, int(rows), tuple(json.loads(missing)))


def _reader(source: Path, file_format: FileFormat) -> str:
    path = _sql_string(str(source))
    if file_format == "parquet":
        return f"read_parquet({path})"
    # Every column as text: we parse timestamps and JSON ourselves, with messages naming the column.
    return f"read_csv({path}, header = true, all_varchar = true, nullstr = ['', '\\N'])"


def _load(source: Path, file_format: FileFormat, table: str, database: Path) -> LoadedEvents:
    with duckdb.connect(str(database)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        try:
            connection.execute(f"create temp view raw_events as select * from {_reader(source, file_format)}")
            described = connection.execute("describe raw_events").fetchall()
        except duckdb.Error as error:
            reason = _first_line(error)
            if "Maximum line size" in str(error):
                reason = "a line is longer than 2,000,000 bytes (a huge field, or a quote that is never closed)"
            raise SourceError(f"cannot read {source.name} as {file_format.upper()}: {reason}") from None
        columns = _match_columns(source, [(name, kind) for name, kind, *_ in described])
        missing_optional = tuple(name for name in OPTIONAL_COLUMNS if name not in columns)
        selects = [f"{_normalised(source, name, columns.get(name))} as {name}" for name in EVENTS_LAYOUT]

        _check_timestamps(connection, source, columns["derived_tstamp"])
        for name in CONTEXT_COLUMNS:
            if name in columns and columns[name][1] == "VARCHAR":
                _check_json(connection, source, name, columns[name][0])

        parts = table.split(".")
        schema = parts[-2] if len(parts) >= 2 else None
        if schema:
            connection.execute(f"create schema if not exists {schema}")
        qualified = ".".join(parts[-2:])
        try:
            connection.execute(f"create table {qualified} as select {', '.join(selects)} from raw_events")
        except duckdb.Error as error:
            raise SourceError(f"cannot load {source.name}: {_first_line(error)}") from None
        rows = connection.execute(f"select count(*) from {qualified}").fetchone()[0]
        if rows == 0:
            raise SourceError(f"events file {source.name} has no events (only a header row)")
        connection.execute(
            "create table prospect_load_info as select ? as events_table, ? as rows, ? as missing_optional",
            [table, rows, json.dumps(missing_optional)],
        )
    return LoadedEvents(source, database, table, int(rows), missing_optional)


def _match_columns(source: Path, described: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Map lower-case layout names to (name in the file, DuckDB type); complain about what is missing."""
    by_lower: dict[str, tuple[str, str]] = {}
    for name, kind in described:
        key = name.strip().lower()
        if key in by_lower:
            raise SourceError(
                f"{source.name} has column {name!r} twice (names are compared ignoring case: "
                f"{by_lower[key][0]!r} and {name!r})"
            )
        by_lower[key] = (name, kind)
    missing = [name for name in REQUIRED_COLUMNS if name not in by_lower]
    if missing:
        found = ", ".join(name for name, _ in described[:15]) + (" ..." if len(described) > 15 else "")
        raise SourceError(
            f"{source.name} lacks required column(s) {', '.join(missing)} (any letter case); "
            f"required are {', '.join(REQUIRED_COLUMNS)}; the file has: {found}. "
            "For CSV the first row must be the header."
        )
    return {name: by_lower[name] for name in EVENTS_LAYOUT if name in by_lower}


def _normalised(source: Path, name: str, column: tuple[str, str] | None) -> str:
    """SQL turning a file column into the layout's type."""
    if column is None:
        return "cast(null as json)" if name in CONTEXT_COLUMNS else "cast(null as varchar)"
    quoted, kind = _identifier(column[0]), column[1]
    if name == "derived_tstamp":
        return _timestamp_expression(source, quoted, kind)
    if name in CONTEXT_COLUMNS:
        if kind == "JSON":
            return quoted
        if kind == "VARCHAR":
            return f"cast({quoted} as json)"
        return f"to_json({quoted})"  # nested values (LIST of STRUCT, STRUCT, MAP)
    return f"cast({quoted} as varchar)"


def _timestamp_expression(source: Path, quoted: str, kind: str) -> str:
    if kind == "VARCHAR":
        return _parse_timestamp_text(quoted)
    if kind.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"({quoted} at time zone 'UTC')"
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"cast({quoted} as timestamp)"
    raise SourceError(
        f"column derived_tstamp in {source.name} has type {kind}; expected timestamps, typed or as text "
        "like 2025-05-14 10:11:12.123"
    )


def _parse_timestamp_text(quoted: str) -> str:
    # `... Z` / `... UTC` -> +00:00, and `... -0700` -> `...-0700`, which DuckDB's cast accepts.
    text = f"regexp_replace(trim({quoted}), '\\s*(Z|UTC)$', '+00:00')"
    text = f"regexp_replace({text}, '\\s+([+-][0-9]{{2}}:?[0-9]{{2}})$', '\\1')"
    return f"(try_cast({text} as timestamptz) at time zone 'UTC')"


def _check_timestamps(connection: duckdb.DuckDBPyConnection, source: Path, column: tuple[str, str]) -> None:
    name, kind = column
    if kind != "VARCHAR":
        return
    quoted = _identifier(name)
    bad, example, filled = connection.execute(
        f"select count(*) filter (where {quoted} is not null and {_parse_timestamp_text(quoted)} is null), "
        f"any_value({quoted}) filter (where {quoted} is not null and {_parse_timestamp_text(quoted)} is null), "
        f"count({quoted}) from raw_events"
    ).fetchone()
    if bad:
        raise SourceError(
            f"column derived_tstamp in {source.name} has {bad} value(s) that are not timestamps, e.g. "
            f"{str(example)[:40]!r}; expected text like 2025-05-14 10:11:12.123 (optionally with T, Z or an offset)"
        )
    total = connection.execute("select count(*) from raw_events").fetchone()[0]
    if total and not filled:
        raise SourceError(f"column derived_tstamp in {source.name} is empty in every row; expected timestamps")


def _check_json(connection: duckdb.DuckDBPyConnection, source: Path, layout_name: str, name: str) -> None:
    quoted = _identifier(name)
    bad, example = connection.execute(
        f"select count(*) filter (where {quoted} is not null and not json_valid({quoted})), "
        f"any_value({quoted}) filter (where {quoted} is not null and not json_valid({quoted})) from raw_events"
    ).fetchone()
    if bad:
        raise SourceError(
            f"column {layout_name} in {source.name} has {bad} value(s) that are not JSON, e.g. "
            f"{str(example)[:40]!r}; expected JSON text such as [{{\"deviceClass\": \"Desktop\"}}]"
        )


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
