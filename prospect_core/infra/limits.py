"""Resource bounds: how many training rows one build may hold, and how many rows SHAP explains.

A shared server must not fall over because one user asked for a cohort of fifty million rows. Each
bound comes from, first to last: an environment variable, a key in `.streamlit/secrets.toml` (the
app passes `st.secrets` in), the default here.

| bound | environment | secrets key | default |
| --- | --- | --- | --- |
| training rows per build | PROSPECT_MAX_TRAINING_ROWS | max_training_rows | 2,000,000 |
| rows explained by SHAP | PROSPECT_SHAP_MAX_ROWS | shap_max_rows | 2,000 |
| events-file size, decompressed (MB) | PROSPECT_MAX_EVENTS_FILE_MB | max_events_file_mb | 2,000 |
| events-file rows | PROSPECT_MAX_EVENTS_FILE_ROWS | max_events_file_rows | 20,000,000 |
| seconds a disconnected session keeps its sets and runs | PROSPECT_SESSION_GRACE_SECONDS | session_grace_seconds | 120 |
| training sets held for all sessions | PROSPECT_MAX_LIVE_SETS | max_live_sets | 8 |
| runs held for all sessions | PROSPECT_MAX_LIVE_RUNS | max_live_runs | 24 |
| seconds one of the app's queries (or builds) may run | PROSPECT_QUERY_SECONDS | query_seconds | 120 |
| DuckDB memory per file the app queries (MB) | PROSPECT_DUCKDB_MEMORY_MB | duckdb_memory_mb | 4,000 |
| DuckDB threads per file the app queries | PROSPECT_DUCKDB_THREADS | duckdb_threads | 1 |

The preflight's `training_rows` estimate is checked before the training-set query runs: a set above
the bound is refused with the numbers and what to change, so it never reaches memory. Should the query
still return more rows than the bound (the estimate is an estimate), a seeded sample of the bound's
size is kept and the app says so.

An events file (CSV, CSV.gz, Parquet) is refused once it expands past the size bound or holds more
rows than the row bound, so a gzip bomb costs at most that much work and disk. A Parquet file counts its
decoded values (a dictionary's text once per row that uses it), so a dictionary bomb does too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from prospect_core.infra.errors import DatasetError, UserError

DEFAULT_MAX_TRAINING_ROWS = 2_000_000
DEFAULT_SHAP_MAX_ROWS = 2_000  # prospect_core.modelling.explain.DEFAULT_MAX_ROWS
DEFAULT_MAX_EVENTS_FILE_MB = 2_000
DEFAULT_MAX_EVENTS_FILE_ROWS = 20_000_000


@dataclass(frozen=True)
class Bound:
    name: str
    env: str
    secret: str
    default: int
    unit: str = "rows"
    minimum: int = 1

    @property
    def where(self) -> str:
        """Where an operator changes it, for messages."""
        return f"{self.env} or `{self.secret}` in secrets"


TRAINING_ROWS = Bound("maximum training rows", "PROSPECT_MAX_TRAINING_ROWS", "max_training_rows", DEFAULT_MAX_TRAINING_ROWS)
SHAP_ROWS = Bound("SHAP sample cap", "PROSPECT_SHAP_MAX_ROWS", "shap_max_rows", DEFAULT_SHAP_MAX_ROWS)
EVENTS_FILE_MB = Bound("maximum decompressed size of an events file", "PROSPECT_MAX_EVENTS_FILE_MB",
                       "max_events_file_mb", DEFAULT_MAX_EVENTS_FILE_MB, unit="megabytes")
EVENTS_FILE_ROWS = Bound("maximum rows of an events file", "PROSPECT_MAX_EVENTS_FILE_ROWS", "max_events_file_rows",
                         DEFAULT_MAX_EVENTS_FILE_ROWS)


@dataclass(frozen=True)
class EventsFileLimits:
    """How much an events file may expand to, and how many events it may hold."""

    megabytes: int = DEFAULT_MAX_EVENTS_FILE_MB
    rows: int = DEFAULT_MAX_EVENTS_FILE_ROWS

    @property
    def bytes(self) -> int:
        return self.megabytes * 1_000_000


def events_file_limits(secrets: Mapping[str, Any] | None = None) -> EventsFileLimits:
    return EventsFileLimits(resolve(EVENTS_FILE_MB, secrets), resolve(EVENTS_FILE_ROWS, secrets))


def resolve(bound: Bound, secrets: Mapping[str, Any] | None = None) -> int:
    """The bound's value from the environment, else `secrets`, else its default; a whole number >= 1."""
    raw, origin = os.environ.get(bound.env), bound.env
    if raw in (None, "") and secrets and secrets.get(bound.secret) not in (None, ""):
        raw, origin = secrets[bound.secret], f"secrets key {bound.secret}"
    if raw in (None, ""):
        return bound.default
    try:
        value = int(str(raw).replace("_", "").replace(",", "").strip())
    except ValueError:
        value = bound.minimum - 1  # refused below, with the same message
    if value < bound.minimum:
        raise UserError(
            f"{origin} must be a whole number of {bound.unit} >= {bound.minimum} (the {bound.name}), got {str(raw)[:40]!r}"
        )
    return value


