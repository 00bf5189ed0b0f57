"""What drives the fitted pipeline: XGBoost's gain or a logistic regression's coefficients per feature,
and per-row explanations, all grouped back to registry features.

Per-row contributions come from the model family (`families.log_odds_contributions`): SHAP's
TreeExplainer on a fitted XGBoost classifier, coefficient times transformed value for a logistic
regression, both over the preprocessor's output. The contributions of a categorical feature's one-hot
columns are summed, so every explanation speaks in the registry's features (`latest_device_class`),
not in encoder columns (`cat__latest_device_class_Phone`).

Values are in log-odds (XGBoost's margin): `base_value + sum(contributions)` is the margin, and the
score is `1 / (1 + exp(-margin))`. A calibrated model is explained by its fold classifiers, averaged
(`families.log_odds_contributions`): the explanation is then of the uncalibrated score, and a
`RowExplanation` says so (`calibrated`). The full test set can take a while (the issue measured ~17 s for
34k rows), so global views use a bounded, seeded sample of rows (2,000 by default).

`shap` is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from prospect_core.modelling.families import family_of, fold_classifiers, is_calibrated, log_odds_contributions
from prospect_core.modelling.model import input_columns, transformed_sources

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

DEFAULT_MAX_ROWS = 2_000


@dataclass(frozen=True)
class ShapSample:
    """SHAP values of a sample of rows, one column per raw feature."""

    base_value: float  # log-odds of the average prediction
    values: np.ndarray  # (rows, features), log-odds contributions
    features: list[str]  # raw feature columns, in the order of `values`' columns
    data: pd.DataFrame  # the sampled rows' raw feature values (index = positions in the explained X)
    rows: np.ndarray  # positions of the sampled rows in the explained X, ascending
    seconds: float  # time spent computing SHAP values

    def column(self, feature: str) -> np.ndarray:
        """SHAP values of one feature across the sample."""
        try:
            return self.values[:, self.features.index(feature)]
        except ValueError:
            raise ValueError(f"feature must be one of {self.features}, got {feature!r}") from None


@dataclass(frozen=True)
class RowExplanation:
    """Why one prospect got its score: base value plus one contribution per feature (log-odds)."""

    row: int  # position in the explained X
    base_value: float
    contributions: pd.Series  # feature -> SHAP value, in feature order
    values: pd.Series  # feature -> the prospect's raw value
    calibrated: bool = False  # the model is calibrated: margin and score are its folds' mean before calibration

    @property
    def margin(self) -> float:
        return float(self.base_value + self.contributions.sum())

    @property
    def score(self) -> float:
        """Predicted probability of the target, recovered from the SHAP sum (before calibration, if any)."""
        return float(1 / (1 + np.exp(-self.margin)))


def _grouped_contributions(pipeline: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, list[str], float]:
    """Log-odds contributions of `X`'s rows summed per raw feature: `(values, feature names, base value)`."""
    matrix = pipeline.named_steps["preprocessor"].transform(X)
    values, base_value = log_odds_contributions(pipeline.named_steps["classifier"], matrix)
    names = input_columns(pipeline)
    sources = transformed_sources(pipeline)
    grouping = np.zeros((len(sources), len(names)))
    grouping[np.arange(len(sources)), [names.index(source) for source in sources]] = 1.0
    return values @ grouping, names, base_value


