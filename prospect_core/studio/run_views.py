"""A trained run's views for a marketer: scores first, Explain's picker by prospect, Evaluate's parts computed
once per run, the by-prospect view, the one threshold with its profit in prospects.

The numbers come from prospect_core.modelling.evaluation, the words from prospect_core.trainingset.wording.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from prospect_core.modelling import evaluation
from prospect_core.modelling.explain import model_importance
from prospect_core.modelling.model import TrainingRun
from prospect_core.modelling.scoring import SCORE_COLUMN
from prospect_core.studio.runstore import choose_threshold, current_threshold, default_threshold, outcomes, threshold_saving
from prospect_core.studio.labels import feature_labels
from prospect_core.studio.state import EvaluateParts, StudioRun
from prospect_core.trainingset.wording import counted, format_metric, plain, target_wording

FLAG_COLUMN = "flagged"


def scores_first(scored: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """Scored rows with the score (and the flag at `threshold`) first, highest score first."""
    frame = scored.copy()
    first = [SCORE_COLUMN]
    if threshold is not None:
        frame[FLAG_COLUMN] = frame[SCORE_COLUMN] >= threshold
        first.append(FLAG_COLUMN)
    frame = frame[first + [column for column in frame.columns if column not in first]]
    return frame.sort_values(SCORE_COLUMN, ascending=False, kind="stable").reset_index(drop=True)


def pick_moment(run: TrainingRun, key: str) -> int:
    """Explain's picker: a prospect (one entry each, best score first), then one of their moments.

    Returns the moment's row in the test set.
    """
    spec, ids = run.spec, run.test_ids  # test_ids is built anew on every read
    prospects = evaluation.prospect_choices(
        y_true=run.y_test, y_score=run.y_score, prospect_ids=ids["domain_userid"],
        reached=target_wording(spec), not_reached=target_wording(spec, tense="never"),
    ).head(500)
    labels = dict(zip(prospects["domain_userid"], prospects["label"]))
    prospect = st.selectbox("Prospect (highest best score first)", list(labels), format_func=labels.get,
                            key=f"{key}_prospect")
    moments = evaluation.prospect_moments(
        y_true=run.y_test, y_score=run.y_score, test_ids=ids, prospect=prospect,
        reached=target_wording(spec), not_reached=target_wording(spec, reached=False),
    )
    by_position = dict(zip(moments["position"].astype(int), moments["label"]))
    highest = int(moments.loc[moments["score"].idxmax(), "position"])
    options = list(by_position)
    return st.selectbox(f"Moment ({counted(len(options), 'moment')} of this prospect, in time order)", options,
                        index=options.index(highest), format_func=by_position.get, key=f"{key}_moment_{prospect}")


def evaluate_parts(record: StudioRun) -> EvaluateParts:
    """Evaluate's figures and counts that do not move with the threshold, computed on the first visit and
    kept with the run. At 1M events they cost ~1.5 s of work over the test rows and of plotly's, which
    every threshold move would pay again: AppTest, and a browser after any other widget, rerun the page."""
    if record.evaluate_parts is None:
        record.evaluate_parts = _evaluate_parts(record)
    return record.evaluate_parts


def _evaluate_parts(record: StudioRun) -> EvaluateParts:
    from prospect_core.modelling import figures  # plotly: only when a run is drawn

    run, result = record.run, record.run.evaluation
    y_true, y_score = run.y_test, run.y_score
    by_prospect = evaluation.evaluate_by_prospect(y_true=y_true, y_score=y_score, prospect_ids=run.test_ids["domain_userid"])
    lift = evaluation.lift_table(y_true=y_true, y_score=y_score)
    calibration = evaluation.calibration_bins(y_true=y_true, y_score=y_score, strategy="quantile")
    importance = model_importance(run.pipeline)
    short_label = f"Run {record.number}"  # the full label is in the picker above; a legend clips it
    return EvaluateParts(
        test_prospects=by_prospect.prospects, positive_prospects=by_prospect.converted_prospects,
        prospect_roc_auc=by_prospect.roc_auc, caught=_caught_table(by_prospect),
        figures={
            "roc": figures.roc_figure({short_label: result}),
            "pr": figures.pr_figure({short_label: result}, base_rate=result.base_rate),
            "lift": figures.lift_figure(lift),
            "gains": figures.gains_figure(lift),
            "calibration": figures.calibration_figure(calibration),
            "importance": figures.importance_figure(importance.table, value=importance.value, title=importance.title,
                                                    x_title=importance.x_title, labels=feature_labels(run.spec)),
        },
    )


def _caught_table(result: evaluation.ProspectEvaluation) -> pd.DataFrame:
    caught = result.caught.assign(
        top=lambda t: (t["top_share"] * 100).map(lambda share: f"top {share:g} %"),
        caught=lambda t: (t["caught_share"] * 100).map(lambda share: f"{share:.0f} %"),
    )[["top", "prospects_flagged", "converted_caught", "caught", "lift"]].rename(columns={
        "top": "prospects flagged (by best score)", "prospects_flagged": "prospects",
        "converted_caught": "reaching the target", "caught": "share of those caught", "lift": "lift",
    })
    return caught.round(2)


def by_prospect_view(record: StudioRun) -> None:
    """Each prospect's highest test score against whether they ever reached the target."""
    parts = evaluate_parts(record)
    st.subheader("By prospect")
    st.caption(
        f"Each of the {parts.test_prospects:,} test prospects by their highest score, against whether they ever "
        f"{plain(target_wording(record.run.spec).split(' within ')[0])} "
        f"({counted(parts.positive_prospects, 'prospect')} did)."
    )
    left, right = st.columns([1, 2])
    left.metric("ROC AUC by prospect", format_metric(parts.prospect_roc_auc),
                help="How well prospects' best scores rank those who reached the target above those who did not")
    right.dataframe(parts.caught, hide_index=True)


