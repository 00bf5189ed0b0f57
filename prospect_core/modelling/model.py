"""The prospect scoring model: the tutorial's XGBoost pipeline, done right.

`build_pipeline` is the tutorial's `ColumnTransformer` + `XGBClassifier` with named steps
(`preprocessor`, `classifier`), fixed so that every registry feature reaches the model: the tutorial
lists `had_conversions_l7d` / `had_conversions_l30d` in its x_columns but in neither transformer, so
`remainder='drop'` silently threw them away. Here booleans reach the model as 0/1. Missing values
(NaN, None) score as the studio scores them: a count or flag as 0, a category as ''.

The pipeline holds only scikit-learn and XGBoost objects, so a `joblib.dump` of it loads in a process
where `prospect_core` is not installed.

`train_model` splits a training set (see `features.training_columns`), fits, scores the test part and
evaluates it. Splits:
- `random`: the tutorial's stratified 80/20 `train_test_split` (rows of one prospect land on both
  sides, so the estimate is optimistic);
- `by_user`: about 20 % of the prospects (`domain_userid`) test, the rest train, so no prospect is in
  both sets (the honest estimate); stratified by whether the prospect ever hit the target;
- `out_of_time`: the earliest 80% of prediction points train, the later 20% test.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, get_args

import numpy as np
import pandas as pd

from prospect_core.trainingset import features
from prospect_core.infra.errors import DatasetError
from prospect_core.modelling.evaluation import Evaluation, evaluate
from prospect_core.modelling.families import (  # noqa: F401  (ModelParams, MAX_SEED, ParamsError: their old home)
    FAMILIES, MAX_SEED, ModelParams, ParamsError, build_classifier, fit_threads, positive_weight, shift_log_odds,
)
from prospect_core.trainingset.spec import TrainingSpec

if TYPE_CHECKING:  # sklearn loads where a pipeline is built or read, not with the package
    from sklearn.pipeline import Pipeline

Split = Literal["random", "by_user", "out_of_time"]
SPLITS: tuple[str, ...] = get_args(Split)
TEST_SIZE = 0.2
MIN_ROWS_PER_CLASS = 2  # in each of train and test
N_FOLDS = 5  # grouped folds: the leaderboard's, and calibration's
Progress = Callable[[str], None]


# ----- the pipeline ------------------------------------------------------------------------------


# Where the app starts. The tutorial's parameters (XGBoost's defaults) memorise prospects: scored by
# prospect on the demo data (seed 0) they reach ROC AUC 0.88, this shallower, slower learner 0.92.
# Fitted on 3 negatives per positive of the training side and stopped 30 rounds after the best on a
# by-prospect validation slice: a third of the CPU at the same AUC (bench/train.py --only defaults).
STUDIO_DEFAULTS = ModelParams(n_estimators=300, max_depth=3, learning_rate=0.05, subsample=0.8,
                              train_negatives_per_positive=3, early_stopping_rounds=30)


def build_pipeline(spec: TrainingSpec, params: ModelParams | None = None) -> Pipeline:
    """Unfitted `Pipeline([('preprocessor', ColumnTransformer), ('classifier', XGBClassifier)])`.

    Transformers: `num` = StandardScaler on counts, `bool` = flags as 0/1, `cat` =
    OneHotEncoder(handle_unknown='ignore'). Nothing is dropped (`remainder='drop'` has no columns left
    to drop), and the output is dense so SHAP and the figures can index it directly.

    Each branch first fills missing values (NaN or None) as the studio does: a count or a flag scores
    like 0, a category like '' (an unknown category, all zeros, for the integer day of week). So a row
    read with a plain `pd.read_csv`, or built from Signals' `None`s, scores as in the app.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    params = params or ModelParams()
    preprocessor = ColumnTransformer(
        transformers=[
            ("num", Pipeline([*_missing_as_zero(), ("scale", StandardScaler())]), features.feature_columns(spec, "numeric")),
            ("bool", Pipeline(_missing_as_zero()), features.feature_columns(spec, "boolean")),
            ("cat", Pipeline([*_missing_as_empty(), ("onehot", OneHotEncoder(handle_unknown="ignore"))]),
             features.feature_columns(spec, "categorical")),
        ],
        remainder="drop",
        sparse_threshold=0.0,
    )
    classifier = build_classifier(params)
    return Pipeline(steps=[("preprocessor", preprocessor), ("classifier", classifier)])


