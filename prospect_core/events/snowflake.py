"""Snowflake: where the connection settings come from, the warehouse, and errors a user can act on.

Settings, first source that names an account wins (like Streamlit's `st.connection("snowflake")`):
1. `st.secrets["connections"]["snowflake"]` (`.streamlit/secrets.toml`), passed in by the app; a
   `connection_name` key there picks a connection from connections.toml and overrides its keys;
2. the connector's own configuration: `~/.snowflake/connections.toml` (or `$SNOWFLAKE_HOME`), the
   `SNOWFLAKE_CONNECTIONS` / `SNOWFLAKE_DEFAULT_CONNECTION_NAME` environment variables, read through
   the connector's `CONFIG_MANAGER` exactly as `snowflake.connector.connect()` reads them;
3. `SNOWFLAKE_ACCOUNT`, `SNOWFLAKE_USER`, `SNOWFLAKE_PASSWORD`, ... environment variables
   (the snowflake-cli / Snowpark Container Services convention);
4. the tutorial's `ENV_SF_ACNT`, `ENV_SF_USR`, `ENV_SF_PWD`, `ENV_SF_WH`.
A session-only `overrides` mapping (the app's connection form) is laid over the chosen source.
The events table comes from an `events_table` key in the chosen source, else `ENV_ATOMIC_TABLE`.

Secrets (password, key passphrase, tokens) live only in `SnowflakeConfig`, whose repr/str hide
them; messages and logs never carry them: every message built from a connector error is scrubbed.

The connector is imported inside the functions that use it, so importing this module is cheap. The
app reads `st.secrets` itself (prospect_core.studio.config) and passes them in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from prospect_core.infra.errors import SourceError, first_line
from prospect_core.trainingset.spec import TABLE_NAME, TrainingSpec
from prospect_core.trainingset.training_sql import DialectName
from prospect_core.events.warehouse import Preflight, arrow_to_frame, run_preflight

LOGGER = logging.getLogger(__name__)

DEFAULT_QUERY_TAG = "prospect-scoring-studio"
DEFAULT_STATEMENT_TIMEOUT_SECONDS = 3600
CONNECT_ATTEMPTS = 3
RETRY_WAIT_SECONDS = 1.0

SECRET_KEYS = frozenset(
    {"password", "private_key_file_pwd", "private_key_passphrase", "private_key", "token", "passcode",
     "oauth_client_secret"}
)
_KEY_ALIASES = {"username": "user", "private_key_path": "private_key_file", "private_key_pwd": "private_key_file_pwd",
                "warehouse_name": "warehouse", "db": "database"}
_FIELDS = ("account", "user", "authenticator", "role", "warehouse", "database", "schema", "private_key_file")
_SNOWFLAKE_ENV = {
    "account": "SNOWFLAKE_ACCOUNT", "user": "SNOWFLAKE_USER", "password": "SNOWFLAKE_PASSWORD",
    "authenticator": "SNOWFLAKE_AUTHENTICATOR", "private_key_file": "SNOWFLAKE_PRIVATE_KEY_FILE",
    "private_key_file_pwd": "SNOWFLAKE_PRIVATE_KEY_FILE_PWD", "role": "SNOWFLAKE_ROLE",
    "warehouse": "SNOWFLAKE_WAREHOUSE", "database": "SNOWFLAKE_DATABASE", "schema": "SNOWFLAKE_SCHEMA",
}
_TUTORIAL_ENV = {"account": "ENV_SF_ACNT", "user": "ENV_SF_USR", "password": "ENV_SF_PWD", "warehouse": "ENV_SF_WH"}
MISSING_CONFIG = (
    "no Snowflake connection is configured: add [connections.snowflake] to .streamlit/secrets.toml "
    "(see .streamlit/secrets.toml.example), a connection in ~/.snowflake/connections.toml, or set "
    "ENV_SF_ACNT, ENV_SF_USR, ENV_SF_PWD and ENV_SF_WH"
)


# ----- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class SnowflakeConfig:
    """Everything needed to connect; repr/str and `describe()` never show secrets."""

    account: str
    user: str | None = None
    authenticator: str | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str | None = None
    schema: str | None = None
    private_key_file: str | None = None
    events_table: str | None = None
    query_tag: str = DEFAULT_QUERY_TAG
    statement_timeout_seconds: int = DEFAULT_STATEMENT_TIMEOUT_SECONDS
    source: str = ""
    secrets: Mapping[str, Any] = field(default_factory=dict, compare=False)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def auth_method(self) -> str:
        authenticator = (self.authenticator or "").lower()
        if authenticator == "externalbrowser":
            return "externalbrowser"
        if self.private_key_file or "private_key" in self.secrets:
            return "key-pair"
        if authenticator and authenticator != "snowflake":
            return authenticator
        return "password"

    def describe(self) -> dict[str, str]:
        """What the app may show about this connection: no secrets."""
        shown = {
            "account": self.account, "user": self.user, "authentication": self.auth_method,
            "role": self.role, "warehouse": self.warehouse, "database": self.database, "schema": self.schema,
            "events_table": self.events_table, "settings from": self.source,
        }
        return {key: str(value) for key, value in shown.items() if value}

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `snowflake.connector.connect`, secrets included: never log these."""
        kwargs: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS if getattr(self, name)}
        kwargs.update(self.options)
        kwargs.update(self.secrets)
        if "private_key_passphrase" in kwargs and self.private_key_file:
            kwargs["private_key_file_pwd"] = kwargs.pop("private_key_passphrase")
        session_parameters = dict(kwargs.pop("session_parameters", None) or {})
        session_parameters.setdefault("QUERY_TAG", self.query_tag)
        session_parameters.setdefault("STATEMENT_TIMEOUT_IN_SECONDS", self.statement_timeout_seconds)
        kwargs["session_parameters"] = session_parameters
        # Our SQL uses pyformat placeholders; set it per connection, whatever the module default is
        # (Streamlit's st.connection switches the module-wide default to qmark).
        kwargs["paramstyle"] = "pyformat"
        return _ConnectKwargs(kwargs)

    def secret_values(self) -> list[str]:
        """Every secret, and each line of a multi-line one (a PEM key), longest first, for scrubbing."""
        values = [str(value) for value in self.secrets.values() if value not in (None, "")]
        lines = [line.strip() for value in values if "\n" in value for line in value.splitlines()]
        return sorted({*values, *(line for line in lines if len(line) >= 8 and "-----" not in line)}, key=len, reverse=True)

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.describe().items())
        hidden = ", ".join(f"{key}=***" for key in sorted(self.secrets))
        return f"SnowflakeConfig({shown}{', ' if hidden else ''}{hidden})"

    __str__ = __repr__


