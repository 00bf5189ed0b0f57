"""The studio driven through Streamlit's AppTest: every page, the whole flow, and bad input.

A small demo database (600 prospects) keeps each run to seconds; it is created once per test
session and the app is pointed at it with PROSPECT_DEMO_DB.
"""

from __future__ import annotations

import json
import time

import pytest
from pathlib import Path

from streamlit.testing.v1 import AppTest

from prospect_core.events.demo_data import write_demo_db
from prospect_core.modelling.evaluation import evaluate_by_prospect
from prospect_core.studio import keys
from prospect_core.studio.labels import run_label

PAGES = ["screens/data_and_target.py", "screens/train.py", "screens/evaluate.py", "screens/explain.py",
         "screens/score_and_export.py"]
TIMEOUT = 180
APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="session")
def small_demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    write_demo_db(path, n_users=600, seed=7)
    return path


@pytest.fixture
def app(small_demo_db, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(small_demo_db))
    # The DuckDB path box reads only data folders: here pytest's temp folder, where tests write their files.
    monkeypatch.setenv("PROSPECT_DATA_DIRS", str(tmp_path_factory.getbasetemp()))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def messages(at: AppTest) -> list[str]:
    return [element.value for element in [*at.error, *at.warning, *at.exception]]


def build(at: AppTest) -> AppTest:
    at.button(key="build").click().run()
    assert not at.exception, messages(at)
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_a_fresh_session(app, page):
    app.switch_page(page).run()
    assert not app.exception, messages(app)
    assert not app.error, messages(app)


