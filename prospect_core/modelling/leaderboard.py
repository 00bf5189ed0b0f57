"""Compare models as a data scientist would defend them: grouped K-fold by prospect, with intervals.

- `grouped_folds` (in `model`, where calibration deals them too): K folds of whole prospects,
  stratified by whether a prospect ever hit the target (positives are rare and cluster in few
  prospects), seeded. No prospect is on two sides of a fold.
- `cross_validate`: one `ModelParams` fitted on each fold's training side (the same `fit_pipeline` as
  Train: sampling, early stopping, prior correction) and scored on its held-out prospects.
- `compare_models`: the leaderboard of several (families, or a tuning's trials).
- `tune`: Optuna's sampler over a family's few parameters, each trial a leaderboard entry. Optuna is
  optional (requirements-dev.txt) and imported only here, when tuning.
- `bootstrap_intervals`: a 90 % interval of the headline metrics from resampling test prospects, for
  a run whose split has no folds (out of time) or whose parameters were not compared.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from prospect_core.infra.errors import UserError
from prospect_core.modelling.families import FAMILIES, ModelParams
from prospect_core.modelling.model import (  # one numbering of prospects, one dealing of folds
    N_FOLDS, _number_prospects, check_training_set, fit_pipeline, grouped_folds,
)
from prospect_core.trainingset import features
from prospect_core.trainingset.spec import TrainingSpec

METRICS = ("roc_auc", "pr_auc", "log_loss")
METRIC_NAMES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "log_loss": "Log loss"}
BOOTSTRAP_REPLICATES = 200
OPTUNA_MISSING = "Tuning needs Optuna, which is not installed: pip install 'optuna>=4,<5', then restart the studio"
Progress = Callable[[str], None]


class Cancelled(UserError):
    """The comparison was stopped between two fits."""


def scores(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """The leaderboard's metrics of one scored held-out side."""
    from sklearn import metrics

    return {"roc_auc": float(metrics.roc_auc_score(y_true, y_score)),
            "pr_auc": float(metrics.average_precision_score(y_true, y_score)),
            "log_loss": float(metrics.log_loss(y_true, y_score, labels=[0, 1]))}


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    basis: str  # in words: "min–max over 5 folds by prospect", "90 % bootstrap of 412 test prospects"


@dataclass(frozen=True)
class Entry:
    """One model on the leaderboard: its parameters and each fold's metrics and fit seconds."""

    name: str
    params: ModelParams
    folds: pd.DataFrame  # fold, roc_auc, pr_auc, log_loss, fit_seconds

    def mean(self, metric: str) -> float:
        return float(self.folds[metric].mean())

    def interval(self, metric: str) -> Interval:
        values = self.folds[metric]
        return Interval(float(values.min()), float(values.max()), f"min–max over {len(values)} folds by prospect")

    def intervals(self) -> dict[str, Interval]:
        return {metric: self.interval(metric) for metric in METRICS}


@dataclass
class Leaderboard:
    """Entries in the order they were fitted; `table()` ranks them by mean ROC AUC."""

    n_folds: int
    seed: int
    entries: list[Entry] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        rows = []
        for entry in self.entries:
            row: dict[str, Any] = {"model": entry.name}
            for metric in METRICS:
                interval = entry.interval(metric)
                row.update({metric: entry.mean(metric), f"{metric}_low": interval.low, f"{metric}_high": interval.high})
            row["fit_seconds"] = entry.mean("fit_seconds")
            rows.append(row)
        table = pd.DataFrame(rows, columns=["model", *[f"{m}{s}" for m in METRICS for s in ("", "_low", "_high")], "fit_seconds"])
        return table.sort_values("roc_auc", ascending=False, kind="stable").reset_index(drop=True)

    def entry_for(self, params: ModelParams) -> Entry | None:
        """The entry fitted with exactly `params`, if any (the folds then give a trained run its interval)."""
        return next((entry for entry in reversed(self.entries) if entry.params == params), None)


def cross_validate(df: pd.DataFrame, spec: TrainingSpec, params: ModelParams, *, name: str | None = None,
                   n_folds: int = N_FOLDS, seed: int = 0, progress: Progress | None = None,
                   stop: Callable[[], bool] | None = None) -> Entry:
    """Fit `params` on each fold's training prospects, score its held-out prospects."""
    check_training_set(df, spec)
    X = df[features.feature_columns(spec)]
    y = df[spec.target_column].astype(bool).to_numpy().astype(np.int64)
    prospects = df["domain_userid"]
    name = name or FAMILIES[params.family].label
    rows = []
    for fold, (train, test) in enumerate(grouped_folds(prospects, y, n_folds, seed)):
        if stop is not None and stop():
            raise Cancelled("the comparison was cancelled")
        if progress is not None:
            progress(f"{name}: fold {fold + 1} of {n_folds}")
        started = time.perf_counter()
        pipeline, _ = fit_pipeline(X.iloc[train], y[train], prospects.iloc[train], spec, params)
        fit_seconds = time.perf_counter() - started
        rows.append({"fold": fold, **scores(y[test], pipeline.predict_proba(X.iloc[test])[:, 1]), "fit_seconds": fit_seconds})
    return Entry(name=name, params=params, folds=pd.DataFrame(rows))


