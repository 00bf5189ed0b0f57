"""Data & target's "Which targets are learnable" section: the target explorer, before any training."""

from __future__ import annotations

import threading

import pandas as pd
import streamlit as st

from prospect_core.events.target_explorer import TargetLadder, normalize_ladder, render_target_explorer_sql
from prospect_core.infra.errors import UserError
from prospect_core.infra.limits import over_time_message
from prospect_core.modelling.learnability import NOT_RECOMPUTABLE, estimate_targets
from prospect_core.studio.config import query_limits
from prospect_core.studio.data import open_warehouse, run_query
from prospect_core.studio.jobs import background_result
from prospect_core.studio.keys import EXPLORE, PICKED_TARGET
from prospect_core.studio.state import built_set
from prospect_core.trainingset.dataset import keeps_every_event, target_only_change
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.wording import plain

LEARNABILITY_TITLE = "Estimating how predictable each target is"
CAPPED = "How predictable each target is needs the whole training set; this one was sampled down to the row limit."
# Rate and the estimate right after the target, so a phone's width shows them before the counts.
SHOWN = ["Event", "Within", "Rate", "Predictable", "AUC range", "Positive prospects", "Positive moments"]


def target_explorer_section(source: str, spec: TrainingSpec) -> None:
    """Positive moments, prospects and rate for a ladder of windows and the most frequent events:
    one cached query over the cohort; with a built set, how predictable each one is. A click on a
    point or a row sets the target."""
    from prospect_core.modelling.figures import target_explorer_figure  # plotly: only when drawn

    st.subheader("Which targets are learnable")
    st.caption("Before any training: for your event and the most frequent ones, how many moments and prospects "
               "would be positive at each target window, and, once a training set is built, how well a quick model "
               "predicts each (ROC AUC: 0.5 is a coin toss, 1 is perfect). Click a point or a row to use it as the target.")
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
    table = ladder.display_table(_learnability(source, spec, ladder))
    clicked = st.plotly_chart(target_explorer_figure(ladder), key="explorer_chart", on_select="rerun",
                              selection_mode="points")
    chosen = st.dataframe(
        table, hide_index=True, height=320, on_select="rerun", selection_mode="single-row", key="explorer_table",
        column_order=[column for column in SHOWN if column in table.columns],
        column_config={
            "Within": st.column_config.TextColumn(width="small"),
            "Rate": st.column_config.NumberColumn(format="percent", help="Share of moments that reach the target"),
            "Predictable": st.column_config.ProgressColumn(
                "Predictable (ROC AUC)", min_value=0.5, max_value=1.0, format="%.2f",
                help="Mean ROC AUC of a quick model over folds of whole prospects: 0.5 is a coin toss, 1 is perfect"),
            "Positive prospects": st.column_config.NumberColumn(format="localized"),
            "Positive moments": st.column_config.NumberColumn(format="localized"),
            "AUC range": st.column_config.TextColumn(help="Lowest and highest ROC AUC over the folds: a wide range is an unsure estimate"),
        },
    )
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


def _learnability(source: str, spec: TrainingSpec, ladder: TargetLadder) -> pd.DataFrame | None:
    """The built set's learnability estimate of each explored target, in this session's background job;
    None (said why) with no set of these settings, or while it runs (its progress and Cancel shown)."""
    built = built_set()
    if built is None or built.source != source or not (built.spec == spec or target_only_change(built.spec, spec)):
        st.caption("Build the training set below to see how predictable each target is.")
        return None
    if built.capped or not keeps_every_event(built.spec):
        st.caption(CAPPED if built.capped else plain(NOT_RECOMPUTABLE))
        return None
    candidates = tuple(zip(ladder.table["event_name"], ladder.table["target_window_minutes"].astype(int).tolist()))
    stop = threading.Event()

    def cancel() -> bool:
        stop.set()
        return True

    seconds = query_limits().seconds
    return background_result(
        "learnability", LEARNABILITY_TITLE, (source, built.spec, built.summary, candidates),
        lambda: estimate_targets(built.frame, built.spec, candidates, stopped=stop.is_set),
        cancel=cancel, stop_after=(seconds, over_time_message(LEARNABILITY_TITLE, seconds)),
    )
