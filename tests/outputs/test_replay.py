"""Proof by replay: the training SQL equals an independent Python replay of Signals' semantics.

`prospect_core.outputs.replay` has no SQL. Here it runs at every row of training sets built from the
oracle's edge-dense events (timestamp ties, events one window ± < 1 s apart, NULL ids and values, a
heavy prospect), in both dialects (DuckDB, and Snowflake SQL through fakesnow), for the tutorial's
features and for custom attributes of every aggregation and operator. Small hand-written timelines
pin the rules themselves (instant ties, period edges, the 100-value cap, LIKE, null-skipping).
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prospect_core.events.build import query_training_set
from prospect_core.events.warehouse import DuckDBWarehouse
from prospect_core.outputs import replay as replay_module
from prospect_core.outputs.export import parity_events
from prospect_core.outputs.replay import (
    DIFFERENCES, SIGNALS, TUTORIAL, UNIQUE_LIST_LIMIT, Semantics, like_pattern, parity_sample, replay, training_semantics,
)
from prospect_core.outputs.signals import parity_report
from prospect_core.trainingset.attributes import Attribute, Criterion
from prospect_core.trainingset.features import feature_columns
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS
from tests.conftest import AS_OF, event, snowflake_training_set, write_events_db
from tests.trainingset.test_attributes import EVERY_KIND
from tests.trainingset.test_oracle import SPECS, generate_events

# Snowplow's notebook filters: the events it reads by name, and only the cohort's apps
FILTERS = {"included_events": ("page_view", "page_ping", "focus_form", "submit_form", "play"),
           "count_only_cohort_apps": True}
SPECS_REPLAYED = {
    "tutorial": SPECS["default"],
    "custom windows and target": SPECS["custom"],
    "every aggregation": TrainingSpec(as_of=AS_OF, attributes=EVERY_KIND),
    "event and app filters": TrainingSpec(as_of=AS_OF, **FILTERS),
}


def assert_equal_to_replay(frame: pd.DataFrame, events: list[dict], spec: TrainingSpec, semantics: Semantics) -> None:
    """Every input of every row equals the replay; the message names the column and a row that differs."""
    expected = replay(pd.DataFrame(events), frame, spec, semantics)
    assert len(frame) > 100
    for column in feature_columns(spec):
        differs = frame[column].astype(object).to_numpy() != expected[column].astype(object).to_numpy()
        first = frame.loc[differs].head(1)
        assert not differs.any(), (
            f"{column}: {int(differs.sum())} of {len(frame)} rows differ from the replay, e.g. event "
            f"{first['event_id'].tolist()}: SQL {first[column].tolist()}, replay {expected.loc[differs, column].head(1).tolist()}"
        )


def test_the_replay_reads_no_sql():
    """Independent by construction: it imports nothing that renders or runs SQL."""
    tree = ast.parse(Path(replay_module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if any(part in name for part in ("sql", "duckdb", "jinja", "warehouse", "snowflake"))}


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("spec_name", SPECS_REPLAYED)
def test_tutorial_timing_equals_the_replay_on_duckdb(tmp_path, spec_name, formulation):
    spec, events = SPECS_REPLAYED[spec_name], generate_events(1, n_users=30)
    frame = query_training_set(DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", events)), spec,
                               formulation=formulation)
    assert_equal_to_replay(frame, events, spec, TUTORIAL)


@pytest.mark.parametrize("spec_name", SPECS_REPLAYED)
def test_tutorial_timing_equals_the_replay_on_snowflake(spec_name):
    spec, events = SPECS_REPLAYED[spec_name], generate_events(3, n_users=25)
    assert_equal_to_replay(snowflake_training_set(events, spec), events, spec, TUTORIAL)


LIFETIME_AND_PERIOD = (
    Attribute("num_views", "count", events=("page_view",), windows=("lifetime",)),
    Attribute("num_pricing_2d", "count", events=("page_view",), where=(Criterion("page_url", "like", "%pricing%"),),
              windows=("period",), period_days=2),
    Attribute("num_sessions_ever", "count_distinct", property="domain_sessionid", windows=("lifetime",)),
    Attribute("first_medium_ever", "first", property="refr_medium", windows=("lifetime",)),
    Attribute("last_campaign_3d", "last", property="mkt_campaign", windows=("period",), period_days=3),
)
SIGNALS_SPECS = {
    "tutorial preset": TrainingSpec(as_of=AS_OF, feature_timing="signals"),
    "lifetime and period_days": TrainingSpec(as_of=AS_OF, feature_timing="signals", preset="none",
                                             attributes=LIFETIME_AND_PERIOD),
    "every aggregation": TrainingSpec(as_of=AS_OF, feature_timing="signals", attributes=EVERY_KIND),
    "event and app filters": TrainingSpec(as_of=AS_OF, feature_timing="signals", **FILTERS),
}


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("spec_name", SIGNALS_SPECS)
def test_signals_timing_equals_the_replay_on_duckdb(tmp_path, spec_name, formulation):
    spec, events = SIGNALS_SPECS[spec_name], generate_events(2, n_users=30)
    frame = query_training_set(DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", events)), spec,
                               formulation=formulation)
    assert_equal_to_replay(frame, events, spec, training_semantics(spec))


@pytest.mark.parametrize("spec_name", SIGNALS_SPECS)
def test_signals_timing_equals_the_replay_on_snowflake(spec_name):
    spec, events = SIGNALS_SPECS[spec_name], generate_events(4, n_users=25)
    assert_equal_to_replay(snowflake_training_set(events, spec), events, spec, training_semantics(spec))


def test_the_parity_report_is_the_replay_with_each_mismatch_explained(tmp_path):
    """On the user's set: the share matching is the replay of Signals against the set, and the
    reasons' shares add up to the rest; in signals timing only the unique_list cap is left."""
    spec, events = SPECS["default"], generate_events(1, n_users=30)
    warehouse = DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", events))
    frame = query_training_set(warehouse, spec)
    report = {row["input"]: row for row in parity_report(frame, spec, parity_events(warehouse, spec, frame))}
    served = replay(pd.DataFrame(events), frame, spec, SIGNALS)
    pings = report["num_page_pings_l7d"]
    assert pings["share_matching"] == pytest.approx(float((frame["num_page_pings_l7d"] == served["num_page_pings_l7d"]).mean()))
    assert pings["material"] and sum(m["share"] for m in pings["mismatches"]) == pytest.approx(1 - pings["share_matching"])
    assert {m["why"] for m in pings["mismatches"]} <= {why for why, _ in DIFFERENCES.values()}
    assert report["day_of_week"]["share_matching"] == 1 and not report["day_of_week"]["mismatches"]
    # events without a device class, where Signals' null-skipping last serves an earlier one
    assert [m["why"] for m in report["latest_device_class"]["mismatches"]] == [DIFFERENCES["event_fallback"][0]]

    timed = spec.replace(feature_timing="signals")
    frame = query_training_set(warehouse, timed)
    report = parity_report(frame, timed, parity_events(warehouse, timed, frame))
    # nothing left: an event without a device class is served the latest earlier one, as Signals' `last` does
    assert [row["input"] for row in report if row["share_matching"] != 1] == []
    # without events nothing is measured, and the report says how each input is served
    assert all(row["share_matching"] is None and row["why"] for row in parity_report(frame, timed))


