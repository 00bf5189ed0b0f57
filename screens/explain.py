"""Explain: SHAP importance and beeswarm, one prospect's waterfall, one feature's dependence."""

import streamlit as st

from prospect_core import studio
from prospect_core.modelling.explain import explain_row
from prospect_core.modelling.figures import (
    shap_bar_figure,
    shap_beeswarm_figure,
    shap_dependence_figure,
    shap_waterfall_figure,
)

st.title("Explain")
record = studio.selected_run("Model")
if record is None:
    st.stop()
run = record.run
if not studio.ensure_test_rows(record):  # a restored run: its test rows come from a rebuilt training set
    st.stop()
sample = studio.shap_sample(record)
if len(sample.rows) < run.n_test:
    st.info(
        f"SHAP values are computed for a fixed-seed sample of {len(sample.rows):,} of the {run.n_test:,} test rows: "
        f"the cap is {studio.shap_max_rows():,} rows (PROSPECT_SHAP_MAX_ROWS or `shap_max_rows` in secrets). "
        "One prospect's explanation below works for any test row.", icon=":material/filter_alt:",
    )
st.caption(
    f"SHAP values (log-odds) of {len(sample.rows):,} of {run.n_test:,} test rows, sampled with a fixed seed; "
    f"computed in {sample.seconds:.1f} s. One-hot columns are summed back to their feature."
)

labels = studio.feature_labels(run.spec)
left, right = st.columns(2)
left.plotly_chart(shap_bar_figure(sample, labels=labels), key="shap_bar")
right.plotly_chart(shap_beeswarm_figure(sample, labels=labels), key="shap_beeswarm")

st.subheader("One prospect")
row = studio.pick_moment(run, key=f"explain_{record.number}")
st.plotly_chart(shap_waterfall_figure(explain_row(run.pipeline, run.X_test, row), labels=labels), key="waterfall")

st.subheader("One feature")
feature = st.selectbox("Feature", sample.features, index=studio.top_feature_index(sample), key="dependence_feature",
                       format_func=lambda column: labels.get(column, column))
st.plotly_chart(shap_dependence_figure(sample, feature, labels=labels), key="dependence")
st.page_link("screens/score_and_export.py", label="Next: score and export", icon=":material/arrow_forward:")
