"""Score & export: download the model and its card, score a what-if prospect or a CSV of prospects."""

from functools import partial

import streamlit as st

from prospect_core import studio
from prospect_core.infra.errors import UserError
from prospect_core.modelling.explain import explain_row
from prospect_core.modelling.figures import shap_waterfall_figure
from prospect_core.modelling.scoring import category_options, csv_bytes, prepare_prospect, score_csv, score_one, typical_prospect
from prospect_core.outputs.service_bundle import call_examples, service_zip, service_zip_name
from prospect_core.trainingset.wording import target_wording

st.title("Score & export")


def load_model_section() -> studio.LoadedModel | None:
    """Upload a model exported by this studio, with its card; loaded only if this installation signed it."""
    loaded = st.session_state.get(studio.keys.LOADED_MODEL)
    with st.expander("Load a model exported earlier", expanded=not studio.runs() and loaded is None,
                     icon=":material/upload:"):
        st.caption(
            "Upload the .joblib file and its .card.json exactly as this studio exported them. A joblib file runs "
            "code when it is loaded, so a model is loaded only if its card carries this installation's signature "
            "over both files; anything else is refused without being opened."
        )
        left, right = st.columns(2)
        artifact = left.file_uploader("Model (.joblib)", type=["joblib"], key="load_artifact")
        card = right.file_uploader("Model card (.card.json)", type=["json"], key="load_card")
        if artifact is not None and card is not None:
            try:
                loaded = studio.load_uploaded_model(artifact, card)
            except UserError as error:
                st.session_state.pop(studio.keys.LOADED_MODEL, None)
                st.error(f"Not loaded: {studio.plain(error)}.", icon=":material/gpp_bad:")
                return None
            st.session_state[studio.keys.LOADED_MODEL] = loaded
        if loaded is not None:
            st.success(f"Loaded {studio.plain(loaded.label)}; signature verified.", icon=":material/verified_user:")
    return loaded


def score_csv_section(pipeline, spec, key: str, threshold: float | None = None) -> None:
    st.caption(studio.batch_caption(spec))
    upload = st.file_uploader("Feature rows (CSV)", type=["csv"], key=f"batch_upload{key}")
    if upload is None:
        return
    try:
        result = studio.scores_first(score_csv(pipeline, upload.getvalue(), spec), threshold)
    except UserError as error:
        st.error(studio.plain(error), icon=":material/error:")
    else:
        st.dataframe(result.head(500), hide_index=True)
        st.download_button(
            "Download scores (.csv)", csv_bytes(result), file_name="scores.csv", mime="text/csv",
            key=f"download_scores{key}",
        )


loaded = load_model_section()
if loaded is not None:
    st.subheader(f"Score a CSV with the loaded model ({loaded.spec.target_column})")
    score_csv_section(loaded.pipeline, loaded.spec, key="_loaded")

record = studio.selected_run("Model") if studio.runs() or loaded is None else None
if record is None:
    st.stop()
run, spec = record.run, record.run.spec

# ----- export ------------------------------------------------------------------------------------
st.subheader("Download")
try:
    export = studio.export_bundle(record)
except UserError as error:  # e.g. a signing key in secrets too short to sign with
    st.error(f"Cannot export the model: {studio.plain(error)}.", icon=":material/key_off:")
    export = None
if export is not None:
    definitions, _ = studio.signals_definitions(export, spec)
    left, right, service, _ = st.columns([1, 1, 1, 1])
    left.download_button(
        "Download model (.joblib)", export.artifact, file_name=export.artifact_name,
        mime="application/octet-stream", type="primary", key="download_model",
    )
    right.download_button(
        "Download model card", export.card_json, file_name=export.card_name, mime="application/json",
        key="download_card",
    )
    service.download_button(
        "Download scoring service",
        partial(service_zip, export.artifact, export.card_json, definitions, key=studio.signing_key()),  # zipped on click
        file_name=service_zip_name(export.sha256), mime="application/zip", key="download_service",
        help="A FastAPI service for this model with Snowplow's POST /predict contract: the model, its card, "
        "service.py, pinned requirements.txt, the Signals definitions and a README (`uvicorn service:app`).",
    )
    studio.signals_section(export, spec)
    st.caption(
        "The joblib file is a scikit-learn Pipeline: `joblib.load(path).predict_proba(rows)[:, 1]` with scikit-learn, "
        "xgboost and pandas installed. Loading a joblib file runs code from it: load only files you trust. "
        f"SHA-256 {export.sha256[:16]}…; the card is signed by this installation, so the pair can be loaded here again."
    )
    with st.expander("Model card"):
        st.markdown(export.card_markdown)
    with st.expander("Call the scoring service", icon=":material/api:"):
        st.caption("Unzip the scoring service, run `uvicorn service:app` in its folder (see its README), then:")
        service_url = st.text_input("Service URL", "http://localhost:8000", key="service_url")
        try:
            examples = call_examples(export.card_json, service_url)
        except UserError as error:
            st.error(studio.plain(error), icon=":material/error:")
        else:
            st.code(examples["curl"], language="bash")
            st.caption("From the website (allow its origin with `CORS_ALLOWED_ORIGINS`), polling every 10 s:")
            st.code(examples["javascript"], language="javascript")

# ----- what-if -----------------------------------------------------------------------------------
st.subheader("What if: score one prospect")
st.caption("Starts at the median prospect of the test set; change any value and press **Score prospect**.")
if not studio.ensure_test_rows(record):  # a restored run: its test rows come from a rebuilt training set
    st.stop()
test_rows = run.X_test  # built anew on every read
defaults = typical_prospect(test_rows, spec)
categories = category_options(test_rows, spec)
with st.form("what_if"):
    values = studio.what_if_inputs(spec, defaults, categories)
    st.form_submit_button("Score prospect", type="primary")
try:
    rows = prepare_prospect(values, spec)
except UserError as error:
    st.error(studio.plain(error), icon=":material/error:")
else:
    st.metric(f"Chance this prospect {studio.plain(target_wording(spec, tense='will'))}",
              f"{score_one(run.pipeline, values, spec):.2%}", help=f"The model's score for {studio.plain(spec.target_column)}")
    explanation = explain_row(run.pipeline, rows, 0)
    st.plotly_chart(shap_waterfall_figure(explanation, title="Why this score", labels=studio.feature_labels(spec)),
                    key="what_if_waterfall")

# ----- batch -------------------------------------------------------------------------------------
st.subheader("Score a CSV of prospects")
score_csv_section(run.pipeline, spec, key="", threshold=studio.current_threshold(record).threshold)
