"""A change of the target alone recomputes only the target column, and it equals a full rebuild.

Compared with the query itself (every formulation) on the demo data and on the target's edges:
events at the same instant, window ends in second boundaries as `datediff` counts them, and
counts above one. The build path uses it only when nothing but the target changed and the set holds
every eligible event.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from prospect_core.events.build import TARGET_ONLY_NOTE, EarlierSet, build_training_set, query_training_set
from prospect_core.events.demo_data import write_demo_db
from prospect_core.events.warehouse import DuckDBWarehouse
from prospect_core.trainingset.dataset import recompute_target, target_only_change
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS
from tests.conftest import AS_OF, event

SPEC = TrainingSpec(as_of=AS_OF)
T0 = dt.datetime(2025, 4, 1, 10, 0, 0, 900_000)
NEW_TARGETS = [
    {"target_window_minutes": 30},
    {"target_window_minutes": 1},
    {"target_event": "page_view", "target_min_count": 3, "target_window_minutes": 90},
    {"target_event": "focus_form", "target_min_count": 2, "target_window_minutes": 600},
    {"target_event": "no_such_event"},
]


def assert_same_set(recomputed: pd.DataFrame, rebuilt: pd.DataFrame) -> None:
    """Same rows, same columns in the same order, same values (the target included)."""
    assert list(recomputed.columns) == list(rebuilt.columns)
    by_id = recomputed.set_index("event_id").loc[rebuilt["event_id"]].reset_index()
    pd.testing.assert_frame_equal(by_id, rebuilt.reset_index(drop=True))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DuckDBWarehouse:
    path = tmp_path_factory.mktemp("target_only") / "demo.duckdb"
    write_demo_db(path, n_users=400, seed=5)
    return DuckDBWarehouse(path)


@pytest.mark.parametrize("change", NEW_TARGETS)
def test_recomputed_target_equals_the_query_on_demo_data(demo, change):
    built = query_training_set(demo, TrainingSpec())
    wanted = TrainingSpec().replace(**change)
    rebuilt = query_training_set(demo, wanted)
    assert_same_set(recompute_target(built, TrainingSpec(), wanted), rebuilt)
    if change != {"target_event": "no_such_event"}:
        assert 0 < rebuilt[wanted.target_column].sum() < len(rebuilt)  # a real target, not all one class


def edge_events() -> list[dict]:
    second = dt.timedelta(seconds=1)
    return [
        event("r", T0),
        event("same_instant", T0, name="submit_form"),  # at the row's instant: not ahead
        event("tie_row", T0),  # another row at that instant
        event("a", T0 + 60 * second - dt.timedelta(microseconds=900_000), name="submit_form"),  # 59.1 s, 60 boundaries
        event("b", T0 + 60 * second + dt.timedelta(microseconds=100_000), name="submit_form"),  # 60.1 s, 61 boundaries
        event("c", T0 + 120 * second, name="submit_form"),
        event("d", T0 + 3600 * second + dt.timedelta(microseconds=50_000), name="submit_form"),  # 3600 boundaries
        event("e", T0 + 3601 * second, name="submit_form"),
        event("other", T0 + 5 * second, user="u2", session="s2", name="submit_form"),  # another prospect's
        event("u2_row", T0, user="u2", session="s2"),
    ]


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("change", [
    {"target_window_minutes": 1},
    {"target_window_minutes": 2},
    {"target_window_minutes": 60},
    {"target_window_minutes": 1, "target_min_count": 2},
    {"target_window_minutes": 60, "target_min_count": 4},
    {"target_window_minutes": 61, "target_min_count": 5},
    {"target_event": "page_view"},
])
def test_recomputed_target_equals_the_query_at_the_edges(events_warehouse, formulation, change):
    warehouse = events_warehouse(edge_events())
    built = query_training_set(warehouse, SPEC, formulation=formulation)
    wanted = SPEC.replace(**change)
    rebuilt = query_training_set(warehouse, wanted, formulation=formulation)
    assert_same_set(recompute_target(built, SPEC, wanted), rebuilt)


def test_the_edges_are_counted_as_datediff_counts_them(events_warehouse):
    built = query_training_set(events_warehouse(edge_events()), SPEC).set_index("event_id")
    for change, expected in [({"target_window_minutes": 1}, True), ({"target_window_minutes": 1, "target_min_count": 2}, False),
                             ({"target_window_minutes": 2, "target_min_count": 3}, True),
                             ({"target_window_minutes": 60, "target_min_count": 4}, True),
                             ({"target_window_minutes": 60, "target_min_count": 5}, False)]:
        wanted = SPEC.replace(**change)
        row = recompute_target(built.reset_index(), SPEC, wanted).set_index("event_id").loc["r"]
        assert bool(row[wanted.target_column]) is expected, change


@pytest.mark.parametrize(("change", "reusable"), [
    ({"target_window_minutes": 30}, True),
    ({"target_event": "page_view", "target_min_count": 3}, True),
    ({}, False),  # nothing to recompute
    ({"long_window_days": 45}, False),
    ({"target_window_minutes": 30, "app_ids": ("website",)}, False),
])
def test_only_a_target_change_is_target_only(change, reusable):
    assert target_only_change(SPEC, SPEC.replace(**change)) is reusable


@pytest.mark.parametrize("sampled", [{"max_negatives_per_positive": 2}, {"exclude_after_first_target": True}])
def test_sets_whose_rows_depend_on_the_target_are_rebuilt(sampled):
    built = SPEC.replace(**sampled)
    assert not target_only_change(built, built.replace(target_window_minutes=30))


def test_the_build_path_reuses_the_features(demo):
    first = build_training_set(demo, TrainingSpec(), max_rows=10**7)
    wanted = TrainingSpec(target_event="page_view", target_min_count=3)
    again = build_training_set(demo, wanted, max_rows=10**7, earlier=EarlierSet(first.spec, first.frame))
    assert again.notes == (TARGET_ONLY_NOTE,) and again.preflight is None
    rebuilt = build_training_set(demo, wanted, max_rows=10**7)
    assert_same_set(again.frame, rebuilt.frame)
    assert again.summary == rebuilt.summary and again.summary.positives != first.summary.positives

    capped = build_training_set(demo, wanted, max_rows=10**7, earlier=EarlierSet(first.spec, first.frame, capped=True))
    assert capped.notes == () and capped.preflight is not None  # a sample of the rows: queried again


def test_instants_order_the_same_as_microseconds_or_as_ranks():
    from prospect_core.trainingset.dataset import _instants

    rng = np.random.default_rng(0)
    micros = rng.integers(0, 10**9, 500)
    users = rng.integers(0, 7, 500)
    window_end = micros + rng.integers(1, 10**6, 500)
    keys = []
    for prospects in (7, 2**61):  # fits in 62 bits as microseconds; does not, so ranks
        now, end, span = _instants(micros, window_end, prospects)
        assert np.all(now < span) and np.all(end < span) and np.all(now >= 0)
        keys.append(np.concatenate([users * span + now, users * span + end]))
    assert np.array_equal(np.argsort(keys[0], kind="stable"), np.argsort(keys[1], kind="stable"))
