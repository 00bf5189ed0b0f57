"""Exports of the atomic events table (CSV, CSV.gz, Parquet) as a DuckDB source.

A CSV is read by DuckDB itself (`read_csv`), a Parquet file by pyarrow a batch at a time (no pandas
round-trip), and written once into a cached DuckDB database in the atomic layout the training SQL expects, under the events table
name asked for. The cache is keyed on the file's path, size and modification time, so rebuilding a
training set from the same export costs nothing.

What an export may look like:
- column names in any letter case (Snowflake unloads are UPPER CASE);
- `derived_tstamp` typed (TIMESTAMP, TIMESTAMP WITH TIME ZONE, DATE) or text such as
  `2025-05-14 10:11:12.123`, `2025-05-14T10:11:12.123Z` or `2025-05-14 10:11:12.123 -0700`
  (text without an offset is read as UTC, text with one is converted to UTC);
- context columns as JSON text or as nested values (LIST of STRUCT), stored as JSON;
- NULL written as an empty field or as `\\N` (Snowflake's unload default) in CSV.

A file's type is read from its first bytes, never from its name: gzip, Parquet (`PAR1`), else CSV
text; a DuckDB database or a ZIP archive is refused here. It is read by a DuckDB connection that may
open that one file and nothing else (through a link with a plain name, so `?`, `*` or `[` in a name is
never a glob), with extensions neither downloaded nor loaded. A gzip is expanded first, to a private
file and at most up to the size bound (`limits.EventsFileLimits`); a Parquet file's batches count what
they decode to against it, never what its footer declares; no more rows than the row bound are loaded. A load can be cancelled from another thread (`LoadControl.cancel`).

Only the six columns the cohort and the windows need are required; the others are optional and a
missing one is read as NULL, with a notice listing them (their features are then constant).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import zlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prospect_core.infra import safe_io
from prospect_core.trainingset.atomic import DEFAULT_EVENTS_TABLE, JSON_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from prospect_core.infra.errors import SourceError, first_line, write_failure
from prospect_core.infra.limits import EVENTS_FILE_MB, EVENTS_FILE_ROWS, EventsFileLimits, events_file_limits
from prospect_core.infra.paths import events_cache_dir
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.events.warehouse import (DuckDBWarehouse, connect_locked_down, missing_columns_notice, null_timestamp_notice,
                                            sql_string)

FileFormat = Literal["csv", "parquet"]
FileKind = Literal["csv", "csv.gz", "parquet", "duckdb"]

# The layout an export is loaded into (prospect_core.trainingset.atomic): the required columns, then the optional ones.
EVENTS_LAYOUT = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
# Bump when the loaded layout changes, so cached databases from older code are not reused.
LOADER_VERSION = 2
CHUNK = 1 << 20  # bytes expanded between two checks of the size bound and of Cancel
# Parquet rows read between two checks of the bounds and of Cancel. Text columns arrive as dictionary
# indices, so a batch is ~100 kB whatever its values decode to; DuckDB decodes it only once counted.
PARQUET_BATCH_ROWS = 16_384
CANCELLED = "loading the events file was cancelled; choose the file again to reload it"


@dataclass(frozen=True)
class LoadedEvents:
    """An export loaded into a DuckDB database, and what the user should know about it."""

    source_file: Path
    database: Path
    events_table: str
    rows: int
    missing_optional: tuple[str, ...] = ()
    null_timestamps: int = 0  # events without derived_tstamp, which no query can place in time
    first_event: dt.datetime | None = None  # the earliest and latest derived_tstamp (UTC); None without any
    last_event: dt.datetime | None = None

    @property
    def span(self) -> str:
        """`5,398 events from 2025-04-01 to 2025-05-13 (UTC)`."""
        if self.first_event is None or self.last_event is None:
            return f"{self.rows:,} events, none with a time"
        return f"{self.rows:,} events from {self.first_event:%Y-%m-%d} to {self.last_event:%Y-%m-%d} (UTC)"

    @property
    def notices(self) -> tuple[str, ...]:
        notices = []
        if self.missing_optional:
            notices.append(missing_columns_notice(self.source_file.name, self.missing_optional))
        timestamps = null_timestamp_notice(self.rows, self.null_timestamps, self.source_file.name)
        if timestamps:
            notices.append(timestamps)
        return tuple(notices)


class LoadControl:
    """Lets another thread stop a load: between chunks of a gzip, or by interrupting DuckDB."""

    def __init__(self) -> None:
        self.cancelled = False
        self._connection: duckdb.DuckDBPyConnection | None = None

    def cancel(self) -> bool:
        self.cancelled = True
        connection = self._connection
        if connection is not None:
            connection.interrupt()
        return True

    def check(self) -> None:
        if self.cancelled:
            raise SourceError(CANCELLED)


class EventsFileWarehouse(DuckDBWarehouse):
    """A DuckDB warehouse over a loaded events export; `notices` says what the file lacked."""

    def __init__(self, loaded: LoadedEvents, *, threads: int | None = None, memory_mb: int | None = None) -> None:
        super().__init__(loaded.database, threads=threads, memory_mb=memory_mb)
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
    limits: EventsFileLimits | None = None,
) -> EventsFileWarehouse:
    """Load (or reuse the cached load of) an events export and return a warehouse over it."""
    return EventsFileWarehouse(load_events_file(path, events_table=events_table, cache_dir=cache_dir, limits=limits))


def sniff_kind(path: Path) -> FileKind:
    """What a file is, from its first bytes: gzip, Parquet, a DuckDB database, else CSV text."""
    with path.open("rb") as file:
        head = file.read(16)
    if head.startswith(b"\x1f\x8b"):
        return "csv.gz"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head.startswith(b"PK\x03\x04"):
        raise SourceError(f"{path.name} is a ZIP archive (an Excel workbook?), not an events export; expected CSV, "
                          "CSV.gz or Parquet")
    return "csv"


def load_events_file(
    path: str | os.PathLike[str],
    *,
    events_table: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    limits: EventsFileLimits | None = None,
    control: LoadControl | None = None,
) -> LoadedEvents:
    """Normalise an export into `events_table` of a cached DuckDB database (created on first use)."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise SourceError(f"events file not found: {source} (expected a CSV, CSV.gz or Parquet export)")
    if source.stat().st_size == 0:
        raise SourceError(f"events file {source.name} is empty (0 bytes); expected a header row and events")
    kind = sniff_kind(source)
    if kind == "duckdb":
        raise SourceError(f"{source.name} is a DuckDB database, not an events export; open it as a DuckDB file "
                          "(duckdb:PATH) instead")
    table = events_table or DEFAULT_EVENTS_TABLE
    _check_table_name(table)
    limits = limits or events_file_limits()  # the environment's bounds when the caller (the CLI) gives none
    control = control or LoadControl()

    database = _cache_path(source, table, Path(cache_dir) if cache_dir else events_cache_dir())
    if database.is_file():
        cached = _read_metadata(database, source)
        if cached is not None:
            _touch(database.parent)
            return cached
    prune_cache(database.parent.parent)
    # Built in a scratch folder beside the cache, then renamed into place (safe_io): a crash or a full
    # disk never leaves a half-written cache at `database`, and two sessions loading the same file do not collide.
    def build(building: Path) -> LoadedEvents:
        with tempfile.TemporaryDirectory(dir=building.parent, prefix=".reading-") as private:
            readable = _readable_copy(source, kind, Path(private), limits, control)
            return _load(readable, "parquet" if kind == "parquet" else "csv", table, building,
                         limits=limits, control=control, name=source.name)

    try:
        loaded = safe_io.write_file(database, build, what=f"the cached copy of {source.name}")
    except (OSError, duckdb.IOException) as error:
        raise SourceError(write_failure(f"the cached copy of {source.name}", "the cache folder", error)) from None
    return dataclasses.replace(loaded, source_file=source, database=database)


