"""Evaluate: metrics, ROC and PR, confusion matrix at a chosen threshold, lift, calibration, importance."""

import streamlit as st

from prospect_core import studio
from prospect_core.modelling.evaluation import calibration_bins, lift_table
from prospect_core.modelling.explain import model_importance
from prospect_core.trainingset.wording import counted, target_wording
from prospect_core.modelling.figures import (
    calibration_figure,
    gains_figure,
    importance_figure,
    lift_figure,
    pr_figure,
    roc_figure,
)

st.title("Evaluate")
record = studio.selected_run("Model")
if record is None:
    st.stop()
run, evaluation = record.run, record.run.evaluation
prospects = run.positive_prospects_test
test_prospects = run.test_ids["domain_userid"].nunique()
st.caption(
    f"{run.n_test:,} test moments of {counted(test_prospects, 'prospect')} "
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
short_label = f"Run {record.number}"  # the full label is in the picker above; a legend clips it
left.plotly_chart(roc_figure({short_label: evaluation}), key="roc")
right.plotly_chart(pr_figure({short_label: evaluation}, base_rate=evaluation.base_rate), key="pr")


studio.threshold_view(record)  # a fragment: a threshold change redraws only that part
studio.by_prospect_view(run)

st.subheader("Ranking and calibration")
table = lift_table(y_true=run.y_test, y_score=run.y_score)
left, right = st.columns(2)
left.plotly_chart(lift_figure(table), key="lift")
right.plotly_chart(gains_figure(table), key="gains")
left, right = st.columns(2)
left.plotly_chart(calibration_figure(calibration_bins(y_true=run.y_test, y_score=run.y_score, strategy="quantile")), key="calibration")
importance = model_importance(run.pipeline)
right.plotly_chart(importance_figure(importance.table, value=importance.value, title=importance.title,
                                     x_title=importance.x_title, labels=studio.feature_labels(run.spec)),
                   key="importance")
st.page_link("screens/explain.py", label="Next: explain with SHAP", icon=":material/arrow_forward:")