def compare_models(df: pd.DataFrame, spec: TrainingSpec, candidates: list[ModelParams], *, n_folds: int = N_FOLDS,
                   seed: int = 0, progress: Progress | None = None, stop: Callable[[], bool] | None = None) -> Leaderboard:
    """The leaderboard of `candidates` (e.g. one `ModelParams` a family), on the same folds."""
    board = Leaderboard(n_folds=n_folds, seed=seed)
    for params in candidates:
        board.entries.append(cross_validate(df, spec, params, n_folds=n_folds, seed=seed, progress=progress, stop=stop))
    return board


# ----- tuning ------------------------------------------------------------------------------------


def _suggest(trial: Any, base: ModelParams) -> ModelParams:
    """The family's few parameters worth tuning; the rest (seed, sampling, early stopping) stay the user's."""
    return replace(
        base,
        n_estimators=trial.suggest_int("n_estimators", 50, 600, log=True),
        max_depth=trial.suggest_int("max_depth", 2, 8),
        learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        subsample=trial.suggest_float("subsample", 0.5, 1.0),
    )


TUNABLE = {"xgboost": _suggest}  # a logistic regression here has no parameter to tune


def optuna_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("optuna") is not None


def tune(df: pd.DataFrame, spec: TrainingSpec, base: ModelParams, board: Leaderboard, *, budget_seconds: float,
         max_trials: int = 50, progress: Progress | None = None, stop: Callable[[], bool] | None = None) -> Leaderboard:
    """Optuna trials of `base`'s family (mean ROC AUC over `board`'s folds) until the budget is spent;
    each trial joins `board`. A trial started inside the budget runs to its end."""
    if base.family not in TUNABLE:
        raise UserError(f"{FAMILIES[base.family].label} has no parameters to tune here; compare it as it is")
    try:
        import optuna
    except ImportError:
        raise UserError(OPTUNA_MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=base.seed))
    deadline = time.monotonic() + budget_seconds
    label = FAMILIES[base.family].label

    def objective(trial: Any) -> float:
        params = TUNABLE[base.family](trial, base)
        name = (f"{label} · trial {trial.number + 1} (depth {params.max_depth}, {params.n_estimators} trees, "
                f"learning rate {params.learning_rate:.3f}, subsample {params.subsample:.2f})")
        entry = cross_validate(df, spec, params, name=name, n_folds=board.n_folds, seed=board.seed, progress=progress, stop=stop)
        board.entries.append(entry)
        return entry.mean("roc_auc")

    def enough(study: Any, trial: Any) -> None:
        if time.monotonic() >= deadline or (stop is not None and stop()):
            study.stop()

    study.optimize(objective, n_trials=max_trials, timeout=budget_seconds, callbacks=[enough])
    return board


# ----- intervals of one run's test metrics ------------------------------------------------------


def bootstrap_intervals(*, y_true: Any, y_score: Any, prospect_ids: Any, replicates: int = BOOTSTRAP_REPLICATES,
                        seed: int = 0, level: float = 0.9) -> dict[str, Interval]:
    """A `level` percentile interval of ROC AUC, PR AUC and log loss over `replicates` resamples of the
    test prospects (with replacement; a prospect drawn twice counts its rows twice).

    One sort of the scores serves every replicate: each is a weighted count per distinct score, about
    a millisecond per 10k rows, where sklearn's metrics with sample weights re-sort every time.
    """
    y = np.asarray(y_true, dtype=np.int64)
    score = np.asarray(y_score, dtype=float)
    users, ids = _number_prospects(pd.Series(np.asarray(prospect_ids)).astype(str))
    distinct, rank = np.unique(score, return_inverse=True)  # ascending
    clipped = np.clip(score, 1e-15, 1 - 1e-15)
    row_loss = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for _ in range(replicates):
        weight = np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids))[users].astype(float)
        positives = np.bincount(rank, weights=weight * y, minlength=len(distinct))
        negatives = np.bincount(rank, weights=weight * (1 - y), minlength=len(distinct))
        total_positive, total_negative = positives.sum(), negatives.sum()
        if total_positive == 0 or total_negative == 0:
            continue  # a resample with one class has no AUC
        below = np.cumsum(negatives) - negatives  # negatives scoring lower than each distinct score
        values["roc_auc"].append(float((positives * (below + 0.5 * negatives)).sum() / (total_positive * total_negative)))
        caught = np.cumsum(positives[::-1])  # flagging at each distinct score, highest first
        flagged = np.cumsum((positives + negatives)[::-1])
        precision = np.divide(caught, flagged, out=np.zeros_like(caught), where=flagged > 0)  # a score no row drew: no step
        values["pr_auc"].append(float((positives[::-1] / total_positive * precision).sum()))
        values["log_loss"].append(float((weight * row_loss).sum() / weight.sum()))
    tail = (1 - level) / 2 * 100
    basis = f"{level:.0%} bootstrap of {len(ids):,} test prospects".replace("%", " %")
    return {metric: Interval(float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail)), basis)
            for metric, v in values.items()}
