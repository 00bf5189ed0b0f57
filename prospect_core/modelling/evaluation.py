"""Model evaluation as plain data: numbers and arrays first, figures (`figures.py`) draw them second.

Every public function takes keyword-only `y_true` (0/1 or bool) and `y_score` (probability of the
positive class), validated by one helper whose messages say what was expected and what arrived.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


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
        """Of the flagged, the share positive; NaN when nothing is flagged (undefined, not 0:
        `wording.format_metric` shows it as a dash)."""
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else float("nan")

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
    from sklearn import metrics  # here, not at the top: `import prospect_core` and the CLI's quick commands stay light

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


# ----- prospects, not rows -------------------------------------------------------------------------
# A test set holds many moments (rows) per prospect, and a marketer acts on people: these views
# count and rank prospects. Each takes the run's arrays: y_true, y_score and the prospect of each row.


def _check_prospects(prospect_ids: Any, n: int) -> np.ndarray:
    ids = np.asarray(prospect_ids)
    if ids.ndim != 1 or len(ids) != n:
        raise ValueError(f"prospect_ids must give one prospect per row ({n} rows), got shape {ids.shape}")
    if pd.isna(ids).any():
        raise ValueError(f"prospect_ids must not be missing, got {int(pd.isna(ids).sum())} missing of {n}")
    return ids.astype(str)


@dataclass(frozen=True)
class PositiveCounts:
    """Positive moments and the prospects behind them: "4,640 positive moments from 23 prospects"."""

    moments: int
    positive_moments: int
    prospects: int
    positive_prospects: int


def positive_counts(*, y_true: Any, prospect_ids: Any) -> PositiveCounts:
    """Moments (rows) and prospects, all and positive (a prospect with at least one positive moment)."""
    y, _ = check_scores(y_true, np.zeros(len(np.asarray(y_true))), need_both_classes=False)
    ids = _check_prospects(prospect_ids, len(y))
    return PositiveCounts(
        moments=len(y),
        positive_moments=int(y.sum()),
        prospects=int(pd.unique(ids).size),
        positive_prospects=int(pd.unique(ids[y == 1]).size),
    )


def prospect_scores(*, y_true: Any, y_score: Any, prospect_ids: Any) -> pd.DataFrame:
    """One row per prospect: best_score (their highest), converted (ever positive), moments,
    positive_moments; sorted by best score, highest first (ties by prospect id)."""
    y, score = check_scores(y_true, y_score, need_both_classes=False)
    ids = _check_prospects(prospect_ids, len(y))
    grouped = pd.DataFrame({"domain_userid": ids, "score": score, "y": y}).groupby("domain_userid", sort=True)
    table = pd.DataFrame({
        "best_score": grouped["score"].max(),
        "converted": grouped["y"].max().astype(bool),
        "moments": grouped["y"].size(),
        "positive_moments": grouped["y"].sum(),
    }).reset_index()
    return table.sort_values(["best_score", "domain_userid"], ascending=[False, True], kind="stable").reset_index(drop=True)


DEFAULT_TOP_SHARES = (0.01, 0.05, 0.10, 0.20, 0.50)


@dataclass(frozen=True)
class ProspectEvaluation:
    """Each prospect's highest test score against whether they ever reached the target."""

    prospects: int
    converted_prospects: int
    base_rate: float  # share of prospects who ever reached the target
    roc_auc: float
    roc: Curve
    table: pd.DataFrame  # prospect_scores(...)
    caught: pd.DataFrame  # top_share, prospects_flagged, converted_caught, caught_share, lift

    def caught_share(self, top_share: float) -> float:
        """Share of converting prospects among the top `top_share` of prospects by best score."""
        return _caught_at(self.table["converted"].to_numpy(), top_share)[1] / max(self.converted_prospects, 1)


def _caught_at(converted_by_rank: np.ndarray, top_share: float) -> tuple[int, int]:
    if not 0 < top_share <= 1:
        raise ValueError(f"top share must be a share in (0, 1], got {top_share!r}")
    flagged = int(np.ceil(round(top_share * len(converted_by_rank), 9)))
    return flagged, int(converted_by_rank[:flagged].sum())


