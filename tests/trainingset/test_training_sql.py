"""The training-set SQL, one window edge at a time: a few given events in, expected rows out.

Every test runs the query on DuckDB; the Snowflake rendering is checked to parse and to bind the
same values. The spec's as-of date is 2025-05-14, so the default cohort is users first seen between
2025-03-15 and 2025-04-14.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot

from prospect_core.events.build import query_training_set
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS, render_training_sql
from tests.conftest import AS_OF, event

SPEC = TrainingSpec(as_of=AS_OF)
T0 = dt.datetime(2025, 4, 1, 10, 0, 0)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture(params=FORMULATIONS)
def build(request, events_warehouse):
    """Build the set with each formulation: they must agree on every edge."""

    def run(rows, spec=SPEC):
        frame = query_training_set(events_warehouse(rows), spec, formulation=request.param)
        return frame.set_index("event_id")

    return run


def test_history_counts_second_boundaries_like_datediff(build):
    rows = [
        event("a", at("2025-04-01 09:59:59.999")),  # 7 d + 0.1 s before c, but 604801 boundaries
        event("b", at("2025-04-01 10:00:00.900")),  # 7 d - 0.8 s before c: 604800 boundaries
        event("c", at("2025-04-08 10:00:00.100")),
    ]
    frame = build(rows)
    assert frame.loc["c", "num_page_views_l7d"] == 1
    assert frame.loc["c", "num_page_views_l30d"] == 2


@pytest.mark.parametrize(
    ("submitted_at", "expected"),
    [
        ("2025-04-01 11:00:00.100", True),  # 3599.2 s later, 3600 boundaries
        ("2025-04-01 11:00:00.950", True),  # 3600.05 s later, still 3600 boundaries
        ("2025-04-01 11:00:01.000", False),  # 3600.1 s later, 3601 boundaries
        ("2025-04-01 10:00:00.900", False),  # the same instant is not ahead
        ("2025-04-01 10:00:00.899", False),  # earlier is not ahead
    ],
)
def test_target_looks_strictly_ahead_within_the_window(build, submitted_at, expected):
    rows = [event("r", at("2025-04-01 10:00:00.900")), event("f", at(submitted_at), name="submit_form")]
    assert bool(build(rows).loc["r", SPEC.target_column]) is expected


def test_ties_are_not_history(build):
    rows = [
        event("a", T0, name="page_view"),
        event("b", T0, name="page_ping"),
        event("c", T0 + dt.timedelta(microseconds=1000), name="page_ping"),
    ]
    frame = build(rows)
    assert frame.loc["a", "num_page_pings_l30d"] == 0
    assert frame.loc["b", "num_page_views_l30d"] == 0
    assert frame.loc["c", "num_page_views_l30d"] == 1
    assert frame.loc["c", "num_page_pings_l30d"] == 1


def test_one_microsecond_apart_is_history_and_ahead(build):
    """The DuckDB frames end one microsecond before (and start one after) the event: the tick must count."""
    rows = [
        event("a", T0, name="page_view"),
        event("b", T0 + dt.timedelta(microseconds=1), name="submit_form"),
        event("c", T0 + dt.timedelta(microseconds=2), name="page_view"),
    ]
    frame = build(rows)
    assert bool(frame.loc["a", SPEC.target_column]) is True
    assert frame.loc["b", "num_page_views_l7d"] == 1 and not frame.loc["b", SPEC.target_column]
    assert frame.loc["c", "num_page_views_l7d"] == 1 and frame.loc["c", "had_conversions_l7d"]


def test_first_event_has_empty_history_with_zero_counts(build):
    frame = build([event("a", T0, contexts_nl_basjes_yauaa_context_1='[{"deviceClass": "Phone"}]')])
    row = frame.loc["a"]
    counters = [c for c in frame.columns if c.startswith("num_")]
    assert all(row[c] == 0 for c in counters)
    assert not row["had_conversions_l7d"] and not row["had_conversions_l30d"]
    assert row["first_refr_medium_l30d"] == "" and row["first_mkt_medium_l30d"] == ""
    assert row["latest_device_class"] == "Phone"
    assert row["latest_app_id"] == "website"
    assert row["day_of_week"] == 2  # 2025-04-01 is a Tuesday


def test_first_medium_skips_events_without_one(build):
    rows = [
        event("a", T0, refr_medium=None, mkt_medium=None),
        event("b", T0 + dt.timedelta(minutes=1), refr_medium="search", mkt_medium=None),
        event("c", T0 + dt.timedelta(minutes=2), refr_medium="social", mkt_medium="email"),
        event("d", T0 + dt.timedelta(minutes=3)),
    ]
    frame = build(rows)
    assert frame.loc["d", "first_refr_medium_l30d"] == "search"
    assert frame.loc["d", "first_mkt_medium_l30d"] == "email"
    assert frame.loc["b", "first_refr_medium_l30d"] == ""  # its own medium is not history


def test_counters_and_flags(build):
    rows = [
        event("a", T0, session="s1", app_id="website", page_url="https://x.com/pricing", mkt_campaign="spring"),
        event("b", T0 + dt.timedelta(minutes=1), session="s1", name="focus_form"),
        event("c", T0 + dt.timedelta(minutes=2), session="s1", name="change_form"),
        event("d", T0 + dt.timedelta(minutes=3), session="s1", name="change_form"),
        event("e", T0 + dt.timedelta(minutes=4), session="s1", name="submit_form"),
        event("f", T0 + dt.timedelta(days=2), session="s2", app_id="hs-landing", mkt_campaign="summer",
              name="play", contexts_com_snowplowanalytics_snowplow_media_player_2='[{"currentTime": 1}]'),
        event("g", T0 + dt.timedelta(days=10), session="s3", page_url="https://x.com/pricing/enterprise"),
    ]
    frame = build(rows)
    g = frame.loc["g"]
    assert (g["num_sessions_l7d"], g["num_sessions_l30d"]) == (0, 2)  # s1 is 10 days back, s2 8 days
    f = frame.loc["f"]
    assert (f["num_sessions_l7d"], f["num_apps_l7d"], f["num_apps_l30d"]) == (1, 1, 1)
    assert f["num_form_engagements_l7d"] == 3  # a count, not the tutorial's boolean
    assert f["had_conversions_l7d"] and g["had_conversions_l30d"] and not g["had_conversions_l7d"]
    assert (f["num_pricing_views_l7d"], g["num_pricing_views_l30d"]) == (1, 1)
    assert (g["num_media_events_l30d"], g["num_engaged_campaigns_l30d"]) == (1, 2)
    assert bool(frame.loc["d", SPEC.target_column]) and not bool(frame.loc["e", SPEC.target_column])


def test_cohort_uses_first_seen_inside_the_lookback_on_chosen_apps(build):
    rows = [
        # first event before the 60-day lookback is not scanned, so first seen is 45 days back
        event("old1", dt.datetime(2025, 3, 5), user="old"),
        event("old2", dt.datetime(2025, 3, 30), user="old"),
        # first seen 20 days back: too recent
        event("new1", dt.datetime(2025, 4, 24), user="new"),
        # first seen on another app at -50 days, on the website at -40: eligible from the website visit
        event("docs1", dt.datetime(2025, 3, 25), user="docs", app_id="docs"),
        event("docs2", dt.datetime(2025, 4, 4), user="docs"),
        # only ever on another app: not in the cohort
        event("other1", dt.datetime(2025, 4, 1), user="other", app_id="console"),
    ]
    frame = build(rows)
    assert sorted(frame.index) == ["docs1", "docs2", "old2"]
    assert frame.loc["docs2", "num_apps_l30d"] == 1 and frame.loc["docs1", "latest_app_id"] == "docs"


def test_excluded_noise_and_missing_ids_are_dropped(build):
    rows = [
        event("a", T0),
        event("b", T0 + dt.timedelta(seconds=1), name="link_click"),
        event("c", T0 + dt.timedelta(seconds=2), session=None),
        event("d", T0 + dt.timedelta(seconds=3), user=None),
        event("e", T0 + dt.timedelta(seconds=4)),
    ]
    frame = build(rows)
    assert sorted(frame.index) == ["a", "e"]
    assert frame.loc["e", "num_page_views_l30d"] == 1


def test_nothing_after_the_end_of_the_as_of_day_is_used(build):
    rows = [
        event("first", dt.datetime(2025, 4, 1)),
        event("late", dt.datetime(2025, 5, 14, 23, 30)),
        event("next_day", dt.datetime(2025, 5, 15, 0, 10), name="submit_form"),
    ]
    frame = build(rows)
    assert "next_day" not in frame.index
    assert not bool(frame.loc["late", SPEC.target_column])
    assert bool(build(rows, SPEC.replace(as_of=dt.date(2025, 5, 15))).loc["late", "target_had_submit_form_next1h"])


@pytest.mark.parametrize(("later_page_views", "expected"), [(2, False), (3, True)])
def test_target_min_count(build, later_page_views, expected):
    spec = SPEC.replace(target_event="page_view", target_min_count=3)
    rows = [event("r", T0)] + [
        event(f"p{i}", T0 + dt.timedelta(minutes=10 * (i + 1))) for i in range(later_page_views)
    ]
    frame = build(rows, spec)
    assert spec.target_column == "target_had_3_page_view_next1h"
    assert bool(frame.loc["r", spec.target_column]) is expected


def test_windows_follow_the_spec(build):
    spec = SPEC.replace(short_window_days=2, long_window_days=14, target_window_minutes=90)
    rows = [
        event("a", T0),
        event("b", T0 + dt.timedelta(days=3)),
        event("c", T0 + dt.timedelta(days=3, minutes=85), name="submit_form"),
        event("d", T0 + dt.timedelta(days=20)),
    ]
    frame = build(rows, spec)
    assert spec.target_column == "target_had_submit_form_next90min"
    assert frame.loc["b", "num_page_views_l2d"] == 0 and frame.loc["b", "num_page_views_l14d"] == 1
    assert frame.loc["d", "num_page_views_l14d"] == 0
    assert bool(frame.loc["b", spec.target_column])


def test_hostile_text_is_data_and_the_table_survives(events_warehouse):
    hostile = "x'); drop table atomic.events; --\\ $$ /* é 🙂"
    warehouse = events_warehouse([event("a", T0), event("b", T0 + dt.timedelta(minutes=1), name=hostile)])
    spec = SPEC.replace(target_event=hostile, app_ids=("website", hostile), excluded_events=(hostile + "'",))
    frame = query_training_set(warehouse, spec).set_index("event_id")
    assert bool(frame.loc["a", spec.target_column])
    assert warehouse.query("select count(*) as n from atomic.events")["n"].iloc[0] == 2
    inlined = render_training_sql(spec, "duckdb", inline=True)
    frame_inline = warehouse.query(inlined.text)
    assert frame_inline[spec.target_column].tolist() == [True, False]


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("inline", [True, False])
def test_snowflake_sql_parses(formulation, inline):
    spec = SPEC.replace(target_event="it's \\ odd", excluded_events=())
    rendered = render_training_sql(spec, "snowflake", formulation=formulation, inline=inline)
    text = rendered.text
    if not inline:  # the connector substitutes pyformat placeholders client-side
        text = text % {name: "'v'" for name in rendered.params}
    parsed = sqlglot.parse_one(text, read="snowflake")
    assert parsed.find(sqlglot.exp.Select) is not None
    assert "it''s \\\\ odd" in rendered.text if inline else rendered.params["target_event"] == "it's \\ odd"


def test_bound_and_inlined_sql_give_the_same_rows(events_warehouse):
    warehouse = events_warehouse([event("a", T0), event("b", T0 + dt.timedelta(minutes=5), name="submit_form")])
    bound = render_training_sql(SPEC, "duckdb")
    inlined = render_training_sql(SPEC, "duckdb", inline=True)
    assert inlined.params == {} and "$target_event" in bound.text
    assert warehouse.query(bound.text, bound.params).equals(warehouse.query(inlined.text))


def test_distinct_counts_follow_second_boundaries_across_gaps(build):
    day0 = at("2025-04-01 10:00:00.900")
    week = dt.timedelta(days=7)
    rows = [
        event("a", day0, session="s1", mkt_campaign="c1"),
        # 7 d + 0.3 s after a: 604801 boundaries, so a is outside its 7-day window
        event("b", day0 + week + dt.timedelta(milliseconds=300), session="s1", mkt_campaign="c1"),
        # 7 d + 0.05 s after a, same second boundary count as a 7-day gap: a is inside
        event("c", day0 + week + dt.timedelta(milliseconds=50), session="s2"),
        event("d", day0 + week + dt.timedelta(milliseconds=500), session="s3", mkt_campaign="c2"),
    ]
    frame = build(rows)
    assert (frame.loc["c", "num_sessions_l7d"], frame.loc["c", "num_sessions_l30d"]) == (1, 1)
    assert (frame.loc["b", "num_sessions_l7d"], frame.loc["b", "num_sessions_l30d"]) == (1, 2)
    assert (frame.loc["d", "num_sessions_l7d"], frame.loc["d", "num_sessions_l30d"]) == (2, 2)
    assert frame.loc["d", "num_engaged_campaigns_l30d"] == 1 and frame.loc["b", "num_engaged_campaigns_l30d"] == 1
