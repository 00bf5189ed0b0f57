"""Score & export's Signals parts: the definitions' names and download, the parity report, and the
what-if form and batch caption drawn from the run's own inputs (custom attributes included).

The definitions come from `export.signals_json`, the file `train` writes next to the model; the
scoring-service zip carries the same bytes, so what the marketer downloads is what the service reads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from prospect_core.infra.errors import UserError
from prospect_core.outputs import anchors
from prospect_core.studio import keys
from prospect_core.studio.state import built_set
from prospect_core.outputs.export import ExportBundle, signals_json
from prospect_core.outputs.signals import signals_client
from prospect_core.trainingset.attributes import WINDOWS
from prospect_core.trainingset.features import spec_features
from prospect_core.outputs import signals_defaults as defaults
from prospect_core.outputs.replay import mismatch_reasons
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.studio.labels import category_text, day_text
from prospect_core.trainingset.wording import plain, window_title

# option -> (widget key, label, default)
OPTIONS = {
    "group_name": ("signals_group_name", "Attribute group name", defaults.GROUP_NAME),
    "service_name": ("signals_service_name", "Service name", defaults.SERVICE_NAME),
    "version": ("signals_version", "Version", defaults.VERSION),
    "owner": ("signals_owner", "Owner email", defaults.OWNER),
}
# The core's words for each option, in the form's words.
_FIELD_WORDS = {defaults.OPTION_WORDS[name]: label for name, (_, label, _) in OPTIONS.items()}


def _options() -> dict[str, Any]:
    return {name: st.session_state.get(key, default) for name, (key, _, default) in OPTIONS.items()}


def signals_definitions(export: ExportBundle, spec: TrainingSpec) -> tuple[bytes | None, str | None]:
    """(the definitions file under the page's names, None) or (None, why the names are refused)."""
    options = _options()
    if options == {name: default for name, (_, _, default) in OPTIONS.items()}:
        return export.signals_json, None
    try:
        return signals_json(spec, export.parity, **options), None
    except UserError as error:
        message = str(error)
        for words, label in _FIELD_WORDS.items():
            if message.startswith(words):
                message = label + message[len(words):]
        return None, message


def signals_section(export: ExportBundle, spec: TrainingSpec) -> None:
    """Names, the **Download Signals definitions** button, and the parity report, with its warning."""
    material = [row for row in export.parity if row["material"]]
    if material:
        shares = ", ".join(f"**{plain(row['input'])}** on {1 - row['share_matching']:.1%} of rows" for row in material)
        st.warning(
            f"What Snowplow Signals would serve differs from what the model learned for {shares}: served scores "
            "differ there. The parity report below says why.", icon=":material/warning:",
        )
    with st.expander("Snowplow Signals definitions", icon=":material/sensors:", expanded=bool(material)):
        st.caption("The attribute group and service that compute this model's inputs in real time, made with "
                   "the snowplow-signals SDK: publish them, then the scoring service's /predict reads them.")
        group, service, version, owner = st.columns([2, 2, 1, 2])
        for column, (name, (key, label, default)) in zip((group, service, version, owner), OPTIONS.items()):
            if name == "version":
                column.number_input(label, 1, defaults.MAX_VERSION, default, key=key)
            else:
                column.text_input(label, default, key=key)
        definitions, problem = signals_definitions(export, spec)
        if problem:
            st.error(f"{plain(problem)}.", icon=":material/error:")
        else:
            st.download_button(
                "Download Signals definitions", definitions, file_name=export.signals_name,
                mime="application/json", key="download_signals", icon=":material/download:",
            )
        if not problem:
            dataset_builder_section(spec)
        report, document = st.tabs(["Parity report", "Definitions (JSON)"])
        measured = export.card["parity"]
        report.caption(f"How Signals serves each input, and the share of rows where the value the model learned "
                       f"equals what Signals would serve, replayed on the {plain(measured['measured_on'])}.")
        report.dataframe(parity_table(export.parity), hide_index=True, key="parity_table")
        if definitions is not None:
            document.code(definitions.decode(), language="json", height=320)


def dataset_builder_section(spec: TrainingSpec) -> None:
    """The training set's prediction points as Signals custom anchors, and Snowplow's dataset builder over them."""
    st.markdown("**Snowplow's dataset builder**")
    built = built_set()
    if built is None or built.spec != spec:
        st.caption("Build this model's training set on Data & target to export its prediction points as "
                   "Signals anchors for Snowplow's dataset builder.")
        return
    st.caption(f"The training set's {len(built.frame):,} prediction points as a Signals custom-anchors table "
               "(domain_userid, anchor_ts, label), with the Snowflake SQL that loads it. The builder uses "
               "Signals credentials from the server's environment (SP_API_URL, SP_API_KEY, SP_API_KEY_ID, SP_ORG_ID).")
    text = st.text_input("Anchors table (Snowflake)", anchors.DEFAULT_TABLE, key="signals_anchors_table",
                         help="TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE")
    try:
        table = anchors.warehouse_table(text)
    except UserError as error:
        st.error(f"{_sentence(plain(str(error)))}.", icon=":material/error:")
        return
    parquet, sql, build = st.columns(3)
    parquet.download_button("Download anchors (.parquet)", partial(anchors.anchors_parquet, built.frame, spec),
                            file_name=anchors.ANCHORS_FILE, mime="application/octet-stream", key="download_anchors")
    sql.download_button("Download anchors SQL", anchors.anchors_sql(table), file_name=anchors.ANCHORS_SQL_FILE,
                        mime="text/plain", key="download_anchors_sql")
    if build.button("Build with Snowplow's dataset builder", key="signals_dataset_build"):
        try:
            files = anchors.build_dataset_bundle(signals_client(), spec, table, **_options())
        except UserError as error:
            st.error(f"{_sentence(plain(str(error)))}.", icon=":material/error:")
            return
        st.session_state[keys.SIGNALS_DATASET_ZIP] = anchors.bundle_zip({
            anchors.ANCHORS_FILE: anchors.anchors_parquet(built.frame, spec),
            anchors.ANCHORS_SQL_FILE: anchors.anchors_sql(table).encode(), **files})
    if st.session_state.get(keys.SIGNALS_DATASET_ZIP):
        st.download_button("Download dataset bundle (.zip)", st.session_state[keys.SIGNALS_DATASET_ZIP],
                           file_name="signals_dataset.zip", mime="application/zip", key="download_signals_dataset")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def parity_table(parity: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({
        "input": [row["input"] for row in parity],
        "parity": [row["parity"] for row in parity],
        "how Signals serves it": [row["why"] for row in parity],
        "rows matching": ["n/a" if row["share_matching"] is None else f"{row['share_matching']:.2%}" for row in parity],
        "why they differ": [mismatch_reasons(row) for row in parity],
    })


def batch_caption(spec: TrainingSpec) -> str:
    return f"One prospect a row, with a column for each model input: {', '.join(f.column(spec) for f in spec_features(spec))}."


def what_if_inputs(spec: TrainingSpec, defaults: dict[str, Any], categories: dict[str, list[Any]]) -> dict[str, Any]:
    """The what-if form's widgets (call inside the form): one per model input, by window, labelled in
    words, with the column name in the tooltip. Returns the values by column."""
    titles = {window: window_title(spec, window) for window in WINDOWS}
    values: dict[str, Any] = {}
    features = spec_features(spec)
    for column, (window, title) in zip(st.columns(3), titles.items()):
        column.markdown(f"**{title}**")
        for feature in (f for f in features if f.window == window):
            name = feature.column(spec)
            label, tip, key = plain(_short_label(feature.description)), f"`{name}`: {plain(feature.description)}", f"what_if_{name}"
            if feature.kind == "numeric":
                values[name] = column.number_input(label, 0, 1_000_000, int(defaults[name]), help=tip, key=key)
            elif feature.kind == "boolean":
                values[name] = column.toggle(label, bool(defaults[name]), help=tip, key=key)
            else:
                options = categories[name] or [defaults[name]]
                values[name] = column.selectbox(
                    label, options, index=options.index(defaults[name]), help=tip, key=key,
                    format_func=day_text if name == "day_of_week" else category_text,
                )
    return values


def _short_label(description: str) -> str:
    """A label short enough for a form field: the description up to its first parenthesis."""
    text = description.split(" (")[0]
    return text if len(text) <= 60 else text[:57] + "…"
