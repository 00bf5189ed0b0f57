"""Model evaluation as plain data: numbers and arrays first, figures (`figures.py`) draw them second.

Every public function takes keyword-only `y_true` (0/1 or bool) and `y_score` (probability of the
positive class), validated by one helper whose messages say what was expected and what arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics


@dataclass(frozen=True)
class Curve:
    """Points of a curve: ROC (x=fpr, y=tpr) or precision-recall (x=recall, y=precision)."""

    x: np.ndarray
    y: np.ndarray
    thresholds: np.ndarray


@dataclass(frozen=True)
class Confusion:
    """Confusion counts at one threshold (a score >= threshold predicts positive), with rates."""

    threshold: float
    tn: int
    fp: int
    fn: int
    tp: int

    @property
    def matrix(self) -> np.ndarray:
        """[[tn, fp], [fn, tp]]: rows are the actual class, columns the predicted class."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]])

    @property
    def rates(self) -> np.ndarray:
        """The matrix normalised per actual class (each row sums to 1; 0 for an empty row)."""
        matrix = self.matrix.astype(float)
        totals = matrix.sum(axis=1, keepdims=True)
        return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def false_positive_rate(self) -> float:
        return _ratio(self.fp, self.fp + self.tn)

    @property
    def predicted_positive_share(self) -> float:
        return _ratio(self.tp + self.fp, self.tn + self.fp + self.fn + self.tp)


@dataclass(frozen=True)
class Evaluation:
    """Threshold-free and at-threshold metrics of one scored test set."""

    threshold: float
    n: int
    positives: int
    base_rate: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float
    pr_auc: float  # average precision
    log_loss: float
    brier: float
    best_f1_threshold: float
    best_f1: float
    classification_report: dict[str, Any]
    roc: Curve
    pr: Curve

    def metrics(self) -> dict[str, float]:
        """The scalar metrics, JSON-ready."""
        names = (
            "threshold", "n", "positives", "base_rate", "accuracy", "precision", "recall", "f1",
            "roc_auc", "pr_auc", "log_loss", "brier", "best_f1_threshold", "best_f1",
        )
        return {name: _plain(getattr(self, name)) for name in names}


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / denominator if denominator else 0.0


