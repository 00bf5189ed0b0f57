"""The one way a training set is built, for the app, the CLI and the Python API.

`build_training_set` checks before it queries: the warehouse's notices, the preflight (is the table
a Snowplow atomic events table, does the cohort have anyone, about how many rows), the row limit
(a set estimated above it is refused before the query runs), then the load: the query, the cap (a
seeded sample when the estimate was low) and `normalize_training_set`. Each step is reported through
`progress`, so the app shows it in its job panel and the CLI on stderr.

The load step is injectable: the app passes one that goes through its server-wide cache, so the
cache holds the normalised frame (the one copy every session's set refers to) and every check
above runs on every build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from prospect_core.trainingset.dataset import DatasetSummary, normalize_training_set, summarize
from prospect_core.infra.errors import SourceError
from prospect_core.infra.limits import cap_rows, check_estimate
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import Formulation, RenderedSQL, render_training_sql
from prospect_core.events.warehouse import Preflight, Warehouse, events_table_columns

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoadedSet:
    """The training-set query's rows, capped to the row limit and normalised."""

    frame: pd.DataFrame
    note: str | None = None  # that it was sampled to the row limit


def load_training_set(
    warehouse: Warehouse, spec: TrainingSpec, sql: str, params: Mapping[str, Any], max_rows: int
) -> LoadedSet:
    """The load step with no cache: query, cap to `max_rows`, normalise for `spec`.

    What comes back depends only on these arguments (the warehouse's rows for `sql`), so a cache
    keyed by the source, its version, the SQL, its values, the spec and `max_rows` may hold it.
    """
    frame, note = cap_rows(warehouse.query(sql, params), max_rows, seed=0)
    return LoadedSet(normalize_training_set(frame, spec), note)


Load = Callable[[Warehouse, TrainingSpec, str, Mapping[str, Any], int], LoadedSet]


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
    load: Load = load_training_set,
    progress: Progress | None = None,
    notice: Progress | None = None,
) -> TrainingSet:
    """Preflight, row-limit check, query, cap and normalize; a UserError says what stopped it.

    The warehouse's own notices (what an events file lacked) and the preflight's (optional columns the
    table lacks, one prospect dominating) go to `notice`, else to `progress`.
    """
    report = progress or (lambda message: None)
    started = time.perf_counter()

    def say(texts: tuple[str, ...]) -> None:
        for text in texts:
            if notice is not None:
                notice(text)
            else:
                report(f"Note: {text}")

    say(warehouse.notices)
    report("Checking the events table and counting the cohort…")
    preflight = warehouse.preflight(spec)
    if not preflight.ok:
        raise SourceError(preflight.problems[0])
    say(preflight.notices)
    report(preflight.summary())
    check_estimate(preflight.training_rows, max_rows)  # refuse before the rows reach memory
    report("Running the training-set query, then checking its columns and types…")
    rendered = _render(warehouse, spec, formulation, preflight.columns)
    loaded = load(warehouse, spec, rendered.text, rendered.params, max_rows)
    if loaded.note:
        report(loaded.note)
    frame = loaded.frame
    return TrainingSet(frame, summarize(frame, spec), preflight, notes=(loaded.note,) if loaded.note else (),
                       seconds=time.perf_counter() - started)


def query_training_set(
    warehouse: Warehouse, spec: TrainingSpec, *, formulation: Formulation | None = None
) -> pd.DataFrame:
    """Only the query and `normalize_training_set`: no preflight, no row limit, one row per eligible event.

    For callers that know their events (tests, benchmarks, the oracle comparisons); people's builds go
    through `build_training_set`.
    """
    rendered = _render(warehouse, spec, formulation, events_table_columns(warehouse, spec.events_table))
    return normalize_training_set(warehouse.query(rendered.text, rendered.params), spec)


def _render(warehouse: Warehouse, spec: TrainingSpec, formulation: Formulation | None,
            columns: frozenset[str] | None) -> RenderedSQL:
    options = {"formulation": formulation} if formulation else {}
    return render_training_sql(spec, warehouse.dialect, columns=columns, **options)