def _readable_copy(source: Path, kind: FileKind, private: Path, limits: EventsFileLimits, control: LoadControl) -> Path:
    """A path, inside `private`, with a plain name, that DuckDB may read and that holds `source`'s data.

    A gzip is expanded there (up to the size bound); any other file is linked there, so DuckDB sees a
    name without glob characters and may open that one path only.
    """
    if kind != "csv.gz":
        if kind == "csv" and source.stat().st_size > limits.bytes:
            raise _too_large(source.name, limits)
        link = private / "events"
        link.symlink_to(source.resolve())
        return link
    expanded, written = private / "events", 0
    try:
        with gzip.open(source, "rb") as packed, expanded.open("wb") as plain:
            while chunk := packed.read(CHUNK):
                control.check()
                written += len(chunk)
                if written > limits.bytes:
                    raise _too_large(source.name, limits)
                plain.write(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        truncated = isinstance(error, EOFError)
        raise SourceError(
            f"{source.name} is a damaged gzip file: "
            + ("it ends before its end marker (truncated, e.g. an interrupted download or upload)" if truncated
               else f"{str(error)[:120]}")
            + "; export or upload it again"
        ) from None
    return expanded


# A cached load unused this long is deleted at the next load into the same cache folder (a changed
# file gets a new entry, so the old one would otherwise stay forever).
CACHE_MAX_AGE_SECONDS = 7 * 24 * 3600
_CACHE_ENTRY = re.compile(r"[A-Za-z0-9_-]{0,60}-[0-9a-f]{16}")  # what _cache_path names a folder


def prune_cache(cache_dir: Path, *, max_age_seconds: float = CACHE_MAX_AGE_SECONDS) -> list[Path]:
    """Delete cached loads in `cache_dir` not used for `max_age_seconds`; the ones deleted."""
    removed, cutoff = [], time.time() - max_age_seconds
    for entry in cache_dir.iterdir() if cache_dir.is_dir() else ():
        try:
            ours = _CACHE_ENTRY.fullmatch(entry.name) and any(entry.glob("*.duckdb"))  # never anything else
            if ours and entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        except OSError:
            continue
    return removed


def _touch(folder: Path) -> None:
    try:
        os.utime(folder)
    except OSError:
        pass


def _too_large(name: str, limits: EventsFileLimits) -> SourceError:
    return SourceError(
        f"{name} is larger than {limits.megabytes:,} MB once decompressed, the limit for an events file on this "
        f"server ({EVENTS_FILE_MB.where}); export fewer days or apps, or ask whoever runs the server to raise it"
    )


def _too_many_rows(name: str, limits: EventsFileLimits) -> SourceError:
    return SourceError(
        f"{name} has more than {limits.rows:,} events, the limit for an events file on this server "
        f"({EVENTS_FILE_ROWS.where}); export fewer days or apps, or ask whoever runs the server to raise it"
    )


# ----- loading -----------------------------------------------------------------------------------


def _check_table_name(table: str) -> None:
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
            table, rows, missing, null_timestamps, first, last = connection.execute(
                "select events_table, rows, missing_optional, null_timestamps, first_event, last_event "
                "from prospect_load_info"
            ).fetchall()[0]
    except duckdb.Error:
        return None  # an unreadable cache entry (or one from older code) is rebuilt
    return LoadedEvents(source, database, table, int(rows), tuple(json.loads(missing)), int(null_timestamps), first, last)


def _reader(source: Path, file_format: FileFormat) -> str:
    # Every column as text: we parse timestamps and JSON ourselves, with messages naming the column.
    return f"read_csv({sql_string(str(source))}, header = true, all_varchar = true, nullstr = ['', '\\N'])"


def _parquet_batches(source: Path, shown: Path, limits: EventsFileLimits, control: LoadControl,
                     refused: list[SourceError]) -> pa.RecordBatchReader:
    """`source`'s rows a batch at a time, each counted against the bounds before DuckDB decodes it.

    The footer is checked first: its sizes bound what is read before anything is decoded (dictionary
    pages included). But a footer gives stored sizes, not decoded ones: one 2 kB URL in a dictionary
    and a million one-bit indices are 0.6 MB there and 2 GB of page_url. So every text column, nested
    ones too, is read as dictionary indices and its decoded size is added up from the values' lengths.
    A refusal raised while DuckDB pulls the batches is put in `refused`, as DuckDB rewords it.
    """
    try:
        footer = pq.ParquetFile(source)
        text = [column.path for column in footer.schema if column.physical_type == "BYTE_ARRAY"]
        file = pq.ParquetFile(source, metadata=footer.metadata, read_dictionary=text)
    except (pa.ArrowException, OSError) as error:
        raise SourceError(f"cannot read {shown.name} as PARQUET: {first_line(error)}") from None
    metadata = file.metadata
    if metadata.num_rows > limits.rows:
        raise _too_many_rows(shown.name, limits)
    if sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups)) > limits.bytes:
        raise _too_large(shown.name, limits)

    def batches() -> Iterator[pa.RecordBatch]:
        rows = decoded = 0
        try:
            for batch in file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                control.check()
                rows += batch.num_rows
                decoded += sum(_decoded_bytes(column) for column in batch.columns)
                if rows > limits.rows:
                    raise _too_many_rows(shown.name, limits)
                if decoded > limits.bytes:
                    raise _too_large(shown.name, limits)
                yield batch
        except SourceError as error:
            refused.append(error)
            raise
        except (pa.ArrowException, OSError) as error:
            refused.append(SourceError(f"cannot read {shown.name} as PARQUET: {first_line(error)}"))
            raise

    return pa.RecordBatchReader.from_batches(file.schema_arrow, batches())


