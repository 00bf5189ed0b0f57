"""The `databricks` dialect on a real local Spark gives DuckDB's rows, row for row.

DuckDB's rows are the oracle's (tests/trainingset/test_oracle.py proves them against the tutorial's own
query); here the same generated events, loaded in Databricks' layout (contexts as arrays of structs),
go through every formulation rendered for Spark SQL.
"""

from __future__ import annotations

import pandas as pd
import pytest

from prospect_core.events.build import query_training_set
from prospect_core.events.spark import SparkWarehouse
from prospect_core.events.warehouse import DuckDBWarehouse, event_counts
from prospect_core.trainingset.training_sql import FORMULATIONS, render_training_sql
from tests.conftest import write_events_db
from tests.spark_session import needs_spark, start_local_spark, write_spark_events
from tests.trainingset.test_oracle import SPECS, generate_events

pytestmark = needs_spark


@pytest.fixture(scope="module")
def spark():
    session = start_local_spark()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def events():
    return generate_events(seed=3, n_users=25)


@pytest.fixture(scope="module")
def warehouses(spark, events, tmp_path_factory):
    write_spark_events(spark, events)
    duck = DuckDBWarehouse(write_events_db(tmp_path_factory.mktemp("duck") / "e.duckdb", events))
    return duck, SparkWarehouse(spark)


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("spec_name", SPECS)
def test_spark_rows_equal_duckdb_rows(warehouses, spec_name, formulation):
    duck, spark = warehouses
    spec = SPECS[spec_name]
    expected = query_training_set(duck, spec)
    actual = query_training_set(spark, spec, formulation=formulation)
    assert len(expected) > 100 and expected[spec.target_column].any()
    pd.testing.assert_frame_equal(actual, expected)


CUSTOM_ATTRIBUTES = (
    {"name": "pricing_views", "aggregation": "count", "events": ["page_view"],
     "where": [{"property": "page_url", "operator": "like", "value": "%pricing%"}], "windows": ["lifetime"]},
    {"name": "num_form_moves", "aggregation": "count", "events": ["focus_form", "change_form"], "period_days": 2},
    {"name": "first_medium", "aggregation": "first", "property": "refr_medium", "windows": ["long"]},
    {"name": "last_medium", "aggregation": "last", "property": "mkt_medium", "windows": ["short", "lifetime"]},
    {"name": "apps_seen", "aggregation": "count_distinct", "property": "app_id", "windows": ["short"]},
)


@pytest.mark.parametrize("timing", ["tutorial", "signals"])
def test_spark_rows_equal_duckdb_rows_with_lifetime_periods_and_signals_timing(warehouses, timing):
    """Signals timing, lifetime and free periods, first/last and distinct values: the default formulation."""
    duck, spark = warehouses
    spec = SPECS["default"].replace(feature_timing=timing, attributes=CUSTOM_ATTRIBUTES)
    expected = query_training_set(duck, spec)
    assert expected["pricing_views"].max() > 0 and expected["apps_seen_l7d"].max() > 1
    pd.testing.assert_frame_equal(query_training_set(spark, spec), expected)


def test_text_is_bound_or_escaped_for_spark(warehouses):
    """A target event with quotes and backslashes is a value, inline or bound, never SQL."""
    duck, spark = warehouses
    spec = SPECS["default"].replace(target_event="it's a \\ test'; drop table x --")
    inline = render_training_sql(spec, "databricks", inline=True)
    assert inline.params == {} and ":target_event" not in inline.text
    bound = render_training_sql(spec, "databricks")
    assert bound.params["target_event"] == spec.target_event
    for rendered in (inline, bound):
        rows = spark.query(rendered.text, rendered.params)
        assert len(rows) == len(query_training_set(duck, spec)) and not rows[spec.target_column].any()


def test_preflight_and_event_counts_run_on_spark(warehouses):
    duck, spark = warehouses
    spec = SPECS["default"]
    assert spark.preflight(spec) == duck.preflight(spec)
    pd.testing.assert_frame_equal(event_counts(spark, spec), event_counts(duck, spec), check_dtype=False)


# ----- the Databricks source: the real databricks-sql-connector against a stand-in on this Spark -----

TOKEN = "dapi-standin-0123456789"


@pytest.fixture(scope="module")
def standin(spark, warehouses):
    from tests.databricks_standin import DatabricksStandIn

    with DatabricksStandIn(spark, token=TOKEN) as running:
        yield running


def _databricks(standin, token: str = TOKEN):
    from prospect_core.events.databricks import DatabricksWarehouse, resolve_databricks_config

    settings = {"connections": {"databricks": {
        "server_hostname": "adb-1234.azuredatabricks.net", "http_path": "/sql/1.0/warehouses/standin",
        "access_token": token}}}
    return DatabricksWarehouse(resolve_databricks_config(settings, connection_uri=standin.uri))


def test_databricks_source_builds_duckdbs_rows_through_the_connector(warehouses, standin):
    duck, _ = warehouses
    spec = SPECS["custom"]
    with _databricks(standin) as databricks:
        actual = query_training_set(databricks, spec)
        assert databricks.preflight(spec) == duck.preflight(spec)
    pd.testing.assert_frame_equal(actual, query_training_set(duck, spec))
    # user text travelled as the connector's named parameters, not in the SQL text
    text, params = next((text, params) for text, params in standin.statements if spec.target_column in text)
    assert params["target_event"] == spec.target_event and "'page_view'" not in text


def test_a_wrong_token_is_one_clear_message_without_the_token(standin):
    from prospect_core.infra.errors import SourceError

    wrong = "dapi-wrong-secret-value"
    with pytest.raises(SourceError) as raised, _databricks(standin, wrong) as databricks:
        databricks.query("select 1")
    message = str(raised.value)
    assert "adb-1234.azuredatabricks.net" in message and wrong not in message and TOKEN not in message
