"""The spec form's words and widgets on Data & target: spec errors in the page's words, a target picked
in the explorer applied to the widgets, the spec shared by link, downloaded and loaded.

The views of a run are in run_views.py, the target explorer in target_explorer.py, words in labels.py.
"""

from __future__ import annotations

import dataclasses
import json
import re

import streamlit as st

from prospect_core.infra.errors import UserError
from prospect_core.studio.keys import LOADED_SPEC_ID, PICKED_TARGET, URL_READ
from prospect_core.trainingset.spec import TrainingSpec, spec_from_json as parse_spec_json
from prospect_core.trainingset.wording import plain

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



def in_screen_words(message: str) -> str:
    """A spec error with each field name replaced by its on-screen label, in quotes."""
    return _FIELD_PATTERN.sub(lambda match: f"“{FIELD_LABELS[match.group(1)]}”", message)


# ----- target explorer ---------------------------------------------------------------------------
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


# ----- settings to share and undo ----------------------------------------------------------------
SPEC_PARAM = "spec"  # the query parameter holding the spec's JSON (as the CLI's --spec file)
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