def evaluate_by_prospect(
    *, y_true: Any, y_score: Any, prospect_ids: Any, top_shares: tuple[float, ...] = DEFAULT_TOP_SHARES
) -> ProspectEvaluation:
    """ROC AUC of prospects' best scores, and the converting prospects caught in each top share.

    The top x% is the first ceil(x * prospects) prospects by best score (ties by prospect id).
    """
    from sklearn import metrics

    table = prospect_scores(y_true=y_true, y_score=y_score, prospect_ids=prospect_ids)
    converted = table["converted"].to_numpy()
    if converted.all() or not converted.any():
        raise ValueError(
            "the by-prospect view needs prospects who reached the target and prospects who did not, "
            f"got {int(converted.sum())} of {len(converted)} prospects who did"
        )
    fpr, tpr, thresholds = metrics.roc_curve(converted, table["best_score"])
    rows = []
    for share in top_shares:
        flagged, caught = _caught_at(converted, share)
        rows.append((share, flagged, caught, caught / converted.sum(), (caught / flagged) / converted.mean()))
    return ProspectEvaluation(
        prospects=len(table),
        converted_prospects=int(converted.sum()),
        base_rate=float(converted.mean()),
        roc_auc=float(metrics.roc_auc_score(converted, table["best_score"])),
        roc=Curve(x=fpr, y=tpr, thresholds=thresholds),
        table=table,
        caught=pd.DataFrame(rows, columns=["top_share", "prospects_flagged", "converted_caught", "caught_share", "lift"]),
    )


def prospect_choices(
    *, y_true: Any, y_score: Any, prospect_ids: Any, reached: str = "reached the target",
    not_reached: str = "never reached the target",
) -> pd.DataFrame:
    """The Explain picker's first step: one entry per prospect, best score first.

    Columns: domain_userid, best_score, converted, moments, label (`<id> · best score 0.873 · reached
    the target · 12 moments`); labels are unique because the id is in them.
    """
    table = prospect_scores(y_true=y_true, y_score=y_score, prospect_ids=prospect_ids)
    outcome = np.where(table["converted"], reached, not_reached)
    table["label"] = [
        f"{prospect} · best score {best:.3f} · {words} · {moments:,} moment{'' if moments == 1 else 's'}"
        for prospect, best, words, moments in zip(table["domain_userid"], table["best_score"], outcome, table["moments"])
    ]
    return table[["domain_userid", "best_score", "converted", "moments", "label"]]


def prospect_moments(
    *, y_true: Any, y_score: Any, test_ids: pd.DataFrame, prospect: str, reached: str = "reached the target",
    not_reached: str = "did not reach the target",
) -> pd.DataFrame:
    """The Explain picker's second step: one prospect's moments in time order.

    `test_ids` is the run's (domain_userid, derived_tstamp, ...) aligned with the scores. Columns:
    position (the row in the test set, for `explain_row`), derived_tstamp, score, positive, label.
    """
    y, score = check_scores(y_true, y_score, need_both_classes=False)
    ids = _check_prospects(test_ids["domain_userid"], len(y))
    positions = np.flatnonzero(ids == str(prospect))
    if positions.size == 0:
        raise ValueError(f"prospect {str(prospect)[:60]!r} has no moment in the test set")
    times = pd.to_datetime(test_ids["derived_tstamp"]).to_numpy()[positions]
    table = pd.DataFrame({"position": positions, "derived_tstamp": times, "score": score[positions], "positive": y[positions] == 1})
    table = table.sort_values(["derived_tstamp", "position"], kind="stable").reset_index(drop=True)
    # numbered: two moments in the same second with the same score still get their own label
    table["label"] = [
        f"{number}. {pd.Timestamp(when):%Y-%m-%d %H:%M:%S} · score {value:.3f} · {reached if positive else not_reached}"
        for number, (when, value, positive) in enumerate(zip(table["derived_tstamp"], table["score"], table["positive"]), 1)
    ]
    return table


# ----- thresholds in business terms ----------------------------------------------------------------
# A marketer acts on people, once: a prospect whose score crosses the threshold at any moment is
# flagged and costs `cost_per_flag` once, however many of their moments cross it. A prospect who
# reaches the target earns `value_per_conversion` once, if they were flagged before converting: at a
# moment no later than their last positive moment (a positive moment is one within the target window
# before a conversion; the test rows say when moments were, not when the conversion was). Moments
# after a conversion can flag a prospect (and cost) but earn nothing. Expected profit is counted per
# test prospect and scaled to a day of prospects; the best threshold does not depend on the traffic.

