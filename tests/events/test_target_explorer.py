"""The target explorer: its positives agree with the training set's, edge by edge and on demo data,
in DuckDB and in its Snowflake form through fakesnow."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlglot

from prospect_core.events.build import query_training_set
from prospect_core.trainingset.dataset import summarize
from prospect_core.events.demo_data import write_demo_db
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.events.target_explorer import (
    LADDER_MINUTES,
    explore_targets,
    ladder_minutes,
    normalize_ladder,
    render_target_explorer_sql,
)
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF, EVENTS_COLUMNS, event, run_on_fakesnow, write_events_db

SPEC = TrainingSpec(as_of=AS_OF)
T0 = dt.datetime(2025, 4, 1, 10, 0, 0)


def later(**delta) -> dt.datetime:
    return T0 + dt.timedelta(**delta)


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory) -> DuckDBWarehouse:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    write_demo_db(path, n_users=600, seed=3, anchor=AS_OF)
    return DuckDBWarehouse(path)


def positives(ladder, event_name: str) -> dict[int, tuple[int, int]]:
    """window minutes -> (positive points, positive prospects) of one event."""
    table = ladder.table[ladder.table["event_name"] == event_name]
    return {int(m): (int(p), int(u)) for m, p, u in zip(table["target_window_minutes"], table["positive_points"], table["positive_prospects"])}


# ----- small hand-made events: the windows' edges --------------------------------------------------

EDGE_ROWS = [
    event("a", later(seconds=0.9)),
    # 900.2 s after a but 901 second boundaries: outside 15 minutes, inside 1 hour
    event("b", later(minutes=15, seconds=1.1), name="submit_form"),
    # the same instant as b: neither is ahead of the other
    event("c", later(minutes=15, seconds=1.1), name="page_view"),
    # 18000 boundaries after a: inside a 300-minute window
    event("d", later(hours=5), name="submit_form"),
    event("e", later(days=6), name="submit_form"),
    # another prospect, one event, nothing follows
    event("f", T0, user="u2", session="s9"),
    # excluded event: neither a row nor a candidate
    event("g", later(minutes=1), name="link_click"),
]


def test_windows_count_second_boundaries_and_ties_like_the_training_set(events_warehouse):
    ladder = explore_targets(events_warehouse(EDGE_ROWS), SPEC)
    assert ladder.events[0] == "submit_form" and "link_click" not in ladder.events
    # a sees b within 1 h; b and c tie, so both see only d (4 h 45 min on) and e; d sees e 6 days on
    expected = {15: (0, 0), 60: (1, 1), 360: (3, 1), 1440: (3, 1), 10080: (4, 1)}
    assert positives(ladder, "submit_form") == expected
    assert set(ladder.table["prediction_points"]) == {6} and set(ladder.table["prospects"]) == {2}


@pytest.mark.parametrize(
    ("min_count", "expected"),
    [
        (1, {15: (0, 0), 60: (1, 1), 360: (3, 1), 1440: (3, 1), 10080: (4, 1)}),
        # a's second submit ahead is d (5 h); b's and c's is e (6 days)
        (2, {15: (0, 0), 60: (0, 0), 360: (1, 1), 1440: (1, 1), 10080: (3, 1)}),
        (3, {15: (0, 0), 60: (0, 0), 360: (0, 0), 1440: (0, 0), 10080: (1, 1)}),
        (4, {minutes: (0, 0) for minutes in LADDER_MINUTES}),
    ],
)
def test_target_min_count(events_warehouse, min_count, expected):
    spec = SPEC.replace(target_min_count=min_count)
    ladder = explore_targets(events_warehouse(EDGE_ROWS), spec)
    assert positives(ladder, "submit_form") == expected
    frame = query_training_set(events_warehouse(EDGE_ROWS), spec)
    assert ladder.spec_row["positive_points"] == frame[spec.target_column].sum()


def test_the_specs_own_window_joins_the_ladder(events_warehouse):
    spec = SPEC.replace(target_window_minutes=300)
    assert ladder_minutes(spec) == (15, 60, 300, 360, 1440, 10080)
    ladder = explore_targets(events_warehouse(EDGE_ROWS), spec)
    # a sees b; b and c see d 17099 boundaries on, inside 300 minutes
    assert ladder.spec_row[["positive_points", "positive_prospects"]].tolist() == [3, 1]
    assert ladder.windows == ladder_minutes(spec)


def test_a_target_that_never_happens_is_listed_with_zeros_and_others_rank_by_frequency(events_warehouse):
    rows = EDGE_ROWS + [event("h", later(days=1), name="focus_form"), event("i", later(days=1, seconds=1), name="focus_form")]
    ladder = explore_targets(events_warehouse(rows), SPEC.replace(target_event="signup"), top_events=2)
    # page_view and submit_form happen 3 times each, focus_form twice
    assert ladder.events == ["signup", "page_view", "submit_form"]
    assert set(ladder.table.loc[ladder.table["event_name"] == "signup", "positive_points"]) == {0}


def test_top_events_ties_are_broken_by_name(events_warehouse):
    ladder = explore_targets(events_warehouse(EDGE_ROWS), SPEC.replace(target_event="signup"), top_events=1)
    # page_view (a, c, f) and submit_form (b, d, e) both happen 3 times: page_view comes first by name
    assert ladder.events == ["signup", "page_view"]
    assert len(ladder.table) == 2 * len(LADDER_MINUTES)


def test_cohort_sample_and_exclusions_follow_the_spec(events_warehouse):
    rows = EDGE_ROWS + [
        event("x1", dt.datetime(2025, 2, 1), user="old", session="so"),  # first seen before the cohort
        event("x2", later(minutes=1), user="old", session="so", name="submit_form"),
        event("y1", T0, user="u3", session="s3", app_id="other-app"),  # not on the chosen apps
    ]
    spec = SPEC.replace(excluded_events=("link_click", "page_view"))
    ladder = explore_targets(events_warehouse(rows), spec)
    assert "page_view" not in ladder.events
    assert set(ladder.table["prediction_points"]) == {summarize(query_training_set(events_warehouse(rows), spec), spec).rows}


# ----- agreement with the training set on the demo data ---------------------------------------------

DEMO_SPECS = [
    SPEC,
    SPEC.replace(target_event="page_view", target_min_count=3, target_window_minutes=90),
    SPEC.replace(target_event="change_form", target_window_minutes=24 * 60, user_sample_percent=50),
    SPEC.replace(target_window_minutes=10, long_window_days=14, cohort_first_seen_from_days=40,
                 cohort_first_seen_to_days=10, max_negatives_per_positive=3),
]


@pytest.mark.parametrize("spec", DEMO_SPECS, ids=lambda spec: spec.target_column)
def test_the_specs_window_gives_the_training_sets_positives_on_demo_data(demo_warehouse, spec):
    ladder = explore_targets(demo_warehouse, spec)
    summary = summarize(query_training_set(demo_warehouse, spec), spec)
    row = ladder.spec_row
    assert (row["positive_points"], row["positive_prospects"]) == (summary.positives, summary.positive_users)
    assert summary.positives > 0
    if spec.max_negatives_per_positive is None:  # downsampling drops rows after the query
        assert (row["prediction_points"], row["prospects"]) == (summary.rows, summary.users)
        assert row["positive_rate"] == pytest.approx(summary.positive_rate)


def test_every_explored_target_matches_its_own_training_set_on_demo_data(demo_warehouse):
    ladder = explore_targets(demo_warehouse, SPEC, top_events=3)
    assert len(ladder.events) == 4
    for event_name in ladder.events:
        for minutes in ladder.windows:
            spec = SPEC.replace(target_event=event_name, target_window_minutes=minutes)
            summary = summarize(query_training_set(demo_warehouse, spec), spec)
            row = ladder.row(event_name, minutes)
            assert (row["positive_points"], row["positive_prospects"]) == (summary.positives, summary.positive_users), (event_name, minutes)
    # a longer window never has fewer positives
    for _, group in ladder.table.groupby("event_name"):
        assert group["positive_points"].is_monotonic_increasing


# ----- SQL: bound, inlined, both dialects ---------------------------------------------------------

HOSTILE = "it's \\ odd'); drop table atomic.events; --"


def test_bound_and_inlined_sql_give_the_same_rows_and_user_text_is_data(events_warehouse):
    rows = EDGE_ROWS + [event("z", later(minutes=2), name=HOSTILE)]
    warehouse = events_warehouse(rows)
    spec = SPEC.replace(target_event=HOSTILE)
    bound = render_target_explorer_sql(spec, "duckdb")
    inlined = render_target_explorer_sql(spec, "duckdb", inline=True)
    assert HOSTILE not in bound.text and bound.params["target_event"] == HOSTILE and inlined.params == {}
    from_bound = normalize_ladder(warehouse.query(bound.text, bound.params), spec)
    pd.testing.assert_frame_equal(from_bound.table, normalize_ladder(warehouse.query(inlined.text), spec).table)
    # only a is before z (120 boundaries: within 15 minutes)
    assert positives(from_bound, HOSTILE)[15] == (1, 1)
    assert len(warehouse.query("select * from atomic.events")) == len(rows)


@pytest.mark.parametrize("inline", [True, False])
def test_snowflake_sql_parses(inline):
    rendered = render_target_explorer_sql(SPEC.replace(target_event=HOSTILE), "snowflake", inline=inline)
    text = rendered.text if inline else rendered.text % {name: "'v'" for name in rendered.params}
    assert sqlglot.parse_one(text, read="snowflake").find(sqlglot.exp.Select) is not None
    assert "%(target_event)s" in rendered.text or inline


def snowflake_explorer(rows, spec: TrainingSpec, **options) -> pd.DataFrame:
    """The explorer's Snowflake SQL through the real connector on fakesnow (as conftest's training set)."""
    return normalize_ladder(run_on_fakesnow(rows, render_target_explorer_sql(spec, "snowflake", **options)), spec).table


@pytest.mark.parametrize("spec", [SPEC, SPEC.replace(target_min_count=2, target_window_minutes=300), SPEC.replace(target_event=HOSTILE)],
                         ids=["default", "twice-in-5h", "hostile"])
def test_snowflake_form_through_fakesnow_equals_duckdb(events_warehouse, spec):
    rows = EDGE_ROWS + [event("z", later(minutes=2), name=HOSTILE)]
    expected = explore_targets(events_warehouse(rows), spec).table
    pd.testing.assert_frame_equal(snowflake_explorer(rows, spec), expected)


def test_snowflake_form_on_demo_events_equals_the_training_set(demo_warehouse, tmp_path):
    """Thirty demo prospects' events (all events of each) through fakesnow, against the training set."""
    frame = demo_warehouse.query(
        "select * from atomic.events where domain_userid in "
        "(select distinct domain_userid from atomic.events order by 1 limit 30)"
    )
    rows = [
        {**row, "derived_tstamp": row["derived_tstamp"].to_pydatetime()}
        | {name: None if pd.isna(row[name]) else str(row[name]) for name in EVENTS_COLUMNS if EVENTS_COLUMNS[name] == "json"}
        for row in frame[list(EVENTS_COLUMNS)].to_dict("records")
    ]
    same_rows = DuckDBWarehouse(write_events_db(tmp_path / "same.duckdb", rows))
    table = snowflake_explorer(rows, SPEC, top_events=2)
    pd.testing.assert_frame_equal(table, explore_targets(same_rows, SPEC, top_events=2).table)
    summary = summarize(query_training_set(same_rows, SPEC), SPEC)
    spec_row = table[(table["event_name"] == SPEC.target_event) & (table["target_window_minutes"] == SPEC.target_window_minutes)]
    assert summary.positives > 0
    assert spec_row[["positive_points", "positive_prospects"]].values.tolist() == [[summary.positives, summary.positive_users]]


@pytest.mark.parametrize("top_events", [-1, 21, 2.5, True, "5"])
def test_top_events_must_be_a_small_whole_number(top_events):
    with pytest.raises(ValueError, match=r"top_events must be a whole number from 0 to 20, got"):
        render_target_explorer_sql(SPEC, top_events=top_events)


def test_an_empty_cohort_gives_an_empty_ladder(events_warehouse):
    ladder = explore_targets(events_warehouse([event("a", dt.datetime(2025, 1, 1))]), SPEC)
    assert ladder.table.empty and ladder.events == []
    with pytest.raises(KeyError, match="no explored target 'submit_form' within 60 minutes"):
        ladder.spec_row


def test_display_table_speaks_of_the_target_in_words(events_warehouse):
    ladder = explore_targets(events_warehouse(EDGE_ROWS), SPEC.replace(target_min_count=2))
    table = ladder.display_table()
    assert table.loc[0, "Target"] == "submitted 2 forms within 15 minutes"
    assert list(table["Within"][:5]) == ["15 min", "1 h", "6 h", "24 h", "7 days"]
    assert list(table["Positive moments"]) == list(ladder.table["positive_points"])
