"""Golden Snowflake SQL, in the style of sqlglot's dialect tests: for each kind of feature, the expression
our Snowflake query computes it with, compared after both go through sqlglot's Snowflake dialect. And
every statement we render for Snowflake parses with that dialect in raise mode."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from prospect_core.events.target_explorer import render_target_explorer_sql
from prospect_core.events.warehouse import event_counts_sql
from prospect_core.trainingset.atomic import COLUMN_NAMES, PRUNING_COLUMN
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS, render_template, render_training_sql
from tests.conftest import AS_OF

SPEC = TrainingSpec(as_of=AS_OF)
SNOWPLOW_TABLE = frozenset({*COLUMN_NAMES, PRUNING_COLUMN})
WITHOUT_CONTEXTS = frozenset(SNOWPLOW_TABLE - {"contexts_nl_basjes_yauaa_context_1",
                                               "contexts_com_snowplowanalytics_snowplow_media_player_2"})
WITHOUT_IDENTITY = frozenset(SNOWPLOW_TABLE - {"event_vendor", "event_version"})

# (CTE, column): the expression as we mean Snowflake to run it. The scan computes values and matches
# (narrow scan); `final` turns the window passes into each feature.
GOLDEN = {
    # dates with explicit formats, and the collector_tstamp pruning filter 60 + 1 days back
    ("events_in_lookback", "where"): (
        "derived_tstamp >= dateadd('day', -60, to_date('2025-05-14', 'YYYY-MM-DD'))"
        " and derived_tstamp < dateadd('day', 1, to_date('2025-05-14', 'YYYY-MM-DD'))"
        " and collector_tstamp >= dateadd('day', -61, to_date('2025-05-14', 'YYYY-MM-DD'))"),
    # an event value read from a context: VARIANT path access, in the scan
    ("events_in_lookback", "value_latest_device_class"): "contexts_nl_basjes_yauaa_context_1[0]:deviceClass::string",
    # a counter with a criterion, and one on a context's presence: matched in the scan
    ("events_in_lookback", "matches_num_pricing_views"): "coalesce(event_name = 'page_view' and page_url like '%pricing%', false)",
    ("events_in_lookback", "matches_num_media_events"):
        "coalesce(contexts_com_snowplowanalytics_snowplow_media_player_2 is not null, false)",
    # event values
    ("final", "latest_app_id"): "coalesce(edges.app_id, '')",
    ("final", "day_of_week"): "coalesce(dayofweekiso(edges.derived_tstamp), 0)",
    ("final", "latest_device_class"): "coalesce(edges.value_latest_device_class, '')",
    # count: running totals at the window's two ends
    ("final", "num_page_views_l7d"):
        "cast(coalesce(earlier.num_page_views_total, 0) - coalesce(before_d7.num_page_views_total, 0) as bigint)",
    # any: the same count, compared with 0
    ("final", "had_conversions_l30d"):
        "cast(coalesce(earlier.had_conversions_total, 0) - coalesce(before_d30.had_conversions_total, 0) as bigint) > 0",
    # count_distinct: value islands started minus ended
    ("final", "num_sessions_l30d"): ("cast(coalesce(earlier.num_sessions_islands_started_d30, 0)"
                                     " - coalesce(before_d30.num_sessions_islands_ended_d30, 0) as bigint)"),
    # first: the value at the window's first position with a value
    ("final", "first_refr_medium_l30d"): "coalesce(value_first_refr_medium_long.first_refr_medium_long, '')",
    # the target
    ("final", "target_had_submit_form_next1h"): "edges.target_events_ahead >= 1",
}


def snowflake(sql: str) -> str:
    return sqlglot.parse_one(sql, read="snowflake", error_level=ErrorLevel.RAISE).sql("snowflake")


@pytest.fixture(scope="module")
def rendered_steps() -> dict[str, exp.Select]:
    text = render_training_sql(SPEC, "snowflake", inline=True, columns=SNOWPLOW_TABLE).text
    tree = sqlglot.parse_one(text, read="snowflake", error_level=ErrorLevel.RAISE)
    return {cte.alias: cte.this for cte in tree.find_all(exp.CTE)}


@pytest.mark.parametrize(("step", "column"), list(GOLDEN), ids=[f"{s}.{c}" for s, c in GOLDEN])
def test_golden_snowflake_sql_per_feature_kind(rendered_steps, step, column):
    select = rendered_steps[step]
    if column == "where":
        actual = select.args["where"].this
        for comment in actual.find_all(exp.Expression):
            comment.comments = None  # the why-comments are ours to reword
    else:
        actual = next(item.this for item in select.expressions if item.alias_or_name == column)
    assert actual.sql("snowflake") == snowflake(GOLDEN[step, column])


def test_a_missing_context_is_a_typed_null_in_the_snowflake_sql():
    text = render_training_sql(SPEC, "snowflake", inline=True, columns=WITHOUT_CONTEXTS).text
    assert ("from (select *, cast(null as variant) as contexts_nl_basjes_yauaa_context_1, cast(null as variant) as "
            "contexts_com_snowplowanalytics_snowplow_media_player_2 from atomic.events) as atomic_events") in text
    assert "'::date" not in text and "::timestamp_ntz" not in text


CUSTOM = TrainingSpec(
    as_of=AS_OF, user_sample_percent=30, exclude_after_first_target=True, excluded_events=(),
    attributes=({"name": "plays", "aggregation": "count", "events": ["play"],
                 "where": [{"property": "page_url", "operator": "in", "value": ["a'b", "c\\d"]}]},
                {"name": "last_campaign", "aggregation": "last", "property": "mkt_campaign", "windows": ["long"]}),
)


def statements() -> list[tuple[str, str]]:
    """Every statement the studio renders for Snowflake, as the connector sends it (values inlined)."""
    found = []
    for spec_name, spec in (("default", SPEC), ("custom", CUSTOM)):
        for columns_name, columns in (("unknown table", None), ("Snowplow table", SNOWPLOW_TABLE),
                                      ("no contexts", WITHOUT_CONTEXTS)):
            for formulation in FORMULATIONS:
                found.append((f"training {formulation}, {spec_name}, {columns_name}",
                              render_training_sql(spec, "snowflake", formulation=formulation, inline=True,
                                                  columns=columns).text))
            found.append((f"preflight, {spec_name}, {columns_name}",
                          render_template("preflight.sql", spec, "snowflake", inline=True, columns=columns).text))
        found.append((f"target explorer, {spec_name}", render_target_explorer_sql(spec, "snowflake", inline=True).text))
        for columns_name, columns in (("Snowplow table", SNOWPLOW_TABLE), ("no vendor or version", WITHOUT_IDENTITY)):
            found.append((f"event counts, {spec_name}, {columns_name}", event_counts_sql(spec, "snowflake", columns).text))
    return found


@pytest.mark.parametrize(("name", "sql"), statements(), ids=[name for name, _ in statements()])
def test_every_statement_parses_in_sqlglot_s_snowflake_dialect_in_raise_mode(name, sql):
    parsed = sqlglot.parse(sql, read="snowflake", error_level=ErrorLevel.RAISE)
    assert len(parsed) == 1 and isinstance(parsed[0], exp.Query)