def test_full_flow_build_train_evaluate_explain_export(app):
    build(app)
    rows = int(metric(app, "Rows (prediction points)").replace(",", ""))
    rate = float(metric(app, "Positive rate").rstrip("%"))
    assert rows > 1000 and 0 < rate < 30
    assert app.session_state["built"].summary.rows == rows

    app.switch_page("screens/train.py").run()
    app.button[0].click().run()  # the form's "Train model"
    assert not app.exception and not app.error, messages(app)
    run = app.session_state["runs"][0].run
    assert run.split == "by_user"  # the app's default: no prospect on both sides
    auc = float(metric(app, "ROC AUC"))
    assert auc == pytest.approx(run.evaluation.roc_auc, abs=5e-4) and auc > 0.55
    assert len(app.session_state["runs"]) == 1

    app.switch_page("screens/evaluate.py").run()
    assert not app.exception and not app.error, messages(app)
    prospects = run.positive_prospects_test
    assert prospects == run.test_ids["domain_userid"][run.y_test == 1].nunique() and prospects > 0
    few = [text for text in messages(app) if "these metrics say little" in text]
    assert len(few) == (1 if prospects < 10 else 0)
    caption = next(caption.value for caption in app.caption if "positive moments from" in caption.value)
    assert f"positive moments from {prospects:,} prospect" in caption
    assert "prospects who submitted a form within 1 hour" in caption  # the target's words
    assert "converted" not in " ".join(m.help or "" for m in app.metric)
    by_prospect = next(m for m in app.metric if m.label == "ROC AUC by prospect")
    assert 0.5 < float(by_prospect.value) <= 1
    record = app.session_state["runs"][0]
    parts = record.evaluate_parts  # what does not move with the threshold, computed on this first visit
    assert (parts.test_prospects, parts.positive_prospects) == (run.test_ids["domain_userid"].nunique(), prospects)
    assert parts.prospect_roc_auc == evaluate_by_prospect(y_true=run.y_test, y_score=run.y_score,
                                                          prospect_ids=run.test_ids["domain_userid"]).roc_auc
    assert float(by_prospect.value) == pytest.approx(parts.prospect_roc_auc, abs=5e-4)
    assert len(app.get("plotly_chart")) == 8
    started = record.threshold.threshold  # the one threshold starts at best F1
    assert started == run.evaluation.best_f1_threshold
    assert app.slider(key="threshold_1").value == pytest.approx(started)
    app.number_input(key="profit_1_value").set_value(500.0).run()
    app.number_input(key="profit_1_cost").set_value(2.0).run()
    settings = app.session_state["runs"][0].threshold
    assert (settings.value_per_conversion, settings.cost_per_flag, settings.threshold) == (500.0, 2.0, started)
    app.button(key="threshold_1_best_profit").click().run()
    assert not app.exception and not app.error, messages(app)
    best = app.session_state["runs"][0].threshold.threshold
    curve = settings.curve(record.outcomes)
    assert best == curve.best.threshold and app.slider(key="threshold_1").value == pytest.approx(best)
    assert any(m.value.startswith("Flagging prospects who score") for m in app.markdown)
    app.slider(key="threshold_1").set_value(0.9).run()
    recall_high = float(metric(app, "Recall"))
    assert app.session_state["runs"][0].threshold.threshold == 0.9
    app.slider(key="threshold_1").set_value(0.05).run()
    assert float(metric(app, "Recall")) >= recall_high
    app.button(key="threshold_1_best_f1").click().run()
    assert app.session_state["runs"][0].threshold.threshold == started
    app.slider(key="threshold_1").set_value(0.3).run()
    chosen = app.session_state["runs"][0].threshold
    assert app.session_state["runs"][0].evaluate_parts is parts  # threshold moves redrew it, never recomputed it

    # another page and back: the run's settings, not the widgets' defaults
    app.switch_page("screens/train.py").run()
    app.switch_page("screens/evaluate.py").run()
    assert app.slider(key="threshold_1").value == 0.3 and app.number_input(key="profit_1_value").value == 500.0

    app.switch_page("screens/explain.py").run()
    assert not app.exception and not app.error, messages(app)
    assert app.session_state["runs"][0].shap is not None
    prospect_box = app.selectbox(key="explain_1_prospect")
    labels = prospect_box.options  # as shown: each label holds the prospect's id
    assert len(labels) == len(set(labels)) == run.test_ids["domain_userid"].nunique()  # one entry a prospect
    moments = next(box for box in app.selectbox if box.key.startswith("explain_1_moment_"))
    assert len(moments.options) == (run.test_ids["domain_userid"] == prospect_box.value).sum()

    app.switch_page("screens/score_and_export.py").run()
    assert not app.exception and not app.error, messages(app)
    export = app.session_state["runs"][0].export
    card = json.loads(export.card_json)
    assert card["artifact"]["sha256"] == export.sha256
    assert card["target"]["column"] == "target_had_submit_form_next1h"
    assert card["recommended_threshold"]["value"] == chosen.threshold == 0.3  # chosen on Evaluate, signed in the card
    assert card["recommended_threshold"]["inputs"]["value_per_conversion"] == 500.0
    assert "%(" not in card["sql"]["text"] and "target_had_submit_form_next1h" in card["sql"]["text"]
    assert metric(app, "Chance this prospect will submit a form within 1 hour").endswith("%")


def test_invalid_window_shows_an_error_and_keeps_the_settings(app):
    app.number_input(key="short_days").set_value(40).run()
    assert not app.exception
    assert any("“Short window” must be shorter than “Long window”" in text for text in messages(app)), messages(app)
    assert app.button(key="build").disabled
    assert app.session_state["spec"].short_window_days == 7  # last valid spec kept
    assert app.number_input(key="short_days").value == 40  # the user's input kept
    app.switch_page("screens/train.py").run()
    app.switch_page("screens/data_and_target.py").run()
    assert app.number_input(key="short_days").value == 40


def test_target_that_never_happens_is_flagged_before_training(app):
    app.selectbox(key="target_pick").set_value("Other event…").run()
    app.text_input(key="target_other").input("never_fired_event").run()
    build(app)
    assert any("No row is positive" in text for text in messages(app))
    app.switch_page("screens/train.py").run()
    app.button[0].click().run()
    assert not app.exception
    expected = "target column 'target_had_never_fired_event_next1h' has only one class (0 True"
    assert any(expected in text for text in messages(app)), messages(app)
    assert app.session_state["runs"] == []


