"""Credentials never reach anything a user or operator sees.

Failing and succeeding Snowflake configurations run through fakesnow's server (the real connector)
and through a patched connector whose errors echo the secrets. Scanned for the password, the private
key's contents (whole and line by line) and the token: error messages, every log record at DEBUG
(the connector's included), SQL previews, the model card (JSON and Markdown), the joblib bytes, and
the text the app renders on Data & target with the settings in `st.secrets`, Test connection included.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pytest
import snowflake.connector
from snowflake.connector.errors import DatabaseError, ProgrammingError
from streamlit.testing.v1 import AppTest

from prospect_core.events import snowflake as sf
from prospect_core.outputs.artifact import artifact_bytes, model_card, model_card_markdown, sha256_hex
from prospect_core.infra.errors import SourceError
from prospect_core.trainingset.training_sql import DIALECTS, render_training_sql
from tests.conftest import start_fakesnow_server
from tests.hostile.conftest import SPEC
from tests.events.test_snowflake import CONFIG_ENV, FakeConnection

PASSWORD = "hunter2-Pa55w0rd-hostile"
TOKEN = "oauth-token-9f8e7d6c5b4a"
KEY_BODY = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", "VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictG"]
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(KEY_BODY) + "\n-----END PRIVATE KEY-----\n"
SECRETS = [PASSWORD, TOKEN, PRIVATE_KEY.strip(), *KEY_BODY]
APP = Path(__file__).resolve().parents[2] / "app.py"


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret ({secret[:6]}...) leaked into {where}"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, caplog):
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", "")
    caplog.set_level(logging.DEBUG)  # every logger, the connector's included
    for name in ("snowflake.connector", "snowflake", "prospect_core"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    assert_no_secret(caplog.text, "the logs")
    for record in caplog.records:
        assert_no_secret(record.getMessage(), "a log record")


def settings(**values) -> dict:
    return {"account": "myorg-acct", "user": "analyst", "role": "ANALYST", "warehouse": "WH", "password": PASSWORD,
            "private_key": PRIVATE_KEY, "token": TOKEN, "events_table": "db.atomic.events", **values}


def echoing_errors() -> list[Exception]:
    """Connector errors that (wrongly) echo the credentials back, as a misbehaving driver might."""
    echo = f"user=analyst password={PASSWORD} token={TOKEN}"
    return [
        DatabaseError(msg=f"Incorrect username or password was specified. ({echo})", errno=390100, sqlstate="28000"),
        ProgrammingError(msg=f"Could not deserialize key data: {KEY_BODY[1]}", errno=251008),
        ProgrammingError(msg=f"Something odd: {PRIVATE_KEY}", errno=1234, sqlstate="XX000"),
        ProgrammingError(msg=f"Invalid OAuth access token {TOKEN}", errno=390303, sqlstate="08001"),
        DatabaseError(msg=f"JWT token is invalid: {KEY_BODY[0]}", errno=390144, sqlstate="28000"),
        ProgrammingError(msg=f"000606: No active warehouse selected {echo}", errno=606, sqlstate="57P03"),
        ProgrammingError(msg=f"cannot use key line {KEY_BODY[0]}", errno=9999, sqlstate="XX000"),  # one line of the PEM
    ]


def test_connect_arguments_never_format_their_values():
    kwargs = sf.build_config(settings(), source="test").connect_kwargs()
    assert kwargs["password"] == PASSWORD and kwargs["private_key"] == PRIVATE_KEY  # the connector gets them
    for text in (str(kwargs), repr(kwargs), f"{kwargs}", "%s" % (kwargs,), json.dumps(sorted(kwargs))):
        assert_no_secret(text, "formatted connect arguments")
    logging.getLogger("prospect_core.events.snowflake").debug("connecting with %s", kwargs)  # scanned by the fixture


@pytest.mark.parametrize("error", echoing_errors(), ids=lambda error: str(error.errno))
@pytest.mark.parametrize("stage", ["connect", "query"])
def test_failures_through_a_patched_connector_show_no_secret(monkeypatch, error, stage):
    def connect(**kwargs):
        assert kwargs["token"] == TOKEN
        if stage == "connect":
            raise error
        return FakeConnection(error=error, error_on="results")

    monkeypatch.setattr(snowflake.connector, "connect", connect)
    config = sf.build_config(settings(), source="test")
    with pytest.raises(SourceError) as raised:
        sf.SnowflakeWarehouse(config, retry_wait_seconds=0).query("select * from db.atomic.events")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # no chained traceback shows the original
    for text in (str(raised.value), repr(raised.value)):
        assert_no_secret(text, "the error")
    assert_no_secret(repr(config) + str(config.describe()), "the config's repr")


def test_fakesnow_success_and_failure_show_no_secret(tmp_path):
    with start_fakesnow_server() as server:
        options = {key: server[key] for key in ("host", "port", "protocol", "network_timeout", "session_parameters")}
        config = sf.build_config({"account": server["account"], "user": server["user"], "password": PASSWORD,
                                  "token": TOKEN, "database": "snowplow", "schema": "atomic", **options}, source="fakesnow")
        shown = [repr(config)]
        with sf.SnowflakeWarehouse(config) as warehouse:
            shown.append(warehouse.label + repr(warehouse))
            shown.append(warehouse.query("select %(a)s as a", {"a": "ok"}).to_string())
            with pytest.raises(SourceError) as raised:
                warehouse.query("select * from snowplow.atomic.nowhere")
            shown.append(str(raised.value))
            with pytest.raises(SourceError) as raised:
                warehouse.preflight(SPEC.replace(events_table="snowplow.atomic.nowhere"))
            shown.append(str(raised.value))
        try:  # a new connection to a database fakesnow has not created: either outcome is scanned
            shown.append(sf.test_connection(config))
        except SourceError as error:
            shown.append(str(error))
    assert "does not exist" in shown[3]
    for text in shown:
        assert_no_secret(text, "fakesnow run output")


def test_sql_previews_model_card_and_artifact_hold_no_secret(fitted_run):
    config = sf.build_config(settings(), source="test")
    spec = SPEC.replace(events_table=config.events_table)
    for dialect in DIALECTS:
        rendered = render_training_sql(spec, dialect, inline=True)
        assert_no_secret(rendered.text, f"the {dialect} SQL preview")
    data = artifact_bytes(fitted_run.pipeline)
    card = model_card(fitted_run, sql_snowflake=render_training_sql(spec, "snowflake", inline=True).text,
                      artifact_sha256=sha256_hex(data))
    assert_no_secret(json.dumps(card), "the model card JSON")
    assert_no_secret(model_card_markdown(card), "the model card Markdown")
    for secret in SECRETS:
        assert secret.encode() not in data


def rendered_text(at: AppTest) -> str:
    """Everything the app sent to the browser: every element's protobuf, as text."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


