"""Evaluate: metrics, ROC and PR, confusion matrix at a chosen threshold, lift, calibration, importance."""

import streamlit as st

from prospect_core import studio
from prospect_core.trainingset.wording import counted, target_wording

st.title("Evaluate")
record = studio.selected_run("Model")
if record is None:
    st.stop()
run, evaluation = record.run, record.run.evaluation
parts = studio.evaluate_parts(record)  # computed on the first visit: a threshold move redraws, never recomputes
prospects = parts.positive_prospects
st.caption(
    f"{run.n_test:,} test moments of {counted(parts.test_prospects, 'prospect')} "
    f"({studio.split_name(run.split).lower()} split): {evaluation.positives:,} positive moments from "
    f"{counted(prospects, 'prospect')}. Target: prospects who {studio.plain(target_wording(run.spec))}."
)
st.caption(studio.plain(studio.base_rate_note(run)))
studio.show_build_notes(record)  # e.g. the columns an events export lacked: why some features are flat
if prospects < studio.FEW_TEST_POSITIVE_PROSPECTS:
    st.warning(
        f"The test rows' positives come from only {counted(prospects, 'prospect')}: "
        "these metrics say little about new prospects. Build a set from a wider cohort (Data & target) and "
        "train again.", icon=":material/error:",
    )
if run.spec.is_sampled:
    st.info(run.spec.sampling_description, icon=":material/filter_alt:")

studio.headline_metrics(record, studio.built_set())
cols = st.columns(3)
for col, (name, value, help_text) in zip(cols, [
    ("Brier", evaluation.brier, "Mean squared error of the probabilities; lower is better"),
    ("Accuracy @0.5", evaluation.accuracy, "Misleading when positives are rare"),
    ("Best F1", evaluation.best_f1, f"At threshold {evaluation.best_f1_threshold:.3f}"),
]):
    col.metric(name, f"{value:.3f}", help=help_text)

left, right = st.columns(2)
left.plotly_chart(parts.figures["roc"], key="roc")
right.plotly_chart(parts.figures["pr"], key="pr")

studio.threshold_view(record)  # a fragment: a threshold change redraws only that part
studio.by_prospect_view(record)

st.subheader("Ranking and calibration")
for pair in (("lift", "gains"), ("calibration", "importance")):
    for column, name in zip(st.columns(2), pair):
        column.plotly_chart(parts.figures[name], key=name)
st.page_link("screens/explain.py", label="Next: explain with SHAP", icon=":material/arrow_forward:")
