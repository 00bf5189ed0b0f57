"""Data & target's "Which targets are learnable" section: the target explorer, before any training."""

from __future__ import annotations

import streamlit as st

from prospect_core.events.target_explorer import normalize_ladder, render_target_explorer_sql
from prospect_core.infra.errors import UserError
from prospect_core.studio.data import open_warehouse, run_query
from prospect_core.studio.keys import EXPLORE, PICKED_TARGET
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.wording import plain


def target_explorer_section(source: str, spec: TrainingSpec) -> None:
    """Positive moments, prospects and rate for a ladder of windows and the most frequent events:
    one cached query over the cohort; a click on a point or a row sets the target."""
    from prospect_core.modelling.figures import target_explorer_figure  # plotly: only when drawn

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
