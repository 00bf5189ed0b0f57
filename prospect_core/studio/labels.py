"""How the studio names things on screen: sources, splits, runs, features and category values. One owner
for each word.

Functions of records, never properties on them: a record in session state holds data, and this module
may import state.py's types without state.py importing it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prospect_core.events.sources import parse_source
from prospect_core.studio.state import StudioRun
from prospect_core.trainingset.features import spec_features
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.wording import day_name, window_label, window_words

if TYPE_CHECKING:
    from prospect_core.modelling.model import TrainingRun

# source kind -> (its name, what it is): the source picker shows both, labels of runs and sets the name
SOURCE_KINDS = {
    "demo": ("Demo events", "Embedded DuckDB with simulated Snowplow events; no account needed"),
    "duckdb": ("DuckDB file", "A .duckdb file holding the atomic events table"),
    "events": ("Events export", "CSV, CSV.gz or Parquet export of atomic events"),
    "snowflake": ("Snowflake", "Your warehouse"),
    "databricks": ("Databricks", "Your SQL warehouse"),
}

# split -> (its name, what it does): Train's picker shows both, labels and tables the name
SPLITS = {
    "by_user": ("By prospect", "By prospect — no prospect in both sets; the honest estimate of how the model does on "
                "new prospects."),
    "random": ("Random", "Random 80/20, stratified — the tutorial's split. Rows of one prospect minutes apart land on "
               "both sides, so the model is scored on near-copies of what it learned: expect an optimistic AUC."),
    "out_of_time": ("Out of time", "Out of time — train on earlier prediction points, test on later ones, as in "
                    "production."),
}


def source_name(kind: str) -> str:
    return SOURCE_KINDS[kind][0] if kind in SOURCE_KINDS else kind


def source_description(kind: str, configured: bool) -> str:
    """What the source is; for a warehouse (Snowflake, Databricks) not `configured`, how to configure it."""
    if kind in ("snowflake", "databricks") and not configured:
        return f"Not configured: add [connections.{kind}] to .streamlit/secrets.toml, or use the form"
    return SOURCE_KINDS[kind][1]


def source_label(source: str) -> str:
    """`DuckDB file · events.duckdb`: the source's kind, and its file's name when it has one."""
    kind, argument = parse_source(source)
    name = source_name(kind) if kind in SOURCE_KINDS else source
    return name + (f" · {Path(argument).name}" if argument else "")


# split -> why its test side's share of positive moments differs from the whole set's
_BASE_RATE_REASONS = {
    "by_user": "the split puts each prospect's moments all on one side, so each side has its own prospects' rate, "
               "and a few prospects with many positive moments move it",
    "out_of_time": "the test side is the latest fifth of the moments, and how often moments reach the target changes "
                   "over time",
    "random": "the random split draws rows evenly from both classes, so both sides keep close to it",
}


def base_rate_note(run: TrainingRun) -> str:
    """The test side's base rate against the training set's positive rate, and why they differ."""
    set_rate = (run.positives_train + run.positives_test) / max(run.n_train + run.n_test, 1)
    note = (f"Base rate {run.evaluation.base_rate:.2%} on the test side, against {set_rate:.2%} positive in the "
            f"whole training set ({run.base_rate_train:.2%} on the train side): "
            f"{_BASE_RATE_REASONS.get(run.split, 'the split decides which moments are tested')}.")
    if run.spec.max_negatives_per_positive is not None:
        note += (f" All three are above the events' own rate: the set keeps at most "
                 f"{run.spec.max_negatives_per_positive} negative moments per positive one.")
    return note


def split_name(split: str) -> str:
    return SPLITS[split][0] if split in SPLITS else split


def split_description(split: str) -> str:
    """`By prospect — no prospect in both sets; …`: what the split does, and why to choose it."""
    return SPLITS[split][1]


def run_description(number: int, source: str, spec: TrainingSpec, split: str) -> str:
    """`Run 2 · Demo events · submit_form ×1 in 1 h · history 7/30 d · By prospect`: runs told apart."""
    target = f"{spec.target_event} ×{spec.target_min_count} in {window_label(spec.target_window_minutes)}"
    return (f"Run {number} · {source} · {target} · history {spec.short_window_days}/{spec.long_window_days} d"
            f" · {split_name(split)}")


def run_label(record: StudioRun) -> str:
    return run_description(record.number, source_label(record.source), record.run.spec, record.run.split)


def category_text(value) -> str:
    return "(none)" if value == "" else str(value)


def day_text(value) -> str:
    """ISO day of week as its name (`3` → Wednesday); anything else as it is."""
    try:
        return day_name(int(value))
    except (TypeError, ValueError):
        return str(value)


def feature_labels(spec: TrainingSpec) -> dict[str, str]:
    """Column name -> the registry's label (up to its aside in parentheses) and, for a history window,
    its length: one label per model column, custom attributes included (`num_sessions_l30d` -> "Distinct sessions with an event in the
    window · last 30 days"). The short and long columns of an attribute share its label, so without the
    window a chart drew them as one bar."""
    return {feature.column(spec): feature.description.split(" (")[0]  # the aside stays in the card and the list
            + ("" if feature.window == "event" else f" · {window_words(spec, feature.window)}")
            for feature in spec_features(spec)}
