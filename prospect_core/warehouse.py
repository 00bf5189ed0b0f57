"""Where the events live: one small interface, one implementation per engine.

`Warehouse.query(sql, params)` runs a query rendered for `Warehouse.dialect` and returns a pandas
DataFrame with lower-case column names. Caching belongs to the app layer, not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol

import duckdb
import pandas as pd

from prospect_core.errors import SourceError
from prospect_core.training_sql import LANE_LIMIT_MESSAGE, DialectName

if TYPE_CHECKING:
    from prospect_core.spec import TrainingSpec


class Warehouse(Protocol):
    dialect: DialectName

    @property
    def label(self) -> str:
        """What to show a user about this source; never credentials."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one query and return its rows."""

    def cancel(self) -> bool:
        """Stop the query running in another thread; False when none is running."""


class DuckDBWarehouse:
    """A DuckDB database file, opened read-only for each query so several sessions can share it."""

    dialect: DialectName = "duckdb"

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        self.path = Path(path)
        self.threads = threads
        self._running: duckdb.DuckDBPyConnection | None = None
        if not self.path.is_file():
            raise SourceError(f"DuckDB file not found: {self.path} (expected an existing .duckdb file)")

    @property
    def label(self) -> str:
        return f"DuckDB file {self.path.name}"

    def connect(self) -> duckdb.DuckDBPyConnection:
        config = {"threads": self.threads} if self.threads else {}
        try:
            connection = duckdb.connect(str(self.path), read_only=True, config=config)
        except duckdb.Error as error:
            raise SourceError(_open_failure(self.path, error)) from None
        # TIMESTAMPTZ columns compare with the as-of cut-offs in UTC, not in this machine's time zone
        connection.execute("set TimeZone = 'UTC'")
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
            except duckdb.CatalogException as error:
                raise SourceError(f"the query refers to something missing in {self.path.name}: {_first_line(error)}") from None
            except duckdb.BinderException as error:
                raise SourceError(f"the events table in {self.path.name} lacks a column the query needs: {_first_line(error)}") from None
            except duckdb.InvalidInputException as error:
                if LANE_LIMIT_MESSAGE not in str(error):
                    raise _failed_while_running(self.path, error) from None
                raise SourceError(f"cannot build this training set with the fast query: {_first_line(error).removeprefix('Invalid Input Error: ')}") from None
            except duckdb.Error as error:  # anything else failing mid-query: I/O, memory, conversion, a bad page
                raise _failed_while_running(self.path, error) from None
            finally:
                self._running = None
        frame = table.to_pandas()
        frame.columns = [str(column).lower() for column in frame.columns]
        return frame


def _failed_while_running(path: Path, error: Exception) -> SourceError:
    return SourceError(
        f"the query on {path.name} failed while running: {_first_line(error)}. Nothing was kept; "
        "check the file (is it complete, is the disk healthy?) and build again"
    )


def _open_failure(path: Path, error: Exception) -> str:
    import re

    text = str(error)
    if "Could not set lock" in text or "Conflicting lock" in text:
        holder = re.search(r"PID (\d+)", text)
        by = f" (process {holder.group(1)})" if holder else ""
        return (f"cannot open DuckDB file {path.name}: another program{by} has it open for writing, which locks it. "
                "Close that program (or its connection) and try again")
    if "not a valid DuckDB database" in text or "corrupt" in text.lower() or "checksum" in text.lower():
        return (f"cannot open {path.name}: it is not a DuckDB database file (or it is damaged). Expected a .duckdb "
                "file written by DuckDB")
    if "Permission denied" in text:
        return f"cannot open DuckDB file {path.name}: permission denied; this user may not read it"
    return f"cannot open DuckDB file {path.name}: {_first_line(error)}"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


# ----- preflight ---------------------------------------------------------------------------------

# Columns the training-set SQL reads; a table without one of them cannot be used.
TRAINING_SQL_COLUMNS = (
    "event_id", "derived_tstamp", "domain_userid", "domain_sessionid", "event_name", "app_id", "page_url",
    "refr_medium", "mkt_medium", "mkt_campaign", "contexts_nl_basjes_yauaa_context_1",
    "contexts_com_snowplowanalytics_snowplow_media_player_2",
)
# Rough in-memory size of one training-set row (ids, timestamp, 20 features, target) in pandas.
BYTES_PER_TRAINING_ROW = 400


@dataclass(frozen=True)
class Preflight:
    """What the training-set query would scan and return, measured cheaply before running it."""

    events_table: str
    missing_columns: tuple[str, ...] = ()
    events_in_lookback: int = 0
    users_in_lookback: int = 0
    eligible_users: int = 0
    training_rows: int = 0
    self_join_pairs: int = 0
    largest_user_events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> tuple[str, ...]:
        if self.missing_columns:
            return (f"{self.events_table} lacks column(s) {', '.join(self.missing_columns)} that the training-set "
                    "query reads; is it a Snowplow atomic events table?",)
        if not self.events_in_lookback:
            return (f"{self.events_table} has no events in the lookback window; check the as-of date",)
        if not self.eligible_users:
            return ("no user was first seen in the cohort window on the chosen apps; widen the cohort or check app_ids",)
        return ()

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


def run_preflight(warehouse: Warehouse, spec: TrainingSpec) -> Preflight:
    """Check the events table and count what the spec would select: one cheap pass of counts.

    Raises SourceError when the table cannot be read (missing, no access); reports missing columns
    in the result instead of running the counts.
    """
    from prospect_core.training_sql import render_template

    table = spec.events_table  # validated as an identifier by the spec
    columns = {str(column).lower() for column in warehouse.query(f"select * from {table} limit 0").columns}
    missing = tuple(column for column in TRAINING_SQL_COLUMNS if column not in columns)
    if missing:
        return Preflight(events_table=table, missing_columns=missing)
    rendered = render_template("preflight.sql", spec, warehouse.dialect)
    row = warehouse.query(rendered.text, rendered.params).iloc[0]
    counts = {name: int(row[name]) for name in (
        "events_in_lookback", "users_in_lookback", "eligible_users", "training_rows", "self_join_pairs",
        "largest_user_events")}
    return Preflight(events_table=table, **counts)
