"""Events tables as Snowplow's loaders really make them: without the context columns of entities never
loaded, named `events`, with collector_tstamp to prune on, or with one prospect holding most events.
The same checks run on a DuckDB file and, through the real connector, on fakesnow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from prospect_core.events import snowflake as sf
from prospect_core.events.build import build_training_set, query_training_set
from prospect_core.events.warehouse import DuckDBWarehouse, run_preflight
from prospect_core.infra.errors import SpecError
from prospect_core.trainingset.atomic import COLUMN_TYPES
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import render_training_sql
from tests.conftest import AS_OF, write_events_db
from tests.events.test_snowflake import clean_environment, fakesnow_config, fakesnow_server, load_events  # noqa: F401
from tests.trainingset.test_oracle import REFERENCE, comparable, generate_events, run_oracle

MEDIA = "contexts_com_snowplowanalytics_snowplow_media_player_2"
YAUAA = "contexts_nl_basjes_yauaa_context_1"
SPEC = TrainingSpec(as_of=AS_OF)
# The feature each context is the only source of, and its default: constant when the context is missing.
BUILT_FROM = {YAUAA: ("latest_device_class", ""), MEDIA: ("num_media_events_l30d", 0)}


def copy_without(source: Path, target: Path, dropped: tuple[str, ...], table: str = "atomic.events") -> Path:
    """A DuckDB file whose events table is `source`'s without the `dropped` columns."""
    kept = ", ".join(name for name in COLUMN_TYPES if name not in dropped)
    schema = table.rpartition(".")[0]
    with duckdb.connect(str(target)) as connection:
        connection.execute(f"attach '{source}' as source (read_only)")
        if schema:
            connection.execute(f"create schema {schema}")
        connection.execute(f"create table {table} as select {kept} from source.atomic.events")
    return target


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> tuple[list[dict], Path]:
    rows = generate_events(3, n_users=25)
    return rows, write_events_db(tmp_path_factory.mktemp("shapes") / "full.duckdb", rows)


def without_contexts(rows: list[dict]) -> list[dict]:
    return [{**row, MEDIA: None, YAUAA: None} for row in rows]


@pytest.mark.parametrize("dropped", [(MEDIA,), (YAUAA,), (MEDIA, YAUAA)], ids=["no media", "no yauaa", "neither"])
def test_a_duckdb_table_without_optional_contexts_builds_with_a_notice_and_constant_features(events, tmp_path, dropped):
    rows, _ = events
    thin = copy_without(write_events_db(tmp_path / "full.duckdb", rows), tmp_path / "thin.duckdb", dropped)
    notices: list[str] = []
    built = build_training_set(DuckDBWarehouse(thin), SPEC, max_rows=100_000, notice=notices.append)

    missing = [name for name in BUILT_FROM if name in dropped]  # in the table's column order
    constant = dict(BUILT_FROM[name] for name in missing)
    assert notices == [f"atomic.events has no column(s) {', '.join(missing)}; they are read as NULL, so the features "
                       f"built from them are constant: {', '.join(constant)}"]
    for column, value in constant.items():
        assert built.frame[column].eq(value).all(), column
    # Exactly the rows of the same events stored with those columns all NULL.
    nulls = {name: None for name in dropped}
    expected = query_training_set(
        DuckDBWarehouse(write_events_db(tmp_path / "nulls.duckdb", [{**row, **nulls} for row in rows])), SPEC)
    assert len(expected) > 100 and expected[SPEC.target_column].any()
    pd.testing.assert_frame_equal(built.frame, expected)


def test_the_preflight_still_refuses_a_table_without_a_core_column(events, tmp_path):
    _, full = events
    thin = copy_without(full, tmp_path / "thin.duckdb", ("domain_sessionid", MEDIA))
    preflight = run_preflight(DuckDBWarehouse(thin), SPEC)
    assert preflight.problems == ("atomic.events lacks column(s) domain_sessionid that the training-set query needs; "
                                  "is it a Snowplow atomic events table?",)