# Stock scikit-learn and numpy only, so the joblib still loads without prospect_core (a class of ours
# would be pickled by reference to this module).


def _missing_as_zero() -> list[tuple[str, Any]]:
    """Counts and flags as float64, NaN/None as 0. `np.asarray` turns None (object columns) into NaN,
    which SimpleImputer alone cannot see; complete columns come out exactly as before (0/1, counts)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer

    return [
        ("as_float", FunctionTransformer(np.asarray, kw_args={"dtype": np.float64}, feature_names_out="one-to-one")),
        ("fill", SimpleImputer(strategy="constant", fill_value=0)),
    ]


def _missing_as_empty() -> list[tuple[str, Any]]:
    """NaN, then None, as '': one SimpleImputer sees only one missing marker."""
    from sklearn.impute import SimpleImputer

    return [
        ("fill_nan", SimpleImputer(strategy="constant", fill_value="")),
        ("fill_none", SimpleImputer(missing_values=None, strategy="constant", fill_value="")),
    ]


def input_columns(pipeline: Pipeline) -> list[str]:
    """The raw columns a (fitted or not) pipeline reads, in transformer order."""
    preprocessor = pipeline.named_steps["preprocessor"]
    transformers = getattr(preprocessor, "transformers_", preprocessor.transformers)
    return [column for name, _, columns in transformers if name != "remainder" for column in columns]


def transformed_sources(pipeline: Pipeline) -> list[str]:
    """For each column of the transformed matrix, the raw feature column it comes from.

    One-hot columns map back to their categorical feature, so SHAP values and gains can be summed
    per registry feature.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    preprocessor = pipeline.named_steps["preprocessor"]
    sources: list[str] = []
    for name, transformer, columns in preprocessor.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        encoder = transformer[-1] if isinstance(transformer, Pipeline) else transformer  # the branch's last step
        if isinstance(encoder, OneHotEncoder):
            for column, categories in zip(columns, encoder.categories_):
                sources.extend([column] * len(categories))
        else:
            sources.extend(columns)
    n_out = len(preprocessor.get_feature_names_out())
    if len(sources) != n_out:  # a transformer this function does not know about
        raise RuntimeError(f"mapped {len(sources)} transformed columns back to features, expected {n_out}")
    return sources


# ----- fitting -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitRecord:
    """What fitting did to the training side, for the model card."""

    family: str
    fitted_rows: int  # rows the classifier learned from (after sampling, without the validation slice; calibrated: a fold classifier's, on average)
    negatives_kept_rate: float  # share of the training side's negatives fitted on (1.0: all)
    prior_correction_log_odds: float  # added to every score's log-odds to undo sampling and class weights
    early_stopping_round: int | None  # trees kept, when early stopping ran (calibrated: the folds' mean)
    validation_rows: int  # the by-prospect slice early stopping watched (0: none)
    calibration: str | None = None  # 'sigmoid' or 'isotonic'
    calibration_folds: int = 0  # fold classifiers, each calibrated on its held-out prospects
    calibration_rows: int = 0  # rows the calibrators learned from, all of them unsampled

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "fitted_rows": self.fitted_rows,
            "negatives_kept_rate": self.negatives_kept_rate,
            "prior_correction_log_odds": self.prior_correction_log_odds,
            "early_stopping_round": self.early_stopping_round,
            "validation_rows": self.validation_rows,
            "calibration": self.calibration,
            "calibration_folds": self.calibration_folds,
            "calibration_rows": self.calibration_rows,
        }


def sample_negatives(y: np.ndarray, per_positive: int | None, seed: int) -> tuple[np.ndarray, float]:
    """Sorted positions keeping every positive and a seeded sample of at most `per_positive` negatives
    per positive, and the share of negatives kept (1.0 with `per_positive` None or enough negatives)."""
    y = np.asarray(y, dtype=bool)
    negatives = np.flatnonzero(~y)
    keep = len(negatives) if per_positive is None else min(len(negatives), per_positive * int(y.sum()))
    if keep == len(negatives):
        return np.arange(len(y)), 1.0
    chosen = np.random.default_rng(seed).choice(negatives, size=keep, replace=False)
    return np.sort(np.concatenate([np.flatnonzero(y), chosen])), keep / len(negatives)


