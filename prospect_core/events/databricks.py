"""Databricks: the connection settings, the warehouse, and errors a user can act on.

Settings, first source that names a host wins (as for Snowflake, `prospect_core.events.snowflake`):
1. `st.secrets["connections"]["databricks"]` (`.streamlit/secrets.toml`), passed in by the app, with
   keys `server_hostname`, `http_path`, `access_token` and optionally `catalog`, `schema`,
   `events_table`;
2. the environment: `DATABRICKS_SERVER_HOSTNAME` (or `DATABRICKS_HOST`, the Databricks CLI's name),
   `DATABRICKS_HTTP_PATH`, `DATABRICKS_TOKEN`, and `ENV_ATOMIC_TABLE` for the events table.
A session-only `overrides` mapping (the app's form) is laid over the chosen source; a form naming
another host never sends the operator's token there.

The token lives only in `DatabricksConfig`, whose repr hides it; every message built from a connector
error is scrubbed of it. databricks-sql-connector is imported only when a query runs.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from prospect_core.events.warehouse import Preflight, arrow_to_frame, run_preflight
from prospect_core.infra.errors import SourceError, first_line
from prospect_core.trainingset.spec import TABLE_NAME, TrainingSpec
from prospect_core.trainingset.training_sql import DialectName

LOGGER = logging.getLogger(__name__)

MISSING_CONFIG = (
    "No Databricks connection is configured. Expected [connections.databricks] in .streamlit/secrets.toml "
    "or the environment variables DATABRICKS_SERVER_HOSTNAME, DATABRICKS_HTTP_PATH and DATABRICKS_TOKEN"
)
_ENVIRONMENT = {
    "server_hostname": ("DATABRICKS_SERVER_HOSTNAME", "DATABRICKS_HOST"),
    "http_path": ("DATABRICKS_HTTP_PATH",),
    "access_token": ("DATABRICKS_TOKEN",),
    "catalog": ("DATABRICKS_CATALOG",),
    "schema": ("DATABRICKS_SCHEMA",),
    "events_table": ("ENV_ATOMIC_TABLE",),
}
_KEYS = tuple(_ENVIRONMENT)


@dataclass(frozen=True)
class DatabricksConfig:
    server_hostname: str
    http_path: str
    access_token: str = field(repr=False)
    catalog: str | None = None
    schema: str | None = None
    events_table: str | None = None
    source: str = ""
    # Where the connector sends its Thrift calls instead of https://host/http_path (a proxy, or the
    # tests' local stand-in); never read from user input.
    connection_uri: str | None = field(default=None, repr=False)

    def describe(self) -> dict[str, str]:
        """What the app may show: never the token."""
        shown = {"host": self.server_hostname, "HTTP path": self.http_path, "settings from": self.source}
        return {**shown, **({"events table": self.events_table} if self.events_table else {})}

    def connect_kwargs(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "server_hostname": self.server_hostname, "http_path": self.http_path,
            "access_token": self.access_token, "catalog": self.catalog, "schema": self.schema,
            "_user_agent_entry": "prospect-scoring-studio",
            "enable_telemetry": False,
        }
        if self.connection_uri:
            options["_connection_uri"] = self.connection_uri
        return options


def resolve_databricks_config(
    secrets: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None,
    *, connection_uri: str | None = None,
) -> DatabricksConfig:
    """The connection settings from the first source that names a host (module docstring)."""
    values, source = _from_secrets(secrets)
    if not values.get("server_hostname"):
        values, source = _from_environment()
    chosen = {key: str(value).strip() for key, value in (overrides or {}).items() if key in _KEYS and value not in (None, "")}
    if chosen:
        if values.get("server_hostname") and chosen.get("server_hostname", values["server_hostname"]) != values["server_hostname"]:
            values = {key: value for key, value in values.items() if key != "access_token"}  # not the operator's token
        source = f"session form over {source}" if source else "session form"
        values = {**values, **chosen}
    missing = [key for key in ("server_hostname", "http_path", "access_token") if not values.get(key)]
    if not values.get("server_hostname"):
        raise SourceError(MISSING_CONFIG)
    if missing:
        raise SourceError(f"The Databricks connection from {source} lacks {', '.join(missing)}; expected all of "
                          "server_hostname, http_path and access_token")
    table = values.get("events_table")
    if table and not TABLE_NAME.fullmatch(table):
        raise SourceError(f"events_table {table!r} from {source} is not a table name; expected catalog.schema.table "
                          "letters, digits and underscores")
    host = values["server_hostname"].removeprefix("https://").rstrip("/")
    return DatabricksConfig(
        server_hostname=host, http_path=values["http_path"], access_token=values["access_token"],
        catalog=values.get("catalog") or None, schema=values.get("schema") or None,
        events_table=table or None, source=source, connection_uri=connection_uri,
    )


def _from_secrets(secrets: Mapping[str, Any] | None) -> tuple[dict[str, str], str]:
    section = ((secrets or {}).get("connections") or {}).get("databricks") or {}
    values = {key: str(section[key]).strip() for key in _KEYS if section.get(key) not in (None, "")}
    return values, "Streamlit secrets [connections.databricks]"


def _from_environment() -> tuple[dict[str, str], str]:
    values = {}
    for key, names in _ENVIRONMENT.items():
        found = next((os.environ[name].strip() for name in names if os.environ.get(name, "").strip()), None)
        if found:
            values[key] = found
    return values, "environment variables DATABRICKS_*"


class DatabricksWarehouse:
    """Runs rendered `databricks` SQL through databricks-sql-connector: native named parameters
    (`:name`), results as Arrow. `cancel()` (from another thread) cancels the running statement."""

    dialect: DialectName = "databricks"
    notices: tuple[str, ...] = ()

    def __init__(self, config: DatabricksConfig) -> None:
        self.config = config
        self.events_table = config.events_table
        self._connection: Any = None
        self._cursor: Any = None
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"Databricks at {self.config.server_hostname}"

    def connect(self) -> Any:
        from databricks import sql as databricks_sql  # heavy and optional: only a Databricks source loads it

        with self._lock:
            if self._connection is None:
                try:
                    self._connection = databricks_sql.connect(**self.config.connect_kwargs())
                except Exception as error:  # the connector's errors, and the network's beneath them
                    raise self._translate(error, "could not connect to Databricks") from None
            return self._connection

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                self._cursor = cursor
                cursor.execute(sql, dict(params or {}) or None)
                table = cursor.fetchall_arrow()
        except Exception as error:
            raise self._translate(error, "the Databricks query failed") from None
        finally:
            self._cursor = None
        frame = arrow_to_frame(table)
        # Databricks timestamps arrive zone-aware (UTC); every other source gives naive UTC
        for name in frame.columns:
            if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
                frame[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
        return frame

    def preflight(self, spec: TrainingSpec) -> Preflight:
        return run_preflight(self, spec)

    def cancel(self) -> bool:
        cursor = self._cursor
        if cursor is None:
            return False
        cursor.cancel()
        return True

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _translate(self, error: BaseException, what: str) -> SourceError:
        text = first_line(error)
        token = self.config.access_token
        if token:
            text = text.replace(token, "***")
        LOGGER.info("%s: %s", what, text)
        return SourceError(f"{what} ({self.config.server_hostname}): {text}")

    def __enter__(self) -> DatabricksWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DatabricksWarehouse({self.config!r})"