def max_training_rows(secrets: Mapping[str, Any] | None = None) -> int:
    return resolve(TRAINING_ROWS, secrets)


def shap_max_rows(secrets: Mapping[str, Any] | None = None) -> int:
    return resolve(SHAP_ROWS, secrets)


def check_estimate(training_rows: int, limit: int) -> None:
    """Refuse, before the query runs, a training set estimated above `limit` rows."""
    if training_rows <= limit:
        return
    percent = max(1, int(100 * limit / training_rows))
    raise DatasetError(
        f"this training set would have about {training_rows:,} rows, above the limit of {limit:,} rows per build "
        f"({TRAINING_ROWS.env} or `{TRAINING_ROWS.secret}` in secrets), so the query was not run. Narrow the cohort "
        f"window, or sample about {percent}% of prospects (Sample prospects on Data & target, --user-sample-percent in "
        "the CLI), or ask whoever runs this server to raise the limit"
    )


def cap_rows(frame: pd.DataFrame, limit: int, *, seed: int = 0) -> tuple[pd.DataFrame, str | None]:
    """`frame` when it fits; else a seeded sample of `limit` rows (original order kept) and a note saying so."""
    if len(frame) <= limit:
        return frame, None
    keep = np.sort(np.random.default_rng(seed).choice(len(frame), size=limit, replace=False))
    note = (f"The query returned {len(frame):,} rows, more than the limit of {limit:,}: a fixed-seed sample of "
            f"{limit:,} rows is used ({TRAINING_ROWS.env}).")
    return frame.iloc[keep].reset_index(drop=True), note


# ----- memory held for browser sessions (prospect_core.infra.session_memory) ------------------------------
# A training set of the default 2M-row limit is a few hundred MB; a run (fitted pipeline, test rows,
# SHAP sample, export bytes) about 45 MB on the demo (issue 11). The caps count every session's.

SESSION_GRACE = Bound("grace period before a disconnected session's memory is released",
                      "PROSPECT_SESSION_GRACE_SECONDS", "session_grace_seconds", 120, unit="seconds", minimum=0)
LIVE_SETS = Bound("training sets held for all sessions", "PROSPECT_MAX_LIVE_SETS", "max_live_sets", 8,
                  unit="training sets")
LIVE_RUNS = Bound("runs held for all sessions", "PROSPECT_MAX_LIVE_RUNS", "max_live_runs", 24, unit="runs")


def session_grace_seconds(secrets: Mapping[str, Any] | None = None) -> int:
    """How long a disconnected session keeps its training set and runs (the run store relies on it)."""
    return resolve(SESSION_GRACE, secrets)


def max_live_sets(secrets: Mapping[str, Any] | None = None) -> int:
    return resolve(LIVE_SETS, secrets)


def max_live_runs(secrets: Mapping[str, Any] | None = None) -> int:
    return resolve(LIVE_RUNS, secrets)


# ----- queries over user-supplied data (prospect_core.studio.jobs, warehouse.DuckDBWarehouse) ---------
# A 536 kB DuckDB file whose events view is a triple cross join runs for hours (issue 21, finding 3).
# On the 2-core, 24 GB server this is sized for: one query takes one core, so another session's page
# still draws; a few sessions' queries fit in memory at once; and the 10M-event build (about 20 s)
# finishes well within the time limit.

QUERY_SECONDS = Bound("time limit for one query", "PROSPECT_QUERY_SECONDS", "query_seconds", 120, unit="seconds")
DUCKDB_MEMORY_MB = Bound("DuckDB memory limit per query", "PROSPECT_DUCKDB_MEMORY_MB", "duckdb_memory_mb", 4_000,
                         unit="megabytes")
DUCKDB_THREADS = Bound("DuckDB threads per query", "PROSPECT_DUCKDB_THREADS", "duckdb_threads", 1, unit="threads")


@dataclass(frozen=True)
class QueryLimits:
    """How long one query may run, and the memory and threads DuckDB may give it."""

    seconds: int = QUERY_SECONDS.default
    memory_mb: int = DUCKDB_MEMORY_MB.default
    threads: int = DUCKDB_THREADS.default


def query_limits(secrets: Mapping[str, Any] | None = None) -> QueryLimits:
    return QueryLimits(resolve(QUERY_SECONDS, secrets), resolve(DUCKDB_MEMORY_MB, secrets),
                       resolve(DUCKDB_THREADS, secrets))


def over_time_message(what: str, seconds: int) -> str:
    """What a page says when the time limit stopped `what` (e.g. "Counting events")."""
    return f"{what} was stopped after {seconds:,} s, the {QUERY_SECONDS.name} on this server ({QUERY_SECONDS.where} raises it)"


def over_memory_message(file_name: str, megabytes: int) -> str:
    return (f"the query on {file_name} needed more than the {DUCKDB_MEMORY_MB.name} of {megabytes:,} MB "
            f"({DUCKDB_MEMORY_MB.where} raises it)")
