"""Score prospects with a fitted pipeline: one what-if prospect, or a batch of feature rows.

Rows come from people (a form, an uploaded CSV), so they are checked against the feature registry
and coerced to the dtypes the pipeline was trained on, with messages that name the bad column.
"""

from __future__ import annotations

import io
from typing import Any, Mapping

import numpy as np
import pandas as pd

from prospect_core.infra.errors import DatasetError, shown
from prospect_core.trainingset.features import Feature, spec_features
from prospect_core.trainingset.spec import TrainingSpec

SCORE_COLUMN = "score"
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
MAX_COUNT = 10**15  # far beyond any real count, and exact in float64 (larger numbers overflow int64 silently)


def typical_prospect(X: pd.DataFrame, spec: TrainingSpec) -> dict[str, Any]:
    """The median prospect: medians of counts, the most common value of flags and categories."""
    values: dict[str, Any] = {}
    for feature in spec_features(spec):
        column = X[feature.column(spec)]
        if feature.kind == "numeric":
            values[feature.column(spec)] = int(np.median(column)) if len(column) else 0
        else:
            values[feature.column(spec)] = column.mode().iloc[0] if len(column) else None
    return values


def category_options(X: pd.DataFrame, spec: TrainingSpec) -> dict[str, list[Any]]:
    """Values seen in training for each categorical feature, most common first."""
    return {
        f.column(spec): X[f.column(spec)].value_counts().index.tolist()
        for f in spec_features(spec)
        if f.kind == "categorical"
    }


def _coerce(feature: Feature, column: str, values: pd.Series) -> pd.Series:
    if feature.dtype == "bool":
        text = values.astype(str).str.strip().str.lower()
        bad = ~text.isin(_TRUE | _FALSE)
        if bad.any():
            raise DatasetError(
                f"column {column!r} must hold true/false (or 1/0), got {shown(values[bad].iloc[0])} "
                f"in row {int(np.flatnonzero(bad)[0]) + 1}"
            )
        return text.isin(_TRUE)
    if feature.dtype == "int64":
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.astype(float)) | (numbers < 0) | (numbers > MAX_COUNT) | (numbers % 1 != 0)
        if bad.any():
            raise DatasetError(
                f"column {column!r} must hold whole numbers >= 0 (at most {MAX_COUNT:,}), got {shown(values[bad].iloc[0])} "
                f"in row {int(np.flatnonzero(bad)[0]) + 1}"
            )
        prop = feature.value_property
        if prop is not None and prop.values is not None:
            outside = ~numbers.isin(prop.values)
            if outside.any():
                raise DatasetError(
                    f"column {column!r} must hold {prop.values_text}, as in training, "
                    f"got {shown(values[outside].iloc[0])} in row {int(np.flatnonzero(outside)[0]) + 1}"
                )
        return numbers.astype("int64")
    return values.fillna("").astype(str)


def _feature_name(column: object) -> str:
    """How a header is matched to a feature: case and surrounding spaces do not matter."""
    return str(column).strip().lower()


def _check_distinct_columns(columns: pd.Index, spec: TrainingSpec) -> None:
    """Refuse two headers that both name one feature (`Foo` and ` foo`): which one to use would be a guess."""
    wanted = {f.column(spec) for f in spec_features(spec)}
    first: dict[str, object] = {}
    for column in columns:
        name = _feature_name(column)
        if name in wanted and name in first:
            raise DatasetError(
                f"columns {shown(str(first[name]))} and {shown(str(column))} both mean feature column {name!r} "
                "(headers are matched ignoring case and surrounding spaces); keep only one of them"
            )
        first.setdefault(name, column)


def prepare_rows(rows: pd.DataFrame, spec: TrainingSpec) -> pd.DataFrame:
    """Feature rows in registry order and training dtypes; extra columns are ignored."""
    _check_distinct_columns(rows.columns, spec)
    rows = rows.rename(columns=_feature_name)
    features = spec_features(spec)
    missing = [f.column(spec) for f in features if f.column(spec) not in rows.columns]
    if missing:
        raise DatasetError(
            f"the rows lack feature column(s) {missing}; expected every model feature: "
            f"{[f.column(spec) for f in features]}"
        )
    if rows.empty:
        raise DatasetError("there are no rows to score; expected at least one row of feature values")
    return pd.DataFrame(
        {f.column(spec): _coerce(f, f.column(spec), rows[f.column(spec)].reset_index(drop=True)) for f in features}
    )


def score_rows(pipeline: Any, rows: pd.DataFrame, spec: TrainingSpec) -> pd.DataFrame:
    """`rows` with a `score` column: the predicted probability of the spec's target.

    Rows that already have a `score` column (in any case or spacing) are refused rather than
    overwritten: they are usually an earlier download of scores, and replacing or renaming a
    column the user keeps would quietly change their file.
    """
    existing = [str(column) for column in rows.columns if _feature_name(column) == SCORE_COLUMN]
    if existing:
        raise DatasetError(
            f"the rows already have a column {shown(existing[0])}, which the new scores would overwrite "
            f"(is this an earlier download of scores?); remove or rename that column and upload again"
        )
    prepared = prepare_rows(rows, spec)
    scored = rows.reset_index(drop=True).copy()
    scored[SCORE_COLUMN] = pipeline.predict_proba(prepared)[:, 1]
    return scored


def score_one(pipeline: Any, values: Mapping[str, Any], spec: TrainingSpec) -> float:
    return float(score_rows(pipeline, pd.DataFrame([dict(values)]), spec)[SCORE_COLUMN].iloc[0])


def score_csv(pipeline: Any, data: bytes, spec: TrainingSpec) -> pd.DataFrame:
    """Score an uploaded CSV of feature rows (one prospect a row, feature columns by name)."""
    if not data.strip():
        raise DatasetError("the uploaded file is empty; expected a CSV with a header row of feature names")
    try:
        rows = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DatasetError(f"the uploaded file is not a readable CSV ({error}); expected comma-separated values") from None
    return score_rows(pipeline, rows, spec)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, e.g. `=cmd|' /C calc'!A0`).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV for download; text cells that look like formulas get a leading `'`
    (OWASP's advice), so a spreadsheet shows them instead of running them. Numbers are untouched."""
    safe = frame.copy()
    for column in safe.columns:
        if pd.api.types.is_numeric_dtype(safe[column]):
            continue
        safe[column] = safe[column].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_STARTS) else v)
    return safe.to_csv(index=False).encode("utf-8")


def prepare_prospect(values: Mapping[str, Any], spec: TrainingSpec) -> pd.DataFrame:
    """One prospect's feature values as a one-row frame the pipeline accepts."""
    return prepare_rows(pd.DataFrame([dict(values)]), spec)
