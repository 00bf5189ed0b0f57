"""Custom attributes: the issue's example spec and every aggregation, in every formulation.

The example (`num_customers_views`, page views on a URL like '%customers%') builds on the demo data
and on an events export with the same rows in seed, fast and portable; its columns equal a query
written here by hand; a model trains on it; `signals` writes definitions the SDK reads back.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pandas as pd
import pytest
import snowplow_signals as sp

from prospect_core import cli
from prospect_core.trainingset.attributes import BUILT_IN_ATTRIBUTES, PROPERTIES, Attribute, Criterion
from prospect_core.events.build import query_training_set
from prospect_core.events.demo_data import COLUMNS, write_demo_db
from prospect_core.events.events_files import EVENTS_LAYOUT, open_events_file
from prospect_core.trainingset.features import FEATURES, feature_columns, spec_features
from prospect_core.modelling.model import ModelParams, train_model
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS, render_training_sql
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF, write_events_db
from tests.trainingset.test_oracle import generate_events

EXAMPLE = {
    "target_event": "submit_form",
    "attributes": [{"name": "num_customers_views", "aggregation": "count", "events": ["page_view"],
                    "where": [{"property": "page_url", "operator": "like", "value": "%customers%"}],
                    "windows": ["short", "long"]}],
}
NEW_COLUMNS = ["num_customers_views_l7d", "num_customers_views_l30d"]


def reference_customers_views(connection: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The two new columns by a plain self-join, per training-set event (the seed's window rule:
    strictly earlier events of the user, at most N second boundaries back)."""
    connection.register("rows_", frame[["event_id", "domain_userid", "derived_tstamp"]])
    return connection.sql(f"""
        select r.event_id,
            count(case when date_diff('second', h.derived_tstamp, r.derived_tstamp) <= 604800 then 1 end)
                as num_customers_views_l7d,
            count(h.event_id) as num_customers_views_l30d
        from rows_ as r
        left join (select distinct on (event_id) * from {table} order by event_id, derived_tstamp) as h
            on h.domain_userid = r.domain_userid and h.derived_tstamp < r.derived_tstamp
            and date_diff('second', h.derived_tstamp, r.derived_tstamp) <= 2592000
            and h.event_name = 'page_view' and h.page_url like '%customers%'
            and h.domain_sessionid is not null
            and h.derived_tstamp >= timestamp '{AS_OF}' - interval 60 day
        group by r.event_id
    """).df().set_index("event_id").sort_index()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    write_demo_db(path, n_users=200, seed=4, anchor=AS_OF)
    return path


def demo_spec(path) -> TrainingSpec:
    """The example spec, as of the day the demo data is anchored on."""
    return TrainingSpec.from_dict({**EXAMPLE, "as_of": AS_OF.isoformat()})


def test_the_example_spec_adds_two_columns_after_the_built_ins():
    spec = TrainingSpec.from_dict(EXAMPLE)
    columns = feature_columns(spec)
    assert len(columns) == 22 and set(columns) - set(feature_columns(TrainingSpec())) == set(NEW_COLUMNS)
    assert columns.index("num_customers_views_l7d") == columns.index("num_form_engagements_l7d") + 1
    assert columns[-1] == "num_customers_views_l30d"
    assert TrainingSpec.from_dict(spec.to_dict()) == spec


def test_the_registry_lists_the_tutorials_20_features_with_their_dtypes():
    assert len(BUILT_IN_ATTRIBUTES) == 14 and len(FEATURES) == 20
    dtypes = {f.key: (f.kind, f.dtype) for f in FEATURES}
    assert dtypes["day_of_week"] == ("categorical", "int64")
    assert dtypes["had_conversions_short"] == ("boolean", "bool")
    assert dtypes["first_mkt_medium_long"] == ("categorical", "str")
    assert dtypes["num_sessions_long"] == ("numeric", "int64")


def test_properties_are_the_events_layout():
    sources = {p.source for p in PROPERTIES.values()}
    layout = {name for name, _ in COLUMNS}
    assert sources <= layout and sources <= set(EVENTS_LAYOUT)


@pytest.mark.parametrize("source", ["demo", "export"])
def test_example_spec_builds_identically_and_matches_a_hand_written_query(demo_db, tmp_path, source):
    spec = demo_spec(demo_db)
    if source == "demo":
        warehouse = DuckDBWarehouse(demo_db)
        table = "atomic.events"
    else:
        export = tmp_path / "events.parquet"
        with duckdb.connect(str(demo_db), read_only=True) as connection:
            connection.sql(f"copy (select * from atomic.events) to '{export}' (format parquet)")
        warehouse = open_events_file(export, cache_dir=tmp_path / "cache")
        table = f"read_parquet('{export}')"
    frames = {f: query_training_set(warehouse, spec, formulation=f) for f in FORMULATIONS}
    seed = frames["seed"]
    assert len(seed) > 500 and seed["num_customers_views_l30d"].sum() > 50
    assert (seed["num_customers_views_l30d"] >= seed["num_customers_views_l7d"]).all()
    for formulation in ("fast", "portable"):
        pd.testing.assert_frame_equal(frames[formulation], seed)
    with duckdb.connect(str(demo_db), read_only=True) as connection:
        expected = reference_customers_views(connection, table, seed)
    actual = seed.set_index("event_id")[NEW_COLUMNS].sort_index()
    expected.index = expected.index.astype(actual.index.dtype)  # the set's ids are Arrow strings
    pd.testing.assert_frame_equal(actual, expected.astype("int64"), check_names=False)
    # the built-in columns are the default spec's, unchanged
    default = query_training_set(warehouse, spec.replace(attributes=()), formulation="fast")
    pd.testing.assert_frame_equal(seed.drop(columns=NEW_COLUMNS), default)


