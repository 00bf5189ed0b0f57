"""Target explorer: which targets are learnable, before any training.

For the spec's target event and count, and for the few events most frequent in its cohort, one query
(`sql/target_explorer.sql`, both dialects) counts the training set's rows (prediction points) and
prospects that would be positive for each window of a ladder (15 min, 1 h, 6 h, 24 h, 7 days, and the
spec's own window). A target few prospects reach is not learnable however many rows it has.

It agrees with the training-set SQL by construction of the same rows (`training_events.sql`) and
the same definition of "within the window" (strictly later, at most N second boundaries ahead);
tests compare the spec's own window with the training set's positives. Negative downsampling
(`max_negatives_per_positive`) happens after the training-set query, so the explorer's rates are
the cohort's own, not the downsampled set's; a user sample (`user_sample_percent`) applies to both.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from prospect_core.infra.errors import DatasetError
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import DialectName, RenderedSQL, render_template
from prospect_core.events.warehouse import Warehouse
from prospect_core.trainingset.wording import target_phrase, window_label

TEMPLATE = "target_explorer.sql"
LADDER_MINUTES: tuple[int, ...] = (15, 60, 6 * 60, 24 * 60, 7 * 24 * 60)
TOP_EVENTS = 5
MAX_TOP_EVENTS = 20
COLUMNS = (
    "event_name", "candidate_rank", "target_window_minutes", "prediction_points", "prospects",
    "positive_points", "positive_prospects", "positive_rate",
)
_COUNTS = ("candidate_rank", "target_window_minutes", "prediction_points", "prospects", "positive_points", "positive_prospects")


def ladder_minutes(spec: TrainingSpec) -> tuple[int, ...]:
    """The ladder's windows, with the spec's own window among them (it is what the set will use)."""
    return tuple(sorted({*LADDER_MINUTES, spec.target_window_minutes}))


def render_target_explorer_sql(
    spec: TrainingSpec,
    dialect: DialectName = "duckdb",
    *,
    top_events: int = TOP_EVENTS,
    inline: bool = False,
    events_table: str | None = None,
) -> RenderedSQL:
    """The explorer's query for `spec`: target event bound (or inlined escaped), numbers from the
    validated spec and this module. Window offsets and counts are literals: they are ours, not text."""
    if not isinstance(top_events, int) or isinstance(top_events, bool) or not 0 <= top_events <= MAX_TOP_EVENTS:
        raise ValueError(f"top_events must be a whole number from 0 to {MAX_TOP_EVENTS}, got {top_events!r}")
    return render_template(
        TEMPLATE, spec, dialect, inline=inline, events_table=events_table,
        context={"window_ladder_minutes": ladder_minutes(spec), "top_events": top_events},
    )


@dataclass(frozen=True)
class TargetLadder:
    """The explorer's answer: one row per (event, window), the spec's event first (rank 0)."""

    spec: TrainingSpec
    table: pd.DataFrame  # COLUMNS, ordered by candidate_rank then target_window_minutes

    @property
    def events(self) -> list[str]:
        """The events explored, the spec's target first, then by frequency."""
        return list(dict.fromkeys(self.table["event_name"]))

    @property
    def windows(self) -> tuple[int, ...]:
        return ladder_minutes(self.spec)

    def row(self, event: str, window_minutes: int) -> pd.Series:
        """The counts of one (event, window) pair."""
        match = self.table[(self.table["event_name"] == event) & (self.table["target_window_minutes"] == window_minutes)]
        if match.empty:
            raise KeyError(f"no explored target {event!r} within {window_minutes} minutes; explored {self.events}")
        return match.iloc[0]

    @property
    def spec_row(self) -> pd.Series:
        """The spec's own target: its positive points equal the training set's positive rows."""
        return self.row(self.spec.target_event, self.spec.target_window_minutes)

    def display_table(self, learnability: pd.DataFrame | None = None) -> pd.DataFrame:
        """The table a marketer reads: the target in words, then counts; exact names kept alongside.

        With `learnability` (`modelling.learnability.COLUMNS`: one row per event and window), how
        predictable each target is: its ROC AUC's mean ("Predictable") and fold range ("AUC range").
        """
        table = self.table
        shown = pd.DataFrame({
            "Target": [target_phrase(event, self.spec.target_min_count, minutes)
                       for event, minutes in zip(table["event_name"], table["target_window_minutes"])],
            "Event": table["event_name"],
            "Within": [window_label(minutes) for minutes in table["target_window_minutes"]],
            "Positive moments": table["positive_points"],
            "Positive prospects": table["positive_prospects"],
            "Rate": table["positive_rate"],
            "target_window_minutes": table["target_window_minutes"],
        })
        if learnability is None:
            return shown
        estimates = learnability.set_index(["event_name", "target_window_minutes"]).reindex(
            pd.MultiIndex.from_arrays([table["event_name"], table["target_window_minutes"]]))
        shown["Predictable"] = estimates["roc_auc"].to_numpy()
        shown["AUC range"] = [f"{low:.2f}–{high:.2f}" if low == low else "too few to tell"  # NaN: too few prospects
                              for low, high in zip(estimates["roc_auc_low"], estimates["roc_auc_high"])]
        return shown


def normalize_ladder(frame: pd.DataFrame, spec: TrainingSpec) -> TargetLadder:
    """Warehouse rows (any case, Decimal counts) to a `TargetLadder` with int64 counts, float rate."""
    frame = frame.rename(columns=str.lower)
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise DatasetError(f"the target explorer query returned no column(s) {missing}; expected {list(COLUMNS)}")
    table = frame[list(COLUMNS)].copy()
    table["event_name"] = table["event_name"].astype(str)
    for column in _COUNTS:
        table[column] = table[column].astype("int64")
    table["positive_rate"] = table["positive_rate"].astype(float)
    table = table.sort_values(["candidate_rank", "target_window_minutes"], kind="stable").reset_index(drop=True)
    return TargetLadder(spec=spec, table=table)


def explore_targets(warehouse: Warehouse, spec: TrainingSpec, *, top_events: int = TOP_EVENTS) -> TargetLadder:
    """Run the explorer's one query on `warehouse`. An empty cohort gives an empty table."""
    rendered = render_target_explorer_sql(spec, warehouse.dialect, top_events=top_events)
    return normalize_ladder(warehouse.query(rendered.text, rendered.params), spec)