def test_a_parity_report_of_many_prospects_replays_a_seeded_sample():
    frame = pd.DataFrame({"domain_userid": [f"u{i // 3}" for i in range(3_000)]})
    sample = parity_sample(frame, limit=50)
    assert (sample.prospects, sample.of_prospects, len(sample.rows)) == (50, 1_000, 150)
    assert sample.rows.equals(parity_sample(frame, limit=50).rows)
    assert sample.description == "150 rows of 50 prospects, a seeded sample of the set's 1,000"


def test_signals_and_tutorial_timing_differ_where_the_issue_measured_it(tmp_path):
    """The replay is not the SQL restated: under Signals' rules the tutorial features move on many rows
    (the current event counted, filters Signals never sees), most of all the heartbeat counter."""
    spec, events = SPECS["default"], generate_events(1)
    frame = query_training_set(DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", events)), spec)
    served = replay(pd.DataFrame(events), frame, spec, SIGNALS)
    differs = {c: float((frame[c].astype(object) != served[c].astype(object)).mean()) for c in feature_columns(spec)}
    assert differs["day_of_week"] == 0 and differs["latest_app_id"] == 0
    assert 0.1 < differs["num_page_views_l7d"] < differs["num_page_pings_l7d"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(st.tuples(st.integers(0, 40 * 86_400), st.sampled_from([0, 0, 999, 500_000]),
                                  st.sampled_from(["page_view", "page_ping", "submit_form", "link_click"]),
                                  st.booleans()), min_size=1, max_size=30))
def test_random_timelines_equal_the_replay(tmp_path_factory, offsets):
    """Hypothesis: any small timeline of one prospect (seconds apart, ties, sub-second offsets)."""
    start = dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=45)
    events = [event(f"e{i}", start + dt.timedelta(seconds=s, microseconds=micro), name=name,
                    session="s1" if with_session else None,
                    page_url="https://x.io/pricing" if i % 3 == 0 else "https://x.io/blog")
              for i, (s, micro, name, with_session) in enumerate(offsets)]
    events.insert(0, event("first", start, name="page_view"))  # first seen inside the cohort window
    spec = TrainingSpec(as_of=AS_OF, attributes=(Attribute("num_blog_views", "count", events=("page_view",),
                                                           where=(Criterion("page_url", "like", "%blog"),)),))
    path = write_events_db(tmp_path_factory.mktemp("h") / "e.duckdb", events)
    frame = query_training_set(DuckDBWarehouse(path), spec, formulation="seed")
    expected = replay(pd.DataFrame(events), frame, spec, TUTORIAL)
    pd.testing.assert_frame_equal(frame[feature_columns(spec)].astype(object), expected.astype(object),
                                  check_dtype=False)


