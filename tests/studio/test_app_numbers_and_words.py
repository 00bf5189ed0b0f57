"""Issue 25, sections 3 and 4, through AppTest: numbers that agree or say why not, words instead of
column names, an uploaded file's dates, and Train after a reload."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from prospect_core.studio.labels import feature_labels
from prospect_core.trainingset.features import feature_columns
from tests.studio.test_app import app, build, messages, small_demo_db  # noqa: F401 (fixtures)
from tests.studio.test_app_attributes import fill_attribute
from tests.studio.test_app_runstore import session, store_uri, train  # noqa: F401 (fixture)


def figures(at) -> dict[str, dict]:
    """The page's plotly figures by title."""
    shown = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {figure["layout"]["title"]["text"]: figure for figure in shown}


def captions(at) -> str:
    return "\n".join(caption.value for caption in at.caption)


def test_every_model_column_is_its_own_bar_in_words_and_the_base_rates_are_explained(app):
    app.number_input(key="long_days").set_value(45).run()
    fill_attribute(app, windows=("short", "long"))  # no label: named in words from its name
    build(app)
    spec = app.session_state["spec"]
    set_rate = app.session_state["built"].summary.positive_rate
    train(app)
    run = app.session_state["runs"][-1].run
    note = (f"Base rate {run.evaluation.base_rate:.2%} on the test side, against {set_rate:.2%} positive in the "
            f"whole training set ({run.base_rate_train:.2%} on the train side): the split puts each prospect's")
    assert note in captions(app)  # Train

    app.switch_page("screens/evaluate.py").run()
    assert not app.exception and not app.error, messages(app)
    assert note in captions(app)
    bars = figures(app)["Feature importance (XGBoost gain)"]["data"][0]
    # one bar per model column (the top 20 of 22): the 7- and 45-day columns of an attribute apart
    assert len(bars["y"]) == len(set(bars["y"])) == 20 and sorted(bars["customdata"]) == sorted(set(bars["customdata"]))
    labels = dict(zip(bars["customdata"], bars["y"]))
    columns = feature_columns(spec)
    assert set(labels) <= set(columns) and len(columns) == 22
    shown = {column: label.replace("<br>", " ") for column, label in labels.items()}
    assert not set(shown.values()) & set(columns), shown  # words, never a column name
    if "num_sessions_l7d" in shown and "num_sessions_l45d" in shown:
        assert shown["num_sessions_l7d"].endswith("last 7 days") and shown["num_sessions_l45d"].endswith("last 45 days")
    words = feature_labels(spec)
    assert words["num_customers_views_l45d"] == "num customers views · last 45 days"
    assert words["num_sessions_l45d"] == "Distinct sessions with an event in the window · last 45 days"
    assert all(len(line) <= 32 for label in bars["y"] for line in label.split("<br>"))  # wrapped, not clipped
    assert figures(app)["Feature importance (XGBoost gain)"]["layout"]["yaxis"]["automargin"] is True

    app.switch_page("screens/explain.py").run()
    assert not app.exception and not app.error, messages(app)
    shap_bars = figures(app)["Mean |SHAP| per feature"]["data"][0]
    words = set(feature_labels(spec).values())
    assert {label.replace("<br>", " ") for label in shap_bars["y"]} <= words, shap_bars["y"]
    waterfall = next(f for title, f in figures(app).items() if title.startswith("Why this prospect scores"))
    named = {label.split(" = ")[0].replace("<br>", " ") for label in waterfall["data"][0]["y"][1:-1]}
    assert named <= words | {"12 other features"}, named
    prospects = app.selectbox(key="explain_1_prospect")
    assert not any("never start " in option for option in prospects.options)
    assert any("never submitted a form within 1 hour" in option for option in prospects.options), prospects.options[:3]

    app.switch_page("screens/score_and_export.py").run()
    assert not app.exception, messages(app)
    assert [m.label for m in app.metric if m.label.startswith("Chance")] == [
        "Chance this prospect will submit a form within 1 hour"]
    assert not any("target_had_" in m.label for m in app.metric)


def test_an_uploaded_events_file_starts_at_its_last_day_and_shows_its_dates(app, small_demo_db, tmp_path):
    path = tmp_path / "old events.csv"
    with duckdb.connect(str(small_demo_db), read_only=True) as connection:  # the demo, moved back to early 2024
        connection.execute(
            "copy (select event_id, app_id, event_name, domain_userid, domain_sessionid, page_url, strftime("
            "derived_tstamp - (current_date - date '2024-03-31') * interval 1 day, '%Y-%m-%d %H:%M:%S') as "
            f"derived_tstamp from atomic.events) to '{path}' (header, delimiter ',')"
        )
        first, last, rows = connection.execute(
            "select min(derived_tstamp - (current_date - date '2024-03-31') * interval 1 day), "
            "max(derived_tstamp - (current_date - date '2024-03-31') * interval 1 day), count(*) from atomic.events"
        ).fetchone()
    app.session_state["events_path"] = str(path)
    app.radio(key="source_kind").set_value("events").run()
    app.run()  # the load finished: the page draws from it
    assert not app.exception and not app.error, messages(app)
    assert (f"old events.csv: {rows:,} events from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC). The as-of date starts "
            "at its last event's day.") in captions(app)
    assert app.date_input(key="as_of").value == last.date() and app.session_state["spec"].as_of == last.date()
    build(app)
    assert app.session_state["built"].summary.rows > 1000  # today's as-of date would read none of them

    # a date the user picks stays, and a window with no event names the source as the page does
    app.date_input(key="as_of").set_value(dt.date(2021, 1, 1)).run()
    assert app.date_input(key="as_of").value == dt.date(2021, 1, 1)
    build(app)
    assert (f"events file old events.csv ({rows} events) has no events in the lookback window before the as-of date "
            "2021-01-01; check the as-of date") in messages(app)
    assert not any("atomic.events" in message for message in messages(app))


def test_train_after_a_reload_shows_the_restored_runs_table_and_roc(store_uri):  # noqa: F811
    at = train(build(session()))
    at.button[0].click().run()  # a second run
    workspace = at.session_state["workspace"]
    again = session(workspace)  # a reload: the runs come back from the store, their training set does not
    again.switch_page("screens/train.py").run()
    assert not again.exception and not again.error, messages(again)
    assert any("No training set yet" in info.value for info in again.info)
    assert any(button.label == "Rebuild training set" for button in again.button)
    table = next(frame.value for frame in again.dataframe if len(frame.value) == 2)
    assert len(table) == 2
    roc = figures(again)["ROC curves of this session's runs"]
    assert [trace["name"].split(" (")[0] for trace in roc["data"][:2]] == ["Run 1", "Run 2"]
    assert any(caption.startswith("Base rate ") for caption in captions(again).splitlines())