def test_inverted_cohort_disables_build_and_names_the_fields_as_on_screen(app):
    app.number_input(key="cohort_from").set_value(10).run()
    app.number_input(key="cohort_to").set_value(30).run()
    text = " ".join(messages(app))
    assert "“First seen from”" in text and "cohort_first_seen_from_days" not in text
    assert app.button(key="build").disabled
    app.number_input(key="cohort_to").set_value(3).run()
    assert not app.button(key="build").disabled


def test_excluded_events_are_not_offered_as_targets(app):
    excluded = app.session_state["spec"].excluded_events
    assert excluded and not set(excluded) & set(app.selectbox(key="target_pick").options)
    assert len(app.multiselect(key="excluded").value) == len(excluded)


def test_split_caption_follows_the_split_picked(app):
    build(app)
    app.switch_page("screens/train.py").run()
    app.radio(key="split").set_value("random").run()
    assert any(c.value.startswith("Random 80/20") for c in app.caption)
    app.button[0].click().run()
    label = run_label(app.session_state["runs"][0])
    assert "Demo events" in label and "submit_form ×1 in 1 h" in label and "Random" in label
    table = app.dataframe[0].value
    assert {"source", "target", "window", "split"} <= set(table.columns) and table["split"][0] == "Random"


def test_key_pair_fields_follow_the_authentication_picked(app):
    app.radio(key="source_kind").set_value("snowflake").run()
    app.selectbox(key="snowflake_auth").set_value("keypair").run()
    labels = [box.label for box in app.text_input]
    # the key is uploaded, never named by a server path (a path would reach the operator's key file)
    assert "Key passphrase" in labels and "Password" not in labels
    assert not any("file" in label.lower() or "path" in label.lower() for label in labels), labels


def test_sql_dialect_follows_the_source_after_using_the_snowflake_form(app):
    assert any("(duckdb)" in e.label for e in app.expander)
    app.radio(key="source_kind").set_value("snowflake").run()
    app.session_state["snowflake_overrides"] = {"account": "nowhere-test", "user": "u", "password": "p"}
    app.run()
    labels = [e.label for e in app.expander if e.label.startswith("SQL for")]
    assert labels and "(snowflake)" in labels[0], labels


def test_target_explorer_counts_the_cohort_and_a_pick_sets_the_target(app):
    app.button(key="explore_button").click().run()
    assert not app.exception and not app.error, messages(app)
    table = app.dataframe[0].value
    own = table[(table["Event"] == "submit_form") & (table["Within"] == "1 h")]
    assert len(own) == 1
    day_of_page_views = table[(table["Event"] == "page_view") & (table["Within"] == "24 h")]
    app.session_state["picked_target"] = ("page_view", 24 * 60)  # what a click on that point or row sets
    app.run()
    assert app.selectbox(key="target_pick").value == "page_view"
    assert (app.number_input(key="window_amount").value, app.selectbox(key="window_unit").value) == (24, "hours")
    spec = app.session_state["spec"]
    assert (spec.target_event, spec.target_window_minutes) == ("page_view", 24 * 60)
    build(app)
    # the explorer's count for that target is the training set's own
    assert app.session_state["built"].summary.positives == int(day_of_page_views["Positive moments"].iloc[0]) > 0


