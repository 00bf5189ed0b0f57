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

from prospect_core.trainingset import features
from prospect_core.outputs.artifact import (
    artifact_bytes,
    load_artifact,
    model_card,
    model_card_markdown,
    save_artifact,
    sha256_hex,
)
from prospect_core.modelling.model import ModelParams, TrainingRun, train_model
from prospect_core.trainingset.training_sql import render_training_sql
from tests.modelling.test_model import SPEC, synthetic_training_set


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


# ----- `python -m prospect_core train` --------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("train_cli") / "training.parquet"
    synthetic_training_set(n_users=80).to_parquet(path, index=False)
    return path


def test_cli_train_writes_artifact_and_card(dataset_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from prospect_core.cli import main

    out = tmp_path / "model.joblib"
    code = main(["train", "--dataset", str(dataset_file), "--out", str(out), "--split", "out_of_time",
                 "--n-estimators", "12", "--max-depth", "3", "--as-of", "2025-05-14"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for line in ("reading the training set", "splitting (out_of_time)", "fitting XGBoost (12 trees)", "done in"):
        assert line in captured.err
    assert re.search(r"ROC AUC 0\.\d{3}", captured.out)
    card = json.loads((tmp_path / "model.joblib.card.json").read_text())
    assert card["artifact"]["sha256"] == sha256_hex(out.read_bytes())
    assert card["split"]["kind"] == "out_of_time" and card["params"]["max_depth"] == 3
    assert card["spec"]["as_of"] == "2025-05-14"
    assert (tmp_path / "model.joblib.card.md").read_text().startswith("# Prospect scoring model")
    assert load_artifact(out).predict_proba(synthetic_training_set(n_users=2)[features.feature_columns(SPEC)]).shape == (16, 2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-depth", "0"], r"error: max_depth must be a whole number from 1 to 20, got 0"),
        (["--target-event", "page_view"], r"error: the training set lacks column\(s\) \['target_had_page_view_next1h'\]"),
        (["--dataset", "/nonexistent/set.parquet"], r"error: --dataset /nonexistent/set.parquet is not a file"),
    ],
)
def test_cli_train_user_errors_are_one_line(
    dataset_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    from prospect_core.cli import main

    args = ["train", "--dataset", str(dataset_file), "--out", str(tmp_path / "m.joblib"), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "m.joblib").exists()


def test_cli_train_one_class_target(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from prospect_core.cli import main

    frame = synthetic_training_set(n_users=20)
    path = tmp_path / "one_class.parquet"
    frame.assign(**{SPEC.target_column: False}).to_parquet(path, index=False)
    assert main(["train", "--dataset", str(path), "--out", str(tmp_path / "m.joblib")]) == 2
    assert re.search(r"error: target column 'target_had_submit_form_next1h' has only one class \(0 True, 160 False\)",
                     capsys.readouterr().err)
