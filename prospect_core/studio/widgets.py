"""The studio's shared widgets: the source chooser, the Snowflake panel, run pickers, the sidebar,
notes and tables. Pages compose these; what a widget's button does is in actions.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from prospect_core.events import snowflake
from prospect_core.events.databricks import DatabricksWarehouse
from prospect_core.infra.errors import UserError, write_failure
from prospect_core.events.events_files import sniff_kind
from prospect_core.modelling.explain import ShapSample
from prospect_core.trainingset.wording import plain, target_wording, window_label
from prospect_core.events.sources import data_dirs, demo_db_is_current, ensure_demo_db, file_in_data_dirs
from prospect_core.studio import keys
from prospect_core.studio.config import (databricks_config, databricks_problem, max_training_rows, secrets,
                                         snowflake_config, snowflake_problem)
from prospect_core.studio.data import load_events
from prospect_core.studio.jobs import Job
from prospect_core.modelling.families import FAMILIES
from prospect_core.studio.labels import run_label, source_label, split_name
from prospect_core.studio.runstore import pick_run
from prospect_core.studio.spec_form import start_at_last_event
from prospect_core.studio.state import BuiltSet, StudioRun, built_set, current_source, current_spec, init_state, runs
from prospect_core.studio.uploads import display_name, save_upload, upload_folder

RARE_POSITIVES = 20  # below this many positive rows a model cannot be judged reliably
# Each conversion makes dozens of positive rows (every event in the hour before it), so what a model
# learns from is the number of prospects behind them. Below these, say so.
FEW_POSITIVE_PROSPECTS = 20  # in the training set
FEW_TEST_POSITIVE_PROSPECTS = 10  # in a model's test rows


def selected_run(label: str = "Run") -> StudioRun | None:
    """A run picker: this workspace's runs, latest first, or every stored run; None, with a hint, when none."""
    return pick_run(label)


def _duckdb_path_source(text: str) -> str | None:
    try:
        return f"duckdb:{file_in_data_dirs(text, data_dirs(secrets()))}"
    except UserError as error:
        st.error(plain(error), icon=":material/error:")
        return None


def choose_source(kind: str) -> str | None:
    """Widgets for the chosen kind of source; its source string, or None until it is usable."""
    if kind == "demo":
        ensure_demo_database()
        return "demo"
    if kind == "duckdb":
        text = st.text_input(
            "DuckDB file path", key="duckdb_path", persist_state="session", placeholder="data/events.duckdb",
            help="A DuckDB database in this server's data folders (data/ unless `data_dirs` is set in secrets), "
            "with the atomic events table named in the spec (atomic.events by default).",
        )
        if not text.strip():
            st.info("Enter the path of a DuckDB file in this server's data folders, or upload one under Events "
                    "export, to continue.")
            return None
        return _duckdb_path_source(text)
    if kind == "events":
        upload = st.file_uploader(
            "Events export", type=["csv", "gz", "parquet", "duckdb"], key="events_upload",
            help="Atomic events as CSV, CSV.gz or Parquet (column names in any case), or a DuckDB database; "
            "the type is read from the file's content, not its name.",
        )
        if upload is not None and upload.file_id != st.session_state.get(keys.EVENTS_UPLOAD_ID):
            try:
                st.session_state[keys.EVENTS_PATH] = str(save_upload(upload))
            except OSError as error:  # a full disk, or an upload folder that is not ours
                st.error(plain(write_failure(f"the upload {display_name(upload.name)}", "the server's upload folder", error)),
                         icon=":material/error:")
                return None
            st.session_state[keys.EVENTS_UPLOAD_ID] = upload.file_id
            st.session_state.pop(keys.EVENTS_LOAD_FAILED, None)  # a new upload is a new try
        path_text = st.session_state.get(keys.EVENTS_PATH)
        if not path_text or not Path(path_text).is_file():
            st.info("Upload a CSV, CSV.gz or Parquet export of your atomic events (or a DuckDB database) to continue.")
            return None
        path = Path(path_text)
        upload_folder()  # in use: keep it from the TTL sweep
        try:
            file_kind = sniff_kind(path)
        except UserError as error:
            st.error(plain(error), icon=":material/error:")
            return None
        if file_kind == "duckdb":
            st.caption(f"{plain(path.name)} is a DuckDB database (read from its content): its tables are read as a DuckDB file.")
            return f"duckdb:{path}"
        loaded = load_events(path, current_spec().events_table)
        if loaded is None:
            return None
        start_at_last_event(loaded.last_event, str(path))
        st.caption(f"{plain(path.name)}: {loaded.span}. The as-of date starts at its last event's day.")
        for notice in loaded.notices:
            st.info(plain(notice), icon=":material/info:")
        return f"events:{path}"
    if kind == "databricks":
        return "databricks" if databricks_connection_panel() else None
    return "snowflake" if snowflake_connection_panel() else None


AUTH_METHODS = {"password": "Password", "keypair": "Key pair (private key file)", "externalbrowser": "Browser SSO"}


