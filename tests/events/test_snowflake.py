"""Snowflake: config precedence, one clear message per failure, no leaked secrets, cancel, and the
training set through the real connector against fakesnow equal to the DuckDB path's."""

from __future__ import annotations

import logging
import threading

import pandas as pd
import pyarrow as pa
import pytest
import snowflake.connector
from snowflake.connector.errors import DatabaseError, ForbiddenError, OperationalError, ProgrammingError

from prospect_core.events import snowflake as sf
from prospect_core.events.build import query_training_set
from prospect_core.trainingset.dataset import normalize_training_set
from prospect_core.infra.errors import SourceError
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS, SQL_DIR
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF, EVENTS_COLUMNS, start_fakesnow_server, write_events_db
from tests.trainingset.test_oracle import generate_events

PASSWORD = "Pa55-w0rd-that-must-never-leak"
PASSPHRASE = "key-passphrase-never-shown"
CONFIG_ENV = ["ENV_SF_ACNT", "ENV_SF_USR", "ENV_SF_PWD", "ENV_SF_WH", "ENV_ATOMIC_TABLE",
              "SNOWFLAKE_DEFAULT_CONNECTION_NAME", *sf._SNOWFLAKE_ENV.values()]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    # The connector reads SNOWFLAKE_CONNECTIONS before connections.toml: empty means "no connections".
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", "")


def secrets(**values) -> dict:
    return {"connections": {"snowflake": {"account": "sec-acct", "user": "sec_user", "password": PASSWORD, **values}}}


def config(**values) -> sf.SnowflakeConfig:
    return sf.build_config({"account": "myorg-acct", "user": "analyst", "password": PASSWORD, "role": "ANALYST",
                            "warehouse": "WH", **values}, source="test")


# ----- configuration precedence ------------------------------------------------------------------


def set_everything(monkeypatch):
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", '[default]\naccount = "toml-acct"\nuser = "toml_user"\npassword = "x-toml"\n'
                                                '[other]\naccount = "other-acct"\nuser = "other_user"\npassword = "x-other"\n')
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "env-acct")
    monkeypatch.setenv("SNOWFLAKE_USER", "env_user")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "x-env")
    monkeypatch.setenv("ENV_SF_ACNT", "tutorial-acct")
    monkeypatch.setenv("ENV_SF_USR", "tutorial_user")
    monkeypatch.setenv("ENV_SF_PWD", "x-tutorial")
    monkeypatch.setenv("ENV_SF_WH", "TUTORIAL_WH")


def test_streamlit_secrets_come_first(monkeypatch):
    set_everything(monkeypatch)
    resolved = sf.resolve_config(secrets())
    assert (resolved.account, resolved.user, resolved.source) == ("sec-acct", "sec_user", "Streamlit secrets [connections.snowflake]")


def test_then_the_connectors_connections_configuration(monkeypatch):
    set_everything(monkeypatch)
    assert sf.resolve_config({"other": 1}).account == "toml-acct"
    monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "other")
    resolved = sf.resolve_config()
    assert (resolved.account, resolved.source) == ("other-acct", "SNOWFLAKE_CONNECTIONS [other]")


def test_then_snowflake_environment_variables_then_the_tutorials(monkeypatch):
    set_everything(monkeypatch)
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", "")
    assert sf.resolve_config().account == "env-acct"
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT")
    resolved = sf.resolve_config()
    assert (resolved.account, resolved.user, resolved.warehouse) == ("tutorial-acct", "tutorial_user", "TUTORIAL_WH")
    assert resolved.source == "tutorial environment variables ENV_SF_*"


def test_secrets_can_name_a_connection_from_connections_toml(monkeypatch):
    set_everything(monkeypatch)
    resolved = sf.resolve_config({"connections": {"snowflake": {"connection_name": "other", "role": "R"}}})
    assert (resolved.account, resolved.user, resolved.role) == ("other-acct", "other_user", "R")
    with pytest.raises(SourceError, match="names connection_name 'nope', which connections.toml does not define; known: default, other"):
        sf.resolve_config({"connections": {"snowflake": {"connection_name": "nope"}}})


