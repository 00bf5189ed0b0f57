"""What issue 15 adds to the pages: on-screen words for spec errors, runs told apart, scores first,
the Explain picker by prospect, the by-prospect view and thresholds in business terms.

Pages call these; the numbers come from prospect_core.modelling.evaluation, the words from prospect_core.trainingset.wording.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import streamlit as st

from prospect_core.modelling import evaluation
from prospect_core.infra.errors import UserError
from prospect_core.modelling.scoring import SCORE_COLUMN
from prospect_core.trainingset.spec import TrainingSpec, spec_from_json as parse_spec_json
from prospect_core.events.target_explorer import normalize_ladder, render_target_explorer_sql
from prospect_core.studio.runstore import choose_threshold
from prospect_core.studio.state import StudioRun
from prospect_core.trainingset.wording import counted, day_name, format_metric, plain, target_wording

# The spec's field names as the Data & target page labels them: errors speak the page's words.
FIELD_LABELS = {
    "cohort_first_seen_from_days": "First seen from",
    "cohort_first_seen_to_days": "First seen until",
    "short_window_days": "Short window",
    "long_window_days": "Long window",
    "target_min_count": "At least this many times",
    "target_window_minutes": "Within the next",
    "target_event": "Target event",
    "user_sample_percent": "Sample prospects (%)",
    "max_negatives_per_positive": "Max negatives per positive",
    "excluded_events": "Excluded events",
    "events_table": "Events table",
    "app_ids": "Apps that define the cohort",
    "as_of": "As-of date",
}
_FIELD_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, FIELD_LABELS), key=len, reverse=True)) + r")\b")

FLAG_COLUMN = "flagged"


def in_screen_words(message: str) -> str:
    """A spec error with each field name replaced by its on-screen label, in quotes."""
    return _FIELD_PATTERN.sub(lambda match: f"“{FIELD_LABELS[match.group(1)]}”", message)


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


def threshold_in_business_terms(record: StudioRun, key: str) -> evaluation.ProfitCurve | None:
    """Value, cost and traffic in; the profit curve, the best threshold and its sentence out.

    The recommended threshold goes into the run's model card (runstore.choose_threshold), stored and downloaded.
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
    choose_threshold(record, evaluation.recommended_threshold_section(curve))
    return curve


# ----- target explorer ---------------------------------------------------------------------------
EXPLORE = "explore_targets"  # session key: the explorer was asked for (it then follows the spec)
PICKED_TARGET = "picked_target"  # session key: (event, window minutes) picked in the explorer, applied next run
TARGET_WIDGETS = ("target_pick", "target_other", "window_amount", "window_unit")


def apply_picked_target(spec: TrainingSpec) -> TrainingSpec:
    """Before the target widgets draw: a target picked in the explorer becomes the spec's, and the
    widgets start again from it (a widget's value cannot change once it is drawn)."""
    picked = st.session_state.pop(PICKED_TARGET, None)
    if picked is None:
        return spec
    event, minutes = picked
    try:
        spec = dataclasses.replace(spec, target_event=event, target_window_minutes=int(minutes))
    except UserError:
        return spec
    _show_in_widgets(spec, TARGET_WIDGETS)
    return spec


def _widget_values(spec: TrainingSpec) -> dict[str, object]:
    """What each Data & target widget shows for `spec` (as the page draws it from a spec)."""
    in_hours = spec.target_window_minutes % 60 == 0
    return {
        "as_of": spec.as_of, "cohort_from": spec.cohort_first_seen_from_days, "cohort_to": spec.cohort_first_seen_to_days,
        "app_ids": list(spec.app_ids), "user_sample_percent": spec.user_sample_percent,
        "max_negatives": spec.max_negatives_per_positive or 0, "short_days": spec.short_window_days,
        "long_days": spec.long_window_days, "excluded": list(spec.excluded_events), "min_count": spec.target_min_count,
        "target_pick": spec.target_event, "target_other": spec.target_event,
        "window_amount": spec.target_window_minutes // 60 if in_hours else spec.target_window_minutes,
        "window_unit": "hours" if in_hours else "minutes",
    }


def _show_in_widgets(spec: TrainingSpec, keys: tuple[str, ...]) -> None:
    """Set the widgets' own values (before they draw): a widget keeps what the browser shows unless
    its state is set, whatever default the page passes."""
    values = _widget_values(spec)
    for key in keys:
        st.session_state[key] = values[key]


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


# ----- settings to share and undo ----------------------------------------------------------------
SPEC_PARAM = "spec"  # the query parameter holding the spec's JSON (as the CLI's --spec file)
URL_READ = "spec_url_read"  # session key: this session has read its URL's spec
LOADED_SPEC_ID = "loaded_spec_id"  # session key: the spec upload already applied
# The widgets of Data & target that start from the spec: dropped so they start again from a new one.
SPEC_WIDGETS = ("as_of", "cohort_from", "cohort_to", "app_ids", "user_sample_percent", "max_negatives", "short_days",
                "long_days", "excluded", "min_count", *TARGET_WIDGETS)


def spec_from_json(text: str | bytes, what: str) -> TrainingSpec:
    """A spec from JSON of TrainingSpec fields (the CLI's --spec format); UserError naming what is wrong."""
    try:
        return parse_spec_json(text, what=what)
    except UserError as error:
        raise UserError(in_screen_words(str(error))) from None


def spec_json(spec: TrainingSpec) -> str:
    return json.dumps(spec.to_dict(), separators=(",", ":"))


def _start_from(spec: TrainingSpec) -> None:
    from prospect_core.studio.state import set_spec  # state.py imports this module

    set_spec(spec)
    _show_in_widgets(spec, SPEC_WIDGETS)


def spec_from_url() -> None:
    """On a session's first run, a spec in the URL becomes the session's; a bad one is said, and the
    defaults used. Call before the spec's widgets draw."""
    if st.session_state.get(URL_READ):
        return
    st.session_state[URL_READ] = True
    text = st.query_params.get(SPEC_PARAM)
    if not text:
        return
    try:
        _start_from(spec_from_json(text, "The spec in this link"))
    except UserError as error:
        _start_from(TrainingSpec())
        st.warning(f"{plain(error)}. Starting from the default settings instead.", icon=":material/link_off:")


def share_spec(spec: TrainingSpec) -> None:
    """Keep the URL on the current spec (a link reopens it), and offer Reset, Download and Load."""
    if st.query_params.get(SPEC_PARAM) != spec_json(spec):
        st.query_params[SPEC_PARAM] = spec_json(spec)
    reset, download, load = st.columns([1, 1, 2])
    reset.button("Reset to defaults", icon=":material/restart_alt:", key="reset_spec",
                 on_click=_start_from, args=(TrainingSpec(),),
                 help="Every setting on this page back to its default (the data source stays).")
    download.download_button("Download spec", json.dumps(spec.to_dict(), indent=2) + "\n", file_name="spec.json",
                             mime="application/json", icon=":material/download:", key="download_spec",
                             help="The same JSON as the CLI's --spec: `python -m prospect_core dataset --spec spec.json`")
    upload = load.file_uploader("Load spec (.json)", type=["json"], key="load_spec",
                                help="A spec downloaded here or written by `python -m prospect_core spec --out FILE`")
    if upload is not None and upload.file_id != st.session_state.get(LOADED_SPEC_ID):
        st.session_state[LOADED_SPEC_ID] = upload.file_id
        try:
            _start_from(spec_from_json(upload.getvalue(), f"The spec file {upload.name[:60]}"))
        except UserError as error:
            st.error(f"{plain(error)}. The settings are unchanged.", icon=":material/error:")
        else:
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
