"""Build the training set from a warehouse and give it the dtypes the model expects.

Warehouses disagree on types (Snowflake returns counts as Decimal or NUMBER, DuckDB's aggregates
can come back as HUGEINT objects), so every set passes through `normalize_training_set`: counts
become int64, flags bool, categories strings (day of week stays an integer category), the target bool.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from prospect_core.errors import DatasetError
from prospect_core.features import FEATURES, training_columns
from prospect_core.spec import TrainingSpec
from prospect_core.training_sql import Formulation, render_training_sql
from prospect_core.warehouse import Warehouse


def build_training_set(
    warehouse: Warehouse, spec: TrainingSpec, *, formulation: Formulation | None = None
) -> pd.DataFrame:
    """Run the spec's training-set query on `warehouse`; one row per eligible event."""
    options = {"formulation": formulation} if formulation else {}
    rendered = render_training_sql(spec, warehouse.dialect, **options)
    return normalize_training_set(warehouse.query(rendered.text, rendered.params), spec)


def normalize_training_set(frame: pd.DataFrame, spec: TrainingSpec) -> pd.DataFrame:
    frame = frame.rename(columns=str.lower)
    expected = training_columns(spec)
    missing = [column for column in expected if column not in frame.columns]
    if missing:
        raise DatasetError(f"the training-set query returned no column(s) {missing}; expected {expected}")
    frame = frame[expected].copy()
    frame["event_id"] = frame["event_id"].astype(str)
    frame["domain_userid"] = frame["domain_userid"].astype(str)
    frame["derived_tstamp"] = pd.to_datetime(frame["derived_tstamp"])
    for feature in FEATURES:
        column = feature.column(spec)
        if feature.kind == "boolean":
            frame[column] = frame[column].astype(bool)
        elif feature.kind == "numeric" or feature.name == "day_of_week":
            frame[column] = frame[column].astype("int64")
        else:
            frame[column] = frame[column].fillna("").astype(str)
    frame[spec.target_column] = frame[spec.target_column].astype(bool)
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class DatasetSummary:
    rows: int
    positives: int
    users: int

    @property
    def positive_rate(self) -> float:
        return self.positives / self.rows if self.rows else 0.0

    @property
    def negatives(self) -> int:
        return self.rows - self.positives


def summarize(frame: pd.DataFrame, spec: TrainingSpec) -> DatasetSummary:
    return DatasetSummary(
        rows=len(frame),
        positives=int(frame[spec.target_column].sum()),
        users=int(frame["domain_userid"].nunique()),
    )