def test_session_overrides_lay_over_the_chosen_source(monkeypatch):
    set_everything(monkeypatch)
    resolved = sf.resolve_config(secrets(), {"warehouse": "BIG_WH", "password": "", "role": None})
    assert (resolved.account, resolved.warehouse, resolved.secrets["password"]) == ("sec-acct", "BIG_WH", PASSWORD)
    assert resolved.source == "session form over Streamlit secrets [connections.snowflake]"
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", "")
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    alone = sf.resolve_config(None, {"account": "form-acct", "user": "me", "authenticator": "externalbrowser"})
    assert (alone.account, alone.auth_method, alone.source) == ("form-acct", "externalbrowser", "session form")


def test_events_table_from_the_source_else_env_atomic_table(monkeypatch):
    monkeypatch.setenv("ENV_ATOMIC_TABLE", "snowplow_tracker_db.atomic.events")
    assert sf.resolve_config(secrets()).events_table == "snowplow_tracker_db.atomic.events"
    assert sf.resolve_config(secrets(events_table="db.s.t")).events_table == "db.s.t"
    with pytest.raises(SourceError, match="events_table must be a table name"):
        sf.resolve_config(secrets(events_table="x; drop table y"))


def test_no_configuration_anywhere_is_one_friendly_error():
    with pytest.raises(SourceError, match=r"no Snowflake connection is configured: add \[connections.snowflake\]"):
        sf.resolve_config()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"account": ""}, "the Snowflake account is not set"),
        ({"user": None}, "the Snowflake user is not set for account myorg-acct"),
        ({"password": None}, "no credentials for Snowflake user analyst .*: set password, private_key_file"),
        ({"private_key_file": "/nowhere/key.p8"}, r"private_key_file not found: /nowhere/key\.p8"),
        ({"statement_timeout_seconds": "soon"}, "statement_timeout_seconds must be a positive whole number"),
    ],
)
def test_bad_settings(values, message):
    with pytest.raises(SourceError, match=message):
        config(**values)


def test_auth_methods_and_connect_arguments(tmp_path):
    key = tmp_path / "rsa_key.p8"
    key.write_text("not really a key")
    key_pair = config(password=None, private_key_file=str(key), private_key_file_pwd=PASSPHRASE)
    assert key_pair.auth_method == "key-pair"
    kwargs = key_pair.connect_kwargs()
    assert kwargs["private_key_file"] == str(key) and kwargs["private_key_file_pwd"] == PASSPHRASE
    assert "password" not in kwargs
    assert config(password=None, authenticator="externalbrowser").auth_method == "externalbrowser"

    kwargs = config(query_tag="my-tag", statement_timeout_seconds=120).connect_kwargs()
    assert kwargs["paramstyle"] == "pyformat"
    assert kwargs["session_parameters"] == {"QUERY_TAG": "my-tag", "STATEMENT_TIMEOUT_IN_SECONDS": 120}
    assert {"account", "user", "password", "role", "warehouse"} <= set(kwargs)


def test_repr_str_and_describe_never_show_secrets(tmp_path):
    key = tmp_path / "k.p8"
    key.write_text("k")
    settings = config(private_key_file=str(key), private_key_file_pwd=PASSPHRASE, token="tok-secret-123")
    for text in (repr(settings), str(settings), str(settings.describe()), repr(sf.SnowflakeWarehouse(settings)),
                 f"{settings}", str([settings])):
        assert PASSWORD not in text and PASSPHRASE not in text and "tok-secret-123" not in text
    assert "password=***" in repr(settings)


# ----- failures ----------------------------------------------------------------------------------

CONNECT_FAILURES = [
    ("wrong account",
     ForbiddenError(msg="Failed to connect to DB. Verify the account name is correct: nope.snowflakecomputing.com:443. "
                        "000403: HTTP 403: Forbidden", errno=250001, sqlstate="08001"),
     r"cannot find Snowflake account 'myorg-acct': the account identifier is probably wrong"),
    ("bad password",
     DatabaseError(msg=f"Failed to connect to DB: x.snowflakecomputing.com:443. Incorrect username or password was "
                       f"specified. ({PASSWORD})", errno=390100, sqlstate="28000"),
     r"Snowflake rejected the login of user analyst on account myorg-acct: wrong user name or password"),
    ("key pair rejected",
     DatabaseError(msg="JWT token is invalid.", errno=390144, sqlstate="28000"),
     r"rejected the key-pair login of user analyst"),
    ("role not granted",
     DatabaseError(msg="Role 'ANALYST' specified in the connect string is not granted to this user.", errno=390189, sqlstate="08004"),
     r"role ANALYST is not granted to user analyst"),
    ("warehouse unknown",
     DatabaseError(msg="The requested warehouse does not exist or not authorized.", errno=390201, sqlstate="08004"),
     r"warehouse WH does not exist or role ANALYST may not use it"),
    ("network down at login",
     OperationalError(msg="Failed to execute request: HTTPSConnectionPool ... Max retries exceeded", errno=250003),
     r"lost the connection to Snowflake account myorg-acct \(network drop or timeout\)"),
    ("browser missing",
     ProgrammingError(msg="Unable to open a browser in this environment.", errno=250008),
     r"externalbrowser authentication needs a web browser"),
]


