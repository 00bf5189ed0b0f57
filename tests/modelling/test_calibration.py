"""Optional calibration (CalibratedClassifierCV over folds of whole training prospects): honest
probabilities on the test side, the restricted loader, the card, the explanations, and the same score
through the joblib, the what-if form and the bundled service's /score on a real uvicorn."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Iterator

import joblib
import numpy as np
import pandas as pd
import pytest

from prospect_core.modelling.explain import explain_row, model_importance
from prospect_core.modelling.families import FAMILIES, ModelParams, ParamsError, family_of, fold_classifiers
from prospect_core.modelling.figures import shap_waterfall_figure
from prospect_core.modelling.model import N_FOLDS, TrainingRun, train_model
from prospect_core.modelling.scoring import score_one
from prospect_core.outputs.artifact import (
    ArtifactError, artifact_bytes, load_artifact_bytes, model_card, model_card_markdown,
)
from tests.modelling.test_families import rare_training_set, serve_run
from tests.modelling.test_model import SPEC, synthetic_training_set
from tests.outputs.test_service import Service, training_row

CASES = [(family, method) for family in FAMILIES for method in ("sigmoid", "isotonic")]


@pytest.fixture(scope="module")
def rare() -> pd.DataFrame:
    return rare_training_set()


def fold_log_odds(run: TrainingRun, X: pd.DataFrame) -> np.ndarray:
    """The fold classifiers' mean log-odds before calibration, what explanations add up to."""
    matrix = run.pipeline.named_steps["preprocessor"].transform(X)
    probabilities = [fold.predict_proba(matrix)[:, 1] for fold in fold_classifiers(run.pipeline.named_steps["classifier"])]
    return np.mean([np.log(p / (1 - p)) for p in probabilities], axis=0)


@pytest.mark.parametrize(("value", "message"), [
    ("platt", r"calibration must be one of \['sigmoid', 'isotonic'\] or none, got 'platt'"),
    ("", r"calibration must be one of \['sigmoid', 'isotonic'\] or none, got ''"),
])
def test_a_bad_calibration_is_named(value: str, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        ModelParams(calibration=value)


@pytest.mark.parametrize(("family", "method"), CASES)
def test_calibrated_scores_are_probabilities_on_the_test_side(rare: pd.DataFrame, family: str, method: str) -> None:
    """Fitted on 3 negatives per positive and calibrated on unsampled held-out prospects, the mean test
    score is within 5 % of the test side's positive rate; the fold classifiers' own scores, which the
    calibrators correct, are several times higher."""
    run = train_model(rare, SPEC, ModelParams(n_estimators=60, max_depth=3, learning_rate=0.1, family=family,
                                              train_negatives_per_positive=3, calibration=method), split="by_user")
    rate = run.y_test.mean()
    assert 0.01 < rate < 0.08 and run.n_train + run.n_test == len(rare)
    assert run.y_score.mean() == pytest.approx(rate, rel=0.05)
    uncalibrated = 1 / (1 + np.exp(-fold_log_odds(run, run.X_test)))
    assert uncalibrated.mean() > 3 * rate
    fitting = run.fitting
    assert (fitting.calibration, fitting.calibration_folds, fitting.prior_correction_log_odds) == (method, N_FOLDS, 0.0)
    assert fitting.calibration_rows == run.n_train and fitting.negatives_kept_rate < 0.2
    assert run.evaluation.roc_auc > 0.75


def test_early_stopping_cuts_each_fold_classifier_to_its_best_rounds(rare: pd.DataFrame) -> None:
    run = train_model(rare, SPEC, ModelParams(n_estimators=400, max_depth=3, learning_rate=0.3, early_stopping_rounds=5,
                                              train_negatives_per_positive=3, calibration="sigmoid"), split="by_user")
    rounds = [fold.get_booster().num_boosted_rounds() for fold in fold_classifiers(run.pipeline.named_steps["classifier"])]
    assert len(rounds) == N_FOLDS and max(rounds) < 400 and run.fitting.early_stopping_round == round(np.mean(rounds))
    assert run.fitting.validation_rows > 0 and run.fitting.calibration_rows < run.n_train  # the slice is in no fold


@pytest.fixture(scope="module", params=CASES, ids=lambda case: "-".join(case))
def calibrated_run(request: pytest.FixtureRequest) -> TrainingRun:
    family, method = request.param
    return train_model(synthetic_training_set(n_users=150), SPEC, ModelParams(
        n_estimators=40, max_depth=3, family=family, train_negatives_per_positive=2, calibration=method))


def test_the_loader_admits_calibration_and_nothing_assembled_oddly(calibrated_run: TrainingRun) -> None:
    data = artifact_bytes(calibrated_run.pipeline)
    loaded = load_artifact_bytes(data)
    assert family_of(loaded.named_steps["classifier"]).name == calibrated_run.params.family
    np.testing.assert_array_equal(loaded.predict_proba(calibrated_run.X_test)[:, 1], calibrated_run.y_score)
    assert b"calibrated_classifiers_" in data and len(data) < 400_000  # the folds' row positions are not kept

    swapped = copy.deepcopy(calibrated_run.pipeline)  # allowed classes, but a scaler where a calibrator belongs
    swapped.named_steps["classifier"].calibrated_classifiers_[0].calibrators = [
        swapped.named_steps["preprocessor"].named_transformers_["num"].named_steps["scale"]]
    buffer = io.BytesIO()
    joblib.dump(swapped, buffer)
    with pytest.raises(ArtifactError, match="not a studio pipeline .*optionally calibrated"):
        load_artifact_bytes(buffer.getvalue())


def test_the_card_records_the_calibration(calibrated_run: TrainingRun) -> None:
    card = model_card(calibrated_run, sql_snowflake="select 1", artifact_sha256="0" * 64)
    fitting, method = card["fitting"], calibrated_run.params.calibration
    assert card["params"]["calibration"] == method and fitting["calibration"] == method
    assert fitting["calibration_folds"] == N_FOLDS and f"method='{method}'" in fitting["calibration_method"]
    assert "before calibration" in fitting["explanations"] and fitting["prior_correction"].startswith("none")
    markdown = model_card_markdown(card)
    assert f"- Calibration: {method}, {N_FOLDS} folds of whole prospects" in markdown
    assert "Explanations are of the uncalibrated score" in markdown and "- Prior correction" not in markdown


def test_explanations_explain_the_folds_before_calibration_and_say_so(calibrated_run: TrainingRun) -> None:
    explanation = explain_row(calibrated_run.pipeline, calibrated_run.X_test, 3)
    assert explanation.calibrated
    assert explanation.margin == pytest.approx(fold_log_odds(calibrated_run, calibrated_run.X_test.iloc[[3]])[0], abs=1e-4)
    figure = shap_waterfall_figure(explanation)
    assert "before calibration" in figure.layout.title.text and figure.data[0].y[-1].startswith("prediction before calibration ")
    importance = model_importance(calibrated_run.pipeline)
    assert importance.table[importance.value].sum() == pytest.approx(1.0)
    assert "num_pricing_views_l7d" in importance.table["feature"].head(3).tolist()


@pytest.fixture(scope="module")
def calibrated_service(calibrated_run: TrainingRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, bytes]]:
    folder = tmp_path_factory.mktemp(f"bundle_{calibrated_run.params.family}_{calibrated_run.params.calibration}")
    yield from serve_run(calibrated_run, folder)