# ----- the rules, on hand-written timelines ---------------------------------------------------------

T0 = dt.datetime(2025, 5, 10, 12, 0, 0)


def one_prospect(*events: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame(events)
    return frame, frame[["event_id", "domain_userid", "derived_tstamp"]]


def test_signals_counts_every_event_at_the_instant_and_the_tutorial_none():
    events, points = one_prospect(event("a", T0), event("b", T0), event("c", T0 + dt.timedelta(seconds=1)))
    spec = TrainingSpec(as_of=AS_OF)
    assert replay(events, points, spec, SIGNALS)["num_page_views_l7d"].tolist() == [2, 2, 3]
    assert replay(events, points, spec, TUTORIAL)["num_page_views_l7d"].tolist() == [0, 0, 2]


def test_a_period_keeps_events_later_than_the_instant_minus_the_period():
    """Signals: exactly 7 days back is out, 7 days less 1 ms is in. The tutorial counts second
    boundaries: 7 days and 0.9 s back is 7 days of boundaries when it crosses no extra one."""
    week = dt.timedelta(days=7)
    now = T0 + dt.timedelta(milliseconds=950)
    events, points = one_prospect(event("out", now - week), event("in", now - week + dt.timedelta(milliseconds=1)),
                                  event("now", now, name="page_ping"))
    spec = TrainingSpec(as_of=AS_OF)
    values = replay(events, points, spec, SIGNALS).set_index(points["event_id"])["num_page_views_l7d"]
    assert values["now"] == 1
    boundaries = replay(events, points, spec, TUTORIAL).set_index(points["event_id"])["num_page_views_l7d"]
    assert boundaries["now"] == 2  # both are 7 days of second boundaries back


def test_a_unique_list_keeps_at_most_100_values():
    events, points = one_prospect(*(event(f"e{i}", T0 + dt.timedelta(minutes=i), session=f"s{i}") for i in range(130)))
    spec = TrainingSpec(as_of=AS_OF)
    last = points.tail(1)
    assert replay(events, last, spec, SIGNALS)["num_sessions_l7d"].tolist() == [UNIQUE_LIST_LIMIT]
    assert replay(events, last, spec, TUTORIAL)["num_sessions_l7d"].tolist() == [129]


def test_first_and_last_skip_missing_values_and_criteria_are_false_on_them():
    events, points = one_prospect(
        event("a", T0, refr_medium="search", mkt_medium="email"),
        event("b", T0 + dt.timedelta(minutes=1), refr_medium=None, mkt_medium=None, app_id=None),
        event("c", T0 + dt.timedelta(minutes=2), refr_medium="social", mkt_medium=None),
        event("d", T0 + dt.timedelta(minutes=3), refr_medium=None, app_id=None),
    )
    spec = TrainingSpec(as_of=AS_OF, attributes=(
        Attribute("last_refr", "last", property="refr_medium", windows=("long",)),
        Attribute("num_not_docs", "count", where=(Criterion("app_id", "neq", "docs"),), windows=("long",)),
    ))
    served = replay(events, points, spec, SIGNALS)
    assert served["last_refr_l30d"].tolist() == ["search", "search", "social", "social"]
    assert served["first_refr_medium_l30d"].tolist() == ["search"] * 4
    assert served["num_not_docs_l30d"].tolist() == [1, 1, 2, 2]  # app_id NULL is not 'not docs'
    # an event without an app id: Signals' `last` over every event still holds the latest one seen
    assert served["latest_app_id"].tolist() == ["website"] * 4
    assert replay(events, points, spec, TUTORIAL)["latest_app_id"].tolist() == ["website", "", "website", ""]


@pytest.mark.parametrize("pattern, text, matches", [
    ("%pricing%", "https://x.io/pricing/team", True),
    ("%pricing", "https://x.io/pricing/team", False),
    ("https://x.io/_", "https://x.io/a", True),
    ("https://x.io/_", "https://x.io/ab", False),
    ("%Pricing%", "https://x.io/pricing", False),  # case-sensitive
    ("%a.b%", "xaxbx", False),  # a dot is itself
    ("100%", "100% off\nnow", True),  # % spans lines
    ("a\\%", "a\\x", True),  # no escape character
])
def test_like_is_sql_like(pattern, text, matches):
    assert (like_pattern(pattern).fullmatch(text) is not None) is matches
