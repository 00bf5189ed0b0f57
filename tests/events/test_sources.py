"""Source strings, DuckDB files with nested contexts, and the preflight on the embedded engine."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from prospect_core.events import snowflake as sf
from prospect_core.events.build import query_training_set
from prospect_core.trainingset.dataset import summarize
from prospect_core.infra.errors import SourceError
from prospect_core.events.events_files import EventsFileWarehouse
from prospect_core.events.sources import open_source
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.events.warehouse import DuckDBWarehouse, Preflight, run_preflight
from tests.conftest import AS_OF, write_events_db
from tests.trainingset.test_oracle import generate_events

SPEC = TrainingSpec(as_of=AS_OF)


@pytest.fixture(scope="module")
def events_db(tmp_path_factory):
    return write_events_db(tmp_path_factory.mktemp("sources") / "events.duckdb", generate_events(7, n_users=30))


def test_open_source_dispatches_on_the_source_string(tmp_path, events_db, monkeypatch):
    monkeypatch.setenv("PROSPECT_CACHE_DIR", str(tmp_path / "cache"))
    assert isinstance(open_source(f"duckdb:{events_db}"), DuckDBWarehouse)
    with duckdb.connect(str(events_db), read_only=True) as connection:
        connection.execute(f"copy (select * from atomic.events) to '{tmp_path / 'e.parquet'}' (format parquet)")
    warehouse = open_source(f"events:{tmp_path / 'e.parquet'}", events_table="db.atomic.events")
    assert isinstance(warehouse, EventsFileWarehouse) and warehouse.events_table == "db.atomic.events"
    with pytest.raises(SourceError, match="unknown source 'postgres:x'; expected one of demo, duckdb:PATH"):
        open_source("postgres:x")


def test_snowflake_source_uses_the_resolved_config(monkeypatch):
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", "")
    for name in ("ENV_SF_ACNT", "SNOWFLAKE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SourceError, match="no Snowflake connection is configured"):
        open_source("snowflake")
    config = sf.build_config({"account": "a-b", "user": "u", "password": "secret-value", "events_table": "db.atomic.events"})
    warehouse = open_source("snowflake", snowflake_config=config)
    assert isinstance(warehouse, sf.SnowflakeWarehouse) and warehouse.events_table == "db.atomic.events"
    assert warehouse.label == "Snowflake account a-b as u"


def test_duckdb_file_with_list_of_struct_contexts_gives_the_same_training_set(tmp_path, events_db):
    nested = tmp_path / "nested.duckdb"
    with duckdb.connect(str(nested)) as connection:
        connection.execute(f"attach '{events_db}' as source (read_only)")
        connection.execute("create schema atomic")
        connection.execute(
            "create table atomic.events as select * replace ("
            "from_json(contexts_nl_basjes_yauaa_context_1, '[{\"deviceClass\": \"VARCHAR\"}]') as contexts_nl_basjes_yauaa_context_1, "
            "from_json(contexts_com_snowplowanalytics_snowplow_media_player_2, '[{\"currentTime\": \"DOUBLE\"}]') "
            "as contexts_com_snowplowanalytics_snowplow_media_player_2) from source.atomic.events"
        )
        kind = connection.execute("select typeof(contexts_nl_basjes_yauaa_context_1) from atomic.events limit 1").fetchone()[0]
    assert kind.startswith("STRUCT")
    expected = query_training_set(DuckDBWarehouse(events_db), SPEC)
    pd.testing.assert_frame_equal(query_training_set(DuckDBWarehouse(nested), SPEC), expected)


def test_preflight_counts_what_the_training_set_will_hold(events_db):
    warehouse = DuckDBWarehouse(events_db)
    preflight = warehouse.preflight(SPEC)
    summary = summarize(query_training_set(warehouse, SPEC), SPEC)
    assert preflight.ok and preflight.missing_columns == ()
    assert preflight.training_rows == summary.rows
    assert preflight.eligible_users >= summary.users
    assert preflight.events_in_lookback >= preflight.training_rows and preflight.users_in_lookback >= preflight.eligible_users
    assert preflight.self_join_pairs >= preflight.training_rows and preflight.largest_user_events > 0
    assert f"{summary.rows:,} training rows" in preflight.summary()


def test_preflight_reports_missing_columns_and_missing_tables(tmp_path):
    path = tmp_path / "thin.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema atomic")
        connection.execute("create table atomic.events (event_id varchar, derived_tstamp timestamp, domain_userid varchar)")
    preflight = run_preflight(DuckDBWarehouse(path), SPEC)
    assert not preflight.ok and preflight.missing_columns[:3] == ("domain_sessionid", "event_name", "app_id")
    assert "atomic.events lacks column(s) domain_sessionid, event_name, app_id" in preflight.problems[0]
    with pytest.raises(SourceError, match="missing"):
        run_preflight(DuckDBWarehouse(path), SPEC.replace(events_table="atomic.nowhere"))


def test_preflight_says_when_nothing_is_selected(events_db):
    preflight = DuckDBWarehouse(events_db).preflight(SPEC.replace(app_ids=("no-such-app",)))
    assert preflight.eligible_users == 0 and not preflight.ok
    assert "no user was first seen in the cohort window" in preflight.problems[0]
    assert Preflight(events_table="t").problems == ("t has no events in the lookback window; check the as-of date",)


def test_a_stale_demo_database_is_rewritten_anchored_on_today(tmp_path):
    import datetime as dt
    import os

    from prospect_core.events.demo_data import write_demo_db
    from prospect_core.events.sources import DEMO_MAX_AGE_DAYS, demo_db_is_current, ensure_demo_db

    path = tmp_path / "demo.duckdb"
    old_anchor = dt.date.today() - dt.timedelta(days=40)
    write_demo_db(path, n_users=50, anchor=old_anchor)
    written = (dt.datetime.now() - dt.timedelta(days=DEMO_MAX_AGE_DAYS + 1)).timestamp()
    os.utime(path, (written, written))
    assert not demo_db_is_current(path)

    ensure_demo_db(path)

    assert demo_db_is_current(path)
    with duckdb.connect(str(path), read_only=True) as connection:
        newest = connection.execute("select max(derived_tstamp)::date from atomic.events").fetchall()[0][0]
    assert old_anchor < newest <= dt.date.today()
    cohort = summarize(query_training_set(open_source(f"duckdb:{path}"), TrainingSpec()), TrainingSpec())
    assert cohort.users > 100  # the default cohort has prospects again


def test_a_current_demo_database_is_left_alone(tmp_path):
    from prospect_core.events.demo_data import write_demo_db
    from prospect_core.events.sources import ensure_demo_db

    path = tmp_path / "demo.duckdb"
    write_demo_db(path, n_users=50)
    before = path.stat().st_mtime_ns
    ensure_demo_db(path)
    assert path.stat().st_mtime_ns == before


def test_data_folders_come_from_the_environment_then_secrets_then_data(tmp_path, monkeypatch):
    import os

    from prospect_core.events.sources import REPO_ROOT, data_dirs

    monkeypatch.delenv("PROSPECT_DATA_DIRS", raising=False)
    assert data_dirs() == data_dirs({}) == (REPO_ROOT / "data",)
    assert data_dirs({"data_dirs": [str(tmp_path / "a"), str(tmp_path / "b")]}) == (tmp_path / "a", tmp_path / "b")
    assert data_dirs({"data_dirs": str(tmp_path / "one")}) == (tmp_path / "one",)
    monkeypatch.setenv("PROSPECT_DATA_DIRS", f"{tmp_path / 'x'}{os.pathsep}{tmp_path / 'y'}")
    assert data_dirs({"data_dirs": ["/elsewhere"]}) == (tmp_path / "x", tmp_path / "y")


def test_the_target_event_notice_names_the_near_miss(events_db):
    from prospect_core.events.warehouse import missing_event_notice, target_event_notice

    warehouse = DuckDBWarehouse(events_db)
    assert target_event_notice(warehouse, SPEC) is None
    assert target_event_notice(warehouse, SPEC.replace(target_event="SUBMIT_FORM")).endswith("did you mean submit_form?")
    assert missing_event_notice("checkout", ["page_view", "submit_form"]).endswith(
        "the most frequent are page_view, submit_form")
    assert missing_event_notice("anything", []) is None  # no events at all: the preflight says so
