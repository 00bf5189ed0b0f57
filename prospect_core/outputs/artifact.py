"""The model artifact (a joblib file of the fitted Pipeline) and its model card.

The artifact holds the scikit-learn `Pipeline` only, not a `TrainingRun` or anything else from
`prospect_core`, so `joblib.load` works wherever scikit-learn, XGBoost and pandas are installed, as
the tutorial's inference endpoint expects. `save_artifact` refuses a pickle that would need
`prospect_core` to load.

The studio itself never calls `joblib.load`: `load_artifact_bytes` unpickles with an allow-list of
the classes a studio pipeline is made of, so even a correctly signed file cannot run a function of
its author's choosing. (skops' trusted-types loader was the alternative; it needs its own file
format instead of joblib, which the tutorial's endpoint loads, so the allow-list is ours.)

The model card says what the artifact is: the spec and its Snowflake SQL, the features and the
input columns with their dtypes, the target, the split, parameters, metrics and library versions,
and the artifact's SHA-256. It carries no host names, user names, paths or credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from prospect_core.outputs.replay import mismatch_reasons, parity_warning
from prospect_core.trainingset import features

from prospect_core.infra import safe_io
from prospect_core.infra.errors import UserError, shown
from prospect_core.modelling.families import (
    CALIBRATED_CLASS, CALIBRATION_PICKLE_CLASSES, CALIBRATIONS, DEFAULT_FAMILY, FAMILIES,
)
from prospect_core.trainingset.wording import plain

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from prospect_core.modelling.model import TrainingRun

CARD_VERSION = 1
SPLIT_DESCRIPTIONS = {
    "random": "stratified random 80/20 split of rows, as in the tutorial (a prospect's rows can be on both sides)",
    "by_user": "80/20 split by domain_userid, so no prospect is in both train and test",
    "out_of_time": "the earliest 80% of prediction points train, the latest 20% test",
}


def artifact_bytes(pipeline: Pipeline) -> bytes:
    """The joblib file's bytes (for downloads); the same pipeline always gives the same bytes."""
    from sklearn.pipeline import Pipeline

    import joblib

    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"pipeline must be a fitted sklearn Pipeline, got {type(pipeline).__name__}")
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    data = buffer.getvalue()
    if b"prospect_core" in data:  # would fail to load where prospect_core is not installed
        raise TypeError("the pipeline references prospect_core objects; the artifact must hold only sklearn/xgboost")
    return data


def save_artifact(pipeline: Pipeline, path: str | os.PathLike[str], *, follow_symlinks: bool = False) -> str:
    """Write the pipeline to `path` atomically (see `safe_io`); return its SHA-256 hex."""
    data = artifact_bytes(pipeline)
    safe_io.write_bytes(path, data, what="the model artifact", follow_symlinks=follow_symlinks)
    return sha256_hex(data)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----- loading: a pickle that may only build a studio pipeline ------------------------------------

class ArtifactError(UserError):
    """A model file is refused: unsigned, changed, signed elsewhere, or not a studio pipeline; the message says which."""