def fresh_app(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_spec_is_shared_by_url_and_reset_to_defaults(app):
    from prospect_core.trainingset.spec import TrainingSpec

    app.number_input(key="long_days").set_value(45).run()
    app.number_input(key="min_count").set_value(3).run()
    shared = app.query_params["spec"]
    shared = shared[0] if isinstance(shared, list) else shared
    assert TrainingSpec.from_dict(json.loads(shared)) == app.session_state["spec"]
    sql = next(code.value for code in app.code)

    opened = fresh_app({"spec": shared})  # the link, in a new session
    assert opened.session_state["spec"].long_window_days == 45 and opened.session_state["spec"].target_min_count == 3
    assert opened.number_input(key="long_days").value == 45
    assert next(code.value for code in opened.code) == sql

    opened.button(key="reset_spec").click().run()
    # a new workspace's settings: the spec's defaults in signals timing
    assert opened.session_state["spec"] == TrainingSpec(feature_timing="signals")
    assert opened.number_input(key="long_days").value == 30 and opened.radio(key="feature_timing").value == "signals"


def test_a_link_with_every_field_changed_fills_every_widget_and_round_trips(small_demo_db, monkeypatch):
    from prospect_core.trainingset.spec_fields import widget_values
    from tests.trainingset.test_spec_fields import CHANGED

    monkeypatch.setenv("PROSPECT_DEMO_DB", str(small_demo_db))
    changed = CHANGED.replace(events_table="atomic.events")  # the demo database's table
    opened = fresh_app({"spec": json.dumps(changed.to_dict())})
    assert not opened.error, messages(opened)
    assert opened.session_state["spec"] == changed  # the fields the page does not draw are kept too
    shown = {key: opened.session_state[key] for key in widget_values(changed)}
    assert shown == widget_values(changed) and shown["window_amount"] == 90 and shown["window_unit"] == "minutes"


def test_switching_the_window_unit_keeps_the_duration(app):
    app.number_input(key="window_amount").set_value(90).run()  # 90 hours
    app.selectbox(key="window_unit").set_value("minutes").run()
    assert app.number_input(key="window_amount").value == 90 * 60
    assert app.session_state["spec"].target_window_minutes == 90 * 60
    app.number_input(key="window_amount").set_value(90).run()  # 90 minutes: not a whole number of hours
    app.selectbox(key="window_unit").set_value("hours").run()
    assert not app.exception and app.number_input(key="window_amount").value == 2
    assert app.session_state["spec"].target_window_minutes == 120
    assert "90 minutes is not a whole number of hours: rounded to 2 hours." in [c.value for c in app.caption]


@pytest.mark.parametrize("query", ['{"long_window_days": "x; drop table"}', "not json", '[1, 2]', "{" * 5000,
                                   '{"target_event": "a\'; select 1 --", "nope": 1}'])
def test_a_bad_spec_in_the_url_falls_back_to_defaults_with_a_notice(small_demo_db, monkeypatch, query):
    from prospect_core.trainingset.spec import TrainingSpec

    monkeypatch.setenv("PROSPECT_DEMO_DB", str(small_demo_db))
    opened = fresh_app({"spec": query})
    assert opened.session_state["spec"] == TrainingSpec(feature_timing="signals")  # a new workspace's settings
    assert any("Starting from the default settings" in w.value for w in opened.warning), messages(opened)
    assert not opened.error, messages(opened)


def test_a_downloaded_spec_loads_as_the_cli_reads_it(tmp_path):
    from prospect_core.cli import read_spec_file
    from prospect_core.trainingset.spec import TrainingSpec
    from prospect_core.studio.spec_form import spec_from_json

    spec = TrainingSpec(long_window_days=60, target_event="page_view", target_min_count=3)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec.to_dict(), indent=2))
    assert read_spec_file(str(path)) == spec_from_json(path.read_bytes(), "spec.json") == spec


def test_batch_scores_put_the_score_and_the_flag_first_highest_first():
    import pandas as pd

    from prospect_core.studio.run_views import scores_first

    scored = pd.DataFrame({"page_views_l7d": [1, 9, 4], "latest_app_id": ["a", "b", "c"], "score": [0.2, 0.9, 0.5]})
    table = scores_first(scored, threshold=0.5)
    assert list(table.columns[:2]) == ["score", "flagged"]
    assert table["score"].tolist() == [0.9, 0.5, 0.2] and table["flagged"].tolist() == [True, True, False]
    assert table["page_views_l7d"].tolist() == [9, 4, 1]  # rows moved whole