def test_a_model_trains_on_the_example_and_signals_reads_it_back(demo_db, tmp_path):
    spec = demo_spec(demo_db)
    frame = query_training_set(DuckDBWarehouse(demo_db), spec)
    run = train_model(frame, spec, ModelParams(n_estimators=10, max_depth=3))
    assert 0.5 < run.evaluation.roc_auc <= 1
    assert set(NEW_COLUMNS) <= set(run.pipeline.named_steps["preprocessor"].transformers_[0][2])

    spec_file, out = tmp_path / "spec.json", tmp_path / "signals.json"
    spec_file.write_text(json.dumps({**EXAMPLE, "as_of": spec.as_of.isoformat()}))
    assert cli.main(["signals", "--spec", str(spec_file), "--out", str(out), "--owner", "data@example.com",
                     "--group-name", "prospects", "--version", "3"]) == 0
    document = json.loads(out.read_text())
    group = sp.StreamAttributeGroup.model_validate(document["attribute_group"])
    assert (group.name, group.version, group.owner) == ("prospects", 3, "data@example.com")
    by_name = {attribute.name: attribute for attribute in group.attributes}
    custom = by_name["num_customers_views_l7d"]
    assert (custom.aggregation, custom.period, custom.default_value) == ("counter", dt.timedelta(days=7), 0)
    assert custom.criteria.all[0].operator == "like" and custom.criteria.all[0].value == "%customers%"
    assert [event.name for event in custom.events] == ["page_view"]
    assert by_name["num_sessions_l30d"].aggregation == "unique_list"
    assert "day_of_week" not in by_name
    assert all(attribute.default_value is not None for attribute in group.attributes)
    assert document["service"]["attribute_groups"] == [{"name": "prospects", "version": 3}]
    inputs = {entry["input"]: entry for entry in document["model_inputs"]}
    assert list(inputs) == feature_columns(spec)
    assert inputs["day_of_week"]["transform"] == "request_iso_day_of_week" and inputs["day_of_week"]["attribute"] is None
    assert inputs["day_of_week"]["source"] == "request_time" and inputs["num_apps_l7d"]["source"] == "signals"
    assert inputs["had_conversions_l7d"]["transform"] == "greater_than_zero"
    assert inputs["num_apps_l7d"]["transform"] == "length"
    assert inputs["num_customers_views_l30d"] == {
        "input": "num_customers_views_l30d", "source": "signals", "attribute": "num_customers_views_l30d",
        "transform": "value",
        "dtype": "int64", "default": 0, "parity": "approximate",
        "note": "training counts strictly earlier events, Signals the current one too",
    }
    for column in ("day_of_week", "had_conversions_l7d", "num_sessions_l7d"):
        assert column in group.description


# Every aggregation, with criteria of each operator kind, on the oracle's edge-dense events.
EVERY_KIND = (
    Attribute("num_pricing_sessions", "count_distinct", property="domain_sessionid", events=("page_view",),
              where=(Criterion("page_url", "like", "%pricing%"),)),
    Attribute("num_weekend_events", "count", where=(Criterion("day_of_week", "gte", 6),), windows=("long",)),
    Attribute("num_non_docs_pings", "count", events=("page_ping",), where=(Criterion("app_id", "neq", "docs"),)),
    Attribute("had_form_on_site", "any", events=("focus_form", "change_form"),
              where=(Criterion("app_id", "in", ("website", "hs-landing")),)),
    Attribute("first_device", "first", property="device_class", windows=("short",)),
    Attribute("last_medium", "last", property="refr_medium", windows=("short", "long")),
    Attribute("last_social_campaign", "last", property="mkt_campaign", where=(Criterion("mkt_medium", "eq", "social"),)),
    Attribute("latest_medium", "last", property="mkt_medium", windows=("event",)),
    Attribute("num_media_devices", "count_distinct", property="device_class", events=("play",), windows=("long",)),
)


