"""Feature timing and the lifetime and period windows, on a hand-checked timeline, in every
formulation and both dialects (DuckDB, and the Snowflake SQL through fakesnow).

One prospect, first seen 2025-04-01 (as-of 2025-05-14: the default cohort, lookback from 2025-03-15):

    e0  2025-02-01 10:00          page_view /pricing  refr search   before the lookback: history, no row
    e1  2025-04-01 10:00          page_view /home     refr social
    e2  2025-04-01 10:00          page_view /pricing               the same instant as e1
    e3  2025-04-02 09:00          page_view /pricing               no session: history, no row
    e4  2025-04-03 09:00          focus_form
    e6  2025-04-03 09:30          submit_form                      the target of e4 (within 60 minutes)
    e8  2025-04-03 10:00:00       page_view /b        refr email   exactly 2 days before e7
    e9  2025-04-03 10:00:00.000001 page_view /c       refr ads     one microsecond later
    e7  2025-04-05 10:00          page_view /a
"""

from __future__ import annotations

import datetime as dt

import pytest

from prospect_core.events.build import query_training_set
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS
from tests.conftest import AS_OF, event, snowflake_training_set

ATTRIBUTES = (
    {"name": "num_views", "aggregation": "count", "events": ["page_view"], "windows": ["lifetime"]},
    {"name": "num_pricing", "aggregation": "count", "events": ["page_view"],
     "where": [{"property": "page_url", "operator": "like", "value": "%pricing%"}], "windows": ["lifetime"]},
    {"name": "num_moves", "aggregation": "count", "events": ["focus_form", "change_form"], "windows": ["short"]},
    {"name": "num_pages", "aggregation": "count_distinct", "property": "page_url", "period_days": 2},
    {"name": "first_ref", "aggregation": "first", "property": "refr_medium", "windows": ["lifetime"]},
    {"name": "last_ref", "aggregation": "last", "property": "refr_medium", "period_days": 2},
)
COLUMNS = ["num_views", "num_pricing", "num_moves_l7d", "num_pages_l2d", "first_ref", "last_ref_l2d",
           "target_had_submit_form_next1h"]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


ROWS = [
    event("e0", at("2025-02-01 10:00:00"), session="s0", page_url="/pricing", refr_medium="search"),
    event("e1", at("2025-04-01 10:00:00"), page_url="/home", refr_medium="social"),
    event("e2", at("2025-04-01 10:00:00"), page_url="/pricing"),
    event("e3", at("2025-04-02 09:00:00"), session=None, page_url="/pricing"),
    event("e4", at("2025-04-03 09:00:00"), name="focus_form"),
    event("e6", at("2025-04-03 09:30:00"), name="submit_form"),
    event("e8", at("2025-04-03 10:00:00"), page_url="/b", refr_medium="email"),
    event("e9", at("2025-04-03 10:00:00.000001"), page_url="/c", refr_medium="ads"),
    event("e7", at("2025-04-05 10:00:00"), page_url="/a"),
]

# Signals timing: everything up to and including the instant, e3 (no session) and e0 included; a
# 2-day period keeps events later than the instant less 48 hours (e8 is out at e7, e9 in).
SIGNALS = {
    "e1": [3, 2, 0, 2, "search", "social", False],
    "e2": [3, 2, 0, 2, "search", "social", False],
    "e4": [4, 3, 1, 2, "search", "social", True],
    "e6": [4, 3, 1, 2, "search", "social", False],
    "e8": [5, 3, 1, 2, "search", "email", False],
    "e9": [6, 3, 1, 3, "search", "ads", False],
    "e7": [7, 3, 1, 2, "search", "ads", False],
}
# Tutorial timing: strictly earlier events with a session (e1 and e2 do not see each other, e3 is
# never counted, e4 does not count itself); a 2-day period keeps events at most 172,800 second
# boundaries back (e8 is in at e7). Lifetime reads e0, before the lookback.
TUTORIAL = {
    "e1": [1, 1, 0, 0, "search", "", False],
    "e2": [1, 1, 0, 0, "search", "", False],
    "e4": [3, 2, 0, 2, "search", "social", True],
    "e6": [3, 2, 1, 2, "search", "social", False],
    "e8": [3, 2, 1, 2, "search", "social", False],
    "e9": [4, 2, 1, 3, "search", "email", False],
    "e7": [5, 2, 1, 2, "search", "ads", False],
}


def spec(timing: str) -> TrainingSpec:
    return TrainingSpec(as_of=AS_OF, preset="none", feature_timing=timing, attributes=ATTRIBUTES)


def table(frame) -> dict[str, list]:
    frame = frame.set_index("event_id")
    return {event_id: [value.item() if hasattr(value, "item") else value for value in frame.loc[event_id, COLUMNS]]
            for event_id in frame.index}


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize(("timing", "expected"), [("signals", SIGNALS), ("tutorial", TUTORIAL)])
def test_duckdb_rows_are_the_hand_checked_ones(events_warehouse, formulation, timing, expected):
    frame = query_training_set(events_warehouse(ROWS), spec(timing), formulation=formulation)
    assert table(frame) == expected


@pytest.mark.parametrize("formulation", ["seed", "fast"])
@pytest.mark.parametrize(("timing", "expected"), [("signals", SIGNALS), ("tutorial", TUTORIAL)])
def test_snowflake_rows_are_the_hand_checked_ones(formulation, timing, expected):
    assert table(snowflake_training_set(ROWS, spec(timing), formulation)) == expected


def device(name: str | None) -> dict:
    return {"contexts_nl_basjes_yauaa_context_1": None if name is None else f'[{{"deviceClass": "{name}"}}]'}


# Signals' `last` skips NULLs: f2 has no device class (nor app id) right after f1's 'Phone', so signals
# timing serves 'Phone' (and f1's app); f3's own 'Tablet' wins over the past. Tutorial timing takes
# each event's own value, '' when it has none.
DEVICES = [
    event("f0", at("2025-04-01 10:00:00"), app_id=None, **device(None)),
    event("f1", at("2025-04-01 10:05:00"), app_id="website", **device("Phone")),
    event("f2", at("2025-04-01 10:06:00"), app_id=None, **device(None)),
    event("f3", at("2025-04-01 10:07:00"), app_id="docs", **device("Tablet")),
    event("f4", at("2025-04-01 10:08:00"), app_id=None, **device(None)),
]
LATEST = {
    "signals": {"f0": ["", ""], "f1": ["Phone", "website"], "f2": ["Phone", "website"],
                "f3": ["Tablet", "docs"], "f4": ["Tablet", "docs"]},
    "tutorial": {"f0": ["", ""], "f1": ["Phone", "website"], "f2": ["", ""],
                 "f3": ["Tablet", "docs"], "f4": ["", ""]},
}


def latest(frame) -> dict[str, list]:
    frame = frame.set_index("event_id")
    return {event_id: frame.loc[event_id, ["latest_device_class", "latest_app_id"]].tolist() for event_id in frame.index}


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("timing", ["signals", "tutorial"])
def test_an_event_without_a_device_class_is_served_the_latest_one_in_signals_timing(events_warehouse, formulation, timing):
    spec = TrainingSpec(as_of=AS_OF, feature_timing=timing, app_ids=("website", "docs"))
    assert latest(query_training_set(events_warehouse(DEVICES), spec, formulation=formulation)) == LATEST[timing]
    assert latest(snowflake_training_set(DEVICES, spec, "fast" if formulation == "portable" else formulation)) == LATEST[timing]
