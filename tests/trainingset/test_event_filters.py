"""The event filters of Snowplow's notebook (issue 25, section 5): an include-list of events and the
cohort's apps as a filter on the events counted, on a hand-checked timeline, in every formulation on
DuckDB and the Snowflake SQL through fakesnow. In tutorial timing they shape the rows and the history;
in signals timing the rows only (Signals counts every event). Defaults keep today's rows.

One prospect, first seen 2025-04-01 (as-of 2025-05-14), `num_events` counts every event in 7 days:

    a1 10:00 page_view   website
    a2 10:10 page_ping   website
    a3 10:20 page_view   docs
    a4 10:30 focus_form  website
    a5 10:40 submit_form website     the target of a1..a4 (within 60 minutes)
    a6 10:50 page_view   website
    a7 11:00 submit_form docs        the target of a5 and a6, unless docs' events are left out
"""

from __future__ import annotations

import datetime as dt

import pytest

from prospect_core.events.build import query_training_set
from prospect_core.infra.errors import UserError
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS, render_training_sql
from tests.conftest import AS_OF, event, snowflake_training_set

DAY = dt.datetime(2025, 4, 1, 10, 0)
ROWS = [
    event(f"a{i + 1}", DAY + dt.timedelta(minutes=10 * i), name=name, app_id=app)
    for i, (name, app) in enumerate([("page_view", "website"), ("page_ping", "website"), ("page_view", "docs"),
                                     ("focus_form", "website"), ("submit_form", "website"),
                                     ("page_view", "website"), ("submit_form", "docs")])
]
COUNT_ALL = ({"name": "num_events", "aggregation": "count", "windows": ["short"]},)

# (filters, timing) -> {row: [num_events_l7d, target]}
CASES = {
    "defaults, tutorial": ({}, "tutorial", {
        "a1": [0, True], "a2": [1, True], "a3": [2, True], "a4": [3, True], "a5": [4, True], "a6": [5, True],
        "a7": [6, False]}),
    "defaults, signals": ({}, "signals", {
        "a1": [1, True], "a2": [2, True], "a3": [3, True], "a4": [4, True], "a5": [5, True], "a6": [6, True],
        "a7": [7, False]}),
    # page views and form submissions only: the rows, and in tutorial timing what is counted
    "included events, tutorial": ({"included_events": ("page_view", "submit_form")}, "tutorial", {
        "a1": [0, True], "a3": [1, True], "a5": [2, True], "a6": [3, True], "a7": [4, False]}),
    "included events, signals": ({"included_events": ("page_view", "submit_form")}, "signals", {
        "a1": [1, True], "a3": [3, True], "a5": [5, True], "a6": [6, True], "a7": [7, False]}),
    # the cohort's apps (website, hs-landing) only: docs' a3 and a7 are neither rows nor targets
    "cohort apps, tutorial": ({"count_only_cohort_apps": True}, "tutorial", {
        "a1": [0, True], "a2": [1, True], "a4": [2, True], "a5": [3, False], "a6": [4, False]}),
    "cohort apps, signals": ({"count_only_cohort_apps": True}, "signals", {
        "a1": [1, True], "a2": [2, True], "a4": [4, True], "a5": [5, False], "a6": [6, False]}),
    "both, and leaving out moments after the first target": (
        {"included_events": ("page_view", "submit_form"), "count_only_cohort_apps": True,
         "exclude_after_first_target": True}, "tutorial", {"a1": [0, True]}),
}


def spec(filters: dict, timing: str) -> TrainingSpec:
    return TrainingSpec(as_of=AS_OF, preset="none", feature_timing=timing, attributes=COUNT_ALL, **filters)


def table(frame) -> dict[str, list]:
    frame = frame.set_index("event_id")
    target = [column for column in frame.columns if column.startswith("target_")][0]
    return {event_id: [int(frame.loc[event_id, "num_events_l7d"]), bool(frame.loc[event_id, target])]
            for event_id in frame.index}


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("case", CASES)
def test_duckdb_rows_are_the_hand_checked_ones(events_warehouse, formulation, case):
    filters, timing, expected = CASES[case]
    assert table(query_training_set(events_warehouse(ROWS), spec(filters, timing), formulation=formulation)) == expected


@pytest.mark.parametrize("formulation", ["seed", "fast"])
@pytest.mark.parametrize("case", CASES)
def test_snowflake_rows_are_the_hand_checked_ones(formulation, case):
    filters, timing, expected = CASES[case]
    assert table(snowflake_training_set(ROWS, spec(filters, timing), formulation)) == expected


@pytest.mark.parametrize(("changes", "message"), [
    ({"included_events": ("page_view",)}, "target_event 'submit_form' is not in included_events"),
    ({"included_events": ("page_view", "")}, "included_events"),
    ({"count_only_cohort_apps": "yes"}, "count_only_cohort_apps must be true or false, got 'yes'"),
])
def test_bad_filters_are_named(changes, message):
    with pytest.raises(UserError, match=message):
        TrainingSpec(**changes)


def test_the_filters_round_trip_through_json_and_bind_their_names():
    filtered = TrainingSpec(included_events=("page_view", "submit_form'; --injected"), target_event="page_view",
                            count_only_cohort_apps=True)
    assert TrainingSpec.from_dict(filtered.to_dict()) == filtered
    rendered = render_training_sql(filtered)
    assert "injected" not in rendered.text and rendered.params["included_events_1"] == "submit_form'; --injected"