@pytest.mark.parametrize("case, error, message", CONNECT_FAILURES, ids=[row[0] for row in CONNECT_FAILURES])
def test_connection_failures_are_one_clear_message(monkeypatch, caplog, case, error, message):
    calls = []

    def refuse(**kwargs):
        calls.append(kwargs)
        raise error

    monkeypatch.setattr(snowflake.connector, "connect", refuse)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match=message) as raised:
        sf.SnowflakeWarehouse(config(), retry_wait_seconds=0).query("select 1")
    assert PASSWORD not in str(raised.value) and PASSWORD not in caplog.text
    assert len(calls) == 1  # none of these is a transient connection-establishment error


def test_only_connection_establishment_is_retried(monkeypatch):
    attempts = []

    def flaky(**kwargs):
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError(msg="Failed to connect to DB: x:443. Connection reset", errno=250001, sqlstate="08001")
        return FakeConnection(result=pa.table({"N": pa.array([1], pa.decimal128(38, 0))}))

    monkeypatch.setattr(snowflake.connector, "connect", flaky)
    frame = sf.SnowflakeWarehouse(config(), retry_wait_seconds=0).query("select 1 as n")
    assert len(attempts) == 3 and frame["n"].tolist() == [1] and frame["n"].dtype == "int64"

    attempts.clear()
    monkeypatch.setattr(snowflake.connector, "connect", lambda **_: attempts.append(1) or (_ for _ in ()).throw(
        OperationalError(msg="Failed to connect to DB: x:443. down", errno=250001, sqlstate="08001")))
    with pytest.raises(SourceError, match="lost the connection to Snowflake"):
        sf.SnowflakeWarehouse(config(), connect_attempts=2, retry_wait_seconds=0).query("select 1")
    assert len(attempts) == 2


@pytest.mark.parametrize("errno", [390100, 390101, 390102])  # wrong password, user locked, user disabled
def test_an_answer_of_the_login_service_is_never_retried(monkeypatch, errno):
    # Connectors before 3.13 reported every refused login with SQLSTATE 08001 ("connection not
    # established"), which the retry took for a network failure: three failed logins per attempt.
    attempts = []

    def refuse(**kwargs):
        attempts.append(1)
        raise DatabaseError(msg="Failed to connect to DB: x:443. refused", errno=errno, sqlstate="08001")

    monkeypatch.setattr(snowflake.connector, "connect", refuse)
    with pytest.raises(SourceError):
        sf.SnowflakeWarehouse(config(), retry_wait_seconds=0).query("select 1")
    assert len(attempts) == 1


class FakeCursor:
    def __init__(self, connection):
        self.connection = connection
        self.sfqid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def execute_async(self, sql, params=None):
        self.connection.executed.append((sql, params))
        self.sfqid = "01b2-query-id"
        if self.connection.error_on == "submit":
            raise self.connection.error

    def get_results_from_sfqid(self, sfqid):
        if self.connection.block is not None:
            self.connection.started.set()
            self.connection.block.wait(5)
        if self.connection.error_on == "results":
            raise self.connection.error

    def fetch_arrow_all(self, force_return_table=False):
        return self.connection.result

    def execute(self, sql, params=None):
        self.connection.executed.append((sql, params))
        if "system$cancel_query" in sql and self.connection.block is not None:
            self.connection.error = ProgrammingError(msg="SQL execution canceled", errno=604, sqlstate="57014")
            self.connection.error_on = "results"
            self.connection.block.set()
        return self

    def fetchone(self):
        return self.connection.identity


