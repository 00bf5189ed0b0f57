"""Hostile values in the app's widgets: `st.error` with a specific message, no exception, the user's
input and the last valid spec kept; hostile names that exist are data and yield positives."""

from __future__ import annotations

import re
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
    assert any("Cannot export the model: \\`artifact_signing_key\\` in .streamlit/secrets.toml is too short (1 bytes" in text
               for text in shown), shown
    assert not [button for button in at.get("download_button") if button.proto.label.startswith("Download model")]


# ----- finding 7: Markdown injection through a link's spec -------------------------------------------
LINK = "[click](https://evil.example)"
IMAGE = "![x](https://evil.example/x.png)"
DIRECTIVES = ":red[alarm] :material/warning: <b>bold</b> $x^2$ **loud**"


def rendered_markdown(at: AppTest) -> list[str]:
    """The body of every element Streamlit renders as Markdown, sidebar included."""
    elements = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success, *at.subheader,
                *at.title, *at.sidebar.markdown, *at.sidebar.caption]
    return [element.value for element in elements] + [expander.label for expander in at.expander]


def open_link(spec: dict, tiny_demo_db, monkeypatch) -> AppTest:
    import json

    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["spec"] = json.dumps(spec)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("payload", [LINK, IMAGE, DIRECTIVES])
def test_a_link_planting_markdown_in_the_target_and_a_label_renders_it_as_text(tiny_demo_db, monkeypatch, payload):
    attribute = {"name": "num_planted", "aggregation": "count", "events": ["page_view"], "windows": ["long"],
                 "label": payload}
    at = open_link({"target_event": payload, "attributes": [attribute]}, tiny_demo_db, monkeypatch)
    assert at.session_state["spec"].target_event == payload  # the spec is used: the text is data
    bodies = rendered_markdown(at)
    shown = [body for body in bodies if "evil" in body or "alarm" in body]
    assert len(shown) >= 3, bodies  # the sidebar, the missing-target notice, the Attributes panel
    for body in shown:
        for raw in ("[click](", "![x](", "https://evil", ":red[", ":material/", "<b>", "$x", "**loud"):
            assert not re.search(r"(?<!\\)" + re.escape(raw), body), (raw, body)  # only escaped, if at all
    assert any("\\[click\\]" in body or "\\[x\\]" in body or "\\<b\\>" in body for body in shown), shown


# ----- finding 8: numbers and nesting no parser can take ---------------------------------------------
HUGE_NUMBER = "1" * 4_401


def test_a_4401_digit_number_in_a_link_is_one_warning(tiny_demo_db, monkeypatch):
    from prospect_core.studio.state import NEW_WORKSPACE_SPEC

    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["spec"] = '{"target_min_count": ' + HUGE_NUMBER + "}"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning if "digits" in w.value] == [
        "The spec in this link holds a number 4,401 digits long; expected numbers of at most 30 digits. "
        "Starting from the default settings instead."]
    assert at.session_state["spec"] == NEW_WORKSPACE_SPEC  # a new workspace's, in signals timing


@pytest.mark.parametrize("text, message", [
    ('{"target_min_count": ' + HUGE_NUMBER + "}", "holds a number 4,401 digits long; expected numbers of at most 30 digits"),
    ('{"target_min_count": 1e400}', "holds '1e400', which is not a finite number; expected finite numbers"),
    ("[" * 100_000, "nests lists or objects 100,000 levels deep; expected at most 16"),
])
def test_a_spec_file_no_parser_can_take_is_one_error_on_load(tiny_demo_db, monkeypatch, text, message):
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    valid = at.session_state["spec"]
    at.file_uploader(key="load_spec").set_value(("spec.json", text.encode(), "application/json")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [f"The spec file spec.json {message}. The settings are unchanged."]
    assert at.session_state["spec"] == valid