# Every global a studio artifact references, recorded by unpickling real pipelines trained with each
# split (`joblib.dump` of `model.build_pipeline(...)` after `train_model`; sklearn 1.9, xgboost 3.2,
# numpy 2.4, joblib 1.6) with a `find_class` that logged its arguments. Frozen here on purpose: a
# class is trusted because it is listed, never because it can be imported. If a library upgrade moves
# a class, loading says which name is missing from this list; add it only after checking it is a
# plain data class. The numpy.core names are numpy 1.x's spelling of the numpy._core ones.
# These may be called by the pickle (its REDUCE opcode): they only build values from their arguments.
CALLABLE_GLOBALS = frozenset({
    ("builtins", "bytearray"),  # XGBoost's serialised booster
    ("builtins", "slice"),  # ColumnTransformer column selections
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),  # numpy scalars
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),  # object arrays
})
# These may only be named, or instantiated without their constructor running (NEWOBJ: `cls.__new__`),
# their state then set from plain data. Booster is here and not above: calling it could load a file.
CLASS_GLOBALS = frozenset({
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),  # joblib's stand-in for an array's raw bytes
    ("numpy", "ndarray"),
    ("numpy", "float64"),  # OneHotEncoder(dtype=np.float64)
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.compose._column_transformer", "ColumnTransformer"),
    ("sklearn.preprocessing._data", "StandardScaler"),
    ("sklearn.preprocessing._encoders", "OneHotEncoder"),
    ("sklearn.preprocessing._function_transformer", "FunctionTransformer"),  # what 'passthrough' becomes when fitted
    ("sklearn.impute._base", "SimpleImputer"),  # missing values filled as the studio does
    # each model family's classifier (for XGBoost, its Booster too)
    *(name for family in FAMILIES.values() for name in family.pickle_classes),
    # optional calibration around it: CalibratedClassifierCV, its fold pairs, a sigmoid or isotonic calibrator
    *CALIBRATION_PICKLE_CLASSES,
})
# These may only be named, never called while loading: the fill step's `FunctionTransformer(np.asarray)`.
REFERENCED_FUNCTIONS = frozenset({
    ("numpy", "asarray"),
})


def _restricted_unpickler():
    """joblib's NumpyUnpickler (it reads joblib's raw array blocks) with the allow-lists above; built on
    first use so importing this module does not import joblib and numpy."""
    import pickle

    import numpy as np
    from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler

    class RestrictedUnpickler(NumpyUnpickler):
        dispatch = NumpyUnpickler.dispatch.copy()

        def __init__(self, file_handle: io.BytesIO) -> None:
            super().__init__("", file_handle, ensure_native_byte_order=True)
            self.callables = set()

        def find_class(self, module: str, name: str) -> Any:
            if (module, name) not in CALLABLE_GLOBALS | CLASS_GLOBALS | REFERENCED_FUNCTIONS:
                name_shown = shown(f"{module}.{name}", limit=120, quote=False)
                raise ArtifactError(
                    f"the joblib file refers to {name_shown}, which a studio model never contains, so it was not "
                    "loaded (nothing in it ran). Only a pipeline exported by this studio loads here"
                )
            found = super().find_class(module, name)
            if (module, name) in CALLABLE_GLOBALS:
                self.callables.add(id(found))
            return found

        def load_reduce(self) -> None:
            function = self.stack[-2]
            if id(function) not in self.callables:
                qualname = getattr(function, "__qualname__", type(function).__name__)
                name = f"{getattr(function, '__module__', '?')}.{qualname}"
                raise ArtifactError(
                    f"the joblib file calls {shown(name, limit=120, quote=False)}, which a studio model never does, "
                    "so it was not loaded (nothing in it ran)"
                )
            pickle._Unpickler.load_reduce(self)

        def load_build(self) -> None:
            pickle._Unpickler.load_build(self)
            if isinstance(self.stack[-1], NumpyArrayWrapper):
                self.stack.append(self._read_array(self.stack.pop()))

        def _read_array(self, wrapper: Any) -> np.ndarray:
            dtype = getattr(wrapper, "dtype", None)
            if not isinstance(dtype, np.dtype) or getattr(wrapper, "subclass", None) is not np.ndarray:
                raise ArtifactError("the joblib file holds an array that is not a plain numpy array, so it was not loaded")
            if dtype.hasobject:
                # joblib pickles object arrays (one-hot categories) as a nested pickle stream; older
                # joblib versions read it with an unrestricted pickle.load, so read it here, restricted too.
                array = RestrictedUnpickler(self.file_handle).load()
                if not isinstance(array, np.ndarray):
                    raise ArtifactError("the joblib file holds an object array that is not an array, so it was not loaded")
                return array
            shape = getattr(wrapper, "shape", None)
            if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
                raise ArtifactError("the joblib file holds an array of no valid shape, so it was not loaded")
            needed = math.prod(shape) * dtype.itemsize
            left = len(self.file_handle.getbuffer()) - self.file_handle.tell()
            if needed > left:  # refuse before allocating what a forged shape asks for
                raise ArtifactError(f"the joblib file declares an array of {needed:,} bytes but holds only {left:,} "
                                    "more, so it was not loaded")
            return wrapper.read(self, self.ensure_native_byte_order)

        dispatch[pickle.REDUCE[0]] = load_reduce
        dispatch[pickle.BUILD[0]] = load_build

    return RestrictedUnpickler