VALUE_LABEL = "Value of a conversion"
COST_LABEL = "Cost of acting on a flagged prospect"
TRAFFIC_LABEL = "Prospects scored a day"
DEFAULT_VALUE_PER_CONVERSION = 100.0
DEFAULT_COST_PER_FLAG = 5.0


@dataclass(frozen=True)
class ProspectOutcomes:
    """Each test prospect's highest score at any moment (flagged at a threshold at or below it) and,
    for one who converts, their highest score before converting (-inf for the others)."""

    best_score: np.ndarray
    best_before_conversion: np.ndarray
    converted: np.ndarray  # bool
    days: int  # calendar days the test moments cover

    @property
    def prospects(self) -> int:
        return len(self.best_score)


def prospect_outcomes(*, y_true: Any, y_score: Any, prospect_ids: Any, timestamps: Any) -> ProspectOutcomes:
    """What flagging at any threshold means per prospect: computed once per run, the curve from it in milliseconds."""
    y, score = check_scores(y_true, y_score)
    ids = _check_prospects(prospect_ids, len(y))
    times = pd.to_datetime(pd.Series(np.asarray(timestamps)))
    if len(times) != len(y) or times.isna().any():
        raise ValueError(f"timestamps must give one time per row ({len(y)} rows), got {len(times)} with {int(times.isna().sum())} missing")
    prospect, _ = pd.factorize(ids, sort=True)
    count = int(prospect.max()) + 1
    moments = pd.DataFrame({"prospect": prospect, "time": times.to_numpy(), "score": score, "y": y})
    best_score = moments.groupby("prospect")["score"].max().to_numpy()
    last_positive = np.full(count, np.datetime64("NaT"), dtype="datetime64[ns]")
    positive = moments[moments["y"] == 1].groupby("prospect")["time"].max()
    last_positive[positive.index.to_numpy()] = positive.to_numpy()
    before = moments[moments["time"].to_numpy() <= last_positive[prospect]]  # NaT compares False: never-converting drop out
    best_before = np.full(count, -np.inf)
    by_prospect = before.groupby("prospect")["score"].max()
    best_before[by_prospect.index.to_numpy()] = by_prospect.to_numpy()
    dates = times.dt.normalize()
    return ProspectOutcomes(best_score=best_score, best_before_conversion=best_before, converted=~np.isnat(last_positive),
                            days=int((dates.max() - dates.min()).days) + 1)


