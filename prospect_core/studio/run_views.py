"""A trained run's views for a marketer: scores first, Explain's picker by prospect, the by-prospect view,
thresholds in business terms.

The numbers come from prospect_core.modelling.evaluation, the words from prospect_core.trainingset.wording.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from prospect_core.modelling import evaluation
from prospect_core.modelling.model import TrainingRun
from prospect_core.modelling.scoring import SCORE_COLUMN
from prospect_core.studio.runstore import choose_threshold
from prospect_core.studio.state import StudioRun
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


def by_prospect_view(run: TrainingRun) -> None:
    """Each prospect's highest test score against whether they ever reached the target."""
    result = evaluation.evaluate_by_prospect(y_true=run.y_test, y_score=run.y_score,
                                             prospect_ids=run.test_ids["domain_userid"])
    st.subheader("By prospect")
    st.caption(
        f"Each of the {result.prospects:,} test prospects by their highest score, against whether they ever "
        f"{plain(target_wording(run.spec).split(' within ')[0])} ({counted(result.converted_prospects, 'prospect')} did)."
    )
    left, right = st.columns([1, 2])
    left.metric("ROC AUC by prospect", format_metric(result.roc_auc),
                help="How well prospects' best scores rank those who reached the target above those who did not")
    caught = result.caught.assign(
        top=lambda t: (t["top_share"] * 100).map(lambda share: f"top {share:g} %"),
        caught=lambda t: (t["caught_share"] * 100).map(lambda share: f"{share:.0f} %"),
    )[["top", "prospects_flagged", "converted_caught", "caught", "lift"]].rename(columns={
        "top": "prospects flagged (by best score)", "prospects_flagged": "prospects",
        "converted_caught": "reaching the target", "caught": "share of those caught", "lift": "lift",
    })
    right.dataframe(caught.round(2), hide_index=True)


def threshold_in_business_terms(record: StudioRun, key: str) -> evaluation.ProfitCurve | None:
    """Value, cost and traffic in; the profit curve, the best threshold and its sentence out.

    The recommended threshold goes into the run's model card at a click (runstore.choose_threshold), stored and downloaded.
    """
    run = record.run
    st.subheader("Thresholds in business terms")
    left, middle, right = st.columns(3)
    value = left.number_input(evaluation.VALUE_LABEL, 0.0, 1e9, 100.0, step=10.0, key=f"{key}_value",
                              help="What one prospect reaching the target is worth to you")
    cost = middle.number_input(evaluation.COST_LABEL, 0.0, 1e9, 5.0, step=1.0, key=f"{key}_cost",
                               help="What acting on one flagged prospect costs (a call, an offer)")
    traffic = right.number_input(f"{evaluation.TRAFFIC_LABEL} (0 = from the test set)", 0, 10**9, 0, key=f"{key}_traffic",
                                 help="How many prediction points (events of cohort prospects) a day to scale to")
    ids = run.test_ids  # built anew on every read
    try:
        curve = evaluation.profit_by_threshold(
            y_true=run.y_test, y_score=run.y_score, prospect_ids=ids["domain_userid"],
            timestamps=ids["derived_tstamp"], value_per_conversion=value, cost_per_flag=cost,
            moments_per_day=float(traffic) or None,
        )
    except (ValueError, TypeError) as error:
        st.error(plain(error), icon=":material/error:")
        return None
    from prospect_core.modelling.figures import profit_figure  # plotly figures: only when this section draws

    st.plotly_chart(profit_figure(curve), key=f"{key}_profit")
    st.markdown(evaluation.threshold_sentence(curve, conversions="positive moments"))  # the share is of moments, not of prospects
    # Into the card only at a click: the card is signed and stored, and re-saving on every value typed
    # would make each keystroke a run-store write of seconds.
    recommended = evaluation.recommended_threshold_section(curve)
    if record.threshold == recommended:
        st.caption("The model card names this threshold (as downloaded and as stored); the scoring service "
                   "uses it as its default.")
    elif st.button("Use this threshold in the model card", key=f"{key}_use", icon=":material/check:",
                   help="The card, signed again, names this threshold with its value and cost, and the scoring "
                   "service uses it as its default. A saved run is saved again with the new card."):
        with st.spinner("Signing the card again and saving the run…"):
            choose_threshold(record, recommended)
        st.rerun()
    return curve

