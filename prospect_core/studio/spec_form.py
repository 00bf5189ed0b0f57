"""Data & target's spec form: widgets drawn from the field table, the spec read from them, and a spec
(loaded, shared by URL, or a target picked in the explorer) written back into them.

The table is prospect_core.trainingset.spec_fields; labels, keys, help and bounds come from it, and
errors name fields by its labels.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Callable, Iterable, Sequence

import streamlit as st

from prospect_core.infra.errors import UserError
from prospect_core.studio import keys
from prospect_core.studio.state import NEW_WORKSPACE_SPEC, current_spec, set_spec
from prospect_core.trainingset.spec import TrainingSpec, spec_from_json as parse_spec_json
from prospect_core.trainingset.spec_fields import (FIELDS, OTHER_EVENT, OTHER_EVENT_KEY, WINDOW_UNIT_KEY, WINDOW_UNITS,
                                                   spec_values, widget_values, window_amount, window_minutes)
from prospect_core.trainingset.wording import plain

SPEC_PARAM = "spec"  # the query parameter holding the spec's JSON (as the CLI's --spec file)
TARGET_FIELDS = ("target_event", "target_window_minutes")  # what a pick in the target explorer sets

_FIELD_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, FIELDS), key=len, reverse=True)) + r")\b")


def in_screen_words(message: str) -> str:
    """A spec error with each field name replaced by its on-screen label, in quotes."""
    return _FIELD_PATTERN.sub(lambda match: f"“{FIELDS[match.group(1)].label}”", message)


# ----- widgets from the table --------------------------------------------------------------------
def number_input(name: str, spec: TrainingSpec) -> int:
    field = FIELDS[name]
    return st.number_input(field.widget_label, field.lowest, field.bounds.high, widget_values(spec, [name])[field.key],
                           key=field.key, persist_state="session", help=field.help)


def date_input(name: str, spec: TrainingSpec) -> dt.date:
    field = FIELDS[name]
    return st.date_input(field.widget_label, value=getattr(spec, name), max_value=dt.date.today(), key=field.key,
                         persist_state="session", help=field.help)


def names_input(name: str, spec: TrainingSpec, options: Sequence[str]) -> list[str]:
    field = FIELDS[name]
    return st.multiselect(field.widget_label, options, default=list(getattr(spec, name)), accept_new_options=True,
                          key=field.key, persist_state="session", help=field.help)


def switch_input(name: str, spec: TrainingSpec) -> bool:
    field = FIELDS[name]
    return st.checkbox(field.widget_label, value=getattr(spec, name), key=field.key, persist_state="session",
                       help=field.help)


def choice_input(name: str, spec: TrainingSpec, *, captions: Sequence[str] | None = None,
                 on_change: Callable[[], None] | None = None) -> str:
    """One of the field's choices, each shown in its words."""
    field = FIELDS[name]
    choices = list(field.choices)
    return st.radio(field.widget_label, choices, index=choices.index(getattr(spec, name)),
                    format_func=field.choice_words.get, captions=captions, key=field.key, persist_state="session",
                    help=field.help, on_change=on_change)


def events_table_input(kind: str, default: str) -> str:
    """The events table box, keyed by the source kind (each source keeps its own table)."""
    field = FIELDS["events_table"]
    return st.text_input(field.widget_label, value=default, key=f"{field.key}_{kind}", persist_state="session",
                         help=field.help).strip()


def target_event_input(spec: TrainingSpec, options: list[str], counts: dict[str, int]) -> None:
    """The target picker (`options`, the spec's event, then any typed name), with each event's count."""
    field = FIELDS["target_event"]
    options = options + ([] if spec.target_event in options else [spec.target_event]) + [OTHER_EVENT]
    picked = st.selectbox(
        field.widget_label, options, index=options.index(spec.target_event), key=field.key, persist_state="session",
        format_func=lambda name: f"{name} · {counts[name]:,} events" if name in counts else name,
    )
    if picked == OTHER_EVENT:
        st.text_input("Event name", value=spec.target_event, key=OTHER_EVENT_KEY, persist_state="session")


def window_input(spec: TrainingSpec) -> None:
    """The target window: a number and its unit; switching the unit keeps the duration."""
    field = FIELDS["target_window_minutes"]
    shown = widget_values(spec, [field.name])
    amount, unit = st.columns([3, 2])
    amount.number_input(field.widget_label, field.lowest, field.bounds.high, shown[field.key], key=field.key,
                        persist_state="session", help=field.help)
    units = list(WINDOW_UNITS)
    previous = st.session_state.get(WINDOW_UNIT_KEY, shown[WINDOW_UNIT_KEY])
    unit.selectbox("Unit", units, index=units.index(shown[WINDOW_UNIT_KEY]), key=WINDOW_UNIT_KEY,
                   persist_state="session", on_change=_keep_duration, args=(previous,))
    note = st.session_state.pop(keys.WINDOW_NOTE, None)
    if note:
        st.caption(note)


def _keep_duration(previous: str) -> None:
    """The number follows a unit switch: 2 hours become 120 minutes, and 90 minutes 2 hours (rounded, and said)."""
    key, unit = FIELDS["target_window_minutes"].key, st.session_state[WINDOW_UNIT_KEY]
    minutes = window_minutes(st.session_state[key], previous)
    st.session_state[key] = amount = window_amount(minutes, unit)
    if window_minutes(amount, unit) != minutes:
        st.session_state[keys.WINDOW_NOTE] = (f"{minutes} minutes is not a whole number of {unit}: "
                                         f"rounded to {amount} {unit}.")