@dataclass(frozen=True)
class ThresholdChoice:
    """What flagging at one threshold means, per prospect and in a day of prospects."""

    threshold: float
    prospects_flagged: int  # test prospects whose score crosses the threshold at some moment
    conversions_caught: int  # of them, prospects who converted after being flagged
    flagged_share: float  # of test prospects
    caught_share: float  # of converting prospects
    precision: float  # of flagged prospects, the share caught converting (NaN when none is flagged)
    lift: float  # precision / the share of prospects who convert
    flagged_per_day: float  # prospects flagged a day
    caught_per_day: float  # conversions caught a day
    profit_per_prospect: float  # per prospect scored
    profit_per_day: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready: an undefined ratio (nothing flagged) is None, not NaN."""
        values = {name: _plain(getattr(self, name)) for name in self.__dataclass_fields__}
        return {name: None if value != value else value for name, value in values.items()}


@dataclass(frozen=True)
class ProfitCurve:
    """Expected profit a day at each threshold where it changes, the best one, and any other on demand (`at`)."""

    thresholds: np.ndarray  # descending: each flags the prospects whose best score is at or above it
    profit_per_day: np.ndarray
    flagged_share: np.ndarray  # of prospects
    caught_share: np.ndarray  # of converting prospects
    value_per_conversion: float
    cost_per_flag: float
    prospects_per_day: float
    traffic_source: str  # where prospects_per_day came from, in words
    outcomes: ProspectOutcomes
    best: ThresholdChoice | None  # None when no threshold makes money: flag no one

    def at(self, threshold: float) -> ThresholdChoice:
        threshold = _check_threshold(threshold)
        outcomes = self.outcomes
        flagged = int((outcomes.best_score >= threshold).sum())
        caught = int((outcomes.best_before_conversion >= threshold).sum())
        converting = int(outcomes.converted.sum())
        per_prospect = (self.value_per_conversion * caught - self.cost_per_flag * flagged) / outcomes.prospects
        precision = caught / flagged if flagged else float("nan")
        per_day = self.prospects_per_day / outcomes.prospects
        return ThresholdChoice(
            threshold=threshold, prospects_flagged=flagged, conversions_caught=caught,
            flagged_share=flagged / outcomes.prospects, caught_share=_ratio(caught, converting), precision=precision,
            lift=precision / (converting / outcomes.prospects) if converting else float("nan"),
            flagged_per_day=flagged * per_day, caught_per_day=caught * per_day,
            profit_per_prospect=per_prospect, profit_per_day=per_prospect * self.prospects_per_day,
        )


def _check_money(label: str, value: Any, *, allow_zero: bool) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "above 0"
        raise ValueError(f"{label} must be a number {bound}, got {value!r}")
    return float(value)


def profit_curve(
    outcomes: ProspectOutcomes, *, value_per_conversion: float, cost_per_flag: float, prospects_per_day: float | None = None,
) -> ProfitCurve:
    """Expected profit a day against threshold, and the threshold that maximises it.

    Without `prospects_per_day` the traffic is the test prospects per day of the days the test
    moments cover (a lower bound on the real traffic: the test set is a share of the cohort, the
    cohort a share of all visitors).
    """
    value = _check_money(VALUE_LABEL, value_per_conversion, allow_zero=False)
    cost = _check_money(COST_LABEL, cost_per_flag, allow_zero=True)
    if prospects_per_day is None:
        traffic = outcomes.prospects / outcomes.days
        source = f"the test set's {outcomes.prospects:,} prospects over {outcomes.days} day{'' if outcomes.days == 1 else 's'}"
    else:
        traffic, source = _check_money(TRAFFIC_LABEL, prospects_per_day, allow_zero=False), "entered"
    # the counts change only at a prospect's best score or best score before converting
    flagged_at, caught_at = np.sort(outcomes.best_score), np.sort(outcomes.best_before_conversion)
    thresholds = np.unique(np.r_[flagged_at, caught_at[np.isfinite(caught_at)]])[::-1]
    flagged = len(flagged_at) - np.searchsorted(flagged_at, thresholds, side="left")
    caught = len(caught_at) - np.searchsorted(caught_at, thresholds, side="left")
    profit = traffic * (value * caught - cost * flagged) / outcomes.prospects
    curve = ProfitCurve(
        thresholds=thresholds, profit_per_day=profit, flagged_share=flagged / outcomes.prospects,
        caught_share=caught / max(int(outcomes.converted.sum()), 1), value_per_conversion=value, cost_per_flag=cost,
        prospects_per_day=traffic, traffic_source=source, outcomes=outcomes, best=None,
    )
    best_index = int(np.argmax(profit))
    if profit[best_index] <= 0:
        return curve
    return dataclasses.replace(curve, best=curve.at(float(thresholds[best_index])))


def profit_by_threshold(
    *, y_true: Any, y_score: Any, prospect_ids: Any, timestamps: Any, value_per_conversion: float,
    cost_per_flag: float, prospects_per_day: float | None = None,
) -> ProfitCurve:
    """`profit_curve` of the run's test moments (`timestamps`: their derived_tstamp)."""
    outcomes = prospect_outcomes(y_true=y_true, y_score=y_score, prospect_ids=prospect_ids, timestamps=timestamps)
    return profit_curve(outcomes, value_per_conversion=value_per_conversion, cost_per_flag=cost_per_flag,
                        prospects_per_day=prospects_per_day)


