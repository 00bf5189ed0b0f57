"""Model families, train-side negative sampling with the prior correction, early stopping: on small
synthetic training sets, through the real artifact loader and the real service (uvicorn)."""

from __future__ import annotations

import copy
import fractions
import io
import json
from pathlib import Path
from typing import Iterator

import joblib
import numpy as np
import pandas as pd
import pytest

from prospect_core.modelling.explain import explain_row, model_importance
from prospect_core.modelling.families import FAMILIES, ModelParams, ParamsError, family_of, shift_log_odds
from prospect_core.modelling.model import TrainingRun, sample_negatives, train_model
from prospect_core.modelling.scoring import score_one
from prospect_core.outputs.artifact import (
    ArtifactError, artifact_bytes, load_artifact_bytes, model_card, model_card_markdown, sha256_hex,
)
from prospect_core.outputs.service_bundle import requirements, library_versions, write_service_folder
from prospect_core.outputs.signing import sign_card, signing_key
from tests.modelling.test_model import SPEC, synthetic_training_set
from tests.outputs.test_service import Service, training_row

RARE_RATE_INTERCEPT = -4.5  # about 3 % positive rows: sampling to 3 negatives per positive inflates scores ~6x


def rare_training_set(n_users: int = 1500, seed: int = 1) -> pd.DataFrame:
    """The synthetic set with its target redrawn rarer, as a real conversion target is."""
    frame = synthetic_training_set(n_users=n_users, events_per_user=8, seed=seed)
    rng = np.random.default_rng(seed)
    pricing = frame["num_pricing_views_l7d"]
    logit = RARE_RATE_INTERCEPT + 0.6 * (pricing - 3) + 1.0 * frame["had_conversions_l30d"]
    frame[SPEC.target_column] = rng.random(len(frame)) < 1 / (1 + np.exp(-logit))
    return frame


@pytest.fixture(scope="module")
def rare() -> pd.DataFrame:
    return rare_training_set()


# ----- the registry and its parameters -------------------------------------------------------------


@pytest.mark.parametrize(("changes", "message"), [
    ({"family": "lightgbm"}, r"model must be one of \['xgboost', 'logistic_regression'\], got 'lightgbm'"),
    ({"train_negatives_per_positive": 0}, "train_negatives_per_positive must be a whole number from 1 to 10000, got 0"),
    ({"train_negatives_per_positive": 2.5}, "train_negatives_per_positive must be a whole number"),
    ({"early_stopping_rounds": 0}, "early_stopping_rounds must be a whole number from 1 to 1000, got 0"),
])
def test_bad_family_and_fitting_parameters_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        ModelParams(**changes)


def test_a_card_from_before_families_reads_as_xgboost() -> None:
    old = {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.3, "subsample": 1.0, "scale_pos_weight": 1.0, "seed": 0}
    params = ModelParams(**old)
    assert (params.family, params.train_negatives_per_positive, params.early_stopping_rounds) == ("xgboost", None, None)


def test_sample_negatives_keeps_every_positive_and_the_ratio() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0] * 50, dtype=bool)  # 100 positives, 500 negatives
    rows, rate = sample_negatives(y, 3, seed=4)
    assert y[rows].sum() == 100 and (~y[rows]).sum() == 300 and rate == pytest.approx(300 / 500)
    assert np.array_equal(rows, np.sort(rows)) and np.array_equal(rows, sample_negatives(y, 3, seed=4)[0])
    assert not np.array_equal(rows, sample_negatives(y, 3, seed=5)[0])
    assert sample_negatives(y, 5, seed=4) [1] == 1.0 and len(sample_negatives(y, None, seed=4)[0]) == len(y)


# ----- honest probabilities ------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_three_negatives_per_positive_scores_stay_probabilities(rare: pd.DataFrame, family: str) -> None:
    """Fitted on 3 negatives per positive, the mean test score is within 10 % of the test side's
    positive rate; the same fitted model without the prior correction scores several times higher."""
    run = train_model(rare, SPEC, ModelParams(n_estimators=60, max_depth=3, learning_rate=0.1, family=family,
                                              train_negatives_per_positive=3), split="by_user")
    rate = run.y_test.mean()
    assert 0.01 < rate < 0.08 and run.n_train + run.n_test == len(rare)  # the test side is not sampled
    assert run.fitting.negatives_kept_rate < 0.2
    assert run.y_score.mean() == pytest.approx(rate, rel=0.10)

    uncorrected = copy.deepcopy(run.pipeline)
    shift_log_odds(uncorrected.named_steps["classifier"], -run.fitting.prior_correction_log_odds)
    assert uncorrected.predict_proba(run.X_test)[:, 1].mean() > 3 * rate