def fit_pipeline(
    X: pd.DataFrame, y: np.ndarray, prospects: pd.Series, spec: TrainingSpec, params: ModelParams
) -> tuple[Pipeline, FitRecord]:
    """A fitted pipeline for `params` on the training side `X, y` (whose rows belong to `prospects`).

    Negatives are sampled first (`train_negatives_per_positive`); early stopping then carves a
    by-prospect validation slice out of what is left. The fitted classifier's log-odds are shifted by
    log(negatives' sampling rate) - log(positive class weight), the standard prior correction, so its
    scores are the population's probabilities wherever the pipeline is loaded. With `calibration`,
    see `_fit_calibrated`.
    """
    if params.calibration is not None:
        return _fit_calibrated(X, np.asarray(y), np.asarray(prospects), spec, params)
    rows, rate = sample_negatives(y, params.train_negatives_per_positive, params.seed)
    X_fit, y_fit, prospects = X.iloc[rows], np.asarray(y)[rows], np.asarray(prospects)[rows]
    pipeline = build_pipeline(spec, params)
    preprocessor, classifier = pipeline.named_steps["preprocessor"], pipeline.named_steps["classifier"]
    best_round, validation_rows = None, 0
    if _stops_early(params):
        fit_part, validation = _validation_slice(prospects, y_fit, params)
        matrix = preprocessor.fit_transform(X_fit.iloc[fit_part])
        classifier.set_params(early_stopping_rounds=params.early_stopping_rounds)
        classifier.fit(matrix, y_fit[fit_part], eval_set=[(preprocessor.transform(X_fit.iloc[validation]), y_fit[validation])],
                       verbose=False)
        best_round = _keep_best_rounds(classifier)
        X_fit, y_fit, validation_rows = X_fit.iloc[fit_part], y_fit[fit_part], len(validation)
    else:
        pipeline.fit(X_fit, y_fit)
    offset = math.log(rate) - math.log(positive_weight(params, y_fit))
    shift_log_odds(classifier, offset)
    return pipeline, FitRecord(
        family=params.family, fitted_rows=len(y_fit), negatives_kept_rate=rate, prior_correction_log_odds=offset,
        early_stopping_round=best_round, validation_rows=validation_rows,
    )


def _stops_early(params: ModelParams) -> bool:
    return params.early_stopping_rounds is not None and params.family_spec.early_stopping