def sample_rows(n_rows: int, *, max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most `max_rows` of `n_rows` rows, the same for the same seed."""
    if not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ValueError(f"max_rows must be a whole number >= 1, got {max_rows!r}")
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=max_rows, replace=False))


def explain_sample(
    pipeline: Pipeline, X: pd.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0
) -> ShapSample:
    """SHAP values of a seeded sample of at most `max_rows` rows of `X` (usually the test rows)."""
    if len(X) == 0:
        raise ValueError("X must have at least one row to explain, got 0 rows")
    rows = sample_rows(len(X), max_rows=max_rows, seed=seed)
    started = time.perf_counter()
    data = X.iloc[rows][input_columns(pipeline)]
    values, names, base_value = _grouped_contributions(pipeline, data)
    return ShapSample(
        base_value=base_value,
        values=values,
        features=names,
        data=data.set_axis(rows),
        rows=rows,
        seconds=time.perf_counter() - started,
    )


def explain_row(pipeline: Pipeline, X: pd.DataFrame, row: int) -> RowExplanation:
    """SHAP explanation of row position `row` of `X` (any row, sampled or not)."""
    if not isinstance(row, (int, np.integer)) or not 0 <= row < len(X):
        raise ValueError(f"row must be a position from 0 to {len(X) - 1}, got {row!r}")
    data = X.iloc[[row]][input_columns(pipeline)]
    values, names, base_value = _grouped_contributions(pipeline, data)
    return RowExplanation(
        row=int(row),
        base_value=base_value,
        contributions=pd.Series(values[0], index=names, name="shap"),
        values=data.iloc[0].rename("value"),
        calibrated=is_calibrated(pipeline.named_steps["classifier"]),
    )


def shap_importance(sample: ShapSample) -> pd.DataFrame:
    """Global importance: mean |SHAP| per feature over the sample, largest first.

    Columns: feature, mean_abs_shap (log-odds), share (of the total).
    """
    mean_abs = np.abs(sample.values).mean(axis=0)
    total = mean_abs.sum()
    table = pd.DataFrame(
        {"feature": sample.features, "mean_abs_shap": mean_abs, "share": mean_abs / total if total else 0.0}
    )
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def gain_importance(pipeline: Pipeline) -> pd.DataFrame:
    """XGBoost total gain per raw feature (one-hot columns summed back), as a share of all gain (of all
    fold classifiers together, for a calibrated model).

    Every input feature is listed, 0 for features the trees never split on. Columns: feature,
    gain_share; sorted by gain_share, largest first.
    """
    sources = transformed_sources(pipeline)
    per_feature = dict.fromkeys(input_columns(pipeline), 0.0)
    for classifier in fold_classifiers(pipeline.named_steps["classifier"]):
        booster = classifier.get_booster()
        gains = booster.get_score(importance_type="total_gain")
        names = booster.feature_names or [f"f{i}" for i in range(len(sources))]
        for name, source in zip(names, sources):
            per_feature[source] += float(gains.get(name, 0.0))
    total = sum(per_feature.values())
    table = pd.DataFrame({"feature": list(per_feature), "gain_share": [v / total if total else 0.0 for v in per_feature.values()]})
    return table.sort_values("gain_share", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Importance:
    """A fitted model's own importance per feature, and how to title it."""

    table: pd.DataFrame  # columns: feature, and `value`
    value: str
    title: str
    x_title: str


def model_importance(pipeline: Pipeline) -> Importance:
    """XGBoost's gain share, or a logistic regression's |coefficient| share (coefficients of scaled
    inputs; a category's strongest one-hot level stands for it, since summing its levels would rank a
    7-level category above a count that moves the score more; a calibrated model's folds' mean)."""
    classifier = pipeline.named_steps["classifier"]
    if family_of(classifier).explained_by == "SHAP":
        return Importance(gain_importance(pipeline), "gain_share", "Feature importance (XGBoost gain)", "Share of total gain")
    coefficients = np.mean([fold.coef_[0] for fold in fold_classifiers(classifier)], axis=0)
    per_feature = dict.fromkeys(input_columns(pipeline), 0.0)
    for source, coefficient in zip(transformed_sources(pipeline), coefficients):
        per_feature[source] = max(per_feature[source], abs(float(coefficient)))
    total = sum(per_feature.values())
    table = pd.DataFrame({"feature": list(per_feature),
                          "coefficient_share": [v / total if total else 0.0 for v in per_feature.values()]})
    table = table.sort_values("coefficient_share", ascending=False, kind="stable").reset_index(drop=True)
    return Importance(table, "coefficient_share", "Feature importance (|coefficient| of scaled inputs)",
                      "Share of total |coefficient|")
