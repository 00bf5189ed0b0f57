"""Custom attributes through the app (issues 13 and 14): the Attributes form on Data & target, the
spec and SQL that follow it, training on it, and Score & export's what-if form, parity report and
Signals definitions, all driven through Streamlit's AppTest on the small demo database."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest
import snowplow_signals as sp

from prospect_core.infra.errors import UserError
from prospect_core.modelling.scoring import prepare_prospect, score_one
from prospect_core.outputs.service_bundle import service_zip
from prospect_core.outputs.signing import signing_key
from prospect_core.trainingset.features import spec_features
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.studio.attributes_panel import in_form_words
from tests.studio.test_app import app, build, messages, metric, small_demo_db  # noqa: F401 (fixtures)

CUSTOMERS = "num_customers_views"


def fill_attribute(at, *, name=CUSTOMERS, events="page_view", prop="page_url", operator="like",
                   value="%customers%", windows=("short", "long"), period_days=None):
    """Fill the Attributes form (a new attribute) and press its button."""
    # the form's keys end in its round and the window titles it shows: read them off the drawn Name box
    suffix = next(box.key for box in at.text_input if (box.key or "").startswith("attr_name_New attribute_"))
    suffix = suffix.removeprefix("attr_name_")
    at.text_input(key=f"attr_name_{suffix}").input(name)
    at.selectbox(key=f"attr_aggregation_{suffix}").set_value("count")
    at.multiselect(key=f"attr_events_{suffix}").set_value([e.strip() for e in events.split(",") if e.strip()])
    at.multiselect(key=f"attr_windows_{suffix}").set_value(list(windows))
    if period_days is not None:
        at.number_input(key=f"attr_period_days_{suffix}").set_value(period_days)
    at.selectbox(key=f"attr_where_property_{suffix}").set_value(prop)
    at.selectbox(key=f"attr_where_operator_{suffix}").set_value(operator)
    at.text_input(key=f"attr_where_value_{suffix}").input(value)
    next(b for b in at.button if b.label == "Add attribute").click().run()
    return at


def table(at, column: str):
    """The first dataframe shown with `column` (AppTest does not expose a dataframe's key)."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def sql_text(at) -> str:
    return next(code.value for code in at.code if "target_had_submit_form" in code.value)


def test_the_issue_attribute_through_the_form_trains_and_reaches_score_and_export(app):
    assert "num_customers_views_l7d" not in sql_text(app)
    fill_attribute(app)
    assert not app.exception and not app.error, messages(app)
    spec = app.session_state["spec"]
    assert [a.name for a in spec.attributes] == [CUSTOMERS]
    assert spec.attributes[0].where[0].value == "%customers%"
    # the new columns are shown, the SQL (expander and fragment) computes them
    shown = " ".join(m.value for m in app.markdown)
    assert "`num_customers_views_l7d`" in shown and "`num_customers_views_l30d`" in shown
    assert "as num_customers_views_l7d" in sql_text(app) and "as num_customers_views_l30d" in sql_text(app)
    # "How each attribute becomes SQL" shows every attribute's lines, the tutorial's 14 and this one
    fragments = [code.value for code in app.code if code.language == "sql" and "target_had_submit_form" not in code.value]
    assert len(fragments) == 15
    assert "page_url like '%customers%'" in fragments[-1] and "as num_customers_views_l30d" in fragments[-1]
    inputs = table(app, "meaning")
    assert inputs.loc[inputs["input"] == "num_customers_views_l30d", "attribute"].item() == "custom"
    assert len(inputs) == 22

    build(app)
    frame = app.session_state["built"].frame
    assert {"num_customers_views_l7d", "num_customers_views_l30d"} <= set(frame.columns)
    assert frame["num_customers_views_l30d"].sum() > 0  # the demo has customers pages
    assert (frame["num_customers_views_l30d"] >= frame["num_customers_views_l7d"]).all()

    app.switch_page("screens/train.py").run()
    app.button[0].click().run()
    assert not app.exception and not app.error, messages(app)
    run = app.session_state["runs"][0].run
    assert "num_customers_views_l30d" in run.X_test.columns

    app.switch_page("screens/score_and_export.py").run()
    assert not app.exception and not app.error, messages(app)
    # the what-if form has the attribute, labelled in words, the column in its tooltip
    field = app.number_input(key="what_if_num_customers_views_l30d")
    assert "num_customers_views_l30d" in field.help and field.label != "num_customers_views_l30d"
    field.set_value(5)
    app.button(key="FormSubmitter:what_if-Score prospect").click().run()
    values = {f"{w.key[len('what_if_'):]}": w.value for w in [*app.number_input, *app.toggle, *app.selectbox]
              if w.key and w.key.startswith("what_if_")}
    assert values["num_customers_views_l30d"] == 5
    shown_score = metric(app, "Chance this prospect will submit a form within 1 hour")
    assert shown_score == f"{score_one(run.pipeline, values, run.spec):.2%}"
    assert len(prepare_prospect(values, run.spec).columns) == 22
    assert "num_customers_views_l30d" in " ".join(c.value for c in app.caption)  # the batch CSV caption
    # the parity table: one row per model input, replayed on the training set's prospects' events
    parity = table(app, "rows matching")
    assert len(parity) == 22
    row = parity[parity["input"] == "num_customers_views_l30d"].iloc[0]
    # a new session's signals timing: each input is what Signals serves right after the moment
    assert row["parity"] == "exact" and row["rows matching"] == "100.00%", parity.to_dict("records")
    assert parity.loc[parity["input"] == "day_of_week", "parity"].item() == "derived"
    pings = parity[parity["input"] == "num_page_pings_l7d"].iloc[0]
    assert pings["rows matching"] == "100.00%", pings
    export = app.session_state["runs"][0].export
    assert export.card["parity"]["measured_on"].startswith("training set: ") and 0 < export.card["parity"]["rows"] <= len(frame)

    # names and owner from the page's fields, read back by the real SDK
    app.text_input(key="signals_group_name").input("marketing_prospects").run()
    app.text_input(key="signals_owner").input("marketer@example.com").run()
    app.number_input(key="signals_version").set_value(3).run()
    assert not app.error, messages(app)
    buttons = {button.proto.label: button for button in app.get("download_button")}
    assert buttons["Download Signals definitions"].proto.url.endswith(".json")
    offered = next(code.value for code in app.code if code.language == "json" and "attribute_group" in code.value)
    document = json.loads(offered)  # the bytes the button offers (AppTest keeps no media after a run)
    group = sp.StreamAttributeGroup.model_validate(document["attribute_group"])
    assert (group.name, group.version, group.owner) == ("marketing_prospects", 3, "marketer@example.com")
    names = {attribute.name for attribute in group.attributes}
    assert {"num_customers_views_l7d", "num_customers_views_l30d"} <= names
    assert sp.Service.model_validate(document["service"]).attribute_groups[0].name == "marketing_prospects"
    assert [row["input"] for row in document["parity"]] == list(parity["input"])
    assert "Download scoring service" in buttons
    # the scoring-service zip carries the definitions the page offers
    with zipfile.ZipFile(io.BytesIO(service_zip(export.artifact, export.card_json, offered.encode(), key=signing_key()))) as archive:
        assert json.loads(archive.read("prospect_scoring_service/signals_definitions.json")) == document
    # a name or owner the SDK's own models refuse is named in the field's words, and nothing is offered
    app.text_input(key="signals_owner").input("me@host.local").run()
    assert not app.exception
    assert any(text.startswith("Owner email is not accepted by Snowplow Signals: value is not a valid email address")
               for text in messages(app)), messages(app)
    assert "Download Signals definitions" not in {button.proto.label for button in app.get("download_button")}
    app.text_input(key="signals_owner").input("marketer@example.com").run()
    app.text_input(key="signals_group_name").input("marketing-prospects").run()
    assert any(text.startswith("Attribute group name is not accepted by Snowplow Signals: string should match pattern")
               for text in messages(app)), messages(app)
    app.text_input(key="signals_group_name").input("marketing_prospects").run()
    # Snowplow's dataset builder: the anchors are offered; without credentials the button names what to set
    assert {"Download anchors (.parquet)", "Download anchors SQL"} <= {b.proto.label for b in app.get("download_button")}
    app.text_input(key="signals_anchors_table").input("ml.anchors; drop").run()
    assert any(t.startswith("The anchors table's table name is not accepted by Snowplow Signals") for t in messages(app)), messages(app)
    app.text_input(key="signals_anchors_table").input("ml.prospect_anchors").run()
    for name in ("SP_API_URL", "SP_API_KEY", "SP_API_KEY_ID", "SP_ORG_ID", "SP_SANDBOX_URL", "SP_SANDBOX_TOKEN"):
        os.environ.pop(name, None)
    app.button(key="signals_dataset_build").click().run()
    assert not app.exception
    assert any(t.startswith("Snowplow Signals is not configured: set SP_API_URL") for t in messages(app)), messages(app)


def test_an_unknown_property_is_named_in_the_form_words():
    with pytest.raises(UserError) as refused:
        TrainingSpec(attributes=({"name": "secret_reads", "aggregation": "count",
                                  "where": [{"property": "user_ipaddress", "operator": "eq", "value": "1"}]},))
    assert in_form_words(str(refused.value)).startswith("Criterion property must be one of ['app_id'")


@pytest.mark.parametrize(
    ("change", "field_words"),
    [
        (dict(value="x'); drop table events; --" + "a" * 600), "Criterion value must be at most 512 characters"),
        (dict(prop="page_url", operator="gt", value="3"), "Criterion operator 'gt' compares numbers"),
        (dict(name="num_page_views"), "Name 'num_page_views' is an attribute of the 'tutorial' preset"),
        (dict(name="Robert'); DROP"), "Name must be a plain identifier"),
        (dict(windows=()), "Windows must list some of"),
    ],
)
def test_hostile_attribute_form_names_the_field_and_keeps_the_spec(app, change, field_words):
    fill_attribute(app, **change)
    assert not app.exception
    assert any(field_words in text for text in messages(app)), messages(app)
    assert app.session_state["spec"].attributes == ()  # the last valid spec kept
    assert "drop table" not in sql_text(app).lower()


# ----- issue 23: presets, removing any input, feature timing, periods, event identities -------------
def feature_columns(spec: TrainingSpec) -> list[str]:
    return [feature.column(spec) for feature in spec_features(spec)]


def test_removing_a_tutorial_input_keeps_the_other_nineteen_as_a_list(app):
    app.button(key="remove_attribute_num_page_pings").click().run()
    assert not app.exception and not app.error, messages(app)
    spec = app.session_state["spec"]
    assert spec.preset == "none" and app.radio(key="preset").value == "none"
    expected = [c for c in feature_columns(TrainingSpec()) if not c.startswith("num_page_pings")]
    assert feature_columns(spec) == expected and len(expected) == 18
    assert "num_page_pings" not in sql_text(app)
    # the kept ones are now the user's: one of them removed in turn
    app.button(key="remove_attribute_num_apps").click().run()
    spec = app.session_state["spec"]
    assert [c for c in feature_columns(spec) if c.startswith("num_apps")] == [] and len(feature_columns(spec)) == 16
    # picking the tutorial again brings all 20 back
    app.radio(key="preset").set_value("tutorial").run()
    assert not app.error, messages(app)
    spec = app.session_state["spec"]
    assert (spec.preset, spec.attributes) == ("tutorial", ()) and len(feature_columns(spec)) == 20


def test_the_notebook_preset_builds_exactly_its_three_lifetime_counters(app):
    labels = app.radio(key="preset").options
    assert labels == ["Tutorial's 20", "Snowplow notebook's three lifetime counters", "None"]
    app.radio(key="preset").set_value("notebook").run()
    assert not app.exception and not app.error, messages(app)
    notebook = ["num_page_views", "num_pricing_views", "num_customers_views"]
    assert feature_columns(app.session_state["spec"]) == notebook
    sql = sql_text(app)
    assert all(f"as {name}," in sql or f"as {name}\n" in sql for name in notebook) and "_l7d" not in sql
    build(app)
    frame = app.session_state["built"].frame
    assert [c for c in frame.columns if c.startswith(("num_", "latest_", "had_", "first_", "day_"))] == notebook
    # lifetime counts: customers views are a subset of page views, and the demo has some
    assert (frame["num_page_views"] >= frame["num_customers_views"]).all() and frame["num_customers_views"].sum() > 0


def test_a_new_session_starts_in_signals_timing_and_the_choice_is_the_specs(app):
    timing = app.radio(key="feature_timing")
    assert app.session_state["spec"].feature_timing == "signals" and timing.value == "signals"
    assert timing.options == ["What the prospect had done before this moment", "What Signals knows right after this moment"]
    assert TrainingSpec().feature_timing == "tutorial"  # the spec's and CLI's default stays
    timing.set_value("tutorial").run()
    assert app.session_state["spec"].feature_timing == "tutorial"
    link = app.query_params["spec"]
    assert json.loads(link[0] if isinstance(link, list) else link)["feature_timing"] == "tutorial"


def test_a_shared_link_keeps_its_tutorial_timing(small_demo_db, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from tests.studio.test_app import APP, TIMEOUT

    monkeypatch.setenv("PROSPECT_DEMO_DB", str(small_demo_db))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["spec"] = json.dumps(TrainingSpec().to_dict())
    at.run()
    assert not at.exception, messages(at)
    assert at.session_state["spec"].feature_timing == "tutorial" and at.radio(key="feature_timing").value == "tutorial"


def test_a_period_attribute_and_its_events_vendor_from_the_source(app):
    fill_attribute(app, windows=("period", "lifetime"), period_days=10)
    assert not app.exception and not app.error, messages(app)
    attribute = app.session_state["spec"].attributes[0]
    assert attribute.period_days == 10 and attribute.windows == ("period", "lifetime")
    # page_view picked from the source's counts carries the vendor and version the demo's events have
    assert [(e.vendor, e.name, e.version) for e in attribute.events] == [("com.snowplowanalytics.snowplow", "page_view", "1-0-0")]
    assert {"num_customers_views_l10d", "num_customers_views"} <= set(feature_columns(app.session_state["spec"]))
    assert "as num_customers_views_l10d" in sql_text(app)
    build(app)
    frame = app.session_state["built"].frame
    assert (frame["num_customers_views"] >= frame["num_customers_views_l10d"]).all()
    assert frame["num_customers_views"].sum() > frame["num_customers_views_l10d"].sum() > 0