@pytest.mark.parametrize("outcome", ["failing", "succeeding"])
def test_the_data_page_with_snowflake_secrets_shows_no_secret(monkeypatch, tiny_demo_db, outcome):
    identity = ("ANALYST", "ANALYST", "WH", "DB", "ATOMIC")
    result = pa.table({"event_vendor": ["com.snowplowanalytics.snowplow"], "event_name": ["page_view"],
                       "event_version": ["1-0-0"], "events": [3]})  # event_counts.sql's columns

    def connect(**kwargs):
        if outcome == "failing":
            raise echoing_errors()[0]
        return FakeConnection(result=result, identity=identity)

    monkeypatch.setattr(snowflake.connector, "connect", connect)
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["connections"] = {"snowflake": settings()}
    at.run()
    at.radio(key="source_kind").set_value("snowflake").run()
    assert not at.exception, [e.value for e in at.exception]
    next(button for button in at.button if button.label == "Test connection").click().run()
    assert not at.exception, [e.value for e in at.exception]
    if outcome == "failing":
        assert any("Snowflake rejected the login of user analyst" in e.value for e in at.error), [e.value for e in at.error]
    else:
        assert any("Connected to Snowflake account myorg-acct" in s.value for s in at.success)
    at.button(key="build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert_no_secret(rendered_text(at), "the rendered page")
