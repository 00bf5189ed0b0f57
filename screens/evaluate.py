"""Evaluate: metrics, ROC and PR, confusion matrix at a chosen threshold, lift, calibration, importance."""

import streamlit as st

from prospect_core import studio
from prospect_core.modelling.evaluation import calibration_bins, confusion_at, lift_table
from prospect_core.modelling.explain import gain_importance
from prospect_core.trainingset.wording import counted, format_metric, target_wording
from prospect_core.modelling.figures import (
    calibration_figure,
    confusion_figure,
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

cols = st.columns(6)
for col, (name, value, help_text) in zip(cols, [
    ("ROC AUC", evaluation.roc_auc, "How well scores rank positives above negatives; 0.5 = chance"),
    ("PR AUC", evaluation.pr_auc, "Average precision; compare with the base rate"),
    ("Log loss", evaluation.log_loss, "Lower is better"),
    ("Brier", evaluation.brier, "Mean squared error of the probabilities; lower is better"),
    ("Accuracy @0.5", evaluation.accuracy, "Misleading when positives are rare"),
    ("Best F1", evaluation.best_f1, f"At threshold {evaluation.best_f1_threshold:.3f}"),
]):
    col.metric(name, f"{value:.3f}", help=help_text)

left, right = st.columns(2)
short_label = f"Run {record.number}"  # the full label is in the picker above; a legend clips it
left.plotly_chart(roc_figure({short_label: evaluation}), key="roc")
right.plotly_chart(pr_figure({short_label: evaluation}, base_rate=evaluation.base_rate), key="pr")


@st.fragment
def threshold_section() -> None:
    """Only this part reruns when the slider moves."""
    st.subheader("At a threshold")
    threshold = st.slider(
        "Score threshold: moments scoring at or above it are flagged", 0.0, 1.0,
        float(round(evaluation.best_f1_threshold, 2)), 0.01, key=f"threshold_{record.number}",
        help=f"Starts at the threshold that maximises F1 ({evaluation.best_f1_threshold:.3f}).",
    )
    confusion = confusion_at(y_true=run.y_test, y_score=run.y_score, threshold=threshold)
    chart, numbers = st.columns([3, 2])
    outcomes = (target_wording(run.spec, reached=False), target_wording(run.spec))
    chart.plotly_chart(confusion_figure(confusion, outcomes=outcomes), key="confusion")
    reached = studio.plain(target_wording(run.spec))
    numbers.metric("Precision", format_metric(confusion.precision),
                   help=f"Of the flagged moments, the share whose prospect then {reached} (— when none is flagged)")
    numbers.metric("Recall", f"{confusion.recall:.3f}", help="Of the positive moments, the share flagged")
    numbers.metric("Flagged", f"{confusion.predicted_positive_share:.2%}", help="Share of test moments flagged")
    numbers.metric("False positive rate", f"{confusion.false_positive_rate:.3f}")


threshold_section()
studio.threshold_in_business_terms(record, key=f"profit_{record.number}")
studio.by_prospect_view(run)

st.subheader("Ranking and calibration")
table = lift_table(y_true=run.y_test, y_score=run.y_score)
left, right = st.columns(2)
left.plotly_chart(lift_figure(table), key="lift")
right.plotly_chart(gains_figure(table), key="gains")
left, right = st.columns(2)
left.plotly_chart(calibration_figure(calibration_bins(y_true=run.y_test, y_score=run.y_score, strategy="quantile")), key="calibration")
right.plotly_chart(importance_figure(gain_importance(run.pipeline), labels=studio.feature_labels(run.spec)),
                   key="importance")
st.page_link("screens/explain.py", label="Next: explain with SHAP", icon=":material/arrow_forward:")