def load_artifact_bytes(data: bytes) -> Pipeline:
    """The studio pipeline in a joblib file's bytes, built only from the classes listed above.

    Unlike `joblib.load`, no function or class outside `CALLABLE_GLOBALS`/`CLASS_GLOBALS` is ever
    imported or called: a pickle that asks for one (`os.system`, `eval`, ...) is refused with its name
    before anything runs. The result must be the studio's two-step pipeline; else ArtifactError.
    """
    try:
        pipeline = _restricted_unpickler()(io.BytesIO(data)).load()
    except ArtifactError:
        raise
    except RecursionError:
        raise ArtifactError("the joblib file is nested too deeply to be a studio model, so it was not loaded") from None
    except Exception as error:  # a truncated or corrupt pickle fails in many ways, all meaning the same
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise ArtifactError(
            f"the joblib file cannot be read as a studio model ({shown(detail, limit=160, quote=False)}); "
            "upload the file exactly as exported"
        ) from None
    _check_studio_pipeline(pipeline)
    return pipeline


def _check_studio_pipeline(pipeline: Any) -> None:
    """Allowed classes can still be assembled oddly: insist on the studio's shape, with no custom functions."""
    if not _is_studio_pipeline(pipeline):
        raise ArtifactError(
            f"the joblib file holds a {type(pipeline).__name__} that is not a studio pipeline (a preprocessor "
            f"ColumnTransformer, then a classifier of a model family: {', '.join(FAMILIES)}, optionally calibrated; "
            "no custom functions), "
            "so it was not loaded"
        )


def _is_studio_pipeline(pipeline: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    classifiers = {family.classifier_class for family in FAMILIES.values()}  # by name: no family's library is imported
    if type(pipeline) is not Pipeline:
        return False
    try:  # the state came from the file: any attribute may be missing or of another shape
        (first, preprocessor), (second, classifier) = pipeline.steps
        transformers = [transformer for _, transformer, _ in
                        [*preprocessor.transformers, *getattr(preprocessor, "transformers_", [])]]
        return (
            (first, second) == ("preprocessor", "classifier") and pipeline.memory is None
            and type(preprocessor) is ColumnTransformer
            and (_class_of(classifier) in classifiers or _studio_calibration(classifier, classifiers))
            and all(_studio_step(transformer) for transformer in transformers)
        )
    except (AttributeError, TypeError, ValueError):
        return False


def _class_of(value: Any) -> tuple[str, str]:
    return type(value).__module__, type(value).__qualname__


def _studio_calibration(classifier: Any, classifiers: set[tuple[str, str]]) -> bool:
    """A CalibratedClassifierCV as `model.fit_pipeline` makes it: of a family's classifier, each fold
    pair a family classifier and its one sigmoid or isotonic calibrator (its `predict_proba` calls them)."""
    calibrators = {("sigmoid", ("sklearn.calibration", "_SigmoidCalibration")), ("isotonic", ("sklearn.isotonic", "IsotonicRegression"))}
    pairs = classifier.calibrated_classifiers_
    return (
        _class_of(classifier) == CALIBRATED_CLASS and classifier.method in CALIBRATIONS
        and _class_of(classifier.estimator) in classifiers and type(pairs) is list and len(pairs) > 0
        and all(
            _class_of(pair) == ("sklearn.calibration", "_CalibratedClassifier") and pair.method == classifier.method
            and _class_of(pair.estimator) in classifiers and type(pair.calibrators) is list and len(pair.calibrators) == 1
            and (pair.method, _class_of(pair.calibrators[0])) in calibrators
            for pair in pairs
        )
    )


def _studio_step(step: Any) -> bool:
    """A ColumnTransformer branch as `model.build_pipeline` makes it: 'drop'/'passthrough', a stock
    transformer, or a Pipeline of them; a FunctionTransformer runs no function but `np.asarray(X,
    dtype=float64)` (the file chose its func and arguments, and predict calls them)."""
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(step, str):
        return step in ("drop", "passthrough")
    if type(step) is Pipeline:
        return step.memory is None and all(_studio_step(inner) for _, inner in step.steps)
    if type(step) is FunctionTransformer:
        plain = step.func is None
        as_float = step.func is np.asarray and step.kw_args == {"dtype": np.float64}
        return (plain or as_float) and step.inverse_func is None and not step.inv_kw_args
    return True  # any other class got here through CLASS_GLOBALS: a plain data class


def load_artifact(path: str | os.PathLike[str]) -> Pipeline:
    """Load an artifact file with `load_artifact_bytes`: only a studio pipeline loads, and nothing in it runs."""
    return load_artifact_bytes(Path(path).read_bytes())


def input_schema(spec: Any) -> list[dict[str, str]]:
    """The columns `predict_proba` expects, with the dtypes the training set used."""
    return [
        {
            "name": feature.column(spec),
            "dtype": feature.dtype,
        }
        for feature in features.spec_features(spec)
    ]


def library_versions(family: str = DEFAULT_FAMILY) -> dict[str, str]:
    """What a model of `family` needs to load: Python, scikit-learn, the family's own library, pandas, numpy."""
    import importlib

    import numpy
    import pandas
    import sklearn

    library = FAMILIES[family].library
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        # the module's own version: the installed distribution may be named otherwise (xgboost-cpu)
        **({library: importlib.import_module(library).__version__} if library else {}),
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }


# The columns of a run's evaluation Parquet (export.evaluation_parquet), whose sha256 the card signs.
EVALUATION_COLUMNS = ("event_id", "domain_userid", "derived_tstamp", "y_true", "y_score")


def model_card(run: TrainingRun, *, sql_snowflake: str, artifact_sha256: str) -> dict[str, Any]:
    """JSON-ready description of a trained model; pass the Snowflake SQL and the artifact's hash."""
    spec = run.spec
    evaluation = run.evaluation
    return {
        "card_version": CARD_VERSION,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "model": FAMILIES[run.params.family].description,
        "artifact": {"format": "joblib", "sha256": artifact_sha256, "predict": "pipeline.predict_proba(frame)[:, 1]"},
        "target": {"column": spec.target_column, "description": spec.target_description},
        "spec": spec.to_dict(),
        "sampling": sampling_section(spec),
        "features": [
            {
                "column": feature.column(spec),
                "kind": feature.kind,
                "window": feature.window_text(spec),
                "description": feature.description,
            }
            for feature in features.spec_features(spec)
        ],
        "input_columns": input_schema(spec),
        "split": {"kind": run.split, "description": SPLIT_DESCRIPTIONS.get(run.split, run.split), "seed": run.params.seed},
        "params": run.params.to_dict(),
        "fitting": fitting_section(run),
        "training": {
            "train_rows": run.n_train,
            "test_rows": run.n_test,
            "train_positives": run.positives_train,
            "test_positives": run.positives_test,
            "base_rate_train": run.base_rate_train,
            "base_rate_test": evaluation.base_rate,
        },
        "metrics": evaluation.metrics(),
        "timings_seconds": {stage: round(seconds, 3) for stage, seconds in run.timings.items()},
        "sql": {"dialect": "snowflake", "text": sql_snowflake},
        "libraries": library_versions(run.params.family),
    }