class FakeConnection:
    """Just enough of SnowflakeConnection to drive the warehouse through a query's life."""

    def __init__(self, *, result=None, error=None, error_on=None, block=None, identity=None):
        self.result, self.error, self.error_on, self.block = result, error, error_on, block
        self.identity = identity
        self.executed: list = []
        self.started = threading.Event()
        self.closed = False

    def cursor(self):
        return FakeCursor(self)

    def is_closed(self):
        return self.closed

    def close(self):
        self.closed = True


QUERY_FAILURES = [
    ("no warehouse", ProgrammingError(msg="No active warehouse selected in the current session.  Select an active "
                                          "warehouse with the 'use warehouse' command.", errno=606, sqlstate="57P03"),
     r"no warehouse is selected to run the query: set warehouse"),
    ("missing table", ProgrammingError(msg="SQL compilation error:\nObject 'DB.ATOMIC.EVENTS' does not exist or not "
                                           "authorized.", errno=2003, sqlstate="42S02"),
     r"db\.atomic\.events does not exist or role ANALYST cannot see it"),
    ("permission denied", ProgrammingError(msg="SQL access control error:\nInsufficient privileges to operate on "
                                               "table 'EVENTS'", errno=3001, sqlstate="42501"),
     r"permission denied: role ANALYST lacks a privilege .*SELECT on db\.atomic\.events"),
    ("missing column", ProgrammingError(msg="SQL compilation error: error line 3 at position 8\ninvalid identifier "
                                            "'DOMAIN_SESSIONID'", errno=904, sqlstate="42000"),
     r"db\.atomic\.events lacks column domain_sessionid"),
    ("timeout", DatabaseError(msg="Statement reached its statement or warehouse timeout of 3,600 second(s) and was "
                                  "canceled.", errno=630, sqlstate="57014"),
     r"the query ran longer than the statement timeout \(3600 s\)"),
    ("network drop", OperationalError(msg="Failed to execute request: ('Connection aborted.', "
                                          "RemoteDisconnected('Remote end closed connection'))", errno=250003),
     r"lost the connection to Snowflake account myorg-acct"),
    ("session expired", ProgrammingError(msg="Authentication token has expired.", errno=390114, sqlstate="08001"),
     r"lost the connection to Snowflake"),
    ("anything else", ProgrammingError(msg=f"Something odd happened near {PASSWORD}", errno=1234, sqlstate="XX000"),
     r"Snowflake error 1234: .*Something odd happened near \*\*\*"),
]


@pytest.mark.parametrize("case, error, message", QUERY_FAILURES, ids=[row[0] for row in QUERY_FAILURES])
@pytest.mark.parametrize("error_on", ["submit", "results"])
def test_query_failures_are_one_clear_message(monkeypatch, caplog, case, error, message, error_on):
    monkeypatch.setattr(snowflake.connector, "connect", lambda **_: FakeConnection(error=error, error_on=error_on))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match=message) as raised:
        sf.SnowflakeWarehouse(config()).query("select * from db.atomic.events where app_id = %(a)s", {"a": "web"})
    assert PASSWORD not in str(raised.value) and PASSWORD not in caplog.text


def test_cancel_stops_the_running_query_by_its_id(monkeypatch):
    connection = FakeConnection(result=pa.table({"a": [1]}), block=threading.Event())
    monkeypatch.setattr(snowflake.connector, "connect", lambda **_: connection)
    warehouse = sf.SnowflakeWarehouse(config())
    assert warehouse.cancel() is False  # nothing running yet
    outcome: dict = {}

    def run():
        try:
            warehouse.query("select 1")
        except SourceError as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    assert connection.started.wait(5)
    assert warehouse.running_query_id == "01b2-query-id"
    assert warehouse.cancel() is True
    thread.join(5)
    assert str(outcome["error"]) == "the query was cancelled"
    assert ("select system$cancel_query(%(query_id)s)", {"query_id": "01b2-query-id"}) in connection.executed
    assert warehouse.running_query_id is None


