"""Hostile attribute definitions: refused with the field named, before any SQL runs; or kept as data.

Each row of `REFUSED` is a custom attribute (or a list of them) and the words the message must
contain: the field's path (`attributes[0].where[0].value`) and what was wrong. They are refused by
`TrainingSpec` itself, so no SQL is rendered; the CLI prints one error line and the events table is
untouched. Values that are valid text, however hostile (`ACCEPTED`), are bound as parameters: the
queries run, count nothing, and the table survives.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlglot

from prospect_core.trainingset.attributes import MAX_ATTRIBUTES
from prospect_core.cli import main
from prospect_core.events.build import query_training_set
from prospect_core.infra.errors import SpecError
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS, render_training_sql
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.hostile.conftest import HOSTILE_TEXTS, LONG_TEXT, SPEC, events_table_rows


def count(name="x", **fields) -> dict:
    return {"name": name, "aggregation": "count", **fields}


def where(prop="page_url", operator="eq", value="a") -> list[dict]:
    return [{"property": prop, "operator": operator, "value": value}]


REFUSED = [
    ("injection in a name", [count("x; drop table atomic.events")], "attributes[0].name must be a plain identifier"),
    ("quote in a name", [count("num_'views")], "attributes[0].name must be a plain identifier"),
    ("jinja in a name", [count("{{ spec }}")], "attributes[0].name must be a plain identifier"),
    ("upper-case name", [count("NumViews")], "attributes[0].name must be a plain identifier"),
    ("unicode name", [count("événements")], "attributes[0].name must be a plain identifier"),
    ("long name", [count("n" * 200)], "attributes[0].name must be a plain identifier"),
    ("built-in name", [count("num_page_views")], "attributes[0].name 'num_page_views' is an attribute of the 'tutorial' preset"),
    ("reserved prefix", [count("target_x")], "attributes[0].name 'target_x' may not start with target_"),
    ("column collision", [{"name": "num_sessions_l7d", "aggregation": "last", "property": "app_id",
                           "windows": ["event"]}], "gives the column 'num_sessions_l7d'"),
    ("duplicate names", [count("a"), count("a")], "attributes[1].name 'a' is used twice"),
    ("unknown aggregation", [{"name": "x", "aggregation": "sum"}], "attributes[0].aggregation must be one of"),
    ("unknown field", [count(sql="select 1")], "attributes[0] has unknown field(s) ['sql']"),
    ("unknown property", [count(where=where("page_url; drop table x"))], "attributes[0].where[0].property must be one of"),
    ("column not in the description", [count(where=where("user_ipaddress"))], "attributes[0].where[0].property must be one of"),
    ("unknown operator", [count(where=where(operator="regexp"))], "attributes[0].where[0].operator must be one of"),
    ("operator as SQL", [count(where=where(operator="= 'a' or 1=1 --"))], "attributes[0].where[0].operator must be one of"),
    ("10 kB value", [count(where=where(value=LONG_TEXT))], "attributes[0].where[0].value must be at most 512 characters, got 10,000"),
    ("10 kB event name", [count(events=[LONG_TEXT])], "attributes[0].events[0] must be at most 128 characters"),
    ("10 kB label", [count(label=LONG_TEXT)], "attributes[0].label must be text of at most 200 characters"),
    ("10 kB in list", [count(where=where(operator="in", value=["a", LONG_TEXT]))], "attributes[0].where[0].value[1] must be at most"),
    ("control character", [count(where=where(value="a\x00b"))], "attributes[0].where[0].value must be printable text"),
    ("object as a value", [count(where=where(value={"sql": "1"}))], "attributes[0].where[0].value must be non-empty text"),
    ("number compared to text", [count(where=where(operator="gt", value=3))], "compares numbers, and page_url is text"),
    ("text compared to a number", [count(where=where("day_of_week", "gte", "6 or 1=1"))],
     "attributes[0].where[0].value must be a number"),
    ("infinite number", [count(where=where("day_of_week", "gte", float("inf")))], "attributes[0].where[0].value must be a number"),
    ("huge number", [count(where=where("day_of_week", "gte", 10**400))], "attributes[0].where[0].value must be a number"),
    ("empty in list", [count(where=where(operator="in", value=[]))], "attributes[0].where[0].value must be a list of 1 to 50"),
    ("too many criteria", [count(where=where() * 9)], "attributes[0].where has 9 criteria; at most 8"),
    ("500 attributes", [count(f"a{index}") for index in range(500)], f"attributes lists 500 attributes; at most {MAX_ATTRIBUTES}"),
    ("property on a count", [count(property="page_url")], "attributes[0].property applies to count_distinct, first and last only"),
    ("distinct of a context", [{"name": "x", "aggregation": "count_distinct",
                                "property": "contexts_com_snowplowanalytics_snowplow_media_player_2"}],
     "attributes[0].property must be one of"),
    ("unknown window", [count(windows=["forever"])], "attributes[0].windows must list some of"),
    ("period without days", [count(windows=["period"])], "attributes[0].period_days and the window 'period' go together"),
    ("days without period", [count(windows=["short"], period_days=14)], "attributes[0].period_days and the window 'period'"),
    ("period of 0 days", [count(period_days=0)], "attributes[0].period_days must be a whole number of days from 1 to 3650, got 0"),
    ("period as text", [count(period_days="14; drop")], "attributes[0].period_days must be a whole number of days"),
    ("period as a flag", [count(period_days=True)], "attributes[0].period_days must be a whole number of days"),
    ("lifetime twice", [count(windows=["lifetime", "lifetime"])], "attributes[0].windows lists a window twice"),
    ("vendor as SQL", [count(events=[{"vendor": "com.acme'; drop", "name": "x", "version": "1-0-0"}])],
     "attributes[0].events[0].vendor must be an Iglu vendor like com.acme"),
    ("version not SchemaVer", [count(events=[{"vendor": "com.acme", "name": "x", "version": "1.0"}])],
     "attributes[0].events[0].version must be a schema version like 1-0-0"),
    ("event without a name", [count(events=[{"vendor": "com.acme", "version": "1-0-0"}])],
     "attributes[0].events[0].name must be non-empty text"),
    ("unknown event field", [count(events=[{"name": "x", "schema": "iglu:x"}])], "attributes[0].events[0] has unknown field(s) ['schema']"),
    ("lifetime name collides", [count("num_sessions_l7d", windows=["lifetime"])], "gives the column 'num_sessions_l7d'"),
    ("not a list", "drop table atomic.events", "attributes must be a list of attribute definitions"),
    ("not an object", ["x"], "attributes[0] must be an object"),
]


@pytest.mark.parametrize(("fields", "message"), [
    ({"preset": "tutorials"}, "preset must be one of ['tutorial', 'notebook', 'none'], got 'tutorials'"),
    ({"preset": None}, "preset must be one of"),
    ({"preset": "none"}, "preset 'none' with no attributes leaves the model no input"),
    ({"feature_timing": "realtime"}, "feature_timing must be one of ['tutorial', 'signals'], got 'realtime'"),
    ({"feature_timing": ["signals"]}, "feature_timing must be one of"),
    ({"preset": "notebook", "attributes": [count("num_pricing_views")]},
     "attributes[0].name 'num_pricing_views' is an attribute of the 'notebook' preset"),
], ids=["unknown preset", "null preset", "no inputs at all", "unknown timing", "timing as a list", "notebook name"])
def test_bad_presets_and_timings_are_refused_naming_the_field(fields, message):
    with pytest.raises(SpecError) as raised:
        TrainingSpec.from_dict({"as_of": SPEC.as_of.isoformat(), **fields})
    assert message in str(raised.value)


def test_a_preset_s_names_are_free_with_preset_none_and_events_keep_their_identity():
    spec = TrainingSpec.from_dict({"as_of": SPEC.as_of.isoformat(), "preset": "none", "attributes": [
        count("num_page_views", windows=["lifetime"]),
        count("num_signups", events=["sign_up", {"vendor": "com.acme", "name": "sign_up", "version": "2-0-1"}], period_days=14)]})
    assert [spec.window_column(a.name, w, a.period_days) for a in spec.all_attributes for w in a.windows] == [
        "num_page_views", "num_signups_l14d"]
    again = TrainingSpec.from_dict(spec.to_dict())
    assert again == spec and again.to_dict()["attributes"][1]["events"] == [
        "sign_up", {"vendor": "com.acme", "name": "sign_up", "version": "2-0-1"}]
    assert again.attributes[1].windows == ("period",) and again.attributes[1].period_days == 14


def test_an_old_spec_loads_unchanged():
    old = {"as_of": SPEC.as_of.isoformat(), "attributes": [count("num_signups", events=["sign_up"])]}
    spec = TrainingSpec.from_dict(old)
    assert (spec.preset, spec.feature_timing) == ("tutorial", "tutorial")
    assert spec.attributes[0].event_names == ("sign_up",) and spec.to_dict()["attributes"][0]["events"] == ["sign_up"]


@pytest.mark.parametrize(("attributes", "message"), [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED])
def test_hostile_definitions_are_refused_naming_the_field(attributes, message):
    with pytest.raises(SpecError) as raised:
        TrainingSpec.from_dict({"as_of": SPEC.as_of.isoformat(), "attributes": attributes})
    assert message in str(raised.value)
    assert len(str(raised.value)) < 400  # the message shows a value cut short, never 10 kB of it


@pytest.mark.parametrize("row", [REFUSED[0], REFUSED[16], REFUSED[28]], ids=lambda row: row[0])
def test_the_cli_refuses_them_before_any_query(tmp_path, capsys, hostile_db, row):
    _, attributes, message = row
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"as_of": SPEC.as_of.isoformat(), "attributes": attributes}))
    before = events_table_rows(hostile_db)
    code = main(["dataset", "--spec", str(spec_file), "--source", f"duckdb:{hostile_db}", "--out", str(tmp_path / "o.parquet")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o.parquet").exists() and events_table_rows(hostile_db) == before


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_hostile_values_are_data(hostile_db, formulation):
    """Every hostile text as a like/eq/in value and as event names: the query runs, matches no
    event (the URLs are ordinary), in every formulation, bound and inlined, and the table survives."""
    texts = list(HOSTILE_TEXTS.values())
    attributes = [
        count(f"a{index}", events=[text], where=where("page_url", operator, [text] if operator == "in" else text))
        for index, text in enumerate(texts[:6]) for operator in ("like",)
    ] + [count("eq_all", where=where("mkt_campaign", "in", texts)), count("neq_one", where=where("app_id", "eq", texts[4]))]
    spec = TrainingSpec.from_dict({"as_of": SPEC.as_of.isoformat(), "attributes": attributes})
    warehouse = DuckDBWarehouse(hostile_db)
    before = events_table_rows(hostile_db)
    frame = query_training_set(warehouse, spec, formulation=formulation)
    inlined = render_training_sql(spec, "duckdb", formulation=formulation, inline=True)
    assert len(frame) > 3 and events_table_rows(hostile_db) == before
    custom = [column for column in frame.columns if column.startswith(("a", "eq_all", "neq_one")) and column[-1] == "d"]
    assert len(custom) == 16 and (frame[custom] == 0).all().all()
    pd.testing.assert_frame_equal(warehouse.query(inlined.text).rename(columns=str.lower)[custom].astype("int64"), frame[custom])
    sqlglot.parse_one(render_training_sql(spec, "snowflake", formulation=formulation, inline=True).text, read="snowflake")


@pytest.mark.parametrize(("flags", "message"), [
    (["--owner", "not an email"], "the owner must be an email address"),
    (["--owner", "a@b.com\nx"], "the owner must be an email address"),
    (["--group-name", "g'; drop"], "the attribute group name must be 1-128 letters"),
    (["--service-name", "x" * 200], "the service name must be 1-128 letters"),
])
def test_signals_options_are_checked(tmp_path, capsys, flags, message):
    out = tmp_path / "signals.json"
    assert main(["signals", "--as-of", SPEC.as_of.isoformat(), "--out", str(out), *flags]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_an_oversized_spec_file_is_refused_unread(tmp_path, capsys):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"attributes": [], "padding": "x" * 300_000}))
    assert main(["sql", "--spec", str(spec_file)]) == 2
    assert "is larger than 256 kB" in capsys.readouterr().err