def snowflake_connection_panel() -> bool:
    """Show where the Snowflake settings come from, a form to override them for this session only, and
    a Test connection button. True when a connection is configured."""
    config = snowflake_config()
    overrides = st.session_state.get(keys.SNOWFLAKE_OVERRIDES)
    with st.expander("Snowflake connection", expanded=config is None, icon=":material/ac_unit:"):
        if config is not None:
            st.dataframe(pd.DataFrame(config.describe().items(), columns=["setting", "value"]), hide_index=True)
            paused = snowflake.LOGINS.refusal(config, automatic=True)
            if paused:
                st.warning(plain(f"{paused[0].upper()}{paused[1:]}."), icon=":material/lock_clock:")
        elif overrides:
            st.error(f"This session's settings cannot be used: {plain(snowflake_problem())}.", icon=":material/error:")
        else:
            st.info(
                "No Snowflake settings found. Add `[connections.snowflake]` to `.streamlit/secrets.toml` (see "
                "`secrets.toml.example`), set SNOWFLAKE_* or the tutorial's ENV_SF_* variables, or fill in the form."
            )
        # Outside the form: a form does not rerun when a field changes, so the fields of the chosen
        # authentication could not follow it.
        method = st.selectbox("Authentication", list(AUTH_METHODS), format_func=AUTH_METHODS.get, key="snowflake_auth")
        with st.form("snowflake_form"):
            st.caption("Overrides for this browser session only: kept in memory, never written to disk. Another "
                       "account, user or authentication never uses the password, key or token of the server's "
                       "settings: give your own.")
            left, right = st.columns(2)
            values = {
                "account": left.text_input("Account", placeholder="myorg-myaccount"),
                "user": right.text_input("User"),
                "role": left.text_input("Role"),
                "warehouse": right.text_input("Warehouse"),
                "database": left.text_input("Database"),
                "schema": right.text_input("Schema"),
                "events_table": left.text_input("Events table", placeholder="snowplow_db.atomic.events"),
            }
            if method == "password":
                values["password"] = right.text_input("Password", type="password")
            elif method == "keypair":  # the key itself, never a server path (see snowflake.private_key_der)
                key_upload = right.file_uploader("Private key (.p8)", type=["p8", "pem"], key="snowflake_key")
                passphrase = right.text_input("Key passphrase", type="password")
            else:
                values["authenticator"] = "externalbrowser"
            if st.form_submit_button("Use for this session"):
                try:
                    if method == "keypair" and key_upload is not None:
                        values["private_key"] = snowflake.private_key_der(key_upload.getvalue(), passphrase or None)
                except UserError as error:
                    st.error(f"Private key (.p8): {plain(error)}", icon=":material/error:")
                else:
                    st.session_state[keys.SNOWFLAKE_OVERRIDES] = {k: v for k, v in values.items() if v}
                    st.rerun()
        if overrides and st.button("Forget this session's overrides"):
            st.session_state.pop(keys.SNOWFLAKE_OVERRIDES)
            st.rerun()
        if config is not None and st.button("Test connection", icon=":material/lan:"):
            try:
                with st.spinner("Connecting…"):
                    st.success(plain(snowflake.test_connection(config)), icon=":material/check_circle:")
            except UserError as error:
                st.error(plain(error), icon=":material/error:")
    return config is not None


def databricks_connection_panel() -> bool:
    """Where the Databricks settings come from, a form to override them for this session only, and a
    Test connection button. True when a connection is configured."""
    config = databricks_config()
    overrides = st.session_state.get(keys.DATABRICKS_OVERRIDES)
    with st.expander("Databricks connection", expanded=config is None, icon=":material/database:"):
        if config is not None:
            st.dataframe(pd.DataFrame(config.describe().items(), columns=["setting", "value"]), hide_index=True)
        elif overrides:
            st.error(f"This session's settings cannot be used: {plain(databricks_problem())}.", icon=":material/error:")
        else:
            st.info("No Databricks settings found. Add `[connections.databricks]` (server_hostname, http_path, "
                    "access_token) to `.streamlit/secrets.toml`, set DATABRICKS_SERVER_HOSTNAME, DATABRICKS_HTTP_PATH "
                    "and DATABRICKS_TOKEN, or fill in the form.")
        with st.form("databricks_form"):
            st.caption("Overrides for this browser session only: kept in memory, never written to disk. Another host "
                       "never uses the server's token: give your own.")
            left, right = st.columns(2)
            values = {
                "server_hostname": left.text_input("Server hostname", placeholder="adb-1234567890.12.azuredatabricks.net"),
                "http_path": right.text_input("HTTP path", placeholder="/sql/1.0/warehouses/abc123"),
                "access_token": left.text_input("Access token", type="password"),
                "catalog": right.text_input("Catalog"),
                "events_table": left.text_input("Events table", placeholder="snowplow.atomic.events"),
            }
            if st.form_submit_button("Use for this session"):
                st.session_state[keys.DATABRICKS_OVERRIDES] = {k: v for k, v in values.items() if v}
                st.rerun()
        if overrides and st.button("Forget this session's overrides", key="databricks_forget"):
            st.session_state.pop(keys.DATABRICKS_OVERRIDES)
            st.rerun()
        if config is not None and st.button("Test connection", icon=":material/lan:", key="databricks_test"):
            try:
                with st.spinner("Connecting…"), DatabricksWarehouse(config) as warehouse:
                    warehouse.query("select 1 as ok")
                st.success(f"Connected to {plain(config.server_hostname)}.", icon=":material/check_circle:")
            except UserError as error:
                st.error(plain(error), icon=":material/error:")
    return config is not None


