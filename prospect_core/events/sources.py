"""Turn a source string (`demo`, `duckdb:PATH`, `events:PATH`, `snowflake`) into a Warehouse.

The same strings work in the CLI (`--source`) and the app, so a user can reproduce in a terminal
what they did in the browser.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import duckdb

from prospect_core.events.databricks import DatabricksConfig, DatabricksWarehouse, resolve_databricks_config
from prospect_core.events.demo_data import write_demo_db
from prospect_core.infra.errors import SourceError, write_failure
from prospect_core.infra.limits import QueryLimits
from prospect_core.events.events_files import open_events_file
from prospect_core.infra.paths import DATA_DIR, REPO_ROOT, demo_db_path
from prospect_core.events.snowflake import SnowflakeConfig, SnowflakeWarehouse, resolve_config
from prospect_core.events.warehouse import DuckDBWarehouse, Warehouse

SOURCE_KINDS = ("demo", "duckdb:PATH", "events:PATH", "snowflake", "databricks")
DEFAULT_SOURCE = "demo"  # runs anywhere, with no file or login: the CLI's and a new session's source


def parse_source(source: str) -> tuple[str, str]:
    """A source string's kind and argument: "duckdb:data/x.duckdb" -> ("duckdb", "data/x.duckdb")."""
    kind, _, argument = source.partition(":")
    return kind, argument


DATA_DIRS_ENV, DATA_DIRS_SECRET = "PROSPECT_DATA_DIRS", "data_dirs"


def data_dirs(secrets: Mapping[str, Any] | None = None) -> tuple[Path, ...]:
    """The folders the app's DuckDB path box may read from: $PROSPECT_DATA_DIRS (separated by
    os.pathsep), else `data_dirs` in secrets (a list, or one path), else data/ in the repository."""
    raw: Any = os.environ.get(DATA_DIRS_ENV) or (secrets or {}).get(DATA_DIRS_SECRET)
    if not raw:
        return (DATA_DIR,)
    items = raw.split(os.pathsep) if isinstance(raw, str) else list(raw)
    return tuple(Path(str(item)).expanduser().resolve() for item in items if str(item).strip())


def file_in_data_dirs(text: str, folders: Iterable[Path]) -> Path:
    """The regular file `text` names, if it lies inside one of `folders` (links resolved first).

    Anything else, absent, outside, a folder or a device, gets the same message, so the box tells
    nothing about the server's files beyond the data folders.
    """
    folders = tuple(Path(folder).resolve() for folder in folders)
    try:
        path = Path(text.strip()).expanduser().resolve()
        inside = any(path.is_relative_to(folder) for folder in folders)
        if inside and path.is_file():
            return path
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL byte, a symlink loop
        pass
    shown = ", ".join(_shown(folder) for folder in folders)
    raise SourceError(
        f"No DuckDB file at that path in this server's data folders ({shown}). Expected the path of a .duckdb "
        f"file inside one of them; the folders are set with `{DATA_DIRS_SECRET}` in secrets or {DATA_DIRS_ENV}"
    )


def _shown(folder: Path) -> str:
    return f"{folder.relative_to(REPO_ROOT)}/" if folder.is_relative_to(REPO_ROOT) else str(folder)


# The demo's prospects are first seen over the 70 days before the day it was written; the default
# cohort (first seen 60 to 30 days before today) empties as it ages, so it is rewritten weekly.
DEMO_MAX_AGE_DAYS = 7


def demo_db_is_current(path: Path | None = None) -> bool:
    """Whether the demo database exists and was written in the last DEMO_MAX_AGE_DAYS days."""
    path = path or demo_db_path()
    if not path.is_file():
        return False
    written = dt.datetime.fromtimestamp(path.stat().st_mtime).date()
    return (dt.date.today() - written).days < DEMO_MAX_AGE_DAYS


def ensure_demo_db(path: Path | None = None, *, on_create: Callable[[], None] | None = None) -> Path:
    """Create the demo database on first use, or rewrite it when stale, anchored on today so the
    default cohort has users. The write is atomic: sessions reading the old file keep reading it."""
    path = path or demo_db_path()
    if not demo_db_is_current(path):
        if on_create:
            on_create()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_demo_db(path, anchor=dt.date.today())
        except (OSError, duckdb.IOException) as error:  # disk full, read-only folder: nothing is left at `path`
            raise SourceError(
                write_failure("the demo database", path, error) + " (or set PROSPECT_DEMO_DB to another path)"
            ) from None
    return path


def open_source(
    source: str,
    *,
    events_table: str | None = None,
    snowflake_config: SnowflakeConfig | None = None,
    databricks_config: DatabricksConfig | None = None,
    query_limits: QueryLimits | None = None,
) -> Warehouse:
    """The warehouse behind a source string.

    `events_table` names the table an `events:PATH` export is loaded into (default atomic.events), so
    pass the spec's `events_table` when it differs. `snowflake_config` is a resolved configuration
    (the app passes one built from `st.secrets` and the session's form); without it the source
    resolves one from connections.toml / environment variables; `databricks_config` likewise for
    Databricks (`databricks.resolve_databricks_config`). `query_limits` bounds a DuckDB file's
    memory and threads (the app passes the server's; the CLI leaves DuckDB's defaults).
    """
    kind, argument = parse_source(source)
    bounds = {"threads": query_limits.threads, "memory_mb": query_limits.memory_mb} if query_limits else {}
    if source == "demo":
        return DuckDBWarehouse(ensure_demo_db(), **bounds)
    if kind == "duckdb" and argument:
        return DuckDBWarehouse(Path(argument).expanduser(), **bounds)
    if kind == "events" and argument:
        return open_events_file(argument, events_table=events_table)
    if source == "snowflake":
        return SnowflakeWarehouse(snowflake_config or resolve_config())
    if source == "databricks":
        return DatabricksWarehouse(databricks_config or resolve_databricks_config())
    raise SourceError(f"unknown source {source!r}; expected one of {', '.join(SOURCE_KINDS)}")