def test_cli_train_negatives_per_positive_reaches_the_card(rare: pd.DataFrame, tmp_path: Path) -> None:
    from prospect_core.cli import main

    rare.to_parquet(tmp_path / "set.parquet")
    code = main(["train", "--dataset", str(tmp_path / "set.parquet"), "--as-of", SPEC.as_of.isoformat(),
                 "--split", "by_user", "--n-estimators", "40", "--model", "xgboost",
                 "--train-negatives-per-positive", "3", "--early-stopping-rounds", "5", "--no-track",
                 "--out", str(tmp_path / "model.joblib")])
    assert code == 0
    card = json.loads((tmp_path / "model.joblib.card.json").read_text())
    fitting = card["fitting"]
    assert card["params"]["train_negatives_per_positive"] == 3 and fitting["negatives_kept_rate"] < 0.2
    assert fitting["prior_correction_log_odds"] == pytest.approx(np.log(fitting["negatives_kept_rate"]))
    assert 1 <= fitting["early_stopping_round"] <= 40 and fitting["validation_rows"] > 0
    assert "## Fitting" in model_card_markdown(card)


def test_early_stopping_keeps_only_the_best_rounds_everywhere(rare: pd.DataFrame) -> None:
    run = train_model(rare, SPEC, ModelParams(n_estimators=400, max_depth=3, learning_rate=0.3,
                                              early_stopping_rounds=5), split="by_user")
    kept = run.fitting.early_stopping_round
    classifier = run.pipeline.named_steps["classifier"]
    assert kept < 400 and classifier.get_booster().num_boosted_rounds() == kept
    matrix = run.pipeline.named_steps["preprocessor"].transform(run.X_test)
    np.testing.assert_allclose(classifier.get_booster().inplace_predict(matrix), run.y_score, rtol=0, atol=1e-6)


# ----- every family through the explanations, the artifact and the service -------------------------


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_run(request: pytest.FixtureRequest) -> TrainingRun:
    return train_model(synthetic_training_set(n_users=100), SPEC, ModelParams(
        n_estimators=40, max_depth=3, family=request.param, train_negatives_per_positive=2))


def test_explanations_add_up_to_the_score(family_run: TrainingRun) -> None:
    explanation = explain_row(family_run.pipeline, family_run.X_test, 3)
    assert explanation.score == pytest.approx(family_run.y_score[3], abs=1e-5)
    importance = model_importance(family_run.pipeline)
    assert importance.table[importance.value].sum() == pytest.approx(1.0)
    # the feature the target leans on
    assert "num_pricing_views_l7d" in importance.table["feature"].head(3).tolist()


def test_the_card_and_requirements_name_the_familys_library(family_run: TrainingRun) -> None:
    data = artifact_bytes(family_run.pipeline)
    card = model_card(family_run, sql_snowflake="select 1", artifact_sha256=sha256_hex(data))
    library = FAMILIES[family_run.params.family].library
    assert ("xgboost" in card["libraries"]) == (library == "xgboost")
    assert ("xgboost==" in requirements(library_versions(card))) == (library == "xgboost")
    assert card["fitting"]["family"] == family_run.params.family


def test_the_restricted_loader_refuses_a_foreign_class_in_each_family(family_run: TrainingRun) -> None:
    pipeline = load_artifact_bytes(artifact_bytes(family_run.pipeline))
    assert family_of(pipeline.named_steps["classifier"]).name == family_run.params.family
    forged = copy.deepcopy(family_run.pipeline)
    forged.named_steps["classifier"].note = fractions.Fraction(1, 3)
    buffer = io.BytesIO()
    joblib.dump(forged, buffer)
    with pytest.raises(ArtifactError, match=r"refers to fractions\.Fraction, which a studio model never contains"):
        load_artifact_bytes(buffer.getvalue())


def serve_run(run: TrainingRun, folder: Path) -> Iterator[tuple[Service, bytes]]:
    """The run's signed bundle served by a real uvicorn from `folder`: (the service, the joblib's bytes)."""
    data = artifact_bytes(run.pipeline)
    card = sign_card(model_card(run, sql_snowflake="select 1", artifact_sha256=sha256_hex(data)), data, signing_key())
    write_service_folder(folder, data, json.dumps(card).encode(), key=signing_key())
    running = Service(folder, {})
    try:
        yield running.wait_until_up(), data
    finally:
        running.stop()


@pytest.fixture(scope="module")
def family_service(family_run: TrainingRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, bytes]]:
    yield from serve_run(family_run, tmp_path_factory.mktemp(f"bundle_{family_run.params.family}"))


@pytest.mark.parametrize("i", range(4))
def test_each_family_scores_alike_through_score_what_if_and_joblib(
    family_service: tuple[Service, bytes], family_run: TrainingRun, i: int
) -> None:
    service, data = family_service
    row = training_row(family_run, i)
    body = service.client.post("/score", json={"attributes": row}).json()
    what_if = score_one(family_run.pipeline, row, SPEC)
    frame = pd.DataFrame([row])
    restricted = load_artifact_bytes(data).predict_proba(frame)[0, 1]
    plain = joblib.load(io.BytesIO(data)).predict_proba(frame)[0, 1]
    assert body["score"] == pytest.approx(what_if, abs=1e-9)
    assert restricted == pytest.approx(what_if, abs=1e-12) and plain == pytest.approx(what_if, abs=1e-12)
    assert what_if == pytest.approx(family_run.y_score[i], abs=1e-6)
    explanations = body["explanations"]
    assert sum(explanations.values()) == pytest.approx(np.log(what_if / (1 - what_if)), abs=1e-4)