def check_scores(y_true: Any, y_score: Any, *, need_both_classes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return `(y_true as int 0/1, y_score as float)`; ValueError says expected vs got."""
    y_true_arr = np.asarray(y_true)
    y_score_arr = np.asarray(y_score)
    if y_true_arr.ndim != 1 or y_score_arr.ndim != 1:
        raise ValueError(
            f"y_true and y_score must be 1-d, got shapes {y_true_arr.shape} and {y_score_arr.shape}"
        )
    if len(y_true_arr) != len(y_score_arr):
        raise ValueError(f"y_true and y_score must have the same length, got {len(y_true_arr)} and {len(y_score_arr)}")
    if len(y_true_arr) == 0:
        raise ValueError("y_true and y_score must not be empty, got 0 rows")
    labels = set(pd.unique(y_true_arr).tolist())
    if not labels <= {0, 1}:  # True == 1 and False == 0, so bools pass
        shown = sorted(map(repr, labels))[:5]
        raise ValueError(f"y_true must hold only 0/1 or False/True, got values {shown}")
    if need_both_classes and len(labels) < 2:
        raise ValueError(f"y_true must hold both classes, got only {sorted(labels)} in {len(y_true_arr)} rows")
    try:
        scores = y_score_arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"y_score must be numbers, got dtype {y_score_arr.dtype}") from None
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise ValueError(
            f"y_score must be probabilities in [0, 1], got values from {np.nanmin(scores):g} to "
            f"{np.nanmax(scores):g} ({int((~np.isfinite(scores)).sum())} not finite)"
        )
    return y_true_arr.astype(np.int64), scores


def _check_threshold(threshold: float) -> float:
    if not isinstance(threshold, (int, float, np.floating)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return float(threshold)


def evaluate(*, y_true: Any, y_score: Any, threshold: float = 0.5) -> Evaluation:
    """All metrics of one scored test set; the at-threshold ones predict positive when score >= threshold."""
    y, score = check_scores(y_true, y_score)
    threshold = _check_threshold(threshold)
    y_pred = (score >= threshold).astype(np.int64)
    fpr, tpr, roc_thresholds = metrics.roc_curve(y, score)
    precision, recall, pr_thresholds = metrics.precision_recall_curve(y, score)
    best_threshold, best_f1 = _best_f1(precision, recall, pr_thresholds)
    return Evaluation(
        threshold=threshold,
        n=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()),
        accuracy=float(metrics.accuracy_score(y, y_pred)),
        precision=float(metrics.precision_score(y, y_pred, zero_division=0)),
        recall=float(metrics.recall_score(y, y_pred, zero_division=0)),
        f1=float(metrics.f1_score(y, y_pred, zero_division=0)),
        roc_auc=float(metrics.roc_auc_score(y, score)),
        pr_auc=float(metrics.average_precision_score(y, score)),
        log_loss=float(metrics.log_loss(y, score, labels=[0, 1])),
        brier=float(metrics.brier_score_loss(y, score)),
        best_f1_threshold=best_threshold,
        best_f1=best_f1,
        classification_report=metrics.classification_report(
            y, y_pred, labels=[0, 1], target_names=["negative", "positive"], output_dict=True, zero_division=0
        ),
        roc=Curve(x=fpr, y=tpr, thresholds=roc_thresholds),
        pr=Curve(x=recall, y=precision, thresholds=pr_thresholds),
    )


def _best_f1(precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """The threshold (one of the scores) with the highest F1, and that F1."""
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])


def confusion_at(*, y_true: Any, y_score: Any, threshold: float = 0.5) -> Confusion:
    """Confusion counts when a score >= `threshold` predicts positive."""
    y, score = check_scores(y_true, y_score, need_both_classes=False)
    threshold = _check_threshold(threshold)
    predicted = score >= threshold
    actual = y == 1
    return Confusion(
        threshold=threshold,
        tn=int((~actual & ~predicted).sum()),
        fp=int((~actual & predicted).sum()),
        fn=int((actual & ~predicted).sum()),
        tp=int((actual & predicted).sum()),
    )


def lift_table(*, y_true: Any, y_score: Any, bins: int = 10) -> pd.DataFrame:
    """Lift and cumulative gains by score bin (decile 1 = the highest-scored tenth).

    Rows are ranked by score (descending, ties in input order) and cut into `bins` groups as equal
    as possible. Columns: bin, rows, positives, rate, lift (rate / base rate), cum_rows_share,
    cum_positives_share (gain), cum_lift, min_score, max_score.
    """
    y, score = check_scores(y_true, y_score)
    if not isinstance(bins, (int, np.integer)) or not 1 <= bins <= len(y):
        raise ValueError(f"bins must be a whole number from 1 to the number of rows ({len(y)}), got {bins!r}")
    order = np.argsort(-score, kind="stable")
    groups = np.array_split(order, bins)
    base_rate = y.mean()
    rows = np.array([len(g) for g in groups])
    positives = np.array([int(y[g].sum()) for g in groups])
    rate = positives / rows
    cum_rows, cum_positives = np.cumsum(rows), np.cumsum(positives)
    return pd.DataFrame(
        {
            "bin": np.arange(1, bins + 1),
            "rows": rows,
            "positives": positives,
            "rate": rate,
            "lift": rate / base_rate,
            "cum_rows_share": cum_rows / len(y),
            "cum_positives_share": cum_positives / y.sum(),
            "cum_lift": (cum_positives / cum_rows) / base_rate,
            "min_score": [float(score[g].min()) for g in groups],
            "max_score": [float(score[g].max()) for g in groups],
        }
    )


def calibration_bins(*, y_true: Any, y_score: Any, n_bins: int = 10, strategy: str = "uniform") -> pd.DataFrame:
    """Mean predicted probability vs observed positive rate per bin (empty bins omitted).

    Matches `sklearn.calibration.calibration_curve` (same bins, same strategies) and adds each bin's
    row count. Columns: bin_low, bin_high, rows, mean_predicted, fraction_positive.
    """
    y, score = check_scores(y_true, y_score, need_both_classes=False)
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a whole number >= 1, got {n_bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(score, np.linspace(0, 100, n_bins + 1))
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    ids = np.searchsorted(edges[1:-1], score)  # as sklearn does
    counts = np.bincount(ids, minlength=len(edges) - 1)
    sums = np.bincount(ids, weights=score, minlength=len(edges) - 1)
    trues = np.bincount(ids, weights=y, minlength=len(edges) - 1)
    keep = counts > 0
    return pd.DataFrame(
        {
            "bin_low": edges[:-1][keep],
            "bin_high": edges[1:][keep],
            "rows": counts[keep],
            "mean_predicted": sums[keep] / counts[keep],
            "fraction_positive": trues[keep] / counts[keep],
        }
    )
