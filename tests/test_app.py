"""The studio driven through Streamlit's AppTest: every page, the whole flow, and bad input.

A small demo database (600 prospects) keeps each run to seconds; it is created once per test
session and the app is pointed at it with PROSPECT_DEMO_DB.
"""

from __future__ import annotations

import json

import pytest
from pathlib import Path

from streamlit.testing.v1 import AppTest

from prospect_core.demo_data import write_demo_db

PAGES = ["pages/data_and_target.py", "pages/train.py", "pages/evaluate.py", "pages/explain.py",
         "pages/score_and_export.py"]
TIMEOUT = 180
APP = Path(__file__).resolve().parent.parent / "app.py"


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

    app.switch_page("pages/train.py").run()
    app.button[0].click().run()  # the form's "Train model"
    assert not app.exception and not app.error, messages(app)
    run = app.session_state["runs"][0].run
    assert run.split == "by_user"  # the app's default: no prospect on both sides
    auc = float(metric(app, "ROC AUC"))
    assert auc == pytest.approx(run.evaluation.roc_auc, abs=5e-4) and auc > 0.55
    assert len(app.session_state["runs"]) == 1

    app.switch_page("pages/evaluate.py").run()
    assert not app.exception and not app.error, messages(app)
    prospects = run.positive_prospects_test
    assert prospects == run.test_ids["domain_userid"][run.y_test == 1].nunique() and prospects > 0
    few = [text for text in messages(app) if "these metrics say little" in text]
    assert len(few) == (1 if prospects < 10 else 0)
    assert any(f"positive from {prospects:,} prospect" in caption.value for caption in app.caption)
    slider = app.slider[0]
    slider.set_value(0.9).run()
    precision_high = float(metric(app, "Recall"))
    slider.set_value(0.05).run()
    assert float(metric(app, "Recall")) >= precision_high

    app.switch_page("pages/explain.py").run()
    assert not app.exception and not app.error, messages(app)
    assert app.session_state["runs"][0].shap is not None

    app.switch_page("pages/score_and_export.py").run()
    assert not app.exception and not app.error, messages(app)
    export = app.session_state["runs"][0].extras["export"]
    card = json.loads(export.card_json)
    assert card["artifact"]["sha256"] == export.sha256
    assert card["target"]["column"] == "target_had_submit_form_next1h"
    assert "%(" not in card["sql"]["text"] and "target_had_submit_form_next1h" in card["sql"]["text"]
    assert metric(app, "Probability of target_had_submit_form_next1h").endswith("%")


def test_invalid_window_shows_an_error_and_keeps_the_settings(app):
    app.number_input(key="short_days").set_value(40).run()
    assert not app.exception
    assert any("short_window_days must be shorter than long_window_days" in text for text in messages(app))
    assert app.session_state["spec"].short_window_days == 7  # last valid spec kept
    assert app.number_input(key="short_days").value == 40  # the user's input kept
    app.switch_page("pages/train.py").run()
    app.switch_page("pages/data_and_target.py").run()
    assert app.number_input(key="short_days").value == 40


def test_target_that_never_happens_is_flagged_before_training(app):
    app.selectbox(key="target_pick").set_value("Other event…").run()
    app.text_input(key="target_other").input("never_fired_event").run()
    build(app)
    assert any("No row is positive" in text for text in messages(app))
    app.switch_page("pages/train.py").run()
    app.button[0].click().run()
    assert not app.exception
    expected = "target column 'target_had_never_fired_event_next1h' has only one class (0 True"
    assert any(expected in text for text in messages(app)), messages(app)
    assert app.session_state["runs"] == []
