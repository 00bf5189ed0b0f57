"""Score & export: download the model and its card, score a what-if prospect or a CSV of prospects."""

import streamlit as st

from prospect_core import studio
from prospect_core.errors import UserError
from prospect_core.explain import explain_row
from prospect_core.features import FEATURES
from prospect_core.figures import shap_waterfall_figure
from prospect_core.scoring import category_options, csv_bytes, prepare_prospect, score_csv, typical_prospect

studio.init_state()
st.title("Score & export")
record = studio.selected_run("Model")
if record is None:
    st.stop()
run, spec = record.run, record.run.spec

# ----- export ------------------------------------------------------------------------------------
st.subheader("Download")
export = studio.export_bundle(record)
left, right, _ = st.columns([1, 1, 2])
left.download_button(
    "Download model (.joblib)", export.artifact, file_name=export.artifact_name,
    mime="application/octet-stream", type="primary", key="download_model",
)
right.download_button(
    "Download model card", export.card_json, file_name=export.card_name, mime="application/json", key="download_card",
)
st.caption(
    "The joblib file is a scikit-learn Pipeline: `joblib.load(path).predict_proba(rows)[:, 1]` with scikit-learn, "
    "xgboost and pandas installed. Loading a joblib file runs code from it: load only files you trust. "
    f"SHA-256 {export.sha256[:16]}…"
)
with st.expander("Model card"):
    st.markdown(export.card_markdown)

# ----- what-if -----------------------------------------------------------------------------------
st.subheader("What if: score one prospect")
st.caption("Starts at the median prospect of the test set; change any value and press **Score prospect**.")
defaults = typical_prospect(run.X_test, spec)
categories = category_options(run.X_test, spec)
WINDOW_TITLES = {"event": "The event", "short": f"Last {spec.short_window_days} days", "long": f"Last {spec.long_window_days} days"}
with st.form("what_if"):
    values = {}
    for column, (window, title) in zip(st.columns(3), WINDOW_TITLES.items()):
        column.markdown(f"**{title}**")
        for feature in (f for f in FEATURES if f.window == window):
            name = feature.column(spec)
            if feature.kind == "numeric":
                values[name] = column.number_input(name, 0, 1_000_000, int(defaults[name]), help=feature.description)
            elif feature.kind == "boolean":
                values[name] = column.toggle(name, bool(defaults[name]), help=feature.description)
            else:
                options = categories[name] or [defaults[name]]
                values[name] = column.selectbox(
                    name, options, index=options.index(defaults[name]), help=feature.description,
                    format_func=lambda value: "(none)" if value == "" else str(value),
                )
    scored = st.form_submit_button("Score prospect", type="primary")
try:
    rows = prepare_prospect(values, spec)
except UserError as error:
    st.error(str(error), icon=":material/error:")
else:
    explanation = explain_row(run.pipeline, rows, 0)
    st.metric(f"Probability of {spec.target_column}", f"{explanation.score:.2%}")
    st.plotly_chart(shap_waterfall_figure(explanation, title="Why this score"), key="what_if_waterfall")

# ----- batch -------------------------------------------------------------------------------------
st.subheader("Score a CSV of prospects")
st.caption(f"One prospect a row, with a column for each feature: {', '.join(f.column(spec) for f in FEATURES)}.")
upload = st.file_uploader("Feature rows (CSV)", type=["csv"], key="batch_upload")
if upload is not None:
    try:
        result = score_csv(run.pipeline, upload.getvalue(), spec)
    except UserError as error:
        st.error(str(error), icon=":material/error:")
    else:
        st.dataframe(result.head(500), hide_index=True)
        st.download_button(
            "Download scores (.csv)", csv_bytes(result), file_name="scores.csv", mime="text/csv", key="download_scores"
        )
