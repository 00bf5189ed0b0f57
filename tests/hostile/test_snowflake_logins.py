"""Issue 11, finding 4: no Snowflake login storm, and the operator's password never goes to another account.

The app talks to Snowflake through the real connector. The server is fakesnow's, behind a small login
desk that, like Snowflake, accepts one account, user and password, answers anything else with
Snowflake's "Incorrect username or password" (code 390100), and writes down every login it sees.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from streamlit.testing.v1 import AppTest

from prospect_core.events import snowflake as sf
from prospect_core.infra.errors import SourceError
from tests.events.test_snowflake import CONFIG_ENV

ACCOUNT, USER, PASSWORD = "opsacct", "operator", "operators-Pa55word-from-secrets"
APP = Path(__file__).resolve().parents[2] / "app.py"
LOGIN_PATH = "/session/v1/login-request"


class LoginDesk:
    """ASGI app: fakesnow's server behind a check of account, user and password at login."""

    def __init__(self) -> None:
        import fakesnow.server

        self.app = fakesnow.server.app
        self.logins: list[dict[str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != LOGIN_PATH:
            return await self.app(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        data = json.loads(gzip.decompress(body) if headers.get(b"content-encoding") == b"gzip" else body)["data"]
        login = {"account": data.get("ACCOUNT_NAME"), "user": data.get("LOGIN_NAME"), "password": data.get("PASSWORD")}
        self.logins.append(login)
        if (login["account"].lower(), login["user"].lower(), login["password"]) != (ACCOUNT, USER, PASSWORD):
            answer = json.dumps({"data": None, "code": "390100", "success": False,
                                 "message": "Incorrect username or password was specified."}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            return await send({"type": "http.response.body", "body": answer})
        replay = iter([{"type": "http.request", "body": body, "more_body": False}])

        async def receive_again():
            return next(replay, {"type": "http.disconnect"})

        await self.app(scope, receive_again, send)


@pytest.fixture(scope="module")
def desk():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    desk = LoginDesk()
    server = uvicorn.Server(uvicorn.Config(desk, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    desk.options = {"host": "127.0.0.1", "port": port, "protocol": "http", "network_timeout": 5,
                    "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}}
    yield desk
    server.should_exit = True
    thread.join(10)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, desk, tiny_demo_db):
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", "")
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    desk.logins.clear()


def operator_settings(desk, **values) -> dict:
    return {"account": ACCOUNT, "user": USER, "password": PASSWORD, "database": "snowplow", "schema": "atomic",
            "events_table": "snowplow.atomic.events", **desk.options, **values}


def snowflake_page(desk, **values) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["connections"] = {"snowflake": operator_settings(desk, **values)}
    at.run()
    at.radio(key="source_kind").set_value("snowflake").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def edit_five_times(at: AppTest) -> None:
    """Five edits of Data & target, each a rerun that reads the event names for the pickers."""
    for days in (8, 9, 10, 11, 12):
        at.number_input(key="short_days").set_value(days).run()
        assert not at.exception, [e.value for e in at.exception]


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_failing_credentials_log_in_once_across_reruns_then_only_on_a_click_with_backoff(desk):
    at = snowflake_page(desk, password="a-wrong-password")
    edit_five_times(at)
    assert len(desk.logins) == 1  # the page tried once for these settings, not once per rerun
    assert any("does not try again on its own" in w.value for w in at.warning), [w.value for w in at.warning]

    button(at, "Test connection").click().run()  # an explicit click, but within the backoff wait
    assert len(desk.logins) == 1
    assert any("try again in" in e.value and "Snowflake rejected the login of user operator" in e.value
               for e in at.error), [e.value for e in at.error]
    assert all("a-wrong-password" not in e.value for e in [*at.error, *at.warning])


def test_working_credentials_log_in_once_across_reruns(desk):
    at = snowflake_page(desk)
    edit_five_times(at)  # each edit changes the event-count query, so it runs again: on the same connection
    assert len(desk.logins) == 1 and desk.logins[0]["password"] == PASSWORD


def test_changing_the_account_in_the_form_drops_the_operators_password(desk):
    at = snowflake_page(desk)
    desk.logins.clear()
    next(t for t in at.text_input if t.label == "Account").input("someone-elses-account")
    next(b for b in at.button if b.label == "Use for this session").click()
    at.run()
    assert at.session_state["snowflake_overrides"] == {"account": "someone-elses-account"}
    assert any("This session's settings cannot be used: no credentials for Snowflake user operator" in e.value
               for e in at.error), [e.value for e in at.error]
    for _ in range(5):
        at.run()
    assert desk.logins == []  # nothing was sent anywhere, least of all the operator's password

    next(t for t in at.text_input if t.label == "Password").input("visitors-own-password")
    next(b for b in at.button if b.label == "Use for this session").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [login["account"] for login in desk.logins] == ["someone-elses-account"]
    assert all(login["password"] != PASSWORD for login in desk.logins)


@pytest.mark.parametrize("changed", [{"account": "other-acct"}, {"user": "someone_else"},
                                     {"authenticator": "externalbrowser"}, {"account": "OTHER-acct", "password": "mine"}])
def test_another_login_identity_never_carries_the_operators_secrets(desk, tmp_path, changed):
    key = tmp_path / "operator.p8"
    key.write_text("operator's key")
    secrets = {"connections": {"snowflake": operator_settings(desk, private_key_file=str(key), token="op-token")}}
    try:
        config = sf.resolve_config(secrets, changed)
    except SourceError as error:
        assert "no credentials for Snowflake user" in str(error) and "without its credentials" in str(error)
        return
    kwargs = config.connect_kwargs()
    assert PASSWORD not in kwargs.values() and "op-token" not in kwargs.values()
    assert "private_key_file" not in kwargs and config.source.endswith("without its credentials")


def test_the_same_login_identity_keeps_the_operators_password(desk):
    secrets = {"connections": {"snowflake": operator_settings(desk)}}
    config = sf.resolve_config(secrets, {"warehouse": "BIG_WH", "account": ACCOUNT.upper(), "role": "ANALYST"})
    assert config.secrets["password"] == PASSWORD and config.warehouse == "BIG_WH"
    with sf.SnowflakeWarehouse(config) as warehouse:
        assert warehouse.query("select 1 as one")["one"].tolist() == [1]
    assert [login["password"] for login in desk.logins] == [PASSWORD]


def test_a_new_password_is_new_settings_and_the_wait_doubles(desk):
    clock = [1000.0]
    logins = sf.LoginBackoff(first_wait_seconds=10, clock=lambda: clock[0])
    wrong = sf.build_config(operator_settings(desk, password="wrong-1"))
    sf.LOGINS, saved = logins, sf.LOGINS
    try:
        for expected_wait in (10, 20, 40):
            with pytest.raises(SourceError, match="Snowflake rejected the login"):
                sf.SnowflakeWarehouse(wrong).connect()
            with pytest.raises(SourceError, match=f"try again in {expected_wait} s"):
                sf.SnowflakeWarehouse(wrong).connect()
            clock[0] += expected_wait
        assert len(desk.logins) == 3
        with pytest.raises(SourceError, match="does not try again on its own"):
            sf.SnowflakeWarehouse(wrong, automatic=True).connect()
        fixed = sf.build_config(operator_settings(desk))
        sf.SnowflakeWarehouse(fixed, automatic=True).connect()  # new settings: tried at once
        assert len(desk.logins) == 4 and desk.logins[-1]["password"] == PASSWORD
    finally:
        sf.LOGINS = saved