class _ConnectKwargs(dict):
    """The connector's keyword arguments; formatting them (a log line, an f-string) hides every value."""

    def __repr__(self) -> str:
        return f"<Snowflake connect arguments {sorted(self)}: values hidden>"

    __str__ = __repr__


def resolve_config(
    secrets: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SnowflakeConfig:
    """The connection settings, from the first source that names an account (see module docstring).

    `secrets` is the whole `st.secrets` mapping (the app passes `studio.config.streamlit_secrets()`); `overrides` are the
    session's form values, laid over whatever source is chosen (empty values are ignored).
    """
    loaders = (
        lambda: _from_streamlit_secrets(secrets),
        _from_connections_toml,
        lambda: _from_environment(_SNOWFLAKE_ENV, "environment variables SNOWFLAKE_*"),
        lambda: _from_environment(_TUTORIAL_ENV, "tutorial environment variables ENV_SF_*"),
    )
    values: dict[str, Any] = {}
    source = ""
    for load in loaders:
        values, source = load()
        if values.get("account"):
            break
    else:
        values, source = {}, ""
    chosen = _canonical({key: value for key, value in (overrides or {}).items() if value not in (None, "")})
    if chosen:
        if values and _login_identity(values) != _login_identity({**values, **chosen}):
            # Another account, user or way of logging in: the operator's password, key or token must never
            # be tried there. Only what the form itself gives is used.
            values = {key: value for key, value in values.items() if key not in OPERATOR_CREDENTIALS}
            source = f"session form over {source}, without its credentials" if source else "session form"
        else:
            source = f"session form over {source}" if source else "session form"
        values = {**values, **chosen}
    if not values.get("account"):
        raise SourceError(MISSING_CONFIG)
    if not values.get("events_table") and os.environ.get("ENV_ATOMIC_TABLE"):
        values["events_table"] = os.environ["ENV_ATOMIC_TABLE"].strip()
    return build_config(values, source=source)


# What logs in: a password, key or token from the operator's settings is only ever sent with them.
OPERATOR_CREDENTIALS = SECRET_KEYS | {"private_key_file", "authenticator"}


def _login_identity(values: Mapping[str, Any]) -> tuple[str, str, str]:
    """(account, user, authentication) that `values` log in as; case-insensitive, like Snowflake's identifiers."""
    authenticator = str(values.get("authenticator") or "").strip().lower()
    if not authenticator or authenticator == "snowflake":
        authenticator = "key-pair" if values.get("private_key_file") or values.get("private_key") else "password"
    return (str(values.get("account") or "").strip().lower(), str(values.get("user") or "").strip().lower(),
            authenticator)


def build_config(values: Mapping[str, Any], *, source: str = "") -> SnowflakeConfig:
    """Validate plain settings (as in secrets.toml) into a `SnowflakeConfig`."""
    values = _canonical(values)
    secrets = {key: values.pop(key) for key in list(values) if key in SECRET_KEYS and values[key] not in (None, "")}
    for key in list(values):
        if key in SECRET_KEYS:
            values.pop(key)
    known = {name: values.pop(name, None) for name in _FIELDS}
    known = {name: (str(value).strip() if value not in (None, "") else None) for name, value in known.items()}
    events_table = values.pop("events_table", None) or None
    query_tag = str(values.pop("query_tag", None) or DEFAULT_QUERY_TAG)
    timeout = values.pop("statement_timeout_seconds", None) or DEFAULT_STATEMENT_TIMEOUT_SECONDS
    values.pop("connection_name", None)
    where = f" (settings from {source})" if source else ""

    if not known["account"]:
        raise SourceError(f"the Snowflake account is not set{where}; expected e.g. account = \"myorg-myaccount\"")
    config = SnowflakeConfig(
        **known, events_table=events_table, query_tag=query_tag, source=source,
        statement_timeout_seconds=_whole_seconds(timeout, where), secrets=secrets, options=values,
    )
    if not config.user:
        raise SourceError(f"the Snowflake user is not set for account {config.account}{where}")
    if config.auth_method == "password" and "password" not in secrets and (config.authenticator or "snowflake").lower() == "snowflake":
        raise SourceError(
            f"no credentials for Snowflake user {config.user}{where}: set password, private_key_file "
            "(key-pair authentication) or authenticator = \"externalbrowser\""
        )
    if config.private_key_file and not Path(config.private_key_file).expanduser().is_file():
        raise SourceError(f"private_key_file not found: {config.private_key_file} (expected a .p8 key file){where}")
    if events_table is not None:
        _check_events_table(str(events_table), where)
    return config


def _whole_seconds(value: Any, where: str) -> int:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if seconds <= 0:
        raise SourceError(f"statement_timeout_seconds must be a positive whole number of seconds{where}, got {value!r}")
    return seconds


def _check_events_table(table: str, where: str) -> None:
    if not TABLE_NAME.fullmatch(table):
        raise SourceError(
            f"events_table must be a table name like atomic.events or database.schema.events{where}, got {table!r}"
        )


def _canonical(values: Mapping[str, Any]) -> dict[str, Any]:
    return {_KEY_ALIASES.get(str(key).lower(), str(key).lower()): value for key, value in _plain(values).items()}


def _plain(mapping: Any) -> dict[str, Any]:
    """A nested plain dict from st.secrets' AttrDict, tomlkit tables or dicts."""
    if hasattr(mapping, "to_dict"):
        mapping = mapping.to_dict()
    return {key: _plain(value) if isinstance(value, Mapping) else value for key, value in dict(mapping).items()}


def _from_streamlit_secrets(secrets: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    if not secrets:
        return {}, ""
    section = _plain(secrets).get("connections", {}).get("snowflake") or {}
    if not section:
        return {}, ""
    label = "Streamlit secrets [connections.snowflake]"
    name = section.get("connection_name")
    if name:
        connections, _ = _connector_connections()
        if name not in connections:
            raise SourceError(
                f"{label} names connection_name {name!r}, which connections.toml does not define; "
                f"known: {', '.join(sorted(connections)) or 'none'}"
            )
        return {**_canonical(connections[name]), **_canonical(section)}, f"{label} with connections.toml [{name}]"
    return _canonical(section), label


def _connector_connections() -> tuple[dict[str, Any], str]:
    """(connections, default connection name) exactly as the connector reads them."""
    try:
        from snowflake.connector.config_manager import CONFIG_MANAGER  # heavy and optional, as above

        connections = _plain(CONFIG_MANAGER["connections"] or {})
        default_name = str(CONFIG_MANAGER["default_connection_name"])
    except ImportError:
        return {}, "default"
    except Exception as error:  # the connector's config errors: bad TOML, unsafe file permissions
        raise SourceError(f"cannot read the Snowflake connections configuration: {_first_line(error)}") from None
    return connections, default_name


def _from_connections_toml() -> tuple[dict[str, Any], str]:
    connections, name = _connector_connections()
    if name not in connections:
        return {}, ""
    where = "SNOWFLAKE_CONNECTIONS" if os.environ.get("SNOWFLAKE_CONNECTIONS") else "connections.toml"
    return _canonical(connections[name]), f"{where} [{name}]"


def _from_environment(names: Mapping[str, str], label: str) -> tuple[dict[str, Any], str]:
    values = {key: os.environ[name] for key, name in names.items() if os.environ.get(name)}
    return (values, label) if values.get("account") else ({}, "")


# ----- errors ------------------------------------------------------------------------------------

# errno values: the connector's own (snowflake/connector/errorcode.py) and Snowflake server codes.
ER_FAILED_TO_CONNECT_TO_DB = 250001
ER_CONNECTION_IS_CLOSED = 250002
ER_FAILED_TO_REQUEST = 250003
ER_UNABLE_TO_OPEN_BROWSER = 250008
ER_NO_ACCOUNT_NAME = 251001
ER_NO_USER = 251005
ER_NO_PASSWORD = 251006
ER_INVALID_PRIVATE_KEY = 251008
ER_CONNECTION_TIMEOUT = 251011
ER_RETRYABLE_CODE = 251012
SF_INCORRECT_USERNAME_OR_PASSWORD = 390100
SF_SESSION_EXPIRED = (390112, 390114)
SF_JWT_REJECTED = (390144, 394300, 394301, 394302, 394303, 394304, 394305, 394306)
SF_ROLE_NOT_GRANTED = 390189
SF_WAREHOUSE_NOT_AUTHORIZED = 390201
SF_NO_ACTIVE_WAREHOUSE = 606
SF_QUERY_CANCELLED = 604
SF_STATEMENT_TIMEOUT = 630
SF_INVALID_IDENTIFIER = 904
SF_OBJECT_DOES_NOT_EXIST = (2003, 2043)
SF_INSUFFICIENT_PRIVILEGES = 3001
SQLSTATE_CONNECTION_WAS_NOT_ESTABLISHED = "08001"
SQLSTATE_CONNECTION_LOST = ("08001", "08003", "08006")
SQLSTATE_AUTHORIZATION_FAILURE = "28000"
SQLSTATE_NO_WAREHOUSE = "57P03"
SQLSTATE_MISSING_OBJECT = "42S02"
SQLSTATE_PRIVILEGE = "42501"
NETWORK_ERRNOS = (ER_CONNECTION_IS_CLOSED, ER_FAILED_TO_REQUEST, ER_CONNECTION_TIMEOUT, ER_RETRYABLE_CODE, *SF_SESSION_EXPIRED)


def is_connection_establishment_error(error: BaseException) -> bool:
    """The one transient failure we retry: the connection was not established (SQLSTATE 08001).

    Not a rejected account (HTTP 403, "Verify the account name"), which no retry fixes, and never an
    answer of Snowflake's login service (its 39xxxx codes: wrong password, locked user, ...): each retry
    would be one more failed login towards locking the user.
    """
    sqlstate = getattr(error, "sqlstate", None)
    errno = getattr(error, "errno", None)
    if errno in (ER_CONNECTION_TIMEOUT, ER_RETRYABLE_CODE):
        return True
    if isinstance(errno, int) and 390_000 <= errno < 400_000:
        return False
    return sqlstate == SQLSTATE_CONNECTION_WAS_NOT_ESTABLISHED and not _is_wrong_account(error)


class LoginBackoff:
    """Failed logins per connection settings, for the whole process, so that no page rerun locks a user out.

    Snowflake locks a user after a few failed logins, and the app reruns a page on every edit. So a
    connection the app opens on its own (to list event names as the page draws) is tried once per
    settings: after it fails, only an explicit request (Test connection, Build training set, the CLI)
    tries again, and not before a wait that doubles with each failure (10 s, 20 s, ... at most 5 minutes).
    Settings are told apart by a keyed hash of everything sent to connect, secrets included, so a new
    password is new settings; the hash key is random per process and never stored.
    """

    def __init__(self, first_wait_seconds: float = 10.0, max_wait_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.first_wait_seconds, self.max_wait_seconds, self._clock = first_wait_seconds, max_wait_seconds, clock
        self._key = os.urandom(32)
        self._failures: dict[str, tuple[int, float, str]] = {}  # fingerprint -> (failures in a row, when, message)
        self._lock = threading.Lock()

    def _fingerprint(self, config: SnowflakeConfig) -> str:
        settings = repr(sorted((key, repr(value)) for key, value in dict(config.connect_kwargs()).items()))
        return hmac.new(self._key, settings.encode(), hashlib.sha256).hexdigest()

    def refusal(self, config: SnowflakeConfig, *, automatic: bool) -> str | None:
        """Why a login with `config` must not be tried now; None when it may."""
        with self._lock:
            failures, when, message = self._failures.get(self._fingerprint(config), (0, 0.0, ""))
        if not failures:
            return None
        if automatic:
            return (f"the last login to Snowflake with these settings failed ({message}), so the app does not try "
                    "again on its own; press Test connection once the settings are fixed")
        wait = min(self.max_wait_seconds, self.first_wait_seconds * 2 ** (failures - 1)) - (self._clock() - when)
        if wait <= 0:
            return None
        return (f"{failures} login{'s' if failures > 1 else ''} to Snowflake with these settings failed ({message}); "
                f"try again in {math.ceil(wait)} s (the wait doubles after each failure, so that Snowflake does not "
                "lock the user)")

    def record(self, config: SnowflakeConfig, error: SourceError | None) -> None:
        fingerprint = self._fingerprint(config)
        with self._lock:
            if error is None:
                self._failures.pop(fingerprint, None)
            else:
                failures = self._failures.get(fingerprint, (0, 0.0, ""))[0] + 1
                self._failures[fingerprint] = (failures, self._clock(), str(error))


LOGINS = LoginBackoff()


def _is_wrong_account(error: BaseException) -> bool:
    return type(error).__name__ == "ForbiddenError" or "verify the account name" in str(error).lower()


def translate_error(error: BaseException, config: SnowflakeConfig, *, events_table: str | None = None) -> SourceError:
    """One message naming the likely cause of a connector failure; credentials scrubbed."""
    errno = getattr(error, "errno", None)
    sqlstate = getattr(error, "sqlstate", None)
    text = str(getattr(error, "raw_msg", None) or error)
    account, user = config.account, config.user or "?"
    role = f"role {config.role}" if config.role else "your default role"
    table = events_table or config.events_table or "the events table"

    if errno == SF_INCORRECT_USERNAME_OR_PASSWORD or (
        sqlstate == SQLSTATE_AUTHORIZATION_FAILURE and errno not in SF_JWT_REJECTED
    ):
        message = (f"Snowflake rejected the login of user {user} on account {account}: wrong user name or "
                   "password (check password in your settings; it is case-sensitive)")
    elif errno in SF_JWT_REJECTED:
        message = (f"Snowflake rejected the key-pair login of user {user}: the public key registered for the user "
                   "does not match private_key_file, or the key has expired")
    elif errno == ER_INVALID_PRIVATE_KEY:
        message = "cannot read the private key in private_key_file: wrong passphrase (private_key_file_pwd) or not a PKCS#8 key"
    elif errno == ER_UNABLE_TO_OPEN_BROWSER:
        message = ("externalbrowser authentication needs a web browser on the machine running the app; "
                   "use password or key-pair authentication here")
    elif errno in (ER_NO_ACCOUNT_NAME, ER_NO_USER, ER_NO_PASSWORD):
        message = f"incomplete Snowflake settings: {_scrub(_first_line(error), config)}"
    elif _is_wrong_account(error):
        message = (f"cannot find Snowflake account {account!r}: the account identifier is probably wrong "
                   "(expected orgname-accountname, e.g. myorg-myaccount, without .snowflakecomputing.com)")
    elif errno == SF_ROLE_NOT_GRANTED:
        message = f"role {config.role} is not granted to user {user}; use a role the user has, or leave role empty"
    elif errno == SF_WAREHOUSE_NOT_AUTHORIZED:
        message = (f"warehouse {config.warehouse} does not exist or {role} may not use it; "
                   "check the warehouse name or grant USAGE on it")
    elif errno == SF_NO_ACTIVE_WAREHOUSE or sqlstate == SQLSTATE_NO_WAREHOUSE:
        message = ("no warehouse is selected to run the query: set warehouse in your Snowflake settings "
                   "(or give the user a default warehouse)")
    elif errno in SF_OBJECT_DOES_NOT_EXIST or sqlstate == SQLSTATE_MISSING_OBJECT:
        message = (f"{table} does not exist or {role} cannot see it (missing table, or no access); check the "
                   "events table name (database.schema.table) and the grants")
    elif errno == SF_INSUFFICIENT_PRIVILEGES or sqlstate == SQLSTATE_PRIVILEGE:
        message = (f"permission denied: {role} lacks a privilege the query needs (USAGE on the database, schema "
                   f"and warehouse, SELECT on {table})")
    elif errno == SF_INVALID_IDENTIFIER:
        column = re.search(r"invalid identifier '([^']+)'", text)
        message = (f"{table} lacks column {column.group(1).lower() if column else '(see below)'} that the query needs; "
                   "is it a Snowplow atomic events table?")
    elif errno == SF_STATEMENT_TIMEOUT:
        message = (f"the query ran longer than the statement timeout ({config.statement_timeout_seconds} s) and "
                   "Snowflake stopped it; sample users, shorten the lookback, use a larger warehouse or raise "
                   "statement_timeout_seconds")
    elif errno == SF_QUERY_CANCELLED:
        message = "the query was cancelled"
    elif errno in NETWORK_ERRNOS or sqlstate in SQLSTATE_CONNECTION_LOST or isinstance(error, (ConnectionError, TimeoutError)):
        message = (f"lost the connection to Snowflake account {account} (network drop or timeout); check the "
                   "network, VPN or proxy and try again")
    else:
        code = f" {errno}" if errno not in (None, -1) else ""
        message = f"Snowflake error{code}: {_scrub(_first_line(error), config)}"
    return SourceError(_scrub(message, config))


def _scrub(text: str, config: SnowflakeConfig) -> str:
    for secret in config.secret_values():
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _first_line(error: BaseException) -> str:
    return first_line(getattr(error, "raw_msg", None) or error)[:300]  # the connector keeps its own words in raw_msg


# ----- the warehouse -----------------------------------------------------------------------------


class SnowflakeWarehouse:
    """Runs rendered Snowflake SQL through snowflake-connector-python, one connection per instance.

    Values are bound by the connector (pyformat); results are fetched as Arrow. Every query runs
    asynchronously on the server so `cancel()` (from another thread, e.g. the app's Cancel button)
    can stop it by query id. Only establishing the connection is retried.
    """

    dialect: DialectName = "snowflake"

    def __init__(self, config: SnowflakeConfig, *, connect_attempts: int = CONNECT_ATTEMPTS,
                 retry_wait_seconds: float = RETRY_WAIT_SECONDS, automatic: bool = False) -> None:
        self.config = config
        self.automatic = automatic  # opened by the app on its own, not at a user's request (see LoginBackoff)
        self.events_table = config.events_table
        self.notices: tuple[str, ...] = ()
        self.connect_attempts = connect_attempts
        self.retry_wait_seconds = retry_wait_seconds
        self._connection: Any = None
        self._running_query_id: str | None = None
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"Snowflake account {self.config.account} as {self.config.user}"

    @property
    def running_query_id(self) -> str | None:
        return self._running_query_id

    def connect(self) -> Any:
        """The open connection, connecting on first use (retrying only connection establishment)."""
        with self._lock:
            if self._connection is not None and not self._connection.is_closed():
                return self._connection
            refusal = LOGINS.refusal(self.config, automatic=self.automatic)
            if refusal is not None:
                raise SourceError(refusal)
            try:
                self._connection = self._connect_with_retry()
            except SourceError as error:
                LOGINS.record(self.config, error)
                raise
            LOGINS.record(self.config, None)
            return self._connection

    def _connect_with_retry(self) -> Any:
        import snowflake.connector  # heavy and optional: only a Snowflake source loads it

        for attempt in range(1, self.connect_attempts + 1):
            try:
                return snowflake.connector.connect(**self.config.connect_kwargs())
            except snowflake.connector.Error as error:
                if attempt < self.connect_attempts and is_connection_establishment_error(error):
                    LOGGER.info("Snowflake connection not established (attempt %d), retrying", attempt)
                    time.sleep(self.retry_wait_seconds * attempt)
                    continue
                raise translate_error(error, self.config) from None
            except (ConnectionError, TimeoutError) as error:
                raise translate_error(error, self.config) from None
        raise AssertionError("unreachable")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        import snowflake.connector  # heavy and optional: only a Snowflake source loads it

        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute_async(sql, dict(params or {}))
                self._running_query_id = cursor.sfqid
                LOGGER.info("Snowflake query %s started", cursor.sfqid)
                cursor.get_results_from_sfqid(cursor.sfqid)
                table = cursor.fetch_arrow_all(force_return_table=True)
        except snowflake.connector.Error as error:
            raise translate_error(error, self.config, events_table=_table_in(sql)) from None
        except (ConnectionError, TimeoutError) as error:
            raise translate_error(error, self.config) from None
        finally:
            self._running_query_id = None
        return arrow_to_frame(table)

    def preflight(self, spec: TrainingSpec) -> Preflight:
        """Table, columns and counts for `spec` before the big query (see `warehouse.run_preflight`)."""
        return run_preflight(self, spec)

    def cancel(self) -> bool:
        """Ask Snowflake to stop the running query; False when nothing is running."""
        query_id = self._running_query_id
        if not query_id or self._connection is None:
            return False
        import snowflake.connector  # heavy and optional: only a Snowflake source loads it

        try:
            with self._connection.cursor() as cursor:
                cursor.execute("select system$cancel_query(%(query_id)s)", {"query_id": query_id})
        except snowflake.connector.Error as error:
            raise translate_error(error, self.config) from None
        LOGGER.info("Snowflake query %s cancelled", query_id)
        return True

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> SnowflakeWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SnowflakeWarehouse({self.config!r})"


def _table_in(sql: str) -> str | None:
    found = re.search(r"\bfrom\s+([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*){1,2})\b", sql)
    return found.group(1) if found else None


def test_connection(config: SnowflakeConfig) -> str:
    """Connect, ask Snowflake who we are, and say it in one line (raises SourceError with the cause)."""
    import snowflake.connector  # heavy and optional: only a Snowflake source loads it

    with SnowflakeWarehouse(config, connect_attempts=1) as warehouse:
        connection = warehouse.connect()
        try:
            with connection.cursor() as cursor:
                user, role, warehouse_name, database, schema = cursor.execute(
                    "select current_user(), current_role(), current_warehouse(), current_database(), current_schema()"
                ).fetchone()
        except snowflake.connector.Error as error:
            raise translate_error(error, config) from None
    where = ".".join(part for part in (database, schema) if part) or "no database selected"
    message = f"Connected to Snowflake account {config.account} as {user} (role {role}, {where})"
    if not warehouse_name:
        return message + "; but no warehouse is active: set warehouse, or queries will fail"
    return message + f", warehouse {warehouse_name}"


test_connection.__test__ = False  # a public API name, not a pytest test


MAX_PRIVATE_KEY_BYTES = 16_384  # a PKCS#8 RSA key is about 2 kB; anything far larger is not one


def private_key_der(pem: bytes, passphrase: str | None = None) -> bytes:
    """An uploaded PKCS#8 key (.p8, PEM) as the DER bytes the connector's `private_key` takes.

    The session form takes the key itself, never a path: a path would let a visitor name a key file
    on the server (the operator's) and learn whether a file exists there.
    """
    from cryptography.hazmat.primitives import serialization

    if len(pem) > MAX_PRIVATE_KEY_BYTES:
        raise SourceError(f"the private key file is {len(pem):,} bytes; expected a PKCS#8 .p8 key of a few kB")
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase.encode() if passphrase else None)
    except (TypeError, ValueError):
        # TypeError: a passphrase was given for an unencrypted key, or none for an encrypted one
        raise SourceError("cannot read the private key: expected a PKCS#8 .p8 key file (PEM), with its "
                          "passphrase if it is encrypted") from None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