def ensure_demo_database() -> None:
    """Create the demo database on first run, with a visible progress indication."""
    if demo_db_is_current():
        return
    with st.status("Creating the demo database (on first run, then weekly)…", expanded=True) as status:
        st.write("Simulating Snowplow events for a few thousand prospects…")
        started = time.perf_counter()
        try:
            ensure_demo_db()
        except UserError as error:
            status.update(label="The demo database could not be created", state="error")
            st.error(plain(error), icon=":material/error:")
            st.stop()
        status.update(label=f"Demo database ready in {time.perf_counter() - started:.1f} s", state="complete")


# ----- shared chrome -------------------------------------------------------------------------------


def show_build_notes(built: BuiltSet | StudioRun) -> None:
    """What the user should know about a built set (or the run trained on it): what an events export
    lacked, sampling to the row limit, and the limit itself."""
    for note in built.notes:
        st.info(plain(note), icon=":material/filter_alt:")
    if built.notes or not isinstance(built, BuiltSet):
        return
    limit = max_training_rows()
    if built.summary.rows > limit // 2:  # near the limit: say where it is before the next build hits it
        st.info(f"{built.summary.rows:,} rows, close to this server's limit of {limit:,} training rows per build "
                "(PROSPECT_MAX_TRAINING_ROWS or `max_training_rows` in secrets).", icon=":material/filter_alt:")


def render_sidebar(placeholder: DeltaGenerator) -> None:
    """The sidebar's summary, into `placeholder` (an `st.sidebar.empty()`), replacing what it held.

    app.py draws it before the page and again after it: the second drawing shows what the page just
    set; when the page stops early (st.stop ends the script at the next `st.*` call, so the second
    drawing never happens) the first one stays."""
    init_state()
    current, source = current_spec(), current_source()
    with placeholder.container():
        st.caption("DATA SOURCE")
        st.markdown(f"**{plain(source_label(source))}**")
        st.caption("CURRENT SPEC")
        st.markdown(
            f"Target: **{plain(target_wording(current))}**  \n"
            f"Cohort: first seen {current.cohort_first_seen_from_days}–{current.cohort_first_seen_to_days} "
            f"days before **{current.as_of}**  \n"
            f"History: {current.short_window_days} d and {current.long_window_days} d"
        )
        built = built_set()
        if built is not None:
            stale = " (settings changed since)" if built.spec != current or built.source != source else ""
            st.caption("TRAINING SET")
            st.markdown(
                f"{built.summary.rows:,} rows · {built.summary.positive_rate:.2%} positive{stale}"
            )
        for kind, page in (("build", "Data & target"), ("train", "Train")):
            job: Job | None = st.session_state.get(keys.job(kind))
            if job is not None:
                state = "finished; open" if job.future.done() else f"running ({job.elapsed:.0f} s); see"
                st.caption(f"{plain(job.title)}: {state} **{page}**", help="Jobs keep running while you visit other pages.")
        if runs():
            st.caption("MODELS THIS SESSION")
            for record in reversed(runs()):
                st.markdown(f"{plain(run_label(record))} — AUC {record.run.evaluation.roc_auc:.3f}")


def runs_table(records: list[StudioRun]) -> pd.DataFrame:
    """One row per run: what it was trained on and how it scored, for side-by-side comparison."""
    rows = []
    for record in records:
        run, evaluation = record.run, record.run.evaluation
        rows.append({
            "run": f"Run {record.number}",
            "source": source_label(record.source),
            "target": f"{run.spec.target_event} ×{run.spec.target_min_count}",
            "window": window_label(run.spec.target_window_minutes),
            "history": f"{run.spec.short_window_days}/{run.spec.long_window_days} d",
            "split": split_name(run.split),
            "model": FAMILIES[run.params.family].label,
            "train rows": run.n_train,
            "test rows": run.n_test,
            "base rate": evaluation.base_rate,
            "ROC AUC": evaluation.roc_auc,
            "PR AUC": evaluation.pr_auc,
            "log loss": evaluation.log_loss,
            "Brier": evaluation.brier,
            "best F1": evaluation.best_f1,
            "seconds": sum(run.timings.values()),
        })
    return pd.DataFrame(rows).round(4)


def top_feature_index(sample: ShapSample) -> int:
    """Position in `sample.features` of the feature with the largest mean |SHAP|."""
    return int(np.argmax(np.abs(sample.values).mean(axis=0)))
