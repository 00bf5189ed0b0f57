"""Model families: the one registry of what classifier ends the studio's pipeline.

- `xgboost`: the tutorial's `XGBClassifier`, the default. Explained with SHAP (TreeExplainer).
- `logistic_regression`: Snowplow's current notebook, `LogisticRegression(class_weight='balanced')` on
  the same preprocessing (StandardScaler on counts, flags as 0/1, one-hot categories). Explained by its
  coefficients: a feature's contribution is its coefficient times its transformed value, in log-odds,
  so the same views (importance, waterfall, the service's explanations) read both families.

A family names the classes its fitted pickle holds (`pickle_classes`, merged into the artifact
loader's allow-list) and the one library beyond scikit-learn it needs (`library`, written into the
card and the service's requirements.txt): a joblib loads with scikit-learn and that library only.

LightGBM is not a family: see bench/README.md ("Model families") for why.

`ModelParams` lives here because it says which family and how to fit it; `model.py` re-exports it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from prospect_core.infra.errors import UserError

FamilyName = Literal["xgboost", "logistic_regression"]
Calibration = Literal["sigmoid", "isotonic"]
CALIBRATIONS: tuple[str, ...] = get_args(Calibration)
CALIBRATION_LABELS = {None: "Off (prior correction)", "sigmoid": "Sigmoid (Platt)", "isotonic": "Isotonic"}
CALIBRATED_CLASS = ("sklearn.calibration", "CalibratedClassifierCV")
# What a calibrated classifier adds to a pickle, whatever its family: the wrapper, one
# (fold classifier, calibrator) pair per fold, and the calibrator of either method.
CALIBRATION_PICKLE_CLASSES = frozenset({
    CALIBRATED_CLASS,
    ("sklearn.calibration", "_CalibratedClassifier"),
    ("sklearn.calibration", "_SigmoidCalibration"),
    ("sklearn.isotonic", "IsotonicRegression"),
})
MAX_SEED = 2**32 - 1  # numpy's and XGBoost's seeds are unsigned 32-bit


class ParamsError(UserError, ValueError):
    """A `ModelParams` value is out of range."""


@dataclass(frozen=True)
class Family:
    name: str
    label: str  # as the Train page and the card say it
    description: str  # the card's `model` line
    library: str | None  # the pip distribution it needs beyond scikit-learn (its import name is the same)
    classifier_class: tuple[str, str]  # (module, name) of the fitted classifier, as pickled
    pickle_classes: frozenset[tuple[str, str]]  # globals its fitted classifier adds to a pickle
    explained_by: str  # "SHAP" or "coefficients"
    early_stopping: bool  # can stop on a validation slice (n_estimators is then the maximum)


FAMILIES: dict[str, Family] = {
    "xgboost": Family(
        name="xgboost",
        label="XGBoost",
        description="XGBoost classifier in a scikit-learn Pipeline (StandardScaler on counts, booleans as 0/1, "
        "one-hot categories)",
        library="xgboost",
        classifier_class=("xgboost.sklearn", "XGBClassifier"),
        # Booster is named, never called: calling it could load a file (artifact.CLASS_GLOBALS' rule)
        pickle_classes=frozenset({("xgboost.sklearn", "XGBClassifier"), ("xgboost.core", "Booster")}),
        explained_by="SHAP",
        early_stopping=True,
    ),
    "logistic_regression": Family(
        name="logistic_regression",
        label="Logistic regression",
        description="Logistic regression (class_weight='balanced', as Snowplow's notebook) in a scikit-learn "
        "Pipeline (StandardScaler on counts, booleans as 0/1, one-hot categories)",
        library=None,
        classifier_class=("sklearn.linear_model._logistic", "LogisticRegression"),
        pickle_classes=frozenset({("sklearn.linear_model._logistic", "LogisticRegression")}),
        explained_by="coefficients",
        early_stopping=False,
    ),
}
DEFAULT_FAMILY = "xgboost"


@dataclass(frozen=True)
class ModelParams:
    """Which family, its hyper-parameters, and how it is fitted.

    The tree parameters are XGBoost's own defaults, as in the tutorial; a logistic regression ignores
    them. `train_negatives_per_positive` keeps every positive of the training side and a seeded sample
    of at most that many negatives per positive (the test side is never sampled); scores are then
    corrected back to the population's prior. `early_stopping_rounds` stops XGBoost once that many
    rounds bring no gain on a by-prospect validation slice of the training side. `calibration`
    ('sigmoid' or 'isotonic') wraps the classifier in scikit-learn's CalibratedClassifierCV over folds
    of whole training prospects (see `model.fit_pipeline` for how it meets the sampling).
    """

    n_estimators: int = 100
    max_depth: int = 6
    learning_rate: float = 0.3
    subsample: float = 1.0
    scale_pos_weight: float = 1.0
    seed: int = 0
    family: str = DEFAULT_FAMILY
    train_negatives_per_positive: int | None = None  # None: every negative
    early_stopping_rounds: int | None = None  # None: all n_estimators rounds
    calibration: str | None = None  # None: the (prior-corrected) classifier's own scores

    def __post_init__(self) -> None:
        _check_int("n_estimators", self.n_estimators, 1, 5000)
        _check_int("max_depth", self.max_depth, 1, 20)
        _check_float("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_float("subsample", self.subsample, 0.0, 1.0, low_open=True)
        _check_float("scale_pos_weight", self.scale_pos_weight, 0.0, 10_000.0, low_open=True)
        _check_int("seed", self.seed, 0, MAX_SEED)
        if self.family not in FAMILIES:
            raise ParamsError(f"model must be one of {list(FAMILIES)}, got {self.family!r}")
        if self.train_negatives_per_positive is not None:
            _check_int("train_negatives_per_positive", self.train_negatives_per_positive, 1, 10_000)
        if self.early_stopping_rounds is not None:
            _check_int("early_stopping_rounds", self.early_stopping_rounds, 1, 1000)
        if self.calibration is not None and self.calibration not in CALIBRATIONS:
            raise ParamsError(f"calibration must be one of {list(CALIBRATIONS)} or none, got {self.calibration!r}")

    @property
    def family_spec(self) -> Family:
        return FAMILIES[self.family]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "learning_rate": float(self.learning_rate),
            "subsample": float(self.subsample),
            "scale_pos_weight": float(self.scale_pos_weight),
            "seed": self.seed,
            "family": self.family,
            "train_negatives_per_positive": self.train_negatives_per_positive,
            "early_stopping_rounds": self.early_stopping_rounds,
            "calibration": self.calibration,
        }


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not is_int or not low <= value <= high:
        raise ParamsError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _check_float(name: str, value: Any, low: float, high: float, *, low_open: bool) -> None:
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    ok = is_number and math.isfinite(value) and (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ParamsError(f"{name} must be a number in {bracket}{low:g}, {high:g}], got {value!r}")


# ----- classifiers ---------------------------------------------------------------------------------


def build_classifier(params: ModelParams) -> Any:
    """The unfitted classifier that ends the pipeline for `params.family`."""
    if params.family == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        # lbfgs on standardised inputs converges in tens of iterations; 1000 only guards odd data
        return LogisticRegression(class_weight="balanced", max_iter=1000, random_state=params.seed)
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        subsample=params.subsample,
        scale_pos_weight=params.scale_pos_weight,
        eval_metric="logloss",
        random_state=params.seed,
        n_jobs=fit_threads(),
    )


def fit_threads() -> int:
    """XGBoost's thread count: the cores this process may run on.

    The affinity mask, not `os.cpu_count()`: a container or `taskset` may grant fewer cores than the
    machine has, and more threads than cores makes every OpenMP barrier wait on a descheduled thread.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity API (macOS, Windows)
        return os.cpu_count() or 1


