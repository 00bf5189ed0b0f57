"""Evaluation numbers against scikit-learn on small fixed data."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import metrics
from sklearn.calibration import calibration_curve

from prospect_core.evaluation import calibration_bins, confusion_at, evaluate, lift_table
from prospect_core.explain import gain_importance

Y_TRUE = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0])
Y_SCORE = np.array(
    [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.05, 0.6, 0.7, 0.3, 0.15, 0.55, 0.45, 0.25, 0.02, 0.65, 0.5, 0.95, 0.12, 0.33]
)


def test_evaluate_matches_sklearn() -> None:
    result = evaluate(y_true=Y_TRUE, y_score=Y_SCORE, threshold=0.5)
    y_pred = (Y_SCORE >= 0.5).astype(int)
    assert_allclose(result.accuracy, metrics.accuracy_score(Y_TRUE, y_pred))
    assert_allclose(result.precision, metrics.precision_score(Y_TRUE, y_pred))
    assert_allclose(result.recall, metrics.recall_score(Y_TRUE, y_pred))
    assert_allclose(result.f1, metrics.f1_score(Y_TRUE, y_pred))
    assert_allclose(result.roc_auc, metrics.roc_auc_score(Y_TRUE, Y_SCORE))
    assert_allclose(result.pr_auc, metrics.average_precision_score(Y_TRUE, Y_SCORE))
    assert_allclose(result.log_loss, metrics.log_loss(Y_TRUE, Y_SCORE))
    assert_allclose(result.brier, metrics.brier_score_loss(Y_TRUE, Y_SCORE))
    assert result.n == 20 and result.positives == 7
    assert_allclose(result.base_rate, 7 / 20)
    fpr, tpr, _ = metrics.roc_curve(Y_TRUE, Y_SCORE)
    assert_allclose(result.roc.x, fpr)
    assert_allclose(result.roc.y, tpr)
    precision, recall, _ = metrics.precision_recall_curve(Y_TRUE, Y_SCORE)
    assert_allclose(result.pr.x, recall)
    assert_allclose(result.pr.y, precision)
    report = metrics.classification_report(Y_TRUE, y_pred, output_dict=True)
    assert_allclose(result.classification_report["positive"]["f1-score"], report["1"]["f1-score"])
    assert_allclose(result.classification_report["negative"]["support"], report["0"]["support"])


def test_evaluate_accepts_bools_and_lists() -> None:
    as_bools = evaluate(y_true=Y_TRUE.astype(bool), y_score=list(Y_SCORE))
    assert_allclose(as_bools.roc_auc, evaluate(y_true=Y_TRUE, y_score=Y_SCORE).roc_auc)


def test_best_f1_threshold_beats_every_other_threshold() -> None:
    result = evaluate(y_true=Y_TRUE, y_score=Y_SCORE)
    f1_at = {t: metrics.f1_score(Y_TRUE, (Y_SCORE >= t).astype(int)) for t in Y_SCORE}
    assert_allclose(result.best_f1, max(f1_at.values()))
    assert_allclose(f1_at[result.best_f1_threshold], result.best_f1)


def test_metrics_dict_is_json_ready() -> None:
    import json

    values = evaluate(y_true=Y_TRUE, y_score=Y_SCORE).metrics()
    assert json.loads(json.dumps(values)) == values
    assert values["n"] == 20 and isinstance(values["n"], int)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.65, 1.0])
def test_confusion_at_matches_sklearn(threshold: float) -> None:
    result = confusion_at(y_true=Y_TRUE, y_score=Y_SCORE, threshold=threshold)
    expected = metrics.confusion_matrix(Y_TRUE, (Y_SCORE >= threshold).astype(int), labels=[0, 1])
    np.testing.assert_array_equal(result.matrix, expected)
    assert_allclose(result.rates, expected / expected.sum(axis=1, keepdims=True))
    assert_allclose(result.recall, expected[1, 1] / 7)


def test_lift_table_by_decile() -> None:
    table = lift_table(y_true=Y_TRUE, y_score=Y_SCORE, bins=10)
    assert list(table["rows"]) == [2] * 10
    # top two scores (0.95, 0.9) are both positive: rate 1, lift 1 / 0.35
    assert table.loc[0, "positives"] == 2
    assert_allclose(table.loc[0, "lift"], 1 / 0.35)
    assert table["positives"].sum() == 7
    assert_allclose(table["cum_positives_share"].iloc[-1], 1.0)
    assert_allclose(table["cum_rows_share"], np.arange(1, 11) / 10)
    assert_allclose(table["cum_lift"].iloc[-1], 1.0)
    assert (np.diff(table["max_score"]) <= 0).all()


def test_lift_table_uneven_bins() -> None:
    table = lift_table(y_true=Y_TRUE, y_score=Y_SCORE, bins=3)
    assert list(table["rows"]) == [7, 7, 6]


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_bins_match_sklearn(strategy: str) -> None:
    table = calibration_bins(y_true=Y_TRUE, y_score=Y_SCORE, n_bins=5, strategy=strategy)
    prob_true, prob_pred = calibration_curve(Y_TRUE, Y_SCORE, n_bins=5, strategy=strategy)
    assert_allclose(table["fraction_positive"], prob_true)
    assert_allclose(table["mean_predicted"], prob_pred)
    assert table["rows"].sum() == 20


BAD_INPUTS = [
    ({"y_true": [0, 1], "y_score": [0.1]}, r"same length, got 2 and 1"),
    ({"y_true": [], "y_score": []}, r"must not be empty, got 0 rows"),
    ({"y_true": [[0, 1]], "y_score": [[0.1, 0.2]]}, r"must be 1-d, got shapes \(1, 2\) and \(1, 2\)"),
    ({"y_true": [0, 2], "y_score": [0.1, 0.2]}, r"y_true must hold only 0/1 or False/True, got values \['0', '2'\]"),
    ({"y_true": ["a", "b"], "y_score": [0.1, 0.2]}, r"y_true must hold only 0/1 .* got values \[\"'a'\", \"'b'\"\]"),
    ({"y_true": [1, 1], "y_score": [0.1, 0.2]}, r"y_true must hold both classes, got only \[1\] in 2 rows"),
    ({"y_true": [0, 1], "y_score": [0.1, 1.2]}, r"probabilities in \[0, 1\], got values from 0.1 to 1.2"),
    ({"y_true": [0, 1], "y_score": [0.1, np.nan]}, r"probabilities in \[0, 1\].*\(1 not finite\)"),
    ({"y_true": [0, 1], "y_score": ["x", "y"]}, r"y_score must be numbers, got dtype <U1"),
    ({"y_true": [0, 1], "y_score": [0.1, 0.9], "threshold": 2}, r"threshold must be a number in \[0, 1\], got 2"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUTS)
def test_evaluate_rejects_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(**kwargs)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lift_table(y_true=Y_TRUE, y_score=Y_SCORE, bins=0), r"bins must be a whole number from 1 to .* \(20\), got 0"),
        (lambda: calibration_bins(y_true=Y_TRUE, y_score=Y_SCORE, strategy="kmeans"), r"'uniform' or 'quantile', got 'kmeans'"),
        (lambda: confusion_at(y_true=Y_TRUE, y_score=Y_SCORE, threshold=-0.1), r"threshold must be .* got -0.1"),
    ],
)
def test_table_builders_reject_bad_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_functions_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        evaluate(Y_TRUE, Y_SCORE)  # type: ignore[misc]


def test_gain_importance_groups_one_hot_columns_back_to_features() -> None:
    from prospect_core import features
    from prospect_core.model import ModelParams, train_model
    from tests.test_model import SPEC, synthetic_training_set

    run = train_model(synthetic_training_set(n_users=60), SPEC, ModelParams(n_estimators=20))
    table = gain_importance(run.pipeline)
    assert sorted(table["feature"]) == sorted(features.feature_columns(SPEC))
    assert_allclose(table["gain_share"].sum(), 1.0)
    assert (np.diff(table["gain_share"]) <= 0).all()
    booster = run.pipeline.named_steps["classifier"].get_booster()
    assert_allclose(
        sum(booster.get_score(importance_type="total_gain").values()) > 0, True
    )
    assert table.iloc[0]["feature"] in {"num_pricing_views_l7d", "had_conversions_l30d"}
