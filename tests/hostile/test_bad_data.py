"""Bad data in the events table: each case gives a clear message or the documented behaviour
(README, "Security and limits"), the same in every formulation."""

from __future__ import annotations

import datetime as dt
import json
import random

import duckdb
import pandas as pd
import pytest

from prospect_core.events.build import query_training_set
from prospect_core.infra.errors import DatasetError
from prospect_core.modelling.model import ModelParams, check_training_set, train_model
from prospect_core.trainingset.training_sql import FORMULATIONS
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import event, write_events_db
from tests.hostile.conftest import SPEC, T0

MINUTE = dt.timedelta(minutes=1)


def warehouse_of(tmp_path, rows, *, alter: str | None = None) -> DuckDBWarehouse:
    path = write_events_db(tmp_path / f"events_{random.random():.12f}.duckdb", rows or [event("placeholder", T0)])
    with duckdb.connect(str(path)) as connection:
        if not rows:
            connection.execute("delete from atomic.events")
        if alter:
            connection.execute(alter)
    return DuckDBWarehouse(path)


def every_formulation(warehouse, spec=SPEC) -> dict[str, pd.DataFrame]:
    return {name: query_training_set(warehouse, spec, formulation=name) for name in FORMULATIONS}


def assert_all_equal(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    first, *others = frames.values()
    for frame in others:
        pd.testing.assert_frame_equal(frame, first)
    return first


def converting_user(user: str, start: dt.datetime, session: str = "s1") -> list[dict]:
    return [event(f"{user}-1", start, user=user, session=session),
            event(f"{user}-2", start + MINUTE, user=user, session=session, name="submit_form"),
            event(f"{user}-3", start + 3 * MINUTE, user=user, session=session)]


def test_an_empty_events_table_gives_no_rows_and_clear_messages(tmp_path):
    warehouse = warehouse_of(tmp_path, [])
    frame = assert_all_equal(every_formulation(warehouse))
    assert frame.empty and list(frame.columns)[:3] == ["event_id", "domain_userid", "derived_tstamp"]
    assert warehouse.preflight(SPEC).problems == (  # the source as the page and the CLI name it, not its table
        f"{warehouse.label} has no events in the lookback window before the as-of date {SPEC.as_of:%Y-%m-%d}; "
        "check the as-of date",)
    with pytest.raises(DatasetError, match="the training set has no rows"):
        check_training_set(frame, SPEC)


def test_a_cohort_with_no_users_is_named_by_the_preflight(tmp_path):
    recent = dt.datetime.combine(SPEC.as_of - dt.timedelta(days=4), dt.time(10))
    warehouse = warehouse_of(tmp_path, converting_user("u1", recent))
    spec = SPEC.replace(cohort_first_seen_from_days=40, cohort_first_seen_to_days=35)  # u1 was first seen 4 days before
    assert all(frame.empty for frame in every_formulation(warehouse, spec).values())
    assert "no user was first seen in the cohort window" in warehouse.preflight(spec).problems[0]


def test_one_class_targets_are_refused_before_fitting(tmp_path):
    warehouse = warehouse_of(tmp_path, [event("a", T0), event("b", T0 + MINUTE)])
    frame = assert_all_equal(every_formulation(warehouse))
    with pytest.raises(DatasetError, match=r"has only one class \(0 True, 2 False\)"):
        train_model(frame, SPEC, ModelParams(n_estimators=2))


def test_a_single_user_cannot_be_split_by_prospect(tmp_path):
    warehouse = warehouse_of(tmp_path, converting_user("u1", T0) + [event("x", T0 + 2 * MINUTE), event("y", T0 + 4 * MINUTE)])
    frame = assert_all_equal(every_formulation(warehouse))
    assert frame["domain_userid"].nunique() == 1
    with pytest.raises(DatasetError, match="split"):
        train_model(frame, SPEC, ModelParams(n_estimators=2), split="by_user")


def test_all_null_optional_columns_give_constant_features(tmp_path):
    rows = [*converting_user("u1", T0), *converting_user("u2", T0 + dt.timedelta(days=1))]
    frame = assert_all_equal(every_formulation(warehouse_of(tmp_path, rows)))
    assert len(frame) == 6 and frame[SPEC.target_column].sum() == 2
    assert (frame["latest_device_class"] == "").all() and (frame["first_refr_medium_l30d"] == "").all()
    assert (frame["num_engaged_campaigns_l30d"] == 0).all() and (frame["num_media_events_l30d"] == 0).all()


def test_duplicate_event_ids_count_once_in_every_formulation(tmp_path):
    """Snowplow delivers at least once: the earliest copy of an event_id is the event, in every formulation."""
    rows = [event("a", T0), event("a", T0), event("b", T0 + MINUTE, name="submit_form"),
            event("c", T0 + 2 * MINUTE), event("c", T0 + 90 * MINUTE), event("d", T0 + 3 * MINUTE)]
    frame = assert_all_equal(every_formulation(warehouse_of(tmp_path, rows))).set_index("event_id")
    assert list(frame.index) == ["a", "b", "c", "d"]
    assert frame["num_page_views_l7d"].tolist() == [0, 1, 1, 2]  # a once, c once (its 10:02 copy)
    assert bool(frame.loc["a", SPEC.target_column]) and not frame.loc["c", SPEC.target_column]


def test_events_without_an_event_id_are_dropped(tmp_path):
    rows = [event(None, T0), event("b", T0 + MINUTE), event("c", T0 + 2 * MINUTE, name="submit_form")]
    frame = assert_all_equal(every_formulation(warehouse_of(tmp_path, rows)))
    assert frame["event_id"].tolist() == ["b", "c"] and frame["num_page_views_l7d"].tolist() == [0, 1]


def test_timestamps_with_a_time_zone_are_read_in_utc(tmp_path):
    """A TIMESTAMPTZ column gives the rows of the same instants stored as UTC TIMESTAMPs, whatever the
    machine's time zone: the warehouse reads in UTC (the as-of day ends at midnight UTC)."""
    end_of_day = dt.datetime.combine(SPEC.as_of + dt.timedelta(days=1), dt.time())
    rows = [*converting_user("u1", T0), event("late", end_of_day - MINUTE, user="u1"),
            event("next day", end_of_day + 3 * 60 * MINUTE, user="u1")]
    naive = warehouse_of(tmp_path, rows)
    zoned = warehouse_of(tmp_path, rows, alter="set TimeZone = 'America/Los_Angeles'; "
                         "alter table atomic.events alter derived_tstamp type timestamptz using timezone('UTC', derived_tstamp)")
    with zoned.connect() as connection:
        assert connection.execute("select current_setting('TimeZone')").fetchone()[0] == "UTC"
    expected = assert_all_equal(every_formulation(naive))
    actual = assert_all_equal(every_formulation(zoned))
    assert actual["event_id"].tolist() == expected["event_id"].tolist() == ["u1-1", "u1-2", "u1-3", "late"]
    assert str(actual["derived_tstamp"].dt.tz) == "UTC"
    assert actual["derived_tstamp"].dt.tz_localize(None).tolist() == expected["derived_tstamp"].tolist()
    pd.testing.assert_frame_equal(actual.drop(columns="derived_tstamp"), expected.drop(columns="derived_tstamp"))


def test_rows_out_of_order_give_the_same_training_set(tmp_path):
    rows = [*converting_user("u1", T0), *converting_user("u2", T0 + 30 * MINUTE, session="s2"),
            *[event(f"p{i}", T0 + i * 7 * MINUTE, user="u3", session=f"s{i % 3}") for i in range(12)]]
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    in_order = assert_all_equal(every_formulation(warehouse_of(tmp_path, rows)))
    pd.testing.assert_frame_equal(assert_all_equal(every_formulation(warehouse_of(tmp_path, shuffled))), in_order)


def test_a_100_kb_json_context_is_read(tmp_path):
    wide = json.dumps([{"deviceClass": "Phone", "padding": "x" * 100_000, "nested": [{"a": [1] * 200}] * 20}])
    rows = [event("a", T0, contexts_nl_basjes_yauaa_context_1=wide),
            event("b", T0 + MINUTE, name="submit_form", contexts_com_snowplowanalytics_snowplow_media_player_2=wide)]
    frame = assert_all_equal(every_formulation(warehouse_of(tmp_path, rows))).set_index("event_id")
    assert frame.loc["a", "latest_device_class"] == "Phone" and frame.loc["b", "num_media_events_l30d"] == 0
    assert bool(frame.loc["a", SPEC.target_column])