def is_calibrated(classifier: Any) -> bool:
    """Whether the pipeline's last step is a CalibratedClassifierCV (by name: sklearn.calibration is not imported)."""
    return (type(classifier).__module__, type(classifier).__qualname__) == CALIBRATED_CLASS


def fold_classifiers(classifier: Any) -> list[Any]:
    """The family classifiers that score: the classifier itself, or a calibrated one's fitted fold classifiers."""
    if is_calibrated(classifier):
        return [pair.estimator for pair in classifier.calibrated_classifiers_]
    return [classifier]


def family_of(classifier: Any) -> Family:
    """The family of a fitted or unfitted classifier, by its class (a loaded pickle's too); a calibrated
    classifier is of its fold classifiers' family."""
    if is_calibrated(classifier):
        classifier = classifier.estimator
    key = (type(classifier).__module__, type(classifier).__qualname__)
    for family in FAMILIES.values():
        if family.classifier_class == key:
            return family
    raise TypeError(f"{type(classifier).__name__} is not the classifier of any model family")


def positive_weight(params: ModelParams, y_fit: np.ndarray) -> float:
    """How much more a positive row weighs than a negative one in the fit: the odds the fit learns are
    the population's times this (and times 1 / the negatives' sampling rate)."""
    if params.family == "logistic_regression":  # 'balanced': n / (2 n_class) each
        positives = int(np.sum(y_fit))
        return (len(y_fit) - positives) / positives
    return float(params.scale_pos_weight)


def shift_log_odds(classifier: Any, offset: float) -> None:
    """Add `offset` to the fitted classifier's log-odds for every row, in place, keeping it a stock
    class: the joblib, the service and the what-if form all score the shifted probability."""
    if offset == 0.0:
        return
    if family_of(classifier).name == "logistic_regression":
        classifier.intercept_ = classifier.intercept_ + offset
        return
    import json

    booster = classifier.get_booster()
    # XGBoost keeps its intercept as a probability (base_score); the margin is its logit plus the trees
    base_score = float(json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"].strip("[]"))
    margin = math.log(base_score / (1 - base_score)) + offset
    booster.set_param({"base_score": 1 / (1 + math.exp(-margin))})


def log_odds_contributions(classifier: Any, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """Per transformed column, each row's contribution to the log-odds, and the base value they add
    to: SHAP values for XGBoost, coefficient times value for a logistic regression (its intercept the
    base). Either way `base + row sum` is the row's log-odds.

    A calibrated classifier is explained by its fold classifiers, averaged: `base + row sum` is then
    their mean log-odds before calibration: the explanation is of the uncalibrated score, not of the
    calibrated probability (each fold's calibrator is a one-dimensional map of that fold's score with
    no per-feature part to share out), and the views say so.
    """
    parts = [_own_contributions(fold, matrix) for fold in fold_classifiers(classifier)]
    return np.mean([values for values, _ in parts], axis=0), float(np.mean([base for _, base in parts]))


def _own_contributions(classifier: Any, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    if family_of(classifier).name == "logistic_regression":
        return np.asarray(matrix, dtype=np.float64) * classifier.coef_[0], float(classifier.intercept_[0])
    import shap  # heavy (numba, seconds to import): loaded on the first explanation, not at app start

    explainer = shap.TreeExplainer(classifier)
    values = np.asarray(explainer.shap_values(matrix))
    if values.ndim == 3:  # some shap versions return one slice per class
        values = values[..., -1]
    return values, float(np.ravel(explainer.expected_value)[-1])
