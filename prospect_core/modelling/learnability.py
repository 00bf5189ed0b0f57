"""How predictable is each candidate target? A quick estimate from the built training set's own features.

The target explorer counts positives for each (event, window); a target many prospects reach can still
be one no feature foresees. For each candidate, its target is recomputed from the set's own prospect,
time and event-name columns (`dataset.recompute_target`, exact as the query would compute it), and a
small XGBoost (QUICK_PARAMS, one thread) is scored on grouped folds by prospect (`model.grouped_folds`,
no prospect on both sides) over a seeded sample of whole prospects of at most MAX_ROWS rows. The ROC
AUC's mean and its range over the folds say how learnable the target is, and how sure that is.

It is an estimate, not the model: few trees, no early stopping, no negative sampling, and the
features one-hot encoded once over the sample (no labels are read, so no fold learns from another).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from prospect_core.infra.errors import DatasetError, UserError
from prospect_core.modelling.model import ModelParams, build_classifier, build_pipeline, grouped_folds
from prospect_core.trainingset import features
from prospect_core.trainingset.dataset import recompute_target, target_only_change
from prospect_core.trainingset.spec import TrainingSpec

MAX_ROWS = 20_000  # ~1 s a candidate on one core; a larger sample moves the demo's AUCs by < 0.01
N_FOLDS = 3  # three folds, not the leaderboard's five: a range, in 60 % of the time
QUICK_PARAMS = ModelParams(n_estimators=30, max_depth=3, learning_rate=0.3)
COLUMNS = ("event_name", "target_window_minutes", "roc_auc", "roc_auc_low", "roc_auc_high")
NOT_RECOMPUTABLE = (
    "How predictable each target is needs a training set that keeps every event of its prospects: build it "
    "without leaving out events after the first target and without limiting negatives per positive."
)


@dataclass(frozen=True)
class Learnability:
    """ROC AUC over grouped folds: mean and range; NaN when too few prospects hit the target to fold."""

    roc_auc: float
    roc_auc_low: float
    roc_auc_high: float


UNKNOWN = Learnability(float("nan"), float("nan"), float("nan"))


@dataclass(frozen=True)
class LearnabilitySample:
    """A seeded sample of whole prospects of a built set, its features encoded once for every candidate."""

    frame: pd.DataFrame  # the sampled rows, every row of each sampled prospect
    matrix: np.ndarray  # the pipeline's preprocessed features of those rows
    spec: TrainingSpec  # what built the set

    @classmethod
    def of(cls, frame: pd.DataFrame, spec: TrainingSpec, *, max_rows: int = MAX_ROWS, seed: int = 0) -> LearnabilitySample:
        rows = _whole_prospects(frame["domain_userid"], max_rows, seed)
        sample = frame.iloc[rows].reset_index(drop=True)
        preprocessor = build_pipeline(spec, QUICK_PARAMS).named_steps["preprocessor"]
        return cls(sample, preprocessor.fit_transform(sample[features.feature_columns(spec)]), spec)

    def folds(self, y: np.ndarray, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        return grouped_folds(self.frame["domain_userid"], y, n_folds=N_FOLDS, seed=seed)

    def target(self, event: str, window_minutes: int) -> np.ndarray:
        """The candidate's target on the sample, as the training-set query would compute it."""
        candidate = dataclasses.replace(self.spec, target_event=event, target_window_minutes=window_minutes)
        if candidate == self.spec:
            return self.frame[self.spec.target_column].to_numpy(dtype=bool)
        if not target_only_change(self.spec, candidate):
            raise DatasetError(NOT_RECOMPUTABLE)
        return recompute_target(self.frame, self.spec, candidate)[candidate.target_column].to_numpy(dtype=bool)

    def estimate(self, y: np.ndarray) -> Learnability:
        """How well QUICK_PARAMS' trees rank `y` on held-out prospects."""
        from sklearn.metrics import roc_auc_score

        y = np.asarray(y, dtype=bool)
        try:
            folds = self.folds(y)
        except DatasetError:  # too few prospects on one side to fold: nothing to estimate
            return UNKNOWN
        scores = []
        for train, test in folds:
            if y[train].all() or not y[train].any() or y[test].all() or not y[test].any():
                return UNKNOWN
            classifier = build_classifier(QUICK_PARAMS).set_params(n_jobs=1)  # beside the page's own work
            classifier.fit(self.matrix[train], y[train])
            scores.append(roc_auc_score(y[test], classifier.predict_proba(self.matrix[test])[:, 1]))
        return Learnability(float(np.mean(scores)), float(min(scores)), float(max(scores)))


def _whole_prospects(prospects: pd.Series, max_rows: int, seed: int) -> np.ndarray:
    """Sorted positions of the rows of prospects taken in a seeded order while their rows fit in `max_rows`.

    Whole prospects, because a target counts a prospect's later events; numbered in sorted id order,
    so the same seed takes the same prospects whatever the row order.
    """
    users, ids = pd.factorize(prospects, sort=True)
    sizes = np.bincount(users, minlength=len(ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    taken = order[np.cumsum(sizes[order]) <= max_rows]
    return np.flatnonzero(np.isin(users, taken))


def estimate_targets(
    frame: pd.DataFrame,
    spec: TrainingSpec,
    candidates: Iterable[tuple[str, int]],
    *,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
    stopped: Callable[[], bool] = lambda: False,
) -> pd.DataFrame:
    """COLUMNS for each (event, window minutes) candidate, from `frame`, the set built for `spec`.

    `stopped()` is asked between candidates: once true, a UserError ends the estimate (Cancel).
    """
    sample = LearnabilitySample.of(frame, spec, max_rows=max_rows, seed=seed)
    rows = []
    for event, minutes in dict.fromkeys(candidates):
        if stopped():
            raise UserError("Estimating how predictable each target is was cancelled.")
        rows.append((event, minutes, *dataclasses.astuple(sample.estimate(sample.target(event, minutes)))))
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"target_window_minutes": "int64"})
