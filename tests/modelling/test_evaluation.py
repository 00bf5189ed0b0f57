"""Evaluation numbers against scikit-learn on small fixed data."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import metrics
from sklearn.calibration import calibration_curve

from prospect_core.modelling.evaluation import calibration_bins, confusion_at, evaluate, lift_table
from prospect_core.modelling.explain import gain_importance

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
    from prospect_core.trainingset import features
    from prospect_core.modelling.model import ModelParams, train_model
    from tests.modelling.test_model import SPEC, synthetic_training_set

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


# ----- precision where nothing is flagged ---------------------------------------------------------


def test_precision_is_undefined_when_nothing_is_flagged() -> None:
    from prospect_core.trainingset.wording import format_metric

    nothing = confusion_at(y_true=Y_TRUE, y_score=Y_SCORE, threshold=1.0)
    assert nothing.tp + nothing.fp == 0 and np.isnan(nothing.precision)
    assert format_metric(nothing.precision) == "\u2014" and f"{nothing.precision:.3f}" == "nan"
    assert nothing.recall == 0.0
    some = confusion_at(y_true=Y_TRUE, y_score=Y_SCORE, threshold=0.9)
    assert (some.tp, some.fp) == (2, 0) and some.precision == 1.0 and format_metric(some.precision) == "1.000"


# ----- prospects, not rows ------------------------------------------------------------------------

# Six prospects; best scores p1 .9 (converted), p2 .8, p3 .7, p4 .6 (converted), p6 .4, p5 .1 (converted)
PROSPECT_IDS = np.array(["p1", "p1", "p2", "p3", "p3", "p4", "p5", "p5", "p6"])
PROSPECT_TRUE = np.array([0, 1, 0, 0, 0, 1, 0, 1, 0])
PROSPECT_SCORE = np.array([0.9, 0.2, 0.8, 0.3, 0.7, 0.6, 0.1, 0.05, 0.4])


def test_positive_counts_count_moments_and_the_prospects_behind_them() -> None:
    from prospect_core.modelling.evaluation import PositiveCounts, positive_counts
    from prospect_core.trainingset.wording import moments_from_prospects

    counts = positive_counts(y_true=PROSPECT_TRUE, prospect_ids=PROSPECT_IDS)
    assert counts == PositiveCounts(moments=9, positive_moments=3, prospects=6, positive_prospects=3)
    assert moments_from_prospects(counts.positive_moments, counts.positive_prospects) == "3 positive moments from 3 prospects"
    assert moments_from_prospects(4640, 23) == "4,640 positive moments from 23 prospects"
    assert moments_from_prospects(1, 1) == "1 positive moment from 1 prospect"


def test_by_prospect_evaluation_ranks_prospects_by_their_best_score() -> None:
    from prospect_core.modelling.evaluation import evaluate_by_prospect

    result = evaluate_by_prospect(y_true=PROSPECT_TRUE, y_score=PROSPECT_SCORE, prospect_ids=PROSPECT_IDS,
                                  top_shares=(1 / 6, 0.5, 0.7, 1.0))
    assert list(result.table["domain_userid"]) == ["p1", "p2", "p3", "p4", "p6", "p5"]
    assert_allclose(result.table["best_score"], [0.9, 0.8, 0.7, 0.6, 0.4, 0.1])
    assert list(result.table["converted"]) == [True, False, False, True, False, True]
    assert list(result.table["moments"]) == [2, 1, 2, 1, 1, 2]
    # converted {.9, .6, .1} above not {.8, .7, .4}: .9 beats 3, .6 beats 1, .1 beats none
    assert_allclose(result.roc_auc, 4 / 9)
    assert_allclose(result.roc_auc, metrics.roc_auc_score(result.table["converted"], result.table["best_score"]))
    assert (result.prospects, result.converted_prospects, result.base_rate) == (6, 3, 0.5)
    assert list(result.caught["prospects_flagged"]) == [1, 3, 5, 6]
    assert_allclose(result.caught["caught_share"], [1 / 3, 1 / 3, 2 / 3, 1])
    assert_allclose(result.caught["lift"], [2, 2 / 3, 0.8, 1])
    assert_allclose(result.caught_share(0.7), 2 / 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prospect_ids": PROSPECT_IDS[:-1]}, r"one prospect per row \(9 rows\), got shape \(8,\)"),
        ({"prospect_ids": np.r_[PROSPECT_IDS[:-1], None]}, r"must not be missing, got 1 missing of 9"),
        ({"y_true": np.zeros(9, dtype=int)}, r"needs prospects who reached the target and prospects who did not, got 0 of 6"),
    ],
)
def test_by_prospect_evaluation_rejects_bad_input(kwargs: dict, message: str) -> None:
    from prospect_core.modelling.evaluation import evaluate_by_prospect

    arguments = {"y_true": PROSPECT_TRUE, "y_score": PROSPECT_SCORE, "prospect_ids": PROSPECT_IDS, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate_by_prospect(**arguments)


def test_explain_picker_lists_each_prospect_once_then_their_moments() -> None:
    import pandas as pd

    from prospect_core.modelling.evaluation import prospect_choices, prospect_moments

    choices = prospect_choices(y_true=PROSPECT_TRUE, y_score=PROSPECT_SCORE, prospect_ids=PROSPECT_IDS,
                               reached="submitted a form", not_reached="never submitted a form")
    assert list(choices["domain_userid"]) == ["p1", "p2", "p3", "p4", "p6", "p5"]
    assert choices["label"].is_unique
    assert choices.loc[0, "label"] == "p1 · best score 0.900 · submitted a form · 2 moments"
    assert choices.loc[1, "label"] == "p2 · best score 0.800 · never submitted a form · 1 moment"

    test_ids = pd.DataFrame({
        "domain_userid": PROSPECT_IDS,
        # p3's two moments in the same second would share a label without their number
        "derived_tstamp": pd.to_datetime(["2025-05-02 10:00", "2025-05-01 09:00", "2025-05-01", "2025-05-03 08:00:00.2",
                                          "2025-05-03 08:00:00.7", "2025-05-01", "2025-05-01", "2025-05-02", "2025-05-01"], format="ISO8601"),
    })
    moments = prospect_moments(y_true=PROSPECT_TRUE, y_score=PROSPECT_SCORE, test_ids=test_ids, prospect="p1")
    assert list(moments["position"]) == [1, 0]  # time order: the 9:00 moment on May 1 first
    assert list(moments["label"]) == ["1. 2025-05-01 09:00:00 · score 0.200 · reached the target",
                                      "2. 2025-05-02 10:00:00 · score 0.900 · did not reach the target"]
    p3 = prospect_moments(y_true=PROSPECT_TRUE, y_score=np.r_[PROSPECT_SCORE[:4], 0.3, PROSPECT_SCORE[5:]], test_ids=test_ids, prospect="p3")
    assert p3["label"].is_unique and list(p3["position"]) == [3, 4]
    with pytest.raises(ValueError, match="prospect 'nobody' has no moment in the test set"):
        prospect_moments(y_true=PROSPECT_TRUE, y_score=PROSPECT_SCORE, test_ids=test_ids, prospect="nobody")


# ----- thresholds in business terms ---------------------------------------------------------------

# Six prospects over three days; value 100 a conversion, 30 a flagged prospect.
#   a: converts; scores 0.9 two days before its positive moment (0.3): flagged early, caught at <= 0.9
#   b: converts at its first moment (0.2), then scores 0.7 after converting: that flag costs, earns nothing
#   c, d, e, f: never convert; best scores 0.6, 0.5, 0.8, 0.2 (c and f twice: each costs once)
SIX = [  # prospect, time, score, positive
    ("a", "2025-05-01T10:00", 0.9, 0), ("a", "2025-05-03T10:00", 0.3, 1),
    ("b", "2025-05-01T11:00", 0.2, 1), ("b", "2025-05-02T11:00", 0.7, 0),
    ("c", "2025-05-01T12:00", 0.6, 0), ("c", "2025-05-02T12:00", 0.1, 0),
    ("d", "2025-05-02T13:00", 0.5, 0),
    ("e", "2025-05-03T14:00", 0.8, 0),
    ("f", "2025-05-01T15:00", 0.05, 0), ("f", "2025-05-03T15:00", 0.2, 0),
]
SIX_IDS = np.array([row[0] for row in SIX])
SIX_TIMES = np.array([row[1] for row in SIX], dtype="datetime64[ns]")
SIX_SCORE = np.array([row[2] for row in SIX])
SIX_TRUE = np.array([row[3] for row in SIX])


def profit(**kwargs):
    from prospect_core.modelling.evaluation import profit_by_threshold

    arguments = dict(y_true=SIX_TRUE, y_score=SIX_SCORE, prospect_ids=SIX_IDS, timestamps=SIX_TIMES,
                     value_per_conversion=100, cost_per_flag=30)
    return profit_by_threshold(**{**arguments, **kwargs})


def test_profit_counts_prospects_once_and_conversions_only_when_flagged_before() -> None:
    curve = profit()
    # flagged prospects at 0.9, 0.8, 0.7, 0.6, 0.5, 0.2: a; +e; +b; +c; +d; +f = 1..6
    # caught before converting: a from 0.9 on; b only at 0.2 (its 0.7 came after converting)
    # 100 x caught - 30 x flagged = 70, 40, 10, -20, -50, 200 - 180 = 20 for the 6 test prospects
    assert_allclose(curve.thresholds, [0.9, 0.8, 0.7, 0.6, 0.5, 0.2])
    assert curve.outcomes.days == 3 and curve.prospects_per_day == 2.0  # 6 prospects over 3 days
    assert curve.traffic_source == "the test set's 6 prospects over 3 days"
    assert_allclose(curve.profit_per_day, np.array([70, 40, 10, -20, -50, 20]) / 3)
    assert_allclose(curve.flagged_share, np.arange(1, 7) / 6)
    assert_allclose(curve.caught_share, [0.5, 0.5, 0.5, 0.5, 0.5, 1.0])
    best = curve.best
    assert best.threshold == 0.9 and (best.prospects_flagged, best.conversions_caught) == (1, 1)
    assert_allclose([best.profit_per_prospect, best.profit_per_day, best.flagged_per_day, best.caught_per_day],
                    [70 / 6, 70 / 3, 1 / 3, 1 / 3])
    assert_allclose([best.precision, best.lift], [1.0, 3.0])  # 2 of 6 prospects convert: 1 / (2/6)

    everyone = curve.at(0.2)
    assert (everyone.prospects_flagged, everyone.conversions_caught) == (6, 2)
    assert_allclose([everyone.profit_per_day, everyone.precision, everyone.caught_share], [20 / 3, 2 / 6, 1.0])
    between = curve.at(0.65)  # between the curve's points: as at 0.7
    assert (between.prospects_flagged, between.conversions_caught) == (3, 1)
    nobody = curve.at(0.95)
    assert nobody.prospects_flagged == 0 and nobody.profit_per_day == 0 and np.isnan(nobody.precision)
    assert nobody.to_dict()["precision"] is None

    entered = profit(prospects_per_day=60)  # 30x the test set's 2 prospects a day
    assert entered.best.threshold == 0.9 and entered.traffic_source == "entered"
    assert_allclose([entered.best.profit_per_day, entered.best.flagged_per_day, entered.best.caught_per_day], [700, 10, 10])


def test_the_best_profit_threshold_beats_every_threshold_on_random_data() -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 80, 500).astype(str)
    y = (rng.random(500) < 0.15).astype(int)
    score = np.round(np.clip(0.25 * y + rng.random(500) * 0.75, 0, 1), 2)  # rounded: many ties
    times = np.datetime64("2025-05-01") + rng.integers(0, 10 * 86_400, 500).astype("timedelta64[s]")
    curve = profit(y_true=y, y_score=score, prospect_ids=ids, timestamps=times, value_per_conversion=40, cost_per_flag=7)
    days = (times.astype("datetime64[D]").max() - times.astype("datetime64[D]").min()).astype(int) + 1

    def by_hand(threshold: float) -> float:  # a loop over prospects, as the rule is worded
        total = 0.0
        for prospect in np.unique(ids):
            mine = ids == prospect
            if (score[mine] >= threshold).any():
                total -= 7
            if y[mine].any():
                last_positive = times[mine & (y == 1)].max()
                if ((score >= threshold) & mine & (times <= last_positive)).any():
                    total += 40
        return total / days

    assert_allclose(curve.profit_per_day, [by_hand(t) for t in curve.thresholds])
    assert_allclose(curve.best.profit_per_day, max(by_hand(t) for t in np.unique(score)))


def test_threshold_sentence_and_card_section_round_trip() -> None:
    import json

    from prospect_core.modelling.evaluation import ThresholdSettings, threshold_section, threshold_sentence

    settings = ThresholdSettings(threshold=0.2, value_per_conversion=100, cost_per_flag=30, prospects_per_day=600)
    curve = settings.curve(profit().outcomes)
    assert threshold_sentence(curve.at(0.2)) == (
        "Flagging prospects who score 0.2 or more at any moment: about 600 prospects a day (100% of prospects), "
        "catching 100% of the prospects who convert before they do; a flagged prospect converts 1.0\u00d7 as often as "
        "average. Expected profit: about 2,000 a day (3.33 a prospect scored)."
    )
    section = threshold_section(settings, curve)
    assert json.loads(json.dumps(section, allow_nan=False)) == section
    assert section["value"] == 0.2 and section["best_profit_threshold"] == 0.9
    assert section["inputs"] == {"value_per_conversion": 100.0, "cost_per_flag": 30.0, "prospects_per_day": 600.0,
                                 "prospects_per_day_source": "entered"}
    assert section["at_threshold"]["prospects_flagged"] == 6 and section["sentence"] == threshold_sentence(curve.at(0.2))
    assert ThresholdSettings.from_card(section) == settings
    from_test_set = ThresholdSettings(threshold=0.5)
    assert ThresholdSettings.from_card(threshold_section(from_test_set, from_test_set.curve(curve.outcomes))) == from_test_set
    assert ThresholdSettings.from_card(None) is None
    assert ThresholdSettings.from_card({"value": None, "inputs": {}}) is None  # an older card's "none pays"


def test_when_no_threshold_pays_the_best_is_none() -> None:
    from prospect_core.modelling.evaluation import best_profit_sentence

    curve = profit(cost_per_flag=100)
    assert curve.best is None and (curve.profit_per_day <= 0).all()
    assert "no threshold pays" in best_profit_sentence(curve)
    assert best_profit_sentence(profit()) == "Best profit: threshold 0.9, about 23 a day."


def test_the_scoring_service_reads_the_card_section() -> None:
    pytest.importorskip("fastapi")
    from prospect_core.modelling.evaluation import ThresholdSettings, threshold_section
    from prospect_core.outputs.service_template.service import card_threshold

    settings = ThresholdSettings(threshold=0.35)
    assert card_threshold({"recommended_threshold": threshold_section(settings, settings.curve(profit().outcomes))}) == 0.35


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value_per_conversion": 0}, r"Value of a conversion must be a number above 0, got 0"),
        ({"value_per_conversion": -5.0}, r"Value of a conversion must be a number above 0, got -5.0"),
        ({"value_per_conversion": "100"}, r"Value of a conversion must be a number above 0, got '100'"),
        ({"cost_per_flag": -1}, r"Cost of acting on a flagged prospect must be a number 0 or more, got -1"),
        ({"cost_per_flag": float("nan")}, r"Cost of acting on a flagged prospect must be a number 0 or more, got nan"),
        ({"prospects_per_day": 0}, r"Prospects scored a day must be a number above 0, got 0"),
        ({"prospects_per_day": True}, r"Prospects scored a day must be a number above 0, got True"),
        ({"timestamps": SIX_TIMES[:3]}, r"timestamps must give one time per row \(10 rows\), got 3 with 0 missing"),
        ({"prospect_ids": SIX_IDS[:2]}, r"prospect_ids must give one prospect per row \(10 rows\)"),
        ({"y_true": np.ones(10, dtype=int)}, r"y_true must hold both classes"),
    ],
)
def test_profit_by_threshold_rejects_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        profit(**kwargs)