@pytest.mark.parametrize("seed", [1, 2])
def test_every_aggregation_gives_the_same_rows_in_every_formulation(tmp_path, seed):
    spec = TrainingSpec(as_of=AS_OF, attributes=EVERY_KIND)
    warehouse = DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", generate_events(seed)))
    frames = {f: query_training_set(warehouse, spec, formulation=f) for f in FORMULATIONS}
    for formulation in ("fast", "portable"):
        pd.testing.assert_frame_equal(frames[formulation], frames["seed"])
    seed_frame = frames["seed"]
    for feature in spec_features(spec)[20:]:  # every custom column takes more than one value
        assert seed_frame[feature.column(spec)].nunique() > 1, feature.column(spec)
    assert seed_frame["latest_medium"].dtype == pd.StringDtype("pyarrow") and seed_frame["had_form_on_site_l30d"].dtype == bool


def test_cli_spec_writes_a_file_that_spec_reads_with_flags_overriding(tmp_path, capsys):
    source, written = tmp_path / "in.json", tmp_path / "out.json"
    source.write_text(json.dumps({**EXAMPLE, "as_of": "2025-05-14", "short_window_days": 5}))
    assert cli.main(["spec", "--spec", str(source), "--long-window-days", "20", "--out", str(written)]) == 0
    spec = TrainingSpec.from_dict(json.loads(written.read_text()))
    assert (spec.short_window_days, spec.long_window_days, spec.as_of) == (5, 20, AS_OF)
    assert spec.attributes[0].name == "num_customers_views"
    assert cli.main(["sql", "--spec", str(written), "--dialect", "duckdb"]) == 0
    assert "num_customers_views_l5d" in capsys.readouterr().out


def test_cli_refuses_a_bad_spec_file_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"attributes": [{"name": "x", "aggregation": "count", "where": [{"property": "page_ur", '
                   '"operator": "eq", "value": "a"}]}]}')
    assert cli.main(["sql", "--spec", str(bad)]) == 2
    assert "attributes[0].where[0].property must be one of" in capsys.readouterr().err
    bad.write_text("{not json")
    assert cli.main(["sql", "--spec", str(bad)]) == 2
    assert "is not JSON text" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [1, 2])
def test_exclude_after_first_target_drops_exactly_the_later_rows(tmp_path, seed):
    """Against a reference written here: per user, the first target event among the events the
    training set reads (lookback, session and event ids present, not excluded); rows at or after it go."""
    rows = generate_events(seed)
    warehouse = DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", rows))
    spec = TrainingSpec(as_of=AS_OF)
    full = query_training_set(warehouse, spec)
    events = pd.DataFrame(rows)
    start = pd.Timestamp(AS_OF) - pd.Timedelta(days=spec.lookback_days)
    read = events[(events.derived_tstamp >= start) & (events.derived_tstamp < pd.Timestamp(AS_OF) + pd.Timedelta(days=1))
                  & events.domain_sessionid.notna() & ~events.event_name.isin(spec.excluded_events)]
    first_target = read[read.event_name == spec.target_event].groupby("domain_userid").derived_tstamp.min()
    limit = full.domain_userid.map(first_target)
    expected = full[limit.isna() | (full.derived_tstamp < limit)].reset_index(drop=True)
    assert 0 < len(expected) < len(full) and expected[spec.target_column].any()
    excluding = spec.replace(exclude_after_first_target=True)
    for formulation in FORMULATIONS:
        pd.testing.assert_frame_equal(query_training_set(warehouse, excluding, formulation=formulation), expected)


def test_exclude_after_first_target_is_a_cli_flag(capsys):
    assert cli.main(["sql", "--as-of", "2025-05-14", "--exclude-after-first-target"]) == 0
    assert "first_target_at" in capsys.readouterr().out
    assert cli.main(["sql", "--as-of", "2025-05-14"]) == 0
    assert "first_target_at" not in capsys.readouterr().out


def test_the_most_attributes_a_spec_may_add_still_give_the_seed_rows(tmp_path):
    """20 custom attributes: 6 counters spill into a second lane sum a window, and 14 distinct counts
    bring the island edges to 66 bits (a HUGEINT)."""
    from prospect_core.trainingset.attributes import MAX_ATTRIBUTES

    half = 6
    attributes = [Attribute(f"views_{i}", "count", events=("page_view",), where=(Criterion("day_of_week", "lte", 1 + i % 7),))
                  for i in range(half)]
    attributes += [Attribute(f"sessions_{i}", "count_distinct", property="domain_sessionid",
                             where=(Criterion("day_of_week", "gte", 1 + i % 7),)) for i in range(MAX_ATTRIBUTES - half)]
    spec = TrainingSpec(as_of=AS_OF, attributes=tuple(attributes))
    warehouse = DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", generate_events(3, n_users=25)))
    seed = query_training_set(warehouse, spec, formulation="seed")
    assert len(feature_columns(spec)) == 60 and seed["sessions_0_l30d"].sum() > 0
    fast_sql = render_training_sql(spec, "duckdb", formulation="fast").text
    assert ")::hugeint << 65)" in fast_sql and "d7_counts_2" in fast_sql
    for formulation in ("fast", "portable"):
        pd.testing.assert_frame_equal(query_training_set(warehouse, spec, formulation=formulation), seed)