def test_an_events_export_keeps_its_notice_on_train_and_evaluate(app, small_demo_db, tmp_path):
    import duckdb

    path = tmp_path / "my events.csv"
    with duckdb.connect(str(small_demo_db), read_only=True) as connection:  # no medium, campaign, device or media
        connection.execute(
            "copy (select event_id, app_id, event_name, strftime(derived_tstamp, '%Y-%m-%d %H:%M:%S.%g') as derived_tstamp,"
            f" domain_userid, domain_sessionid, page_url from atomic.events) to '{path}' (header, delimiter ',')"
        )
    app.session_state["events_path"] = str(path)
    app.radio(key="source_kind").set_value("events").run()
    app.run()  # the load finished: the page draws from it
    assert not app.exception, messages(app)
    notice = next(i.value for i in app.info if "has no column(s)" in i.value)
    assert notice.startswith("my events.csv has no column(s)") and "mkt_medium" in notice  # named by its own name
    build(app)
    app.switch_page("screens/train.py").run()
    assert any("has no column(s)" in i.value for i in app.info)
    app.button[0].click().run()
    app.switch_page("screens/evaluate.py").run()
    assert not app.exception, messages(app)
    assert any("has no column(s)" in i.value and "mkt_medium" in i.value for i in app.info)


def test_importance_bars_carry_the_registry_labels_and_the_column_in_the_tooltip():
    import pandas as pd

    from prospect_core.trainingset.features import FEATURES
    from prospect_core.modelling.figures import importance_figure
    from prospect_core.trainingset.spec import TrainingSpec
    from prospect_core.studio.labels import feature_labels

    spec = TrainingSpec(long_window_days=45)
    labels = feature_labels(spec)
    columns = [feature.column(spec) for feature in FEATURES[:3]]
    bar = importance_figure(pd.DataFrame({"feature": columns, "gain_share": [0.5, 0.3, 0.2]}), labels=labels).data[0]
    wrapped = [label.replace("<br>", " ") for label in bar.y]  # long labels wrap onto lines
    assert wrapped == [labels[c] for c in reversed(columns)] and list(bar.customdata) == list(reversed(columns))
    assert all(label != column for column, label in zip(columns, bar.y[::-1]))


def test_the_notebook_s_event_filters_are_set_on_the_page(app):
    """Issue 25, section 5: leaving out moments after the first target, an include-list of events and
    the cohort's apps as a filter on the events counted, from the field table's widgets."""
    app.checkbox(key="after_first_target").check().run()
    app.checkbox(key="count_only_cohort_apps").check().run()
    app.multiselect(key="included").set_value(["page_view"]).run()  # without the target event
    assert not app.exception
    expected = "“Target event” 'submit_form' is not in “Only these events”"
    assert any(expected in text for text in messages(app)), messages(app)
    assert app.button(key="build").disabled and app.session_state["spec"].included_events == ()
    app.multiselect(key="included").set_value(["page_view", "submit_form"]).run()
    spec = app.session_state["spec"]
    assert (spec.included_events, spec.count_only_cohort_apps, spec.exclude_after_first_target) == (
        ("page_view", "submit_form"), True, True)
    build(app)
    built = app.session_state[keys.BUILT]
    assert built.spec == spec and metric(app, "Rows (prediction points)") == f"{len(built.frame):,}"


def test_target_explorer_shows_how_predictable_each_target_is_once_a_set_is_built(app):
    app.button(key="explore_button").click().run()
    assert "Predictable" not in app.dataframe[0].value.columns
    assert any("Build the training set below" in caption.value for caption in app.caption)
    build(app)
    table = explorer_estimates(app)
    own = table[(table["Event"] == "submit_form") & (table["Within"] == "1 h")].iloc[0]
    assert 0.6 < own["Predictable"] < 1.0
    low, high = map(float, own["AUC range"].split("–"))
    assert low <= own["Predictable"] <= high
    # a picked target is estimated from the same set's features: the same numbers for the same target
    app.session_state["picked_target"] = ("pause", 15)
    app.run()
    again = explorer_estimates(app)
    before = table[(table["Event"] == "pause") & (table["Within"] == "15 min")]["Predictable"].iloc[0]
    assert again[(again["Event"] == "pause") & (again["Within"] == "15 min")]["Predictable"].iloc[0] == before


def explorer_estimates(at: AppTest):
    """The explorer's table once its background estimate is in (each run looks again)."""
    for _ in range(60):
        table = at.dataframe[0].value
        if "Predictable" in table.columns and table["Predictable"].notna().any():
            assert not at.exception and not at.error, messages(at)
            return table
        time.sleep(1)
        at.run()
    raise AssertionError(f"no learnability estimate after a minute: {messages(at)}")
