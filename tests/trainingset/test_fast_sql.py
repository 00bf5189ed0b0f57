"""The window formulations: the default, the same rows as the seed's join, and Snowflake-safe.

`fast` is per dialect: on DuckDB the window template with per-row RANGE offsets, on Snowflake the
portable running-totals template. Snowflake documents range frames with explicit offsets only as
constants, and only for COUNT, SUM, MIN, MAX and AVG without DISTINCT; the portable template must
stay inside that. Its Snowflake rendering is executed through fakesnow (Snowflake SQL translated
onto DuckDB), which checks the SQL and the macro layer end to end, not Snowflake's own engine.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from prospect_core.trainingset import training_sql
from prospect_core.events.build import query_training_set
from prospect_core.infra.errors import SourceError
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import DEFAULT_FORMULATION, FORMULATIONS, TEMPLATES, render_training_sql
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF, event, snowflake_training_set, write_events_db
from tests.trainingset.test_oracle import SPECS, generate_events

SPEC = TrainingSpec(as_of=AS_OF)


@pytest.mark.parametrize(("dialect", "expected"), [("duckdb", "fast"), ("snowflake", "fast")])
def test_fast_is_the_default(dialect, expected):
    assert DEFAULT_FORMULATION[dialect] == expected
    default = render_training_sql(SPEC, dialect, inline=True).text
    assert default == render_training_sql(SPEC, dialect, formulation=expected, inline=True).text


@pytest.mark.parametrize(
    ("formulation", "dialect", "template"),
    [
        ("fast", "duckdb", "training_set_fast_duckdb.sql"),
        ("fast", "snowflake", "training_set_fast.sql"),
        ("portable", "duckdb", "training_set_fast.sql"),
        ("portable", "snowflake", "training_set_fast.sql"),
        ("seed", "duckdb", "training_set_seed.sql"),
        ("seed", "snowflake", "training_set_seed.sql"),
    ],
)
def test_each_formulation_picks_its_template_per_dialect(formulation, dialect, template):
    assert TEMPLATES[formulation, dialect] == template


def test_snowflake_fast_is_the_portable_sql_and_duckdb_fast_is_not():
    assert render_training_sql(SPEC, "snowflake", formulation="fast", inline=True).text == \
        render_training_sql(SPEC, "snowflake", formulation="portable", inline=True).text
    duckdb_fast = render_training_sql(SPEC, "duckdb", formulation="fast", inline=True).text
    assert "d7_reach preceding" in duckdb_fast and not re.search(r"count\(distinct \w+\)", duckdb_fast)
    assert duckdb_fast != render_training_sql(SPEC, "duckdb", formulation="portable", inline=True).text


def test_unknown_formulation_is_refused():
    with pytest.raises(ValueError, match=r"formulation must be one of \('seed', 'fast', 'portable'\), got 'window'"):
        render_training_sql(SPEC, "duckdb", formulation="window")


SIGNALS_SPEC = TrainingSpec(as_of=AS_OF, feature_timing="signals", attributes=(
    {"name": "num_views_ever", "aggregation": "count", "events": ["page_view"], "windows": ["lifetime"]},
    {"name": "first_medium_ever", "aggregation": "first", "property": "refr_medium", "windows": ["lifetime"]},
    {"name": "last_medium", "aggregation": "last", "property": "mkt_medium", "period_days": 14},
    {"name": "num_mediums", "aggregation": "count_distinct", "property": "refr_medium", "windows": ["lifetime", "short"]},
))


@pytest.mark.parametrize("spec", [SPEC, SIGNALS_SPEC], ids=["tutorial", "signals with lifetime and a period"])
def test_fast_snowflake_sql_uses_only_documented_window_frames(spec):
    text = render_training_sql(spec, "snowflake", formulation="fast", inline=True).text.lower()
    frames = re.findall(r"over \(([^()]*)\)", text)
    assert frames, "expected window functions in the fast formulation"
    bound = r"(unbounded preceding|current row|\d+ preceding|\d+ following)"
    for frame in frames:
        if " range " in f" {frame} ":
            assert re.search(rf"range between {bound} and {bound}$", frame), frame
            assert frame.count("order by") == 1 and "," not in frame.split("order by")[1], frame
    window_calls = re.findall(r"(\w+)\((distinct )?[^()]*(?:\([^()]*\))?[^()]*\) over \(", text)
    assert {name for name, _ in window_calls} <= {"sum", "count", "min", "max", "lag", "lead", "row_number", "rank"}
    assert not any(distinct for _, distinct in window_calls)
    # issue 26: no MIN or MAX over a value-based (RANGE) frame; first/last values use cumulative ROWS frames
    extremes = re.findall(r"(?:min|max)\((?:[^()]|\([^()]*\))*\) over \(([^()]*)\)", text)
    assert extremes and all(frame.endswith("rows between unbounded preceding and current row") for frame in extremes)
    assert "exclude" not in text and "ignore nulls" not in text


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("spec_name", SPECS)
def test_snowflake_rendering_gives_the_duckdb_rows(tmp_path, spec_name, formulation):
    spec = SPECS[spec_name]
    rows = generate_events(seed=3, n_users=25)
    expected = query_training_set(DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", rows)), spec)
    actual = snowflake_training_set(rows, spec, formulation)
    assert len(expected) > 100 and expected[spec.target_column].any()
    pd.testing.assert_frame_equal(actual, expected)


def test_heavy_users_get_the_seed_rows(tmp_path):
    """A few users with a thousand events or more each, ties included: the case the join chokes on."""
    from bench.events import generate_events as generate_bench_events

    frame = generate_bench_events(8_000, as_of=AS_OF, seed=5, heavy_users=3, heavy_user_events=1_500)
    path = write_events_db(tmp_path / "heavy.duckdb", frame.to_dict("records"))
    warehouse = DuckDBWarehouse(path)
    seed = query_training_set(warehouse, SPEC, formulation="seed")
    heavy_rows = seed.groupby("domain_userid").size().max()
    assert heavy_rows > 500 and seed[SPEC.target_column].any()
    for formulation in ("fast", "portable"):
        pd.testing.assert_frame_equal(query_training_set(warehouse, SPEC, formulation=formulation), seed)


def _burst(user: str, count: int, start: dt.datetime) -> list[dict]:
    """`count` page views of one user, a second apart in one session: every count the query takes
    for the last of them is `count - 1`."""
    return [event(f"{user}-{index}", start + dt.timedelta(seconds=index), user=user, session=f"{user}-s")
            for index in range(count)]


def test_packed_lanes_are_exact_up_to_their_bound_and_refuse_beyond_it(tmp_path, monkeypatch):
    """The DuckDB fast query packs counters into lanes of LANE_BITS bits; with 3-bit lanes (0..7)
    a user with 7 events still gets the seed's rows, one with 8 stops the query with a clear error."""
    monkeypatch.setattr(training_sql, "LANE_BITS", 3)
    start = dt.datetime.combine(AS_OF, dt.time(9)) - dt.timedelta(days=40)
    others = [event("o-1", start, user="o", session="o-s", name="page_ping"),
              event("o-2", start + dt.timedelta(minutes=5), user="o", session="o-s2", name="submit_form")]

    at_bound = DuckDBWarehouse(write_events_db(tmp_path / "seven.duckdb", _burst("bot", 7, start) + others))
    fast = query_training_set(at_bound, SPEC, formulation="fast")
    pd.testing.assert_frame_equal(fast, query_training_set(at_bound, SPEC, formulation="seed"))
    last = fast[fast["event_id"] == "bot-6"].iloc[0]
    assert (last["num_page_views_l7d"], last["num_page_views_l30d"], last["num_page_pings_l7d"]) == (6, 6, 0)

    beyond = DuckDBWarehouse(write_events_db(tmp_path / "eight.duckdb", _burst("bot", 8, start) + others))
    with pytest.raises(SourceError) as raised:
        query_training_set(beyond, SPEC, formulation="fast")
    assert str(raised.value) == (
        "cannot build this training set with the fast query: user bot has 8 events in the lookback, more events "
        "than the fast DuckDB query counts exactly (7); it is most likely a bot: exclude it, or build with the "
        "portable formulation"
    )
    pd.testing.assert_frame_equal(query_training_set(beyond, SPEC, formulation="portable"),
                                  query_training_set(beyond, SPEC, formulation="seed"))
