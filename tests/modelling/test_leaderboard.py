"""The leaderboard: grouped folds by prospect (a property test), cross-validated families on a small
set with real fits, the bootstrap interval against scikit-learn's weighted metrics, and tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from prospect_core.infra.errors import DatasetError, UserError
from prospect_core.modelling.leaderboard import (
    Leaderboard,
    bootstrap_intervals,
    compare_models,
    cross_validate,
    grouped_folds,
    scores,
    tune,
)
from prospect_core.modelling.model import ModelParams, fit_pipeline
from prospect_core.trainingset import features
from tests.modelling.test_model import SPEC, synthetic_training_set

QUICK_TREES = ModelParams(n_estimators=20, max_depth=3, learning_rate=0.2)
LOGISTIC = ModelParams(family="logistic_regression")


@st.composite
def prospects_and_labels(draw):
    n_prospects = draw(st.integers(10, 60))
    rows_each = draw(st.lists(st.integers(1, 6), min_size=n_prospects, max_size=n_prospects))
    ids = np.repeat([f"p{i}" if i % 3 else f"p{i}\x00" for i in range(n_prospects)], rows_each)  # NULs: one id each
    y = np.array(draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids))))
    order = np.array(draw(st.permutations(range(len(ids)))))
    return ids[order], y[order]


@settings(max_examples=150, deadline=None)
@given(prospects_and_labels(), st.integers(0, 2**32 - 1), st.integers(2, 6))
def test_folds_never_put_one_prospect_on_two_sides(data, seed, n_folds) -> None:
    ids, y = data
    try:
        folds = grouped_folds(ids, y, n_folds, seed)
    except DatasetError as error:  # too few prospects of a kind: said, never a bad fold
        positive = len(set(ids[y]))
        assert min(positive, len(set(ids)) - positive) < n_folds and "cross-validation by prospect" in str(error)
        return
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(ids)))  # each row held out exactly once
    for train, test in folds:
        assert not set(ids[train]) & set(ids[test])  # no prospect on both sides
        assert np.array_equal(np.sort(np.r_[train, test]), np.arange(len(ids)))
        assert y[test].any() and (~y[test]).any()  # a converting and a never-converting prospect in each
    reordered = np.argsort(ids, kind="stable")  # the same prospects in the same folds whatever the row order
    again = grouped_folds(ids[reordered], y[reordered], n_folds, seed)
    assert [set(ids[reordered][test]) for _, test in again] == [set(ids[test]) for _, test in folds]


def test_each_fold_holds_a_share_of_the_converting_prospects() -> None:
    ids = np.repeat(np.arange(100).astype(str), 3)
    y = np.repeat(np.arange(100) < 20, 3)  # 20 converting prospects
    folds = grouped_folds(ids, y, 5, seed=1)
    assert [len(set(ids[test][y[test]])) for _, test in folds] == [4] * 5
    assert [len(set(ids[test])) for _, test in folds] == [20] * 5


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_training_set(n_users=200)


def test_compare_two_families_on_real_folds(frame: pd.DataFrame) -> None:
    seen: list[str] = []
    board = compare_models(frame, SPEC, [QUICK_TREES, LOGISTIC], seed=3, progress=seen.append)
    assert seen[0] == "XGBoost: fold 1 of 5" and seen[-1] == "Logistic regression: fold 5 of 5" and len(seen) == 10
    trees, logistic = board.entries
    assert list(trees.folds["fold"]) == [0, 1, 2, 3, 4] and (trees.folds["fit_seconds"] > 0).all()

    # fold 2 again, by hand: the same rows, the same fit, the same numbers
    X = frame[features.feature_columns(SPEC)]
    y = frame[SPEC.target_column].to_numpy().astype(np.int64)
    train, test = grouped_folds(frame["domain_userid"], y, 5, seed=3)[2]
    pipeline, _ = fit_pipeline(X.iloc[train], y[train], frame["domain_userid"].iloc[train], SPEC, LOGISTIC)
    by_hand = scores(y[test], pipeline.predict_proba(X.iloc[test])[:, 1])
    assert_allclose([logistic.folds.loc[2, m] for m in ("roc_auc", "pr_auc", "log_loss")],
                    [by_hand["roc_auc"], by_hand["pr_auc"], by_hand["log_loss"]])

    table = board.table()
    assert list(table["model"]) == sorted(["XGBoost", "Logistic regression"], key=lambda name: -board.entries[
        [e.name for e in board.entries].index(name)].mean("roc_auc"))
    for entry in board.entries:
        row = table[table["model"] == entry.name].iloc[0]
        assert row["roc_auc"] == pytest.approx(entry.folds["roc_auc"].mean())
        assert (row["roc_auc_low"], row["roc_auc_high"]) == (entry.folds["roc_auc"].min(), entry.folds["roc_auc"].max())
        assert row["roc_auc_low"] < row["roc_auc"] < row["roc_auc_high"] and 0.6 < row["roc_auc"] < 1
        assert entry.interval("log_loss").basis == "min–max over 5 folds by prospect"
    assert board.entry_for(LOGISTIC) is logistic and board.entry_for(ModelParams()) is None


def test_a_cancelled_comparison_stops_between_fits(frame: pd.DataFrame) -> None:
    seen: list[str] = []
    with pytest.raises(UserError, match="the comparison was cancelled"):
        cross_validate(frame, SPEC, QUICK_TREES, progress=seen.append, stop=lambda: len(seen) >= 2)
    assert len(seen) == 2


def test_bootstrap_replicates_are_scikit_learns_weighted_metrics() -> None:
    from sklearn import metrics

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 40, 400).astype(str)
    y = (rng.random(400) < 0.2).astype(int)
    score = np.round(np.clip(0.3 * y + 0.7 * rng.random(400), 0.001, 0.999), 2)  # ties
    interval = bootstrap_intervals(y_true=y, y_score=score, prospect_ids=ids, replicates=1, seed=5)
    prospects, users = np.unique(ids, return_inverse=True)
    weight = np.bincount(np.random.default_rng(5).integers(0, len(prospects), len(prospects)), minlength=len(prospects))[users]
    expected = {"roc_auc": metrics.roc_auc_score(y, score, sample_weight=weight),
                "pr_auc": metrics.average_precision_score(y, score, sample_weight=weight),
                "log_loss": metrics.log_loss(y, score, sample_weight=weight)}
    for metric, value in expected.items():
        assert interval[metric].low == pytest.approx(value) and interval[metric].high == pytest.approx(value)
    wide = bootstrap_intervals(y_true=y, y_score=score, prospect_ids=ids)
    for metric, whole in {"roc_auc": metrics.roc_auc_score(y, score), "pr_auc": metrics.average_precision_score(y, score),
                          "log_loss": metrics.log_loss(y, score)}.items():
        assert wide[metric].low < whole < wide[metric].high
    assert wide["roc_auc"].basis == "90 % bootstrap of 40 test prospects"


def test_tuning_adds_trials_to_the_leaderboard(frame: pd.DataFrame) -> None:
    pytest.importorskip("optuna")
    board = Leaderboard(n_folds=3, seed=0)
    tune(frame, SPEC, QUICK_TREES, board, budget_seconds=0.1, max_trials=2)
    assert 1 <= len(board.entries) <= 2 and board.entries[0].name.startswith("XGBoost · trial 1 (depth ")
    assert board.entries[0].params.family == "xgboost" and board.entries[0].params.seed == QUICK_TREES.seed
    with pytest.raises(UserError, match="Logistic regression has no parameters to tune"):
        tune(frame, SPEC, LOGISTIC, board, budget_seconds=1)
