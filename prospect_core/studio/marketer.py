"""What issue 15 adds to the pages: runs told apart, scores first,
the Explain picker by prospect, the by-prospect view and thresholds in business terms.

Pages call these; the numbers come from prospect_core.modelling.evaluation, the words from prospect_core.trainingset.wording.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from prospect_core.modelling import evaluation
from prospect_core.infra.errors import UserError
from prospect_core.modelling.scoring import SCORE_COLUMN
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.events.target_explorer import normalize_ladder, render_target_explorer_sql
from prospect_core.trainingset.wording import counted, day_name, format_metric, plain, target_wording, window_label

SPLIT_NAMES = {"by_user": "By prospect", "random": "Random", "out_of_time": "Out of time"}
FLAG_COLUMN = "flagged"


def split_name(split: str) -> str:
    return SPLIT_NAMES.get(split, split)


def run_description(number: int, source: str, spec: TrainingSpec, split: str) -> str:
    """`Run 2 · Demo events · submit_form ×1 in 1 h · history 7/30 d · By prospect`: runs told apart."""
    target = f"{spec.target_event} ×{spec.target_min_count} in {window_label(spec.target_window_minutes)}"
    return (f"Run {number} · {source} · {target} · history {spec.short_window_days}/{spec.long_window_days} d"
            f" · {split_name(split)}")


def scores_first(scored: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """Scored rows with the score (and the flag at `threshold`) first, highest score first."""
    frame = scored.copy()
    first = [SCORE_COLUMN]
    if threshold is not None:
        frame[FLAG_COLUMN] = frame[SCORE_COLUMN] >= threshold
        first.append(FLAG_COLUMN)
    frame = frame[first + [column for column in frame.columns if column not in first]]
    return frame.sort_values(SCORE_COLUMN, ascending=False, kind="stable").reset_index(drop=True)


def pick_moment(run, key: str) -> int:
    """Explain's picker: a prospect (one entry each, best score first), then one of their moments.

    Returns the moment's row in the test set.
    """
    spec, ids = run.spec, run.test_ids  # test_ids is built anew on every read
    prospects = evaluation.prospect_choices(
        y_true=run.y_test, y_score=run.y_score, prospect_ids=ids["domain_userid"],
        reached=target_wording(spec), not_reached=f"never {target_wording(spec, reached=False).removeprefix('did not ')}",
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


def by_prospect_view(run) -> None:
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


def threshold_in_business_terms(run, record_extras: dict, key: str) -> evaluation.ProfitCurve | None:
    """Value, cost and traffic in; the profit curve, the best threshold and its sentence out.

    The chosen threshold is kept with the run (`record_extras["recommended"]`) for its model card.
    """
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
    if record_extras.get("recommended") != evaluation.recommended_threshold_section(curve):
        record_extras["recommended"] = evaluation.recommended_threshold_section(curve)
        record_extras.pop("export", None)  # the card names the threshold: export again with it
    return curve


# ----- target explorer ---------------------------------------------------------------------------
EXPLORE = "explore_targets"  # session key: the explorer was asked for (it then follows the spec)
PICKED_TARGET = "picked_target"  # session key: (event, window minutes) picked in the explorer, applied next run


def target_explorer_section(source: str, spec: TrainingSpec) -> None:
    """Positive moments, prospects and rate for a ladder of windows and the most frequent events:
    one cached query over the cohort; a click on a point or a row sets the target."""
    from prospect_core.modelling.figures import target_explorer_figure  # plotly: only when drawn
    from prospect_core.studio.data import open_warehouse, run_query

    st.subheader("Which targets are learnable")
    st.caption("Before any training: for your event and the most frequent ones, how many moments and prospects "
               "would be positive at each target window. Click a point or a row to use it as the target.")
    if not st.session_state.get(EXPLORE):
        if st.button("Explore targets", icon=":material/explore:", key="explore_button"):
            st.session_state[EXPLORE] = True
            st.rerun()
        return
    try:
        warehouse = open_warehouse(source, spec, automatic=True)
        rendered = render_target_explorer_sql(spec, warehouse.dialect)
        frame = run_query(source, warehouse, rendered.text, rendered.params, kind="explore", title="Exploring targets")
        if frame is None:  # still running (its progress is shown), or failed (said)
            return
        ladder = normalize_ladder(frame, spec)
    except UserError as error:
        st.error(plain(error), icon=":material/error:")
        return
    if ladder.table.empty:
        st.info("No prospect is in the cohort: nothing to explore.", icon=":material/info:")
        return
    table = ladder.display_table()
    chart, rows = st.columns([1, 1])
    clicked = chart.plotly_chart(target_explorer_figure(ladder), key="explorer_chart", on_select="rerun",
                                 selection_mode="points")
    chosen = rows.dataframe(table.drop(columns=["target_window_minutes"]), hide_index=True, height=320,
                            on_select="rerun", selection_mode="single-row", key="explorer_table",
                            column_config={"Rate": st.column_config.NumberColumn(format="percent")})
    points = (clicked or {}).get("selection", {}).get("points", []) if clicked else []
    picked = None
    if points and points[0].get("customdata"):
        event, minutes = points[0]["customdata"][:2]
        picked = (str(event), int(minutes))
    elif chosen and chosen.selection.rows:
        row = table.iloc[chosen.selection.rows[0]]
        picked = (str(row["Event"]), int(row["target_window_minutes"]))
    if picked is not None and picked != (spec.target_event, spec.target_window_minutes):
        st.session_state[PICKED_TARGET] = picked
        st.rerun()


def category_text(value) -> str:
    return "(none)" if value == "" else str(value)


def day_text(value) -> str:
    """ISO day of week as its name (`3` → Wednesday); anything else as it is."""
    try:
        return day_name(int(value))
    except (TypeError, ValueError):
        return str(value)


def feature_labels(spec: TrainingSpec) -> dict[str, str]:
    """Column name -> the registry's human label (`num_pricing_views_l30d` -> "Pricing page views, ...")."""
    from prospect_core.trainingset.features import FEATURES

    return {feature.column(spec): feature.description for feature in FEATURES}