def test_test_connection_says_who_and_where(monkeypatch):
    monkeypatch.setattr(snowflake.connector, "connect",
                        lambda **_: FakeConnection(identity=("ANALYST_USER", "ANALYST", "WH", "DB", "ATOMIC")))
    assert sf.test_connection(config()) == (
        "Connected to Snowflake account myorg-acct as ANALYST_USER (role ANALYST, DB.ATOMIC), warehouse WH"
    )
    monkeypatch.setattr(snowflake.connector, "connect",
                        lambda **_: FakeConnection(identity=("U", "PUBLIC", None, None, None)))
    assert sf.test_connection(config()).endswith("no warehouse is active: set warehouse, or queries will fail")


def test_decimal_counts_become_integers_for_the_training_set():
    spec = TrainingSpec(as_of=AS_OF)
    from prospect_core.trainingset.features import FEATURES, training_columns

    columns = {}
    for name in training_columns(spec):
        columns[name.upper()] = pa.array(["x"], pa.string())
    for feature in FEATURES:
        column = feature.column(spec).upper()
        if feature.kind == "numeric" or feature.name == "day_of_week":
            columns[column] = pa.array([3], pa.decimal128(38, 0))
        elif feature.kind == "boolean":
            columns[column] = pa.array([True])
    columns["DERIVED_TSTAMP"] = pa.array([pd.Timestamp("2025-05-01 10:00:00")])
    columns[spec.target_column.upper()] = pa.array([False])
    frame = normalize_training_set(sf.arrow_to_frame(pa.table(columns)), spec)
    assert frame["num_sessions_l30d"].dtype == "int64" and frame["num_sessions_l30d"].tolist() == [3]


# ----- end to end through the real connector against fakesnow's server ---------------------------


@pytest.fixture(scope="module")
def fakesnow_server():
    with start_fakesnow_server() as kwargs:
        yield kwargs


def fakesnow_config(server: dict, **values) -> sf.SnowflakeConfig:
    options = {key: server[key] for key in ("host", "port", "protocol", "network_timeout", "session_parameters")}
    return sf.build_config({"account": server["account"], "user": server["user"], "password": PASSWORD,
                            "database": "snowplow", "schema": "atomic", **options, **values}, source="fakesnow")


def load_events(warehouse: sf.SnowflakeWarehouse, rows: list[dict], table: str) -> None:
    """Create a Snowplow events table through the connector, contexts parsed into VARIANT like the loader's."""
    connection = warehouse.connect()
    with connection.cursor() as cursor:
        cursor.execute("create database if not exists snowplow")
        cursor.execute("create schema if not exists snowplow.atomic")
        text_columns = ", ".join(f"{name} {'timestamp_ntz' if kind == 'timestamp' else 'varchar'}"
                                 for name, kind in EVENTS_COLUMNS.items())
        cursor.execute(f"create or replace table {table}_staging ({text_columns})")
        cursor.executemany(
            f"insert into {table}_staging ({', '.join(EVENTS_COLUMNS)}) "
            f"values ({', '.join(f'%({name})s' for name in EVENTS_COLUMNS)})",
            [{name: row.get(name) for name in EVENTS_COLUMNS} for row in rows],
        )
        selects = ", ".join(f"parse_json({name}) as {name}" if kind == "json" else name for name, kind in EVENTS_COLUMNS.items())
        cursor.execute(f"create or replace table {table} as select {selects} from {table}_staging")


@pytest.fixture(scope="module")
def fakesnow_events(fakesnow_server, tmp_path_factory):
    """Two copies of the same random events in fakesnow and in DuckDB: as generated (millisecond
    timestamps), and truncated to whole seconds (see the fast formulation's test)."""
    rows = generate_events(5, n_users=25)
    whole_seconds = [{**row, "derived_tstamp": row["derived_tstamp"].replace(microsecond=0)} for row in rows]
    warehouse = sf.SnowflakeWarehouse(fakesnow_config(fakesnow_server))
    load_events(warehouse, rows, "snowplow.atomic.events")
    load_events(warehouse, whole_seconds, "snowplow.atomic.events_whole_seconds")
    directory = tmp_path_factory.mktemp("fakesnow")
    references = {
        "snowplow.atomic.events": DuckDBWarehouse(write_events_db(directory / "ms.duckdb", rows)),
        "snowplow.atomic.events_whole_seconds": DuckDBWarehouse(write_events_db(directory / "s.duckdb", whole_seconds)),
    }
    yield warehouse, references
    warehouse.close()


