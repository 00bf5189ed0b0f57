"""The by-prospect split's guarantees, checked on random prospects and targets (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prospect_core.infra.errors import DatasetError
from prospect_core.modelling.model import TEST_SIZE, split_by_prospect


@st.composite
def prospects_and_targets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 1-80 prospects in shuffled order, 1-6 rows each; a prospect's rows are positive with
    its own probability (0 for most: positives cluster in few prospects)."""
    n_users = draw(st.integers(1, 80))
    names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=n_users, max_size=n_users, unique=True))
    rows_per_user = draw(st.lists(st.integers(1, 6), min_size=n_users, max_size=n_users))
    rates = draw(st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.3, 1.0]), min_size=n_users, max_size=n_users))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.array(names, dtype=object), rows_per_user)
    y = rng.random(len(ids)) < np.repeat(rates, rows_per_user)
    order = rng.permutation(len(ids))
    return ids[order], y[order]


def ever_positive(ids: np.ndarray, y: np.ndarray) -> set:
    return set(ids[y])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prospects_and_targets(), st.integers(0, 2**32 - 1))
def test_split_keeps_prospects_whole_takes_a_fifth_of_each_stratum_or_says_why_not(data, seed: int) -> None:
    ids, y = data
    users, positive_users = set(ids), ever_positive(ids, y)
    if len(users) < 5:
        with pytest.raises(DatasetError, match=rf"needs at least 5 prospects \(domain_userid\), got {len(users)}"):
            split_by_prospect(ids, y, seed)
        return
    if len(positive_users) < 2:
        with pytest.raises(DatasetError, match=rf"at least 2 prospects who hit the target.*got {len(positive_users)} of"):
            split_by_prospect(ids, y, seed)
        return

    train, test = split_by_prospect(ids, y, seed)

    # every row on exactly one side, in row order
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(ids)))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    # no prospect on both sides
    train_users, test_users = set(ids[train]), set(ids[test])
    assert not train_users & test_users
    # a fifth of each stratum (rounded half up), at least one prospect per side when it has two
    for stratum in (positive_users, users - positive_users):
        in_test = len(stratum & test_users)
        expected = 0 if len(stratum) < 2 else min(max(math.floor(TEST_SIZE * len(stratum) + 0.5), 1), len(stratum) - 1)
        assert in_test == expected, (len(stratum), in_test)
        assert abs(in_test - TEST_SIZE * len(stratum)) < 1 or len(stratum) < 2
    assert abs(len(test_users) - TEST_SIZE * len(users)) < 2
    # so positive rows on both sides, and negative prospects on both sides when there are two
    assert y[train].any() and y[test].any()
    if len(users - positive_users) >= 2:
        assert (users - positive_users) & train_users and (users - positive_users) & test_users


@settings(max_examples=100, deadline=None)
@given(prospects_and_targets(), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_split_is_reproducible_from_the_seed_whatever_the_row_order(data, seed: int, shuffle_seed: int) -> None:
    ids, y = data
    try:
        train, test = split_by_prospect(ids, y, seed)
    except DatasetError:
        return  # the data's fault, covered above
    again = split_by_prospect(ids, y, seed)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], test)
    order = np.random.default_rng(shuffle_seed).permutation(len(ids))
    _, shuffled_test = split_by_prospect(ids[order], y[order], seed)
    assert set(ids[order][shuffled_test]) == set(ids[test])


def test_seeds_pick_different_prospects_and_a_series_splits_like_its_values() -> None:
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 500, size=5_000).astype(str)
    y = rng.random(5_000) < 0.05
    tests = [set(ids[split_by_prospect(ids, y, seed)[1]]) for seed in range(5)]
    assert all(a != b for i, a in enumerate(tests) for b in tests[i + 1:])
    for dtype in ("object", "string[pyarrow]"):
        _, test = split_by_prospect(pd.Series(ids, dtype=dtype), y, seed=3)
        assert set(ids[test]) == tests[3]