# ----- widgets -> spec ---------------------------------------------------------------------------
def _drawn(names: Iterable[str] | None = None) -> dict[str, Any]:
    return spec_values(st.session_state, names)


def drawn_value(name: str, spec: TrainingSpec) -> Any:
    """The field as its widget last held it (valid or not), or as in `spec` before the widget first draws."""
    return _drawn([name]).get(name, getattr(spec, name))


def with_widgets(spec: TrainingSpec, names: Iterable[str]) -> TrainingSpec:
    """`spec` with the named fields as their widgets hold them; `spec` itself while they are not valid."""
    try:
        return spec.replace(**_drawn(names))
    except UserError:
        return spec


def spec_from_widgets(kept: TrainingSpec, **fixed: Any) -> tuple[TrainingSpec, bool]:
    """The spec the form's widgets and `fixed` describe, and True; or `kept` and False, with the
    problem said in the page's words. Fields the form does not draw stay as in `kept`."""
    try:
        return kept.replace(**_drawn(), **fixed), True
    except UserError as error:
        problem = in_screen_words(str(error))
        st.error(f"{plain(problem[:1].upper() + problem[1:])}. The last valid settings are kept, and Build waits, "
                 "until this is fixed.", icon=":material/error:")
        return kept, False


# ----- spec -> widgets ---------------------------------------------------------------------------
def _show_in_widgets(spec: TrainingSpec, names: Iterable[str] | None = None) -> None:
    """Set the widgets' own values (before they draw): a widget keeps what the browser shows unless
    its state is set, whatever default the page passes."""
    st.session_state.update(widget_values(spec, names))


def apply_picked_target(spec: TrainingSpec) -> TrainingSpec:
    """Before the target widgets draw: a target picked in the explorer becomes the spec's, and the
    widgets start again from it (a widget's value cannot change once it is drawn)."""
    picked = st.session_state.pop(keys.PICKED_TARGET, None)
    if picked is None:
        return spec
    event, minutes = picked
    try:
        spec = spec.replace(target_event=event, target_window_minutes=int(minutes))
    except UserError:
        return spec
    _show_in_widgets(spec, TARGET_FIELDS)
    return spec


def start_at_last_event(last_event: dt.datetime | None, file_id: str) -> None:
    """A newly loaded events file: the as-of date starts at its last event's day, where today's would
    leave its events out of the cohort. Once per file, before the date widget draws; a date the user
    then picks stays."""
    if last_event is None or st.session_state.get(keys.EVENTS_AS_OF) == file_id:
        return
    st.session_state[keys.EVENTS_AS_OF] = file_id
    try:
        spec = current_spec().replace(as_of=min(last_event.date(), dt.date.today()))
    except UserError:  # a file from before 2000: the date box says what it takes
        return
    set_spec(spec)
    _show_in_widgets(spec, ["as_of"])


# ----- settings to share and undo ----------------------------------------------------------------
def spec_from_json(text: str | bytes, what: str) -> TrainingSpec:
    """A spec from JSON of TrainingSpec fields (the CLI's --spec format); UserError naming what is wrong."""
    try:
        return parse_spec_json(text, what=what)
    except UserError as error:
        raise UserError(in_screen_words(str(error))) from None


def spec_json(spec: TrainingSpec) -> str:
    return json.dumps(spec.to_dict(), separators=(",", ":"))


def _start_from(spec: TrainingSpec) -> None:
    set_spec(spec)
    _show_in_widgets(spec)


def spec_from_url() -> None:
    """On a session's first run, a spec in the URL becomes the session's; a bad one is said, and the
    defaults used. Call before the spec's widgets draw."""
    if st.session_state.get(keys.URL_READ):
        return
    st.session_state[keys.URL_READ] = True
    text = st.query_params.get(SPEC_PARAM)
    if not text:
        return
    try:
        _start_from(spec_from_json(text, "The spec in this link"))
    except UserError as error:
        _start_from(NEW_WORKSPACE_SPEC)
        st.warning(f"{plain(error)}. Starting from the default settings instead.", icon=":material/link_off:")


def share_spec(spec: TrainingSpec) -> None:
    """Keep the URL on the current spec (a link reopens it), and offer Reset, Download and Load."""
    if st.query_params.get(SPEC_PARAM) != spec_json(spec):
        st.query_params[SPEC_PARAM] = spec_json(spec)
    reset, download, load = st.columns([1, 1, 2])
    reset.button("Reset to defaults", icon=":material/restart_alt:", key="reset_spec",
                 on_click=_start_from, args=(NEW_WORKSPACE_SPEC,),
                 help="Every setting on this page back to its default (the data source stays).")
    download.download_button("Download spec", json.dumps(spec.to_dict(), indent=2) + "\n", file_name="spec.json",
                             mime="application/json", icon=":material/download:", key="download_spec",
                             help="The same JSON as the CLI's --spec: `python -m prospect_core dataset --spec spec.json`")
    upload = load.file_uploader("Load spec (.json)", type=["json"], key="load_spec",
                                help="A spec downloaded here or written by `python -m prospect_core spec --out FILE`")
    if upload is not None and upload.file_id != st.session_state.get(keys.LOADED_SPEC_ID):
        st.session_state[keys.LOADED_SPEC_ID] = upload.file_id
        try:
            _start_from(spec_from_json(upload.getvalue(), f"The spec file {upload.name[:60]}"))
        except UserError as error:
            st.error(f"{plain(error)}. The settings are unchanged.", icon=":material/error:")
        else:
            st.rerun()
