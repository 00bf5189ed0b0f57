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

from prospect_core.trainingset.dataset import (DatasetSummary, normalize_training_set, recompute_target, summarize,
                                               target_only_change)
from prospect_core.infra.errors import SourceError
from prospect_core.infra.limits import cap_rows, check_estimate
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.atomic import COLUMN_NAMES
from prospect_core.trainingset.training_sql import DIALECT_BY_NAME, Formulation, RenderedSQL, render_training_sql
from prospect_core.events.warehouse import Preflight, Warehouse, events_table_columns

Progress = Callable[[str], None]
TARGET_ONLY_NOTE = "Target updated, features reused."


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
    preflight: Preflight | None  # None when an earlier set's rows were reused (no query ran)
    notes: tuple[str, ...] = ()  # e.g. that it was sampled to the row limit
    seconds: float = 0.0
    spec: TrainingSpec | None = None  # what it was built for
    capped: bool = False  # sampled down to the row limit: not every eligible event is a row


@dataclass(frozen=True)
class EarlierSet:
    """A set built before from the same source, whose features a new target may reuse."""

    spec: TrainingSpec
    frame: pd.DataFrame
    capped: bool = False


def build_training_set(
    warehouse: Warehouse,
    spec: TrainingSpec,
    *,
    max_rows: int,
    formulation: Formulation | None = None,
    load: Load = load_training_set,
    progress: Progress | None = None,
    notice: Progress | None = None,
    earlier: EarlierSet | None = None,
) -> TrainingSet:
    """Preflight, row-limit check, query, cap and normalize; a UserError says what stopped it.

    The warehouse's own notices (what an events file lacked) and the preflight's (optional columns the
    table lacks, one prospect dominating) go to `notice`, else to `progress`.
    With `earlier`, a set of this warehouse that differs from `spec` in its target alone, only the
    target column is recomputed from it (`recompute_target`, ~1/60 of the query's CPU at 1M events),
    and the set says TARGET_ONLY_NOTE.
    """
    report = progress or (lambda message: None)
    started = time.perf_counter()
    if earlier is not None and not earlier.capped and target_only_change(earlier.spec, spec):
        report("Recomputing the target from the set's own events…")
        frame = recompute_target(earlier.frame, earlier.spec, spec)
        return TrainingSet(frame, summarize(frame, spec), None, notes=(TARGET_ONLY_NOTE,),
                           seconds=time.perf_counter() - started, spec=spec)

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
                       seconds=time.perf_counter() - started, spec=spec, capped=loaded.note is not None)


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


def prospect_events(warehouse: Warehouse, spec: TrainingSpec, prospects: list[str]) -> pd.DataFrame:
    """Every event of `prospects` up to the end of the as-of day, in the atomic layout: what a replay of
    Signals reads (`outputs.replay`). The ids are bound as parameters."""
    macros = DIALECT_BY_NAME[warehouse.dialect]
    names = {f"prospect_{index}": prospect for index, prospect in enumerate(prospects)}
    if not names:
        return pd.DataFrame(columns=list(COLUMN_NAMES))
    sql = (f"select {', '.join(COLUMN_NAMES)} from {spec.events_table} "
           f"where derived_tstamp < {macros.days_before(macros.date_literal(spec.as_of), -1)} "
           f"and domain_userid in ({', '.join(macros.placeholder(name) for name in names)})")
    frame = warehouse.query(sql, names)
    frame.columns = [str(column).lower() for column in frame.columns]  # Snowflake answers in upper case
    return frame