def test_a_calibrated_model_scores_alike_through_score_what_if_and_joblib(
    calibrated_service: tuple[Service, bytes], calibrated_run: TrainingRun
) -> None:
    service, data = calibrated_service
    for i in range(3):
        row = training_row(calibrated_run, i)
        body = service.client.post("/score", json={"attributes": row}).json()
        what_if = score_one(calibrated_run.pipeline, row, SPEC)
        plain = joblib.load(io.BytesIO(data)).predict_proba(pd.DataFrame([row]))[0, 1]
        assert body["score"] == pytest.approx(what_if, abs=1e-9) and plain == pytest.approx(what_if, abs=1e-12)
        assert what_if == pytest.approx(calibrated_run.y_score[i], abs=1e-6)
        # the service explains as the studio does: the folds' mean log-odds before calibration
        before = fold_log_odds(calibrated_run, calibrated_run.X_test.iloc[[i]])[0]
        assert sum(body["explanations"].values()) == pytest.approx(before, abs=1e-4)


def test_cli_calibration_reaches_the_card(rare: pd.DataFrame, tmp_path: Path) -> None:
    from prospect_core.cli import main

    rare.to_parquet(tmp_path / "set.parquet")
    code = main(["train", "--dataset", str(tmp_path / "set.parquet"), "--as-of", SPEC.as_of.isoformat(),
                 "--split", "by_user", "--n-estimators", "30", "--train-negatives-per-positive", "3",
                 "--calibration", "isotonic", "--no-track", "--out", str(tmp_path / "model.joblib")])
    assert code == 0
    card = json.loads((tmp_path / "model.joblib.card.json").read_text())
    assert card["params"]["calibration"] == "isotonic" and card["fitting"]["calibration_folds"] == N_FOLDS
    assert load_artifact_bytes((tmp_path / "model.joblib").read_bytes()).named_steps["classifier"].method == "isotonic"


def test_cli_refuses_an_unknown_calibration(capsys: pytest.CaptureFixture[str]) -> None:
    from prospect_core.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["train", "--calibration", "platt", "--no-track"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.replace("'", "")  # argparse quotes the choices in some Python versions, not others
    assert "argument --calibration: invalid choice: platt (choose from sigmoid, isotonic)" in error
