"""Issue 11's remote-code-execution chain, replayed through the real app: it stops at its first step.

The attacker's steps were: (1) a DuckDB file whose atomic.events is a view over read_text() of the
server's secrets, named evil.csv because only the name was checked; (2) upload it under Events
export, where it was saved under a predictable temp name; (3) type that path into the DuckDB file
box, so the event-count query ran the view and listed every line of the secrets as target events;
(4) sign a pickle with the stolen key. Here step 1 already fails: the file is recognised by its
content as a DuckDB database, opened with no file system beyond itself, and its view is refused
with the reason before any query runs. Steps 2 and 3 fail on their own too.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from prospect_core import studio
APP = Path(__file__).resolve().parents[2] / "app.py"
CANARY_KEY = "canary-signing-key-4f1d2a"
CANARY_PASSWORD = "canary-snowflake-password-9b7c3e"


def evil_duckdb_file(path: Path, secrets: list[Path]) -> bytes:
    """The attacker's file: atomic.events is a view that reads `secrets` line by line as event names."""
    files = ", ".join(f"'{secret}'" for secret in secrets)
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema atomic")
        connection.execute(
            "create view atomic.events as select 'e' || row_number() over () as event_id, "
            "current_timestamp::timestamp - interval 1 day as derived_tstamp, 'u1' as domain_userid, "
            "'s1' as domain_sessionid, unnest(string_split(content, chr(10))) as event_name, 'website' as app_id, "
            "null as page_url, null as refr_medium, null as mkt_medium, null as mkt_campaign, "
            "null::json as contexts_nl_basjes_yauaa_context_1, "
            f"null::json as contexts_com_snowplowanalytics_snowplow_media_player_2 from read_text([{files}])"
        )
    return path.read_bytes()


def page_text(at: AppTest) -> str:
    """Everything the page shows a user: messages, text, and the options of every picker."""
    parts = [element.value for kind in ("error", "warning", "info", "success", "markdown", "caption", "code")
             for element in getattr(at, kind)]
    parts += [str(option) for widget in [*at.selectbox, *at.multiselect] for option in widget.options]
    return "\n".join(str(part) for part in parts)


@pytest.fixture
def server(tmp_path, tiny_demo_db, monkeypatch):
    """A server whose secrets hold the canaries, with data/ as its only data folder."""
    (tmp_path / ".streamlit").mkdir()
    secrets = [tmp_path / "signing.key", tmp_path / ".streamlit" / "secrets.toml"]
    secrets[0].write_text(CANARY_KEY + "\n")
    secrets[1].write_text(f'[connections.snowflake]\npassword = "{CANARY_PASSWORD}"\n')
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    monkeypatch.setenv("PROSPECT_DATA_DIRS", str(data))
    (tmp_path / "attacker").mkdir()
    evil = evil_duckdb_file(tmp_path / "attacker" / "evil.csv", secrets)
    return {"evil": evil, "secrets": secrets, "data": data}


def test_the_evil_file_would_leak_the_secrets_when_opened_naively(server, tmp_path):
    """The test's file is a real attack: DuckDB's defaults run the view and read the canaries."""
    with duckdb.connect(str(tmp_path / "attacker" / "evil.csv"), read_only=True) as connection:
        names = {name for (name,) in connection.execute("select event_name from atomic.events").fetchall()}
    assert CANARY_KEY in names and any(CANARY_PASSWORD in name for name in names)


def test_the_rce_chain_fails_at_its_first_step(server):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.radio(key="source_kind").set_value("events").run()

    # Step 1 + 2: upload the DuckDB file named evil.csv under Events export.
    at.file_uploader(key="events_upload").set_value(("evil.csv", server["evil"], "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = page_text(at)
    assert "evil.csv is a DuckDB database (read from its content)" in shown  # not taken for a CSV by its name
    refusal = ("evil.csv is refused: its view atomic.events calls the table function read_text(), which can read "
               "files or run other code")
    assert refusal in shown, shown
    assert CANARY_KEY not in shown and CANARY_PASSWORD not in shown
    target_options = at.selectbox(key="target_pick").options
    assert not any(CANARY_KEY in option or CANARY_PASSWORD in option for option in target_options)

    # The upload sits in this session's own folder, named at random, outside every data folder.
    uploaded = Path(at.session_state["events_path"])
    session_folder = uploaded.parent.parent
    assert uploaded.name == "evil.csv" and session_folder.parent == studio.UPLOAD_ROOT
    assert session_folder.name.startswith("session-") and not uploaded.is_relative_to(server["data"])

    # Building from it is refused with the same reason, and the page keeps working.
    at.button(key="build").click().run()
    assert not at.exception and at.session_state["built"] is None
    assert refusal in page_text(at)

    # Step 3: the DuckDB file box at the upload's path says only that it is not in a data folder,
    # word for word what it says for a path that does not exist.
    at.radio(key="source_kind").set_value("duckdb").run()
    at.text_input(key="duckdb_path").input(str(uploaded)).run()
    at_upload = [error.value for error in at.error]
    at.text_input(key="duckdb_path").input(str(uploaded.with_name("no-such-file.duckdb"))).run()
    assert [error.value for error in at.error] == at_upload and len(at_upload) == 1
    assert "No DuckDB file at that path in this server's data folders" in at_upload[0]
    assert str(uploaded) not in at_upload[0] and CANARY_KEY not in page_text(at)

    # Even an operator who copies the file into a data folder gets the refusal, not the secrets.
    inside = server["data"] / "evil.duckdb"
    inside.write_bytes(server["evil"])
    at.text_input(key="duckdb_path").input(str(inside)).run()
    shown = page_text(at)
    assert "evil.duckdb is refused: its view atomic.events calls the table function read_text()" in shown
    assert CANARY_KEY not in shown and CANARY_PASSWORD not in shown and not at.exception


def test_two_sessions_uploading_the_same_file_get_different_unguessable_folders(server):
    paths, sessions = [], []  # both sessions stay alive: a session's folder goes with its state
    for _ in range(2):
        at = AppTest.from_file(str(APP), default_timeout=120)
        sessions.append(at)
        at.run()
        at.radio(key="source_kind").set_value("events").run()
        at.file_uploader(key="events_upload").set_value(("evil.csv", server["evil"], "text/csv")).run()
        paths.append(Path(at.session_state["events_path"]))
    assert paths[0].parent.parent != paths[1].parent.parent
    assert paths[0].read_bytes() == paths[1].read_bytes() == server["evil"]
