"""The joblib artifact loads without prospect_core; the model card is complete and leaks nothing."""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prospect_core import features
from prospect_core.artifact import (
    artifact_bytes,
    load_artifact,
    model_card,
    model_card_markdown,
    save_artifact,
    sha256_hex,
)
from prospect_core.model import ModelParams, TrainingRun, train_model
from prospect_core.training_sql import render_training_sql
from tests.test_model import SPEC, synthetic_training_set


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    return train_model(synthetic_training_set(n_users=80), SPEC, ModelParams(n_estimators=15), split="by_user")


def test_save_artifact_writes_atomically_and_returns_the_hash(run: TrainingRun, tmp_path: Path) -> None:
    path = tmp_path / "models" / "model.joblib"
    digest = save_artifact(run.pipeline, path)
    assert digest == sha256_hex(path.read_bytes()) == sha256_hex(artifact_bytes(run.pipeline))
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.joblib"]  # no temp file left behind
    assert save_artifact(run.pipeline, path) == digest  # same pipeline, same bytes
    np.testing.assert_allclose(load_artifact(path).predict_proba(run.X_test)[:, 1], run.y_score)


def test_artifact_refuses_anything_but_a_pipeline(run: TrainingRun) -> None:
    with pytest.raises(TypeError, match="must be a fitted sklearn Pipeline, got TrainingRun"):
        artifact_bytes(run)  # type: ignore[arg-type]


BLOCKED_LOAD = """
import json, sys
sys.modules["prospect_core"] = None  # importing prospect_core now raises ImportError
import joblib, pandas as pd
try:
    import prospect_core
except ImportError:
    pass
else:
    raise SystemExit("prospect_core was importable")
pipeline = joblib.load(sys.argv[1])
frame = pd.DataFrame(json.loads(sys.argv[2]))
print(json.dumps({
    "scores": pipeline.predict_proba(frame)[:, 1].tolist(),
    "bool_dtypes": [str(frame[c].dtype) for c in sys.argv[3].split(",")],
    "modules": sorted(m for m in sys.modules if m.startswith("prospect_core") and sys.modules[m] is not None),
}))
"""


def test_artifact_loads_and_scores_where_prospect_core_is_not_importable(run: TrainingRun, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    save_artifact(run.pipeline, path)
    rows = run.X_test.head(5)
    payload = rows.to_json(orient="records")  # bools stay JSON true/false, so pandas reads them as bool
    bool_columns = ",".join(features.feature_columns(SPEC, "boolean"))
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_LOAD, str(path), payload, bool_columns],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""}, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["bool_dtypes"] == ["bool", "bool"]
    assert output["modules"] == []
    np.testing.assert_allclose(output["scores"], run.y_score[:5], rtol=1e-6)


@pytest.fixture(scope="module")
def card(run: TrainingRun) -> dict:
    sql = render_training_sql(SPEC, "snowflake", inline=True).text
    return model_card(run, sql_snowflake=sql, artifact_sha256="ab" * 32)


def test_model_card_is_json_and_complete(card: dict, run: TrainingRun) -> None:
    assert json.loads(json.dumps(card)) == card
    assert card["spec"] == SPEC.to_dict()
    assert card["target"] == {"column": SPEC.target_column, "description": SPEC.target_description}
    assert [f["column"] for f in card["features"]] == features.feature_columns(SPEC)
    assert {f["kind"] for f in card["features"]} == {"numeric", "boolean", "categorical"}
    dtypes = {column["name"]: column["dtype"] for column in card["input_columns"]}
    assert dtypes["had_conversions_l7d"] == "bool" and dtypes["num_sessions_l30d"] == "int64"
    assert dtypes["day_of_week"] == "int64" and dtypes["latest_app_id"] == "str"
    assert card["split"]["kind"] == "by_user" and card["params"] == ModelParams(n_estimators=15).to_dict()
    assert card["training"]["train_rows"] == run.n_train and card["training"]["test_rows"] == run.n_test
    assert card["metrics"]["roc_auc"] == pytest.approx(run.evaluation.roc_auc)
    assert card["artifact"]["sha256"] == "ab" * 32
    assert card["sql"]["dialect"] == "snowflake" and "target_had_submit_form_next1h" in card["sql"]["text"]
    assert set(card["libraries"]) == {"python", "scikit-learn", "xgboost", "pandas", "numpy"}
    assert card["created_at"].endswith("+00:00")


def test_model_card_leaks_no_host_user_or_path(card: dict) -> None:
    text = json.dumps(card) + model_card_markdown(card)
    assert socket.gethostname() not in text
    assert not re.search(rf"\b{re.escape(getpass.getuser())}\b", text)
    for path in (os.getcwd(), str(Path.home()), sys.prefix, str(Path(__file__).parent)):
        assert path not in text
    assert not re.search(r"password|secret|token", text, re.IGNORECASE)


def test_model_card_markdown_summarises_the_card(card: dict) -> None:
    text = model_card_markdown(card)
    assert text.startswith("# Prospect scoring model: `target_had_submit_form_next1h`")
    assert f"| ROC AUC | {card['metrics']['roc_auc']:.4f} |" in text
    assert "`had_conversions_l30d` | boolean" in text
    assert "ab" * 32 in text