def _decoded_bytes(array: pa.Array) -> int:
    """The bytes `array` holds once its dictionaries are decoded (DuckDB's copy), without decoding them."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        values = array.dictionary
        if pa.types.is_string(kind.value_type) or pa.types.is_binary(kind.value_type) or \
                pa.types.is_large_string(kind.value_type) or pa.types.is_large_binary(kind.value_type):
            lengths = pc.binary_length(values).take(array.indices)
            return (pc.sum(lengths).as_py() or 0) + array.indices.nbytes  # the text, and an offset per value
        return values.nbytes * len(array) // max(len(values), 1)
    if pa.types.is_struct(kind):
        return len(array) // 8 + sum(_decoded_bytes(field) for field in array.flatten())
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind):
        start, end = (array.offsets[0].as_py(), array.offsets[-1].as_py()) if len(array) else (0, 0)
        return 8 * len(array) + _decoded_bytes(array.values.slice(start, end - start))  # a map's are its entries
    return array.nbytes


def _load(source: Path, file_format: FileFormat, table: str, database: Path, *, limits: EventsFileLimits | None = None,
          control: LoadControl | None = None, name: str | None = None) -> LoadedEvents:
    """Load `source` (a path DuckDB may read, see _readable_copy) into `table` of a new database file."""
    shown = Path(name or source.name)  # what messages call the file: its own name, never a server path
    limits, control = limits or EventsFileLimits(), control or LoadControl()
    connection = connect_locked_down(database, read_only=False, allowed_paths=(str(source),))
    control._connection = connection
    try:
        with connection:
            control.check()
            return _load_into(connection, source, shown, file_format, table, limits, control)
    except duckdb.InterruptException:
        raise SourceError(CANCELLED) from None
    finally:
        control._connection = None


def _load_into(connection: duckdb.DuckDBPyConnection, source: Path, shown: Path, file_format: FileFormat,
               table: str, limits: EventsFileLimits, control: LoadControl) -> LoadedEvents:
    refused: list[SourceError] = []  # a bound hit while DuckDB pulls the Parquet batches, which DuckDB rewords

    def reading(sql: str, params: list | None = None) -> list[tuple]:
        try:
            return connection.execute(sql, params or []).fetchall()
        except (duckdb.InterruptException, duckdb.IOException):
            raise  # a cancel; a full disk (reported by the caller as a failed write)
        except duckdb.Error as error:
            if refused:
                raise refused[0] from None
            raise SourceError(_read_failure(shown, source, file_format, error)) from None

    if file_format == "parquet":
        connection.register("raw_file", _parquet_batches(source, shown, limits, control, refused))
    else:
        reading(f"create temp view raw_file as select * from {_reader(source, file_format)}")
    described = reading("describe raw_file")
    columns = _match_columns(shown, [(name, kind) for name, kind, *_ in described])
    missing_optional = tuple(name for name in OPTIONAL_COLUMNS if name not in columns)
    selects = [f"{_normalised(shown, name, columns.get(name))} as {name}" for name in EVENTS_LAYOUT]

    # Read once, at most one row past the bound: the file is scanned here and nowhere else.
    reading(f"create table prospect_raw as select * from raw_file limit {limits.rows + 1}")
    [(total,)] = reading("select count(*) from prospect_raw")
    if total > limits.rows:
        raise _too_many_rows(shown.name, limits)
    _check_timestamps(reading, shown, columns["derived_tstamp"])
    for name in JSON_COLUMNS:
        if name in columns and columns[name][1] == "VARCHAR":
            _check_json(reading, shown, name, columns[name][0])

    parts = table.split(".")
    schema = parts[-2] if len(parts) >= 2 else None
    if schema:
        reading(f"create schema if not exists {schema}")
    qualified = ".".join(parts[-2:])
    reading(f"create table {qualified} as select {', '.join(selects)} from prospect_raw")
    reading("drop table prospect_raw")
    [(rows, null_timestamps, first, last)] = reading(
        f"select count(*), count(*) - count(derived_tstamp), min(derived_tstamp), max(derived_tstamp) from {qualified}")
    if rows == 0:
        raise SourceError(f"events file {shown.name} has no events (only a header row)")
    reading(
        "create table prospect_load_info as select ? as events_table, ? as rows, ? as missing_optional, "
        "? as null_timestamps, cast(? as timestamp) as first_event, cast(? as timestamp) as last_event",
        [table, rows, json.dumps(missing_optional), null_timestamps, first, last],
    )
    return LoadedEvents(shown, Path(), table, int(rows), missing_optional, int(null_timestamps), first, last)


def _read_failure(shown: Path, source: Path, file_format: FileFormat, error: Exception) -> str:
    """DuckDB's reason in the user's words: the line at fault for a CSV, never the private path."""
    lines = [line.strip() for line in str(error).replace(str(source), shown.name).strip().splitlines()]
    reason = lines[0]
    at_line = re.search(r"CSV Error on Line: (\d+)", reason)
    if any("Maximum line size" in line for line in lines):
        reason = "a line is longer than 2,000,000 bytes (a huge field, or a quote that is never closed)"
    elif at_line:
        # DuckDB's CSV errors: the line number, then "Original Line: ...", then what is wrong with it
        original = next((line.removeprefix("Original Line:").strip() for line in lines if line.startswith("Original Line:")), None)
        problem = next((line for line in lines[1:] if line and not line.startswith("Original Line:")), "")
        columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", problem)
        what = f"has {columns.group(2)} fields where the header has {columns.group(1)}" if columns else f"cannot be read ({problem[:120]})"
        quoted = f" ({original[:80]!r})" if original is not None else ""
        reason = (f"line {int(at_line.group(1)):,} {what}{quoted}; fix or remove that line (every row must have the "
                  "header's columns) and load it again")
    return f"cannot read {shown.name} as {file_format.upper()}: {reason}"


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
        return "cast(null as json)" if name in JSON_COLUMNS else "cast(null as varchar)"
    quoted, kind = _identifier(column[0]), column[1]
    if name == "derived_tstamp":
        return _timestamp_expression(source, quoted, kind)
    if name in JSON_COLUMNS:
        if kind == "JSON":
            return quoted
        if kind == "VARCHAR":
            return f"cast({quoted} as json)"
        if kind.endswith("[]") or kind.startswith(("STRUCT", "MAP")):
            return f"to_json({quoted})"  # nested values (LIST of STRUCT, STRUCT, MAP)
        raise SourceError(
            f"column {name} in {source.name} has type {kind}; expected JSON text or nested values (a list of "
            "structs), as Snowplow stores contexts. A number or a date there holds no context, and every feature "
            "built from it would be constant"
        )
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


def _check_timestamps(reading: Callable[..., list[tuple]], source: Path, column: tuple[str, str]) -> None:
    name, kind = column
    if kind != "VARCHAR":
        return
    quoted = _identifier(name)
    [(bad, example, filled, total)] = reading(
        f"select count(*) filter (where {quoted} is not null and {_parse_timestamp_text(quoted)} is null), "
        f"any_value({quoted}) filter (where {quoted} is not null and {_parse_timestamp_text(quoted)} is null), "
        f"count({quoted}), count(*) from prospect_raw"
    )
    if bad:
        raise SourceError(
            f"column derived_tstamp in {source.name} has {bad} value(s) that are not timestamps, e.g. "
            f"{str(example)[:40]!r}; expected text like 2025-05-14 10:11:12.123 (optionally with T, Z or an offset)"
        )
    if total and not filled:
        raise SourceError(f"column derived_tstamp in {source.name} is empty in every row; expected timestamps")


def _check_json(reading: Callable[..., list[tuple]], source: Path, layout_name: str, name: str) -> None:
    quoted = _identifier(name)
    [(bad, example)] = reading(
        f"select count(*) filter (where {quoted} is not null and not json_valid({quoted})), "
        f"any_value({quoted}) filter (where {quoted} is not null and not json_valid({quoted})) from prospect_raw"
    )
    if bad:
        raise SourceError(
            f"column {layout_name} in {source.name} has {bad} value(s) that are not JSON, e.g. "
            f"{str(example)[:40]!r}; expected JSON text such as [{{\"deviceClass\": \"Desktop\"}}]"
        )


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