def test_through_fakesnow_a_table_without_the_contexts_builds_like_duckdb(events, fakesnow_server, tmp_path):
    rows, _ = events
    with sf.SnowflakeWarehouse(fakesnow_config(fakesnow_server)) as warehouse:
        load_events(warehouse, rows, "snowplow.atomic.full_events")
        with warehouse.connect().cursor() as cursor:
            kept = ", ".join(name for name in COLUMN_TYPES if name not in (MEDIA, YAUAA))
            cursor.execute(f"create or replace table snowplow.atomic.thin_events as select {kept} "
                           "from snowplow.atomic.full_events")
        spec = SPEC.replace(events_table="snowplow.atomic.thin_events")
        notices: list[str] = []
        built = build_training_set(warehouse, spec, max_rows=100_000, notice=notices.append)
    assert notices == [f"snowplow.atomic.thin_events has no column(s) {YAUAA}, {MEDIA}; they are read as NULL, so the "
                       "features built from them are constant: latest_device_class, num_media_events_l30d"]
    expected = query_training_set(DuckDBWarehouse(write_events_db(tmp_path / "nulls.duckdb", without_contexts(rows))), SPEC)
    pd.testing.assert_frame_equal(built.frame, expected)


# ----- a table named like a step of the query ------------------------------------------------------


def test_a_duckdb_table_named_events_works(events, tmp_path):
    rows, full = events
    plain = copy_without(full, tmp_path / "plain.duckdb", (), table="events")
    expected = query_training_set(DuckDBWarehouse(full), SPEC)
    pd.testing.assert_frame_equal(query_training_set(DuckDBWarehouse(plain), SPEC.replace(events_table="events")), expected)


def test_a_snowflake_table_named_events_works(events, fakesnow_server):
    rows, full = events
    with sf.SnowflakeWarehouse(fakesnow_config(fakesnow_server)) as warehouse:  # database snowplow, schema atomic
        load_events(warehouse, rows, "snowplow.atomic.events")
        actual = query_training_set(warehouse, SPEC.replace(events_table="events"), formulation="seed")
    pd.testing.assert_frame_equal(actual, query_training_set(DuckDBWarehouse(full), SPEC, formulation="seed"))


@pytest.mark.parametrize("dialect", ["snowflake", "duckdb"])
def test_no_step_of_the_query_is_named_like_the_table_it_reads(dialect):
    """Snowflake resolves a name to a CTE before a table (DuckDB does not, so only the text can show it)."""
    import sqlglot
    from sqlglot import exp

    for formulation in ("seed", "fast", "portable"):
        text = render_training_sql(SPEC.replace(events_table="events"), dialect, formulation=formulation, inline=True).text
        tree = sqlglot.parse_one(text, read=dialect)
        steps = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        tables = {table.name.lower() for table in tree.find_all(exp.Table) if not table.db}
        assert "events" in tables and "events" not in steps and tables & steps == tables - {"events"}


@pytest.mark.parametrize(("table", "step"), [("final", "final"), ("Timeline", "timeline"),
                                             ("num_sessions_edges", "*_edges"), ("cohort_events", "cohort_events")])
def test_an_unqualified_table_named_like_a_step_is_refused_clearly(table, step):
    with pytest.raises(SpecError) as refused:
        SPEC.replace(events_table=table)
    assert str(refused.value) == (
        f"events_table {table!r} has the name of a step of the training-set query ({step}), which Snowflake would "
        f"read instead of the table; write the table with its schema, e.g. atomic.{table} (main.{table} in a DuckDB file)")
    assert SPEC.replace(events_table=f"atomic.{table}").events_table == f"atomic.{table}"


# ----- pruning on collector_tstamp -----------------------------------------------------------------


def with_collector(path: Path, rows: list[dict], collector: list[dt.datetime]) -> Path:
    write_events_db(path, rows)
    with duckdb.connect(str(path)) as connection:
        connection.execute("alter table atomic.events add column collector_tstamp timestamp")
        connection.executemany("update atomic.events set collector_tstamp = ? where event_id = ?",
                               [[when, row["event_id"]] for row, when in zip(rows, collector)])
    return path