def _threshold_keys(record: StudioRun) -> dict[str, str]:
    number = record.number
    return {"threshold": f"threshold_{number}", "value": f"profit_{number}_value", "cost": f"profit_{number}_cost",
            "traffic": f"profit_{number}_traffic"}


def _widget_values(settings: evaluation.ThresholdSettings) -> dict[str, float]:
    return {"threshold": settings.threshold, "value": settings.value_per_conversion, "cost": settings.cost_per_flag,
            "traffic": float(settings.prospects_per_day or 0.0)}


def _set_threshold(record: StudioRun, threshold: float) -> None:
    """A button's callback: the slider (and so the run's one threshold) moves to `threshold`."""
    st.session_state[_threshold_keys(record)["threshold"]] = threshold


@st.fragment
def threshold_view(record: StudioRun) -> None:
    """The run's one threshold: the slider, its Best F1 and Best profit buttons, the confusion matrix
    and the profit view all read and set `record.threshold`, which the card and the run store keep.

    A fragment: moving the slider reruns only this part of the page. The widgets start from the run's
    settings whenever Streamlit has forgotten them (another page, a reload), never from defaults.
    """
    run = record.run
    widget_keys = _threshold_keys(record)
    settings = current_threshold(record)
    for name, value in _widget_values(settings).items():
        st.session_state.setdefault(widget_keys[name], value)
    prospects = outcomes(record)

    st.subheader("At a threshold")
    st.caption("One threshold for everything: the confusion matrix, the profit below, the model card and the "
               "scoring service's default.")
    left, middle, right = st.columns(3)
    value = left.number_input(evaluation.VALUE_LABEL, 0.0, 1e9, step=10.0, key=widget_keys["value"],
                              help="What one prospect reaching the target is worth to you")
    cost = middle.number_input(evaluation.COST_LABEL, 0.0, 1e9, step=1.0, key=widget_keys["cost"],
                               help="What acting on one flagged prospect costs (a call, an offer); once per prospect")
    traffic = right.number_input(f"{evaluation.TRAFFIC_LABEL} (0 = from the test set)", 0.0, 1e9, step=100.0,
                                 key=widget_keys["traffic"], format="%.0f",
                                 help="How many prospects are scored a day, to scale the profit to")
    try:
        curve = evaluation.profit_curve(prospects, value_per_conversion=value, cost_per_flag=cost,
                                        prospects_per_day=float(traffic) or None)
    except (ValueError, TypeError) as error:
        st.error(plain(error), icon=":material/error:")
        curve = None
    best_f1 = default_threshold(run).threshold
    best_profit = None if curve is None or curve.best is None else curve.best.threshold
    slider, f1_button, profit_button = st.columns([4, 1, 1], vertical_alignment="bottom")
    threshold = slider.slider("Score threshold: a prospect is flagged when a moment scores at or above it",
                              0.0, 1.0, step=0.001, format="%.4f", key=widget_keys["threshold"])
    f1_button.button("Best F1", key=f"{widget_keys['threshold']}_best_f1", on_click=_set_threshold, args=(record, best_f1),
                     help=f"The threshold of highest F1 on the test moments ({best_f1:.4f})", width="stretch")
    profit_button.button("Best profit", key=f"{widget_keys['threshold']}_best_profit", on_click=_set_threshold,
                         args=(record, best_profit), disabled=best_profit is None, width="stretch",
                         help="The threshold of highest expected profit at this value and cost" if best_profit is not None
                         else "No threshold pays at this value and cost")
    if curve is not None:
        choose_threshold(record, evaluation.ThresholdSettings(
            threshold=float(threshold), value_per_conversion=float(value), cost_per_flag=float(cost),
            prospects_per_day=float(traffic) or None))

    confusion = evaluation.confusion_at(y_true=run.y_test, y_score=run.y_score, threshold=threshold)
    from prospect_core.modelling.figures import confusion_figure, profit_figure  # plotly: only when this draws

    chart, numbers = st.columns([3, 2])
    outcomes_words = (target_wording(run.spec, reached=False), target_wording(run.spec))
    chart.plotly_chart(confusion_figure(confusion, outcomes=outcomes_words), key=f"confusion_{record.number}")
    reached = plain(target_wording(run.spec))
    numbers.metric("Precision", format_metric(confusion.precision),
                   help=f"Of the flagged moments, the share whose prospect then {reached} (— when none is flagged)")
    numbers.metric("Recall", f"{confusion.recall:.3f}", help="Of the positive moments, the share flagged")
    numbers.metric("Flagged", f"{confusion.predicted_positive_share:.2%}", help="Share of test moments flagged")
    numbers.metric("False positive rate", f"{confusion.false_positive_rate:.3f}")

    st.subheader("Thresholds in business terms")
    if curve is None:
        return
    st.plotly_chart(profit_figure(curve, chosen=threshold), key=f"profit_{record.number}_profit")
    st.markdown(evaluation.threshold_sentence(curve.at(threshold)))  # numbers and fixed words only
    told = f"{plain(evaluation.best_profit_sentence(curve))} Traffic: {plain(curve.traffic_source)}. "
    if threshold_saving(record):
        _saving_note(record, told)
    else:
        st.caption(told + KEPT_NOTE)


KEPT_NOTE = "The model card and the run store keep this threshold with its value and cost."


@st.fragment(run_every=1.0)
def _saving_note(record: StudioRun, told: str) -> None:
    """While the run is re-saved in the background, a note that looks again every second, so it never
    says "Saving…" after the save is done (drawn only while saving, so it stops polling then)."""
    st.caption(told + ("Saving the threshold with the run…" if threshold_saving(record) else KEPT_NOTE))