@dataclass(frozen=True)
class ThresholdSettings:
    """The one threshold a run is used at (Evaluate's slider, the confusion matrix, the profit view,
    the card and the service's default), with the value, cost and traffic the user entered."""

    threshold: float
    value_per_conversion: float = DEFAULT_VALUE_PER_CONVERSION
    cost_per_flag: float = DEFAULT_COST_PER_FLAG
    prospects_per_day: float | None = None  # None: the test set's

    def __post_init__(self) -> None:
        _check_threshold(self.threshold)
        _check_money(VALUE_LABEL, self.value_per_conversion, allow_zero=False)
        _check_money(COST_LABEL, self.cost_per_flag, allow_zero=True)
        if self.prospects_per_day is not None:
            _check_money(TRAFFIC_LABEL, self.prospects_per_day, allow_zero=False)

    def curve(self, outcomes: ProspectOutcomes) -> ProfitCurve:
        return profit_curve(outcomes, value_per_conversion=self.value_per_conversion, cost_per_flag=self.cost_per_flag,
                            prospects_per_day=self.prospects_per_day)

    @classmethod
    def from_card(cls, section: Any) -> ThresholdSettings | None:
        """The settings a card's `threshold_section` was made from; None for a card without one (or an
        older card, whose section named no chosen threshold)."""
        try:
            inputs = section["inputs"]
            traffic = inputs.get("prospects_per_day") if inputs.get("prospects_per_day_source") == "entered" else None
            return cls(threshold=section["value"], value_per_conversion=inputs["value_per_conversion"],
                       cost_per_flag=inputs["cost_per_flag"], prospects_per_day=traffic)
        except (KeyError, TypeError, AttributeError, ValueError):
            return None


def threshold_sentence(choice: ThresholdChoice) -> str:
    """`Flagging prospects who score 0.42 or more: about 120 prospects a day (6% of prospects), catching
    45% of the prospects who convert before they do; a flagged prospect converts 4.6× as often as
    average. Expected profit: about 1,230 a day (2.10 a prospect scored).`"""
    from prospect_core.trainingset.wording import share_text

    lift = "" if not np.isfinite(choice.lift) else (
        f"; a flagged prospect converts {choice.lift:.1f}\u00d7 as often as average")
    return (
        f"Flagging prospects who score {choice.threshold:.4g} or more at any moment: about "
        f"{_about(choice.flagged_per_day)} prospect{'' if round(choice.flagged_per_day) == 1 else 's'} a day "
        f"({share_text(choice.flagged_share)} of prospects), catching {share_text(choice.caught_share)} of the prospects "
        f"who convert before they do{lift}. Expected profit: {_money(choice.profit_per_day)} a day "
        f"({choice.profit_per_prospect:,.2f} a prospect scored)."
    )


def best_profit_sentence(curve: ProfitCurve) -> str:
    best = curve.best
    if best is None:
        return (f"At {curve.value_per_conversion:,g} a conversion and {curve.cost_per_flag:,g} a flagged prospect, no "
                "threshold pays: every flag costs more than the conversions it catches are worth. Flag no one, or act "
                "more cheaply.")
    return f"Best profit: threshold {best.threshold:.4g}, {_money(best.profit_per_day)} a day."


def _money(number: float) -> str:
    return f"about {_about(number)}" if number >= 0 else f"a loss of about {_about(-number)}"


def _about(number: float) -> str:
    """A rounded count for a sentence: `120`, `1,230`, `fewer than 1`."""
    if number < 0.5:
        return "fewer than 1"
    digits = max(0, len(str(int(round(number)))) - 3)  # three significant figures
    return f"{round(number, -digits):,.0f}"


def threshold_section(settings: ThresholdSettings, curve: ProfitCurve) -> dict[str, Any]:
    """The model card's `recommended_threshold`: the value the scoring service flags at (`value`), the
    inputs it was chosen with (`ThresholdSettings.from_card` reads them back) and what it means."""
    at = curve.at(settings.threshold)
    return {
        "value": settings.threshold,
        "basis": "chosen on Evaluate; expected profit counts each flagged prospect once and each conversion caught once",
        "inputs": {
            "value_per_conversion": curve.value_per_conversion,
            "cost_per_flag": curve.cost_per_flag,
            "prospects_per_day": curve.prospects_per_day,
            "prospects_per_day_source": curve.traffic_source,
        },
        "at_threshold": at.to_dict(),
        "best_profit_threshold": None if curve.best is None else curve.best.threshold,
        "sentence": threshold_sentence(at),
    }
