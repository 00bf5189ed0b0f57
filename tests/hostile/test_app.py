"""Hostile values in the app's widgets: `st.error` with a specific message, no exception, the user's
input and the last valid spec kept; hostile names that exist are data and yield positives."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.hostile.conftest import HOSTILE_TEXTS, LONG_TEXT, SPEC, events_table_rows

APP = Path(__file__).resolve().parents[2] / "app.py"


def errors(at: AppTest) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


@pytest.fixture
def hostile_app(hostile_db, tiny_demo_db, monkeypatch):
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    monkeypatch.setenv("PROSPECT_DATA_DIRS", str(hostile_db.parent))  # the path box reads only data folders
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.radio(key="source_kind").set_value("duckdb").run()
    at.text_input(key="duckdb_path").input(str(hostile_db)).run()
    at.date_input(key="as_of").set_value(SPEC.as_of).run()
    assert not errors(at)
    return at


def test_hostile_widget_values_are_errors_and_the_settings_are_kept(hostile_app, hostile_db):
    at = hostile_app
    before = events_table_rows(hostile_db)
    valid = at.session_state["spec"]
    cases = [
        (lambda: at.text_input(key="events_table_duckdb").input("atomic.events; drop table atomic.events; --"),
         "“Events table” must be a table name", ("events_table_duckdb", "atomic.events; drop table atomic.events; --")),
        (lambda: at.number_input(key="cohort_to").set_value(90), "The cohort window is empty", ("cohort_to", 90)),
        (lambda: at.number_input(key="short_days").set_value(30), "“Short window” must be shorter", ("short_days", 30)),
    ]
    for change, message, (key, value) in cases:
        change().run()
        assert any(message in text for text in errors(at)), (message, errors(at))
        assert at.session_state["spec"] == valid  # the last valid spec drives the SQL and the build
        widget = at.text_input(key=key) if key.startswith("events") else at.number_input(key=key)
        assert widget.value == value  # the user's input is kept to fix
        # undo, so the next case starts from a valid spec
        (at.text_input(key=key).input("atomic.events") if key.startswith("events")
         else at.number_input(key=key).set_value({"cohort_to": 30, "short_days": 7}[key])).run()
        assert not errors(at)

    at.selectbox(key="target_pick").set_value("Other event…").run()
    for text, message in [(LONG_TEXT, "“Target event” must be at most 128 characters"),
                          ("a\nb", "must not contain control characters"), ("   ", "must be a non-empty")]:
        at.text_input(key="target_other").input(text).run()
        assert any(message in error for error in errors(at)), errors(at)
        assert at.text_input(key="target_other").value == text and at.session_state["spec"] == valid
    assert events_table_rows(hostile_db) == before


@pytest.mark.parametrize("name", ["sql injection", "dollar quoting", "backslash quote", "zero width", "emoji"])
def test_a_hostile_target_that_happened_builds_with_positives(hostile_app, hostile_db, name):
    at = hostile_app
    before = events_table_rows(hostile_db)
    at.selectbox(key="target_pick").set_value("Other event…").run()
    at.text_input(key="target_other").input(HOSTILE_TEXTS[name]).run()
    assert at.session_state["spec"].target_event == HOSTILE_TEXTS[name] and not errors(at)
    at.button(key="build").click().run()
    assert not errors(at)
    built = at.session_state["built"]
    assert built.summary.positives >= 1 and bool(built.frame.set_index("event_id").loc["base", built.spec.target_column])
    assert events_table_rows(hostile_db) == before


def test_a_hostile_duckdb_path_is_an_error(hostile_app):
    at = hostile_app
    at.text_input(key="duckdb_path").input("/nonexistent/'; drop table atomic.events; --.duckdb").run()
    assert any("No DuckDB file at that path in this server's data folders" in text for text in errors(at))
    assert not any("drop table" in text for text in errors(at))  # the path is not echoed


def test_a_missing_events_table_is_an_error_on_build(hostile_app, hostile_db):
    at = hostile_app
    at.text_input(key="events_table_duckdb").input("atomic.nowhere").run()
    at.button(key="build").click().run()
    assert any("refers to something missing in hostile.duckdb: Catalog Error: Table with name nowhere does not exist" in text
               for text in errors(at)), errors(at)
    assert at.session_state["built"] is None and at.text_input(key="events_table_duckdb").value == "atomic.nowhere"


def test_a_short_signing_key_in_secrets_is_an_error_on_export_not_a_crash(tiny_demo_db, monkeypatch):
    """`artifact_signing_key = "a"` would make every downloaded card brute-forceable: refused, clearly."""
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.secrets["artifact_signing_key"] = "a"
    at.run()
    at.button(key="build").click().run()
    at.switch_page("screens/train.py").run()
    at.button[0].click().run()  # the form's "Train model"
    assert at.session_state["runs"], errors(at)
    at.switch_page("screens/score_and_export.py").run()
    shown = errors(at)
    assert any("Cannot export the model: `artifact_signing_key` in .streamlit/secrets.toml is too short (1 bytes" in text
               for text in shown), shown
    assert not [button for button in at.get("download_button") if button.proto.label.startswith("Download model")]
