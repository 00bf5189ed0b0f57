"""The one way a training set is built, for the app, the CLI and the Python API.

`build_training_set` checks before it queries: the warehouse's notices, the preflight (is the table
a Snowplow atomic events table, does the cohort have anyone, about how many rows), the row limit
(a set estimated above it is refused before the query runs), then the query, the cap (a seeded
sample when the estimate was low) and `normalize_training_set`. Each step is reported through
`progress`, so the app shows it in its job panel and the CLI on stderr.

The query step is injectable: the app passes one that goes through its `st.cache_data`, so the
cache holds query results only and every check above runs on every build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from prospect_core.dataset import DatasetSummary, normalize_training_set, summarize
from prospect_core.errors import SourceError
from prospect_core.limits import cap_rows, check_estimate
from prospect_core.spec import TrainingSpec
from prospect_core.training_sql import Formulation, render_training_sql
from prospect_core.warehouse import Preflight, Warehouse

Query = Callable[[Warehouse, str, Mapping[str, Any]], pd.DataFrame]
Progress = Callable[[str], None]


def direct_query(warehouse: Warehouse, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """The query step with no cache: run it on the warehouse."""
    return warehouse.query(sql, params)


@dataclass(frozen=True)
class TrainingSet:
    """A built training set and what the user should know about it."""

    frame: pd.DataFrame
    summary: DatasetSummary
    preflight: Preflight
    notes: tuple[str, ...] = ()  # e.g. that it was sampled to the row limit
    seconds: float = 0.0


def build_training_set(
    warehouse: Warehouse,
    spec: TrainingSpec,
    *,
    max_rows: int,
    formulation: Formulation | None = None,
    query: Query = direct_query,
    progress: Progress | None = None,
    notice: Progress | None = None,
) -> TrainingSet:
    """Preflight, row-limit check, query, cap and normalize; a UserError says what stopped it.

    The warehouse's own notices (what an events file lacked) go to `notice`, else to `progress`.
    """
    report = progress or (lambda message: None)
    started = time.perf_counter()
    for text in warehouse.notices:
        if notice is not None:
            notice(text)
        else:
            report(f"Note: {text}")
    report("Checking the events table and counting the cohort…")
    preflight = warehouse.preflight(spec)
    if not preflight.ok:
        raise SourceError(preflight.problems[0])
    report(preflight.summary())
    check_estimate(preflight.training_rows, max_rows)  # refuse before the rows reach memory
    report("Running the training-set query…")
    frame = _query(warehouse, spec, formulation, query)
    frame, note = cap_rows(frame, max_rows, seed=0)
    if note:
        report(note)
    report(f"Checking columns and types of {len(frame):,} rows…")
    frame = normalize_training_set(frame, spec)
    return TrainingSet(frame, summarize(frame, spec), preflight, notes=(note,) if note else (),
                       seconds=time.perf_counter() - started)


def query_training_set(
    warehouse: Warehouse, spec: TrainingSpec, *, formulation: Formulation | None = None
) -> pd.DataFrame:
    """Only the query and `normalize_training_set`: no preflight, no row limit, one row per eligible event.

    For callers that know their events (tests, benchmarks, the oracle comparisons); people's builds go
    through `build_training_set`.
    """
    return normalize_training_set(_query(warehouse, spec, formulation, direct_query), spec)


def _query(warehouse: Warehouse, spec: TrainingSpec, formulation: Formulation | None, query: Query) -> pd.DataFrame:
    options = {"formulation": formulation} if formulation else {}
    rendered = render_training_sql(spec, warehouse.dialect, **options)
    return query(warehouse, rendered.text, rendered.params)
