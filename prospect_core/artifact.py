"""The model artifact (a joblib file of the fitted Pipeline) and its model card.

The artifact holds the scikit-learn `Pipeline` only, not a `TrainingRun` or anything else from
`prospect_core`, so `joblib.load` works wherever scikit-learn, XGBoost and pandas are installed, as
the tutorial's inference endpoint expects. `save_artifact` refuses a pickle that would need
`prospect_core` to load.

The model card says what the artifact is: the spec and its Snowflake SQL, the features and the
input columns with their dtypes, the target, the split, parameters, metrics and library versions,
and the artifact's SHA-256. It carries no host names, user names, paths or credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import platform
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prospect_core import features

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from prospect_core.model import TrainingRun

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


def save_artifact(pipeline: Pipeline, path: str | os.PathLike[str]) -> str:
    """Write the pipeline to `path` atomically (temp file, then rename); return its SHA-256 hex."""
    data = artifact_bytes(pipeline)
    write_atomically(path, data, what="the model artifact")
    return sha256_hex(data)


def write_atomically(path: str | os.PathLike[str], data: bytes, *, what: str = "the file") -> None:
    """Write `data` to a temp file beside `path`, then rename it into place: `path` is never half-written.

    A failed write (disk full, read-only folder) removes the temp file, leaves any earlier `path`
    as it was, and raises UserError saying why.
    """
    from prospect_core.errors import UserError, write_failure

    target = Path(path)
    temp_name = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, target)
    except OSError as error:
        raise UserError(write_failure(what, target, error)) from None
    finally:
        if temp_name is not None:
            Path(temp_name).unlink(missing_ok=True)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_artifact(path: str | os.PathLike[str]) -> Pipeline:
    """`joblib.load` of an artifact. Pickle runs code on load: open only files you trust."""
    import joblib

    return joblib.load(path)


def input_schema(spec: Any) -> list[dict[str, str]]:
    """The columns `predict_proba` expects, with the dtypes the training set used."""
    return [
        {
            "name": feature.column(spec),
            "dtype": feature.dtype,
        }
        for feature in features.spec_features(spec)
    ]


def _library_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn
    import xgboost

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }


def model_card(run: TrainingRun, *, sql_snowflake: str, artifact_sha256: str) -> dict[str, Any]:
    """JSON-ready description of a trained model; pass the Snowflake SQL and the artifact's hash."""
    spec = run.spec
    evaluation = run.evaluation
    return {
        "card_version": CARD_VERSION,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "model": "XGBoost classifier in a scikit-learn Pipeline (StandardScaler on counts, booleans as 0/1, "
        "one-hot categories)",
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
        "libraries": _library_versions(),
    }


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
        f"Predicts whether {card['target']['description']}.",
        "",
        f"- Created: {card['created_at']}",
        f"- Artifact: joblib, SHA-256 `{card['artifact']['sha256']}`",
        f"- Cohort: users first seen {spec['cohort_first_seen_from_days']}..{spec['cohort_first_seen_to_days']} "
        f"days before {spec['as_of']} on apps {', '.join(spec['app_ids'])}",
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
        lines.append(f"| `{feature['column']}` | {feature['kind']} | {feature['window']} | {feature['description']} |")
    params = ", ".join(f"{name}={value}" for name, value in card["params"].items())
    versions = ", ".join(f"{name} {version}" for name, version in card["libraries"].items())
    lines += ["", f"Parameters: {params}.", "", f"Libraries: {versions}.", ""]
    return "\n".join(lines)


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