def fitting_section(run: TrainingRun) -> dict[str, Any]:
    """The card's record of how the model was fitted: family, training-side sampling, the prior
    correction and early stopping. A card without it (older ones) was an XGBoost fitted on every
    training row, uncorrected, without early stopping."""
    record = run.fitting
    section = {"family": run.params.family, **(record.to_dict() if record is not None else {})}
    section["train_negatives_per_positive"] = run.params.train_negatives_per_positive
    if run.params.calibration is None:
        section["prior_correction"] = (
            "every score's log-odds shifted by prior_correction_log_odds = log(negatives_kept_rate) - "
            "log(positive class weight), so scores are probabilities at the population's positive rate"
        )
        return section
    section["prior_correction"] = (
        "none: the calibrators, fitted on the unsampled rows of held-out training prospects, map the sampled "
        "fits' scores to probabilities at the population's positive rate"
    )
    section["calibration_method"] = (
        f"scikit-learn CalibratedClassifierCV(method='{run.params.calibration}', ensemble=True) over "
        f"{section.get('calibration_folds', 0)} folds of whole training prospects: each fold's classifier fits on the "
        "other folds (negatives sampled) and is calibrated on its own fold's prospects (every row); the score is "
        "the mean of the folds' calibrated probabilities"
    )
    section["explanations"] = (
        "explanations (SHAP or coefficients) are of the fold classifiers' mean log-odds before calibration, "
        "not of the calibrated probability"
    )
    return section


def sampling_section(spec: Any) -> dict[str, Any]:
    """The card's record of sampling: the rates, and what they mean for the card's numbers."""
    return {
        "sampled": spec.is_sampled,
        "user_sample_percent": spec.user_sample_percent,
        "user_sample_method": "md5 of domain_userid in the SQL: first 8 hex digits below the percent of 16^8",
        "max_negatives_per_positive": spec.max_negatives_per_positive,
        "negative_downsampling_method": "after the query: every positive row, and the negatives with the "
        "smallest md5 of event_id, up to the ratio times the positives",
        "note": spec.sampling_description
        or "No sampling: every prospect of the cohort and every row of the training set.",
    }


def model_card_markdown(card: dict[str, Any]) -> str:
    """A short human rendering of `model_card(...)`."""
    metrics = card["metrics"]
    training = card["training"]
    spec = card["spec"]
    lines = [
        f"# Prospect scoring model: `{card['target']['column']}`",
        "",
        f"Predicts whether {plain(card['target']['description'])}.",
        "",
        f"- Created: {card['created_at']}",
        f"- Artifact: joblib, SHA-256 `{card['artifact']['sha256']}`",
        f"- Cohort: users first seen {spec['cohort_first_seen_from_days']}..{spec['cohort_first_seen_to_days']} "
        f"days before {spec['as_of']} on apps {plain(', '.join(spec['app_ids']))}",
        f"- Split: {card['split']['kind']} — {card['split']['description']}",
        f"- Rows: {training['train_rows']:,} train ({training['base_rate_train']:.2%} positive), "
        f"{training['test_rows']:,} test ({training['base_rate_test']:.2%} positive)",
        f"- Sampling: {_sampling_line(card)}",
        *_sampling_warning(card),
        "",
        "## Test metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    for name, label in (
        ("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC (average precision)"), ("log_loss", "log loss"),
        ("brier", "Brier score"), ("accuracy", "accuracy @ 0.5"), ("precision", "precision @ 0.5"),
        ("recall", "recall @ 0.5"), ("f1", "F1 @ 0.5"), ("best_f1", "best F1"),
        ("best_f1_threshold", "best-F1 threshold"),
    ):
        lines.append(f"| {label} | {metrics[name]:.4f} |")
    lines += ["", "## Features", "", "| column | kind | window | description |", "| --- | --- | --- | --- |"]
    for feature in card["features"]:
        lines.append(f"| `{feature['column']}` | {feature['kind']} | {feature['window']} | {plain(feature['description'])} |")
    lines += _fitting_lines(card)
    lines += _parity_lines(card)
    params = ", ".join(f"{name}={value}" for name, value in card["params"].items())
    versions = ", ".join(f"{name} {version}" for name, version in card["libraries"].items())
    lines += ["", f"Parameters: {params}.", "", f"Libraries: {versions}.", ""]
    return "\n".join(lines)