# fakesnow 0.12 translates Snowflake's `date_part(epoch_second, ts)` to `cast(epoch(ts) as bigint)`,
# which rounds 12.923 s up to 13 where Snowflake truncates to 12; the fast formulation's second
# numbers depend on it, so under fakesnow it is compared on whole-second events (exact either way).
TABLE_FOR = {"seed": "snowplow.atomic.events", "fast": "snowplow.atomic.events_whole_seconds"}
AVAILABLE_FORMULATIONS = [name for name in FORMULATIONS if (SQL_DIR / f"training_set_{name}.sql").is_file()]


@pytest.mark.parametrize("formulation", AVAILABLE_FORMULATIONS)
def test_snowflake_sql_through_the_connector_equals_the_duckdb_path(fakesnow_events, formulation):
    snowflake_warehouse, references = fakesnow_events
    table = TABLE_FOR.get(formulation, "snowplow.atomic.events")
    spec = TrainingSpec(as_of=AS_OF, events_table=table)
    actual = query_training_set(snowflake_warehouse, spec, formulation=formulation)
    expected = query_training_set(references[table], spec.replace(events_table="atomic.events"), formulation=formulation)
    assert len(expected) > 100 and expected[spec.target_column].any() and expected["latest_device_class"].ne("").any()
    pd.testing.assert_frame_equal(actual, expected)


def test_a_succeeding_and_a_failing_run_leak_no_secret(fakesnow_server, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    key = tmp_path / "k.p8"
    key.write_text("k")
    settings = fakesnow_config(fakesnow_server)
    messages = [repr(settings)]
    with sf.SnowflakeWarehouse(settings) as warehouse:
        messages.append(warehouse.label)
        messages.append(warehouse.query("select %(a)s as a", {"a": "ok"}).to_string())
        with pytest.raises(SourceError) as raised:
            warehouse.query("select * from snowplow.nowhere.events")
        messages.append(str(raised.value))
    assert "does not exist" in messages[-1]
    for secret in (PASSWORD, PASSPHRASE):
        assert all(secret not in message for message in messages)
        assert secret not in caplog.text


def test_preflight_through_the_connector_equals_the_duckdb_preflight(fakesnow_events):
    snowflake_warehouse, references = fakesnow_events
    spec = TrainingSpec(as_of=AS_OF, events_table="snowplow.atomic.events")
    actual = snowflake_warehouse.preflight(spec)
    expected = references["snowplow.atomic.events"].preflight(spec.replace(events_table="atomic.events"))
    assert actual.ok and actual.training_rows > 100
    assert actual == expected.__class__(**{**expected.__dict__, "events_table": "snowplow.atomic.events"})
    with pytest.raises(SourceError, match="snowplow.atomic.nowhere does not exist or your default role cannot see it"):
        snowflake_warehouse.preflight(spec.replace(events_table="snowplow.atomic.nowhere"))


def _pkcs8_pem(passphrase: str | None) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_an_uploaded_private_key_becomes_the_der_bytes_the_connector_takes():
    from cryptography.hazmat.primitives import serialization

    from prospect_core.events.snowflake import private_key_der

    pem = _pkcs8_pem(PASSPHRASE)
    der = private_key_der(pem, PASSPHRASE)
    reloaded = serialization.load_der_private_key(der, password=None)
    assert reloaded.key_size == 2048
    assert private_key_der(_pkcs8_pem(None)) [:2] == b"\x30\x82"  # a DER SEQUENCE


@pytest.mark.parametrize(
    ("pem", "passphrase", "message"),
    [
        (b"not a key at all", None, r"expected a PKCS#8 \.p8 key file \(PEM\)"),
        ("encrypted", "wrong passphrase", r"with its passphrase if it is encrypted"),
        ("encrypted", None, r"with its passphrase if it is encrypted"),
        (b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 20_000, None, r"20,028 bytes; expected a PKCS#8 \.p8 key"),
    ],
)
def test_a_bad_uploaded_private_key_is_one_clear_error(pem, passphrase, message):
    from prospect_core.events.snowflake import private_key_der

    data = _pkcs8_pem(PASSPHRASE) if pem == "encrypted" else pem
    with pytest.raises(SourceError, match=message) as refused:
        private_key_der(data, passphrase)
    assert PASSPHRASE not in str(refused.value)
