"""Shared fixtures: small DuckDB files of hand-written Snowplow events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import duckdb
import fakesnow
import pandas as pd
import pytest

from prospect_core.trainingset import atomic
from prospect_core.events.warehouse import DuckDBWarehouse

AS_OF = dt.date(2025, 5, 14)

# `fakesnow.server()` imports its submodule `fakesnow.server`, which then replaces the function on the
# package: a second call in the same process would call a module. Keep the function from the start.
start_fakesnow_server = fakesnow.server

EVENTS_COLUMNS = atomic.COLUMN_TYPES  # name -> DuckDB type, the layout every reader of the events table shares


def write_events_db(path: Path, rows: Iterable[Mapping[str, Any]], table: str = "atomic.events") -> Path:
    """A DuckDB file whose events table holds `rows`; missing columns are NULL."""
    schema = table.rpartition(".")[0]
    columns = ", ".join(f"{name} {kind}" for name, kind in EVENTS_COLUMNS.items())
    with duckdb.connect(str(path)) as connection:
        if schema:
            connection.execute(f"create schema if not exists {schema}")
        connection.execute(f"create table {table} ({columns})")
        placeholders = ", ".join("?" for _ in EVENTS_COLUMNS)
        connection.executemany(
            f"insert into {table} values ({placeholders})",
            [[row.get(name) for name in EVENTS_COLUMNS] for row in rows],
        )
    return path


def event(
    event_id: str,
    when: dt.datetime,
    *,
    user: str | None = "u1",
    session: str | None = "s1",
    name: str = "page_view",
    app_id: str | None = "website",
    **columns: Any,
) -> dict[str, Any]:
    """One event row in the atomic layout."""
    return {
        "event_id": event_id,
        "derived_tstamp": when,
        "domain_userid": user,
        "domain_sessionid": session,
        "event_name": name,
        "app_id": app_id,
        **columns,
    }


@pytest.fixture
def events_warehouse(tmp_path: Path) -> Callable[[Iterable[Mapping[str, Any]]], DuckDBWarehouse]:
    """Factory: rows in, a DuckDB warehouse over them out."""
    counter = iter(range(1_000_000))

    def make(rows: Iterable[Mapping[str, Any]]) -> DuckDBWarehouse:
        return DuckDBWarehouse(write_events_db(tmp_path / f"events_{next(counter)}.duckdb", rows))

    return make


@pytest.fixture(scope="session", autouse=True)
def signing_key_file(tmp_path_factory):
    """Tests (and the servers they start) sign models with a throwaway key, never the user's own."""
    import os

    path = tmp_path_factory.mktemp("signing") / "signing.key"
    previous = os.environ.get("PROSPECT_SIGNING_KEY_FILE")
    os.environ["PROSPECT_SIGNING_KEY_FILE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("PROSPECT_SIGNING_KEY_FILE", None)
    else:
        os.environ["PROSPECT_SIGNING_KEY_FILE"] = previous


def run_on_fakesnow(rows: Iterable[Mapping[str, Any]], rendered: Any) -> pd.DataFrame:
    """Snowflake-dialect SQL (a RenderedSQL) run through the real connector API on fakesnow, over `rows`
    loaded into atomic.events.

    fakesnow translates Snowflake SQL onto DuckDB: this checks our text, macros and bind
    parameters, not Snowflake's own engine.
    """
    import snowflake.connector

    columns = list(EVENTS_COLUMNS)
    types = {"varchar": "varchar", "timestamp": "timestamp_ntz", "json": "variant"}
    with fakesnow.patch():
        connection = snowflake.connector.connect(database="prospects", schema="atomic")
        try:
            cursor = connection.cursor()
            cursor.execute(
                "create table atomic.events (" + ", ".join(f"{name} {types[kind]}" for name, kind in EVENTS_COLUMNS.items()) + ")"
            )
            values = ", ".join("parse_json(%s)" if EVENTS_COLUMNS[name] == "json" else "%s" for name in columns)
            cursor.executemany(
                f"insert into atomic.events select {values}", [[row.get(name) for name in columns] for row in rows]
            )
            cursor.execute(rendered.text, rendered.params)
            return cursor.fetch_pandas_all()
        finally:
            connection.close()


def snowflake_training_set(rows: Iterable[Mapping[str, Any]], spec: Any, formulation: str | None = None) -> Any:
    """Our Snowflake-dialect training-set SQL run on fakesnow over `rows`, normalised as the app does."""
    from prospect_core.trainingset.dataset import normalize_training_set
    from prospect_core.trainingset.training_sql import render_training_sql

    options = {"formulation": formulation} if formulation else {}
    return normalize_training_set(run_on_fakesnow(rows, render_training_sql(spec, "snowflake", **options)), spec)


@pytest.fixture(autouse=True)
def fresh_snowflake_login_backoff(monkeypatch):
    """Each test starts with no failed Snowflake login on record (the backoff is process-wide)."""
    from prospect_core.events import snowflake
    monkeypatch.setattr(snowflake, "LOGINS", snowflake.LoginBackoff())


@pytest.fixture(autouse=True)
def _runs_to_a_temp_store(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`train` logs every run to MLflow (issue 16): in tests, to one SQLite store in the session's temp
    folder, never to the repository's data/mlruns.db."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path_factory.getbasetemp() / 'mlruns.db'}")