def _fitting_lines(card: dict[str, Any]) -> list[str]:
    fitting = card.get("fitting")
    if not fitting:
        return []
    family = FAMILIES.get(fitting.get("family"))
    lines = ["", "## Fitting", "", f"- Model: {family.label if family else plain(str(fitting.get('family')))}"]
    if "negatives_kept_rate" in fitting:
        rate = fitting["negatives_kept_rate"]
        kept = "all training negatives" if rate >= 1 else (
            f"{rate:.2%} of the training negatives ({fitting['train_negatives_per_positive']} per positive, seeded; "
            "the test side is not sampled)")
        lines.append(f"- Fitted on {fitting['fitted_rows']:,} rows{' per fold' if fitting.get('calibration') else ''}: {kept}")
        if fitting.get("calibration"):
            lines += [f"- Calibration: {plain(str(fitting['calibration']))}, {fitting['calibration_folds']} folds of "
                      f"whole prospects, calibrated on {fitting['calibration_rows']:,} unsampled rows of held-out "
                      "prospects; this replaces the prior correction",
                      "- Explanations are of the uncalibrated score (the folds' mean log-odds before calibration)"]
        else:
            lines.append(f"- Prior correction: log-odds {fitting['prior_correction_log_odds']:+.4f}, so scores are "
                         "probabilities at the population's rate")
        if fitting.get("early_stopping_round") is not None:
            lines.append(f"- Early stopping: {fitting['early_stopping_round']} trees kept, watched on "
                         f"{fitting['validation_rows']:,} rows of held-out training prospects")
    return lines


def _parity_lines(card: dict[str, Any]) -> list[str]:
    """The card's parity section: how Snowplow Signals serves each input, and where it would differ."""
    parity = card.get("parity")
    if not parity:
        return []
    lines = ["", "## Parity with Snowplow Signals", ""]
    for row in parity["inputs"]:
        if row["input"] in parity["material"]:
            lines += [f"> **Warning:** {plain(parity_warning(row))}.", ""]
    lines += [f"Rows matching: the share of rows whose training value equals what Signals would serve, replayed "
              f"on the {plain(parity['measured_on'])}.", "",
              "| input | parity | how Signals serves it | rows matching | why they differ |", "| --- | --- | --- | --- | --- |"]
    for row in parity["inputs"]:
        share = "n/a" if row["share_matching"] is None else f"{row['share_matching']:.2%}"
        lines.append(f"| `{row['input']}` | {row['parity']} | {plain(row['why'])} | {share} | {plain(mismatch_reasons(row))} |")
    return lines


def _sampling_line(card: dict[str, Any]) -> str:
    sampling = card.get("sampling")
    if not sampling or not sampling["sampled"]:
        return "none"
    ratio = sampling["max_negatives_per_positive"]
    negatives = "all negatives" if ratio is None else f"at most {ratio} negatives per positive"
    return f"{sampling['user_sample_percent']}% of prospects, {negatives} (rates and metrics are on sampled data)"


def _sampling_warning(card: dict[str, Any]) -> list[str]:
    sampling = card.get("sampling")
    return ["", f"> **Sampled data.** {sampling['note']}"] if sampling and sampling["sampled"] else []


# ----- the card's owner ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """Who a run belongs to: a signed-in user, by a stable id from their verified ID token, and the
    email shown for them."""

    id: str  # sha256 of the token's issuer and subject: an email can change hands, (iss, sub) cannot
    email: str | None = None

    @classmethod
    def of(cls, issuer: str, subject: str, email: str | None = None) -> Owner:
        return cls(hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest(), email)

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> Owner | None:
        """The owner a model card records; None for a run saved without a signed-in user."""
        section = card.get("owner")
        if not isinstance(section, Mapping) or not isinstance(section.get("id"), str):
            return None
        email = section.get("email")
        return cls(section["id"], email if isinstance(email, str) else None)

    def card_section(self) -> dict[str, str | None]:
        return {"id": self.id, "email": self.email}


def card_owner(card: Mapping[str, Any]) -> str | None:
    """The owner id a model card records; None for a run saved without a signed-in user."""
    owner = Owner.from_card(card)
    return owner.id if owner is not None else None
