"""The artifact scores missing values as the studio does, whoever loads it.

Signals returns `None` for an attribute it has no value for, and a plain `pd.read_csv` turns an empty
medium into NaN: the pipeline itself must score both like the studio's '' and 0.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from prospect_core.trainingset import features
from prospect_core.modelling.model import ModelParams, TrainingRun, build_pipeline, train_model
from prospect_core.modelling.scoring import csv_bytes, score_csv
from tests.modelling.test_model import SPEC, synthetic_training_set

EMPTY = {"numeric": 0, "boolean": False, "categorical": ""}


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    return train_model(synthetic_training_set(n_users=100), SPEC, ModelParams(n_estimators=40, max_depth=3))


def _with(rows: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    changed = rows.astype({column: object})  # so None stays None instead of becoming NaN
    changed[column] = [value] * len(changed)
    return changed


@pytest.mark.parametrize("feature", features.FEATURES, ids=lambda feature: feature.key)
@pytest.mark.parametrize("marker", [None, np.nan], ids=["None", "NaN"])
def test_a_missing_value_scores_like_the_empty_value(run: TrainingRun, feature: features.Feature, marker: object) -> None:
    rows = run.X_test.head(12)
    column = feature.column(SPEC)
    expected = run.pipeline.predict_proba(_with(rows, column, EMPTY[feature.kind]))[:, 1]
    missing = run.pipeline.predict_proba(_with(rows, column, marker))[:, 1]
    np.testing.assert_array_equal(missing, expected)


def test_every_input_missing_at_once_scores_like_all_empty(run: TrainingRun) -> None:
    """What a server sees for a prospect Signals knows nothing about."""
    columns = features.feature_columns(SPEC)
    all_none = pd.DataFrame([dict.fromkeys(columns)] * 2)
    all_empty = pd.DataFrame([{f.column(SPEC): EMPTY[f.kind] for f in features.FEATURES}] * 2)
    np.testing.assert_array_equal(run.pipeline.predict_proba(all_none), run.pipeline.predict_proba(all_empty))


def test_a_plain_read_csv_scores_as_the_studio_scores(run: TrainingRun) -> None:
    """The issue's report: empty mediums read back as NaN scored differently outside the app."""
    rows = run.X_test.head(40).copy()
    rows.loc[rows.index[::3], "first_refr_medium_l30d"] = ""
    rows.loc[rows.index[1::3], "first_mkt_medium_l30d"] = ""
    rows.loc[rows.index[::4], "latest_device_class"] = ""
    data = csv_bytes(rows)
    plain = pd.read_csv(io.BytesIO(data))
    assert plain["first_refr_medium_l30d"].isna().sum() >= 13  # the trap: '' became NaN
    np.testing.assert_array_equal(run.pipeline.predict_proba(plain)[:, 1], score_csv(run.pipeline, data, SPEC)["score"])


def _pipeline_without_missing_value_steps(params: ModelParams):
    """The pipeline as built before missing values were handled: the reference for complete rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pipeline = build_pipeline(SPEC, params)
    pipeline.steps[0] = ("preprocessor", ColumnTransformer(
        transformers=[
            ("num", StandardScaler(), features.feature_columns(SPEC, "numeric")),
            ("bool", "passthrough", features.feature_columns(SPEC, "boolean")),
            ("cat", OneHotEncoder(handle_unknown="ignore"), features.feature_columns(SPEC, "categorical")),
        ],
        remainder="drop",
        sparse_threshold=0.0,
    ))
    return pipeline


def test_complete_rows_score_bit_identically_to_the_pipeline_without_the_fill_steps() -> None:
    frame = synthetic_training_set(n_users=150, seed=3)
    X, y = frame[features.feature_columns(SPEC)], frame[SPEC.target_column].astype(int)
    params = ModelParams(n_estimators=60, max_depth=3, learning_rate=0.1, subsample=0.8)
    before = _pipeline_without_missing_value_steps(params).fit(X, y)
    after = build_pipeline(SPEC, params).fit(X, y)
    np.testing.assert_array_equal(
        after.named_steps["preprocessor"].transform(X), before.named_steps["preprocessor"].transform(X)
    )
    np.testing.assert_array_equal(after.predict_proba(X), before.predict_proba(X))
    assert list(after.named_steps["preprocessor"].get_feature_names_out()) == list(
        before.named_steps["preprocessor"].get_feature_names_out()
    )
