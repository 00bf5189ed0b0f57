"""The learnability estimate on a small demo training set built on DuckDB."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prospect_core.events.build import build_training_set
from prospect_core.events.demo_data import write_demo_db
from prospect_core.events.warehouse import DuckDBWarehouse
from prospect_core.infra.errors import DatasetError, UserError
from prospect_core.modelling.learnability import (COLUMNS, NOT_RECOMPUTABLE, LearnabilitySample, estimate_targets)
from prospect_core.trainingset.dataset import recompute_target
from prospect_core.trainingset.spec import TrainingSpec

SPEC = TrainingSpec()


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory):
    path = tmp_path_factory.mktemp("learnability") / "demo.duckdb"
    write_demo_db(path, n_users=600, seed=7)
    return build_training_set(DuckDBWarehouse(path), SPEC, max_rows=10**6).frame


def test_a_learnable_target_scores_above_a_random_one(demo_set):
    sample = LearnabilitySample.of(demo_set, SPEC)
    pause = sample.target("pause", 15)
    learnable = sample.estimate(pause)
    coin = np.random.default_rng(1).random(len(pause)) < pause.mean()  # as common, but unrelated to anything
    random = sample.estimate(coin)
    assert 0.4 < random.roc_auc < 0.6, random
    assert learnable.roc_auc > 0.75 > random.roc_auc_high, (learnable, random)
    assert learnable.roc_auc_low <= learnable.roc_auc <= learnable.roc_auc_high


def test_the_sample_keeps_whole_prospects_within_the_bound_and_folds_never_split_one(demo_set):
    sample = LearnabilitySample.of(demo_set, SPEC, max_rows=5_000, seed=3)
    assert 4_000 < len(sample.frame) <= 5_000
    full = demo_set["domain_userid"].value_counts()
    taken = sample.frame["domain_userid"].value_counts()
    assert (full[taken.index] == taken).all()  # every row of each prospect taken
    assert len(sample.matrix) == len(sample.frame)
    tested = []
    for train, test in sample.folds(sample.target("pause", 60)):
        train_ids, test_ids = set(sample.frame["domain_userid"].iloc[train]), set(sample.frame["domain_userid"].iloc[test])
        assert not train_ids & test_ids
        tested.append(test_ids)
    assert sum(map(len, tested)) == len(set().union(*tested)) == len(taken)
    again = LearnabilitySample.of(demo_set.iloc[::-1], SPEC, max_rows=5_000, seed=3)  # row order does not matter
    assert set(again.frame["domain_userid"]) == set(sample.frame["domain_userid"])


def test_a_candidate_target_is_the_one_the_set_would_have(demo_set):
    sample = LearnabilitySample.of(demo_set, SPEC)
    wanted = dataclasses.replace(SPEC, target_event="pause", target_window_minutes=360)
    expected = recompute_target(sample.frame, SPEC, wanted)[wanted.target_column].to_numpy()
    assert (sample.target("pause", 360) == expected).all() and expected.sum() > 0
    assert (sample.target(SPEC.target_event, SPEC.target_window_minutes) == sample.frame[SPEC.target_column]).all()


def test_estimate_targets_gives_a_row_per_candidate_and_nan_for_too_few(demo_set):
    table = estimate_targets(demo_set, SPEC, [("pause", 15), ("no_such_event", 60), ("pause", 15)], max_rows=8_000)
    assert list(table.columns) == list(COLUMNS)
    assert list(zip(table["event_name"], table["target_window_minutes"])) == [("pause", 15), ("no_such_event", 60)]
    assert table["roc_auc"].iloc[0] > 0.7 and np.isnan(table["roc_auc"].iloc[1])


def test_a_set_without_every_event_is_refused_and_a_stop_ends_it(demo_set):
    cut = dataclasses.replace(SPEC, exclude_after_first_target=True)
    with pytest.raises(DatasetError, match="keeps every event"):
        LearnabilitySample.of(demo_set, cut, max_rows=2_000).target("pause", 15)
    assert "keeps every event" in NOT_RECOMPUTABLE
    with pytest.raises(UserError, match="cancelled"):
        estimate_targets(demo_set, SPEC, [("pause", 15)], max_rows=2_000, stopped=lambda: True)