@pytest.mark.parametrize("formulation", ["seed", "fast", "portable"])
def test_pruning_on_collector_tstamp_keeps_every_row_the_tutorial_keeps(events, tmp_path, formulation):
    """collector_tstamp follows derived_tstamp by any delay (an event queued offline for weeks) and
    precedes it by at most the margin (a device clock set back between creating and sending). The
    reference is the same events without collector_tstamp, whose rows test_oracle checks against the
    tutorial's query (and so does this test where the tutorial's copy is at hand)."""
    rows, _ = events
    margin = dt.timedelta(days=SPEC.collector_tstamp_margin_days)
    delays = [dt.timedelta(0), -margin, dt.timedelta(milliseconds=1), dt.timedelta(days=45), -margin + dt.timedelta(seconds=1)]
    collector = [row["derived_tstamp"] + delays[index % len(delays)] for index, row in enumerate(rows)]
    path = with_collector(tmp_path / "collected.duckdb", rows, collector)
    warehouse = DuckDBWarehouse(path)
    lookback_start = dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=SPEC.lookback_days)
    at_the_edge = [row for row, when in zip(rows, collector)
                   if row["derived_tstamp"] >= lookback_start and when < lookback_start]
    assert at_the_edge  # events in the lookback collected before it starts: the filter must keep them

    preflight = run_preflight(warehouse, SPEC)
    assert "collector_tstamp >= " in render_training_sql(SPEC, "duckdb", columns=preflight.columns).text
    actual = query_training_set(warehouse, SPEC, formulation=formulation)
    expected = query_training_set(DuckDBWarehouse(write_events_db(tmp_path / "plain.duckdb", rows)), SPEC,
                                  formulation=formulation)
    assert len(expected) > 100
    pd.testing.assert_frame_equal(actual, expected)
    if REFERENCE.is_file():
        pd.testing.assert_frame_equal(comparable(actual, SPEC), comparable(run_oracle(path, SPEC), SPEC), check_dtype=False)


def test_pruning_drops_only_events_collected_more_than_the_margin_before_the_lookback(events, tmp_path):
    rows, _ = events
    lookback_start = dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=SPEC.lookback_days)
    inside = [row for row in rows if row["derived_tstamp"] >= lookback_start + dt.timedelta(days=3)]
    edge = lookback_start - dt.timedelta(days=SPEC.collector_tstamp_margin_days)
    collector = [edge if index == 0 else edge - dt.timedelta(microseconds=1) if index == 1 else row["derived_tstamp"]
                 for index, row in enumerate(inside)]
    pruned = run_preflight(DuckDBWarehouse(with_collector(tmp_path / "c.duckdb", inside, collector)), SPEC)
    unpruned = run_preflight(DuckDBWarehouse(write_events_db(tmp_path / "n.duckdb", inside)), SPEC)
    assert pruned.events_in_lookback == unpruned.events_in_lookback - 1  # only the one collected past the margin
    wider = run_preflight(DuckDBWarehouse(tmp_path / "c.duckdb"), SPEC.replace(collector_tstamp_margin_days=2))
    assert wider.events_in_lookback == unpruned.events_in_lookback


# ----- one prospect dominating ---------------------------------------------------------------------


def test_the_preflight_warns_when_one_prospect_holds_a_large_share_of_the_events(tmp_path):
    first = dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=45)
    bot = [{"event_id": f"b{i}", "derived_tstamp": first + dt.timedelta(seconds=i), "domain_userid": "bot",
            "domain_sessionid": "sb", "event_name": "page_view", "app_id": "website"} for i in range(1_500)]
    people = [{"event_id": f"p{u}_{i}", "derived_tstamp": first + dt.timedelta(hours=u, minutes=i),
               "domain_userid": f"u{u}", "domain_sessionid": f"s{u}", "event_name": "page_view", "app_id": "website"}
              for u in range(100) for i in range(20)]
    preflight = run_preflight(DuckDBWarehouse(write_events_db(tmp_path / "bot.duckdb", bot + people)), SPEC)
    assert preflight.notices == (
        "one prospect has 1,500 of the cohort's 3,500 events (43%); the query sorts each prospect's events on one "
        "worker, so this one sets the run time, and it is most likely a bot or a shared device: exclude its app or "
        "events, or sample prospects",)
    quiet = run_preflight(DuckDBWarehouse(write_events_db(tmp_path / "people.duckdb", people)), SPEC)
    assert quiet.largest_user_events == 20 and quiet.notices == ()