def _validation_slice(prospects: np.ndarray, y: np.ndarray, params: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    try:
        return split_by_prospect(prospects, y, params.seed)
    except DatasetError as error:
        raise DatasetError(f"early stopping needs a validation slice of the training side: {error}") from None


def _fit_calibrated(
    X: pd.DataFrame, y: np.ndarray, prospects: np.ndarray, spec: TrainingSpec, params: ModelParams
) -> tuple[Pipeline, FitRecord]:
    """The pipeline ending in `CalibratedClassifierCV(family classifier, method, cv=grouped folds)`.

    How it meets the negative sampling: the training side is dealt into N_FOLDS folds of whole
    prospects; each fold's classifier fits on the other folds' rows with their negatives sampled, and
    its calibrator learns on every row of the fold's own prospects, unsampled. So no prospect
    calibrates its own scores, and the calibrators map the sampled fits' scores straight to the
    population's probabilities: they take the place of the prior correction, which is not applied (a
    shift of the inputs would only move what they learn). Scores are the mean of the folds' calibrated
    probabilities (`ensemble=True`). Early stopping watches one by-prospect slice held out of all folds.
    """
    from sklearn.calibration import CalibratedClassifierCV

    pipeline = build_pipeline(spec, params)
    preprocessor, classifier = pipeline.named_steps["preprocessor"], pipeline.named_steps["classifier"]
    fit_params: dict[str, Any] = {}
    validation_rows = 0
    rest = np.arange(len(y))
    if _stops_early(params):
        rest, validation = _validation_slice(prospects, y, params)
        kept, _ = sample_negatives(y[validation], params.train_negatives_per_positive, params.seed)
        validation = validation[kept]  # like the rows it judges: sampled
        validation_rows = len(validation)
        classifier.set_params(early_stopping_rounds=params.early_stopping_rounds)
    try:
        folds = grouped_folds(prospects[rest], y[rest], N_FOLDS, params.seed)
    except DatasetError as error:
        raise DatasetError(f"calibration needs {N_FOLDS} folds of the training side: {error}") from None
    sampled = [sample_negatives(y[rest][fit], params.train_negatives_per_positive, params.seed + fold)
               for fold, (fit, _) in enumerate(folds)]
    cv = [(fit[kept], calibrate) for (fit, calibrate), (kept, _) in zip(folds, sampled)]
    matrix = preprocessor.fit_transform(X.iloc[rest])
    if validation_rows:
        fit_params = {"eval_set": [(preprocessor.transform(X.iloc[validation]), y[validation])], "verbose": False}
    calibrated = CalibratedClassifierCV(classifier, method=params.calibration, cv=cv, ensemble=True)
    calibrated.fit(matrix, y[rest], **fit_params)
    best_rounds = []
    if validation_rows:
        best_rounds = [_keep_best_rounds(pair.estimator) for pair in calibrated.calibrated_classifiers_]
        classifier.set_params(early_stopping_rounds=None)  # the unfitted template too: a refit has no eval_set
    calibrated.cv = N_FOLDS  # the folds' row positions are not part of the model (and were most of its pickle)
    pipeline.steps[-1] = ("classifier", calibrated)
    return pipeline, FitRecord(
        family=params.family, fitted_rows=round(np.mean([len(fit) for fit, _ in cv])),
        negatives_kept_rate=float(np.mean([rate for _, rate in sampled])), prior_correction_log_odds=0.0,
        early_stopping_round=round(np.mean(best_rounds)) if best_rounds else None, validation_rows=validation_rows,
        calibration=params.calibration, calibration_folds=len(cv), calibration_rows=len(rest),
    )


def _keep_best_rounds(classifier: Any) -> int:
    """Cut an early-stopped XGBClassifier down to its best rounds, and return how many.

    XGBClassifier.predict_proba stops at the best round by itself, but the booster inside it (which
    the service and SHAP read) would still score with every tree; cut, all of them score alike.
    """
    kept = int(classifier.best_iteration) + 1
    best = classifier.get_booster()[:kept]
    classifier.load_model(bytearray(best.save_raw("ubj")))
    classifier.set_params(early_stopping_rounds=None)  # a refit of the loaded model needs no eval_set
    # The validation curve (OrderedDicts) would be the one thing in the pickle outside the loader's allow-list
    del classifier.evals_result_
    return kept


# ----- data checks and splits ----------------------------------------------------------------------


def check_training_set(df: pd.DataFrame, spec: TrainingSpec) -> None:
    """Raise `DatasetError` if `df` cannot train a classifier for `spec` (before any fitting)."""
    target = spec.target_column
    missing = [c for c in [*features.IDENTIFIER_COLUMNS, *features.feature_columns(spec), target] if c not in df.columns]
    if missing:
        raise DatasetError(
            f"the training set lacks column(s) {missing}; expected the identifiers, the "
            f"{len(features.feature_columns(spec))} features and the target {target!r} that the spec implies. Was it "
            "built with a different spec (window lengths, target event)? Use the same settings as when building it."
        )
    if len(df) == 0:
        raise DatasetError(
            "the training set has no rows: no prospect in the cohort had an eligible event. "
            "Check the source, the app ids and the as-of date."
        )
    if df[target].isna().any():
        raise DatasetError(f"target column {target!r} has {int(df[target].isna().sum())} missing value(s); expected True/False")
    positives = int(df[target].astype(bool).sum())
    negatives = len(df) - positives
    if positives == 0 or negatives == 0:
        raise DatasetError(
            f"target column {target!r} has only one class ({positives} True, {negatives} False), so there "
            "is nothing to learn. Pick another target event, a longer target window or a lower minimum "
            "count, or an earlier as-of date (more history, more prospects)."
        )


def split_dataset(
    df: pd.DataFrame, spec: TrainingSpec, split: Split = "random", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions `(train, test)` for `split`, about 80/20, each side holding both classes."""
    check_training_set(df, spec)
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {list(SPLITS)}, got {split!r}")
    y = df[spec.target_column].astype(bool).to_numpy()
    positions = np.arange(len(df))
    if split == "random":
        from sklearn.model_selection import train_test_split

        if min(y.sum(), (~y).sum()) < 2 * MIN_ROWS_PER_CLASS:
            _raise_too_small(split, y, None, None)
        train, test = train_test_split(positions, test_size=TEST_SIZE, random_state=seed, stratify=y)
    elif split == "by_user":
        train, test = split_by_prospect(df["domain_userid"], y, seed)
    else:
        order = np.lexsort((df["event_id"].astype(str).to_numpy(), pd.to_datetime(df["derived_tstamp"]).to_numpy()))
        n_train = int(round(len(df) * (1 - TEST_SIZE)))
        train, test = order[:n_train], order[n_train:]
    train, test = np.sort(train), np.sort(test)
    _check_sides(split, y, train, test)
    return train, test


def split_by_prospect(prospects: pd.Series | np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row positions `(train, test)` with whole prospects on each side: a seeded ~20 % of the
    prospects who ever hit the target and ~20 % of those who never did are the test side.

    Stratified by prospect because positives are rare and cluster in few prospects: a plain group
    shuffle often leaves the test side with a handful of positives or none. Vectorised (one
    factorisation of the ids, one permutation per stratum): tens of milliseconds for 20k prospects,
    where sklearn's StratifiedGroupKFold loops over them in Python for over a second. Prospects are
    numbered in sorted id order, so the same seed picks the same prospects whatever the row order.
    """
    users, ids = _number_prospects(prospects)
    y = np.asarray(y, dtype=bool)
    n_users = len(ids)
    minimum = round(1 / TEST_SIZE)
    if n_users < minimum:
        raise DatasetError(
            f"the by_user split needs at least {minimum} prospects (domain_userid), got {n_users}; "
            "use the random split or build a larger training set"
        )
    ever_positive = np.zeros(n_users, dtype=bool)
    ever_positive[users[y]] = True
    n_positive = int(ever_positive.sum())
    if n_positive < 2:
        raise DatasetError(
            f"the by_user split needs at least 2 prospects who hit the target, one for each side, got "
            f"{n_positive} of {n_users} prospects; build a larger training set (more prospects, a longer "
            "cohort window), choose a target that happens more often, or use the random split"
        )
    rng = np.random.default_rng(seed)
    in_test = np.zeros(n_users, dtype=bool)
    for stratum in (ever_positive, ~ever_positive):
        members = np.flatnonzero(stratum)
        in_test[rng.permutation(members)[: _test_count(len(members))]] = True
    test_rows = in_test[users]
    return np.flatnonzero(~test_rows), np.flatnonzero(test_rows)


def grouped_folds(prospects: Any, y: Any, n_folds: int = N_FOLDS, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n_folds` pairs of row positions `(train, test)`; each prospect's rows are in exactly one test side.

    Prospects who ever hit the target are dealt round the folds after a seeded shuffle, then those who
    never did, so each fold holds a fifth of each; numbered in sorted id order, so the same seed deals
    the same prospects whatever the row order.
    """
    users, ids = _number_prospects(prospects)
    y = np.asarray(y, dtype=bool)
    ever_positive = np.zeros(len(ids), dtype=bool)
    ever_positive[users[y]] = True
    positive, negative = int(ever_positive.sum()), int((~ever_positive).sum())
    if min(positive, negative) < n_folds:
        raise DatasetError(
            f"{n_folds}-fold cross-validation by prospect needs at least {n_folds} prospects who hit the target and "
            f"{n_folds} who did not, got {positive} and {negative}; build a larger training set"
        )
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(ids), dtype=np.int64)
    for stratum in (ever_positive, ~ever_positive):
        members = rng.permutation(np.flatnonzero(stratum))
        fold_of[members] = np.arange(len(members)) % n_folds
    row_fold = fold_of[users]
    return [(np.flatnonzero(row_fold != fold), np.flatnonzero(row_fold == fold)) for fold in range(n_folds)]


def _number_prospects(prospects: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's prospect number, in sorted id order, and the ids.

    pandas' hash table compares object strings as C strings, so ids differing only after a NUL
    ("0" and "0\\x00") would merge into one prospect and land on both sides; such ids (never seen
    from Snowplow, but possible in an export) take numpy's exact, slower path.
    """
    if isinstance(prospects, pd.Series) and isinstance(prospects.dtype, pd.StringDtype) and prospects.dtype.storage == "pyarrow":
        # Arrow compares and sorts bytes (code point order, as Python does), so NULs are safe: no
        # Python string per row (the studio's training sets, prospect_core.trainingset.dataset.TEXT, take this path)
        return pd.factorize(prospects, sort=True, use_na_sentinel=False)
    values = np.asarray(prospects, dtype=object)
    if "\x00" in "".join(map(str, values)):  # object sort: numpy's fixed-width strings drop trailing NULs too
        ids, users = np.unique(values, return_inverse=True)
        return users, ids
    return pd.factorize(values, sort=True, use_na_sentinel=False)


def _test_count(n: int) -> int:
    """TEST_SIZE of `n` prospects, rounded half up, and at least one on each side when there are two."""
    if n < 2:
        return 0
    return min(max(math.floor(TEST_SIZE * n + 0.5), 1), n - 1)


def _check_sides(split: str, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    for side in (train, test):
        positives = int(y[side].sum())
        if min(positives, len(side) - positives) < MIN_ROWS_PER_CLASS:
            _raise_too_small(split, y, train, test)


def _raise_too_small(split: str, y: np.ndarray, train: np.ndarray | None, test: np.ndarray | None) -> None:
    def counts(rows: np.ndarray) -> str:
        positives = int(y[rows].sum())
        return f"{len(rows)} rows, {positives} positive, {len(rows) - positives} negative"

    sides = "" if train is None else f" (train: {counts(train)}; test: {counts(test)})"
    raise DatasetError(
        f"too few rows for the {split} split: {counts(np.arange(len(y)))}{sides}; each of train and test "
        f"needs at least {MIN_ROWS_PER_CLASS} rows of each class. Build a larger training set (more "
        "prospects, a longer cohort window) or choose a target that happens more often."
    )


# ----- training ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CompactFrame:
    """A frame kept in the smallest dtypes that give it back exactly; `frame()` is the frame given.

    A run keeps its test rows as long as its session does: at 1M events (81k test rows) the features
    and ids are 20.5 MB as the pipeline reads them (int64 counts, Arrow strings) and 6 MB like this.
    Integers are held in the smallest dtype of their range and text with repeats as a pandas
    Categorical; a column is held compact only when it converts back equal, dtype and all, so the
    pipeline scores `frame()` exactly as it scored the frame. Anything else is held as it is.
    """

    held: pd.DataFrame
    dtypes: dict[str, Any]  # the compacted columns' own dtypes

    @classmethod
    def of(cls, frame: pd.DataFrame) -> CompactFrame:
        if not frame.columns.is_unique:
            return cls(frame.copy(), {})
        held, dtypes = {}, {}
        for column in frame.columns:
            values = frame[column]
            compact = _compact(values)
            if compact is not values and compact.astype(values.dtype).equals(values):
                held[column], dtypes[column] = compact, values.dtype
            else:
                held[column] = values
        return cls(pd.DataFrame(held, index=frame.index), dtypes)  # a copy: nothing of `frame` is kept

    def frame(self) -> pd.DataFrame:
        """A new frame in the original dtypes (the caller may change it)."""
        return self.held.astype(self.dtypes) if self.dtypes else self.held.copy()

    def __len__(self) -> int:
        return len(self.held)


_UNSIGNED = (np.dtype("uint8"), np.dtype("uint16"), np.dtype("uint32"))
_SIGNED = (np.dtype("int8"), np.dtype("int16"), np.dtype("int32"))


def _compact(values: pd.Series) -> pd.Series:
    """`values` in a smaller dtype, or `values` itself when there is none."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and len(values):
        low, high = values.min(), values.max()
        fitting = [small for small in (_UNSIGNED if low >= 0 else _SIGNED)
                   if np.iinfo(small).min <= low and high <= np.iinfo(small).max]
        return values.astype(fitting[0]) if fitting and fitting[0].itemsize < dtype.itemsize else values
    if isinstance(dtype, pd.StringDtype) and values.nunique(dropna=False) <= len(values) // 2:
        return values.astype("category")  # codes of 1-2 bytes a row, each text once
    return values


@dataclass
class TrainingRun:
    """A fitted pipeline with its held-out test rows, scores and evaluation.

    The test rows' features (`X_test`) and ids (`test_ids`) are held as `CompactFrame`s (`test_rows`,
    `test_keys`): every read of `X_test` or `test_ids` builds a new frame in the dtypes the pipeline
    was given, so a run kept for a session costs a third of its test rows' size. A run restored from
    the run store has no test rows (`test_rows` None) until they are taken from a rebuilt set.
    """

    pipeline: Pipeline
    spec: TrainingSpec
    params: ModelParams
    split: str
    test_rows: CompactFrame | None  # the features, aligned with y_test
    y_test: np.ndarray
    y_score: np.ndarray
    test_keys: CompactFrame  # event_id, domain_userid, derived_tstamp, aligned with y_test
    n_train: int
    n_test: int
    positives_train: int
    positives_test: int
    evaluation: Evaluation
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    fitting: FitRecord | None = None  # None for a run restored from a card that predates it

    @property
    def X_test(self) -> pd.DataFrame | None:
        return None if self.test_rows is None else self.test_rows.frame()

    @property
    def test_ids(self) -> pd.DataFrame:
        return self.test_keys.frame()

    @property
    def base_rate_train(self) -> float:
        return self.positives_train / self.n_train

    @property
    def positive_prospects_test(self) -> int:
        """Prospects behind the test set's positive rows: rows of one prospect are alike, so the
        test metrics are as reliable as this count, not the row count, allows."""
        return int(self.test_ids["domain_userid"][np.asarray(self.y_test).astype(bool)].nunique())


def train_model(
    df: pd.DataFrame,
    spec: TrainingSpec,
    params: ModelParams | None = None,
    split: Split = "random",
    progress: Progress | None = None,
) -> TrainingRun:
    """Split `df`, fit the pipeline on the train side, score and evaluate the test side.

    `progress(stage)` is called as each stage starts: 'check', 'split', 'fit', 'score', 'evaluate'.
    """
    params = params or ModelParams()
    timings: dict[str, float] = {}
    clock = _StageClock(timings, progress)

    with clock("check"):
        check_training_set(df, spec)
        X = df[features.feature_columns(spec)]
        y = df[spec.target_column].astype(bool).to_numpy().astype(np.int64)
    with clock("split"):
        train, test = split_dataset(df, spec, split, seed=params.seed)
    with clock("fit"):
        pipeline, fitting = fit_pipeline(X.iloc[train], y[train], df["domain_userid"].iloc[train], spec, params)
    with clock("score"):
        X_test = X.iloc[test].reset_index(drop=True)
        y_score = pipeline.predict_proba(X_test)[:, 1]
    with clock("evaluate"):
        evaluation = evaluate(y_true=y[test], y_score=y_score)

    return TrainingRun(
        pipeline=pipeline,
        spec=spec,
        params=params,
        split=split,
        test_rows=CompactFrame.of(X_test),
        y_test=y[test],
        y_score=y_score,
        test_keys=CompactFrame.of(df[list(features.IDENTIFIER_COLUMNS)].iloc[test].reset_index(drop=True)),
        n_train=len(train),
        n_test=len(test),
        positives_train=int(y[train].sum()),
        positives_test=int(y[test].sum()),
        evaluation=evaluation,
        timings=timings,
        fitting=fitting,
    )


class _StageClock:
    """`with clock('fit'):` reports the stage and records its seconds."""

    def __init__(self, timings: dict[str, float], progress: Progress | None) -> None:
        self._timings = timings
        self._progress = progress
        self._stage = ""
        self._start = 0.0

    def __call__(self, stage: str) -> _StageClock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        if self._progress is not None:
            self._progress(self._stage)
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._timings[self._stage] = time.perf_counter() - self._start
