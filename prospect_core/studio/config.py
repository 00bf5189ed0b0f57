"""What the operator configured: `st.secrets`, the limits read from it, the signing key, Snowflake, Databricks.

Every value is read when asked for, so a changed secrets.toml or environment applies on the next
page, and a bad one is an error on that page rather than a server that does not start.
"""

from __future__ import annotations

from typing import Any, Mapping

import streamlit as st

from prospect_core.infra import limits

from prospect_core.outputs import signing
from prospect_core.infra.errors import UserError
from prospect_core.events.databricks import DatabricksConfig, resolve_databricks_config
from prospect_core.events.snowflake import SnowflakeConfig, resolve_config
from prospect_core.studio import keys, streamlit_private


def streamlit_secrets() -> Mapping[str, Any] | None:
    """`st.secrets` as nested plain dicts when running inside Streamlit, else None."""
    if not streamlit_private.server_running():
        return None
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, OSError, ValueError):  # no secrets.toml, or one that does not parse
        return None


def secrets() -> dict[str, Any]:
    """`st.secrets` as a plain dict; empty without a secrets.toml (or with one that does not parse)."""
    return dict(streamlit_secrets() or {})


def max_training_rows() -> int:
    return limits.max_training_rows(secrets())


def shap_max_rows() -> int:
    return limits.shap_max_rows(secrets())


def query_limits() -> limits.QueryLimits:
    return limits.query_limits(secrets())


def signing_key() -> bytes:
    """This installation's model signing key: `artifact_signing_key` in secrets, else the key file."""
    return signing.signing_key(secrets().get(signing.SECRET_NAME))


def snowflake_config() -> SnowflakeConfig | None:
    """Settings from secrets, connections.toml or the environment, with this session's form on top.

    None when no account is configured anywhere, or the settings cannot be used (`snowflake_problem`
    says why). The form's values live in session state only.
    """
    return _resolve_snowflake()[0]


def snowflake_problem() -> str | None:
    """Why the Snowflake settings (this session's form included) cannot be used; None when they can."""
    return _resolve_snowflake()[1]


def snowflake_configured() -> bool:
    return snowflake_config() is not None


def source_configured(kind: str) -> bool:
    """Whether a source kind can be opened: a warehouse needs settings, the others nothing."""
    if kind == "snowflake":
        return snowflake_configured()
    return databricks_config() is not None if kind == "databricks" else True


def _resolve_snowflake() -> tuple[SnowflakeConfig | None, str | None]:
    try:
        return resolve_config(streamlit_secrets(), st.session_state.get(keys.SNOWFLAKE_OVERRIDES)), None
    except UserError as error:
        return None, str(error)


def databricks_config() -> DatabricksConfig | None:
    """Databricks settings from secrets or the environment, with this session's form on top; None when
    none are configured or they cannot be used (`databricks_problem` says why)."""
    return _resolve_databricks()[0]


def databricks_problem() -> str | None:
    return _resolve_databricks()[1]


def _resolve_databricks() -> tuple[DatabricksConfig | None, str | None]:
    try:
        return resolve_databricks_config(streamlit_secrets(), st.session_state.get(keys.DATABRICKS_OVERRIDES)), None
    except UserError as error:
        return None, str(error)
