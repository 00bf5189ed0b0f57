"""Data & target's Attributes section: the preset, every model input with a remove control, and a form
to add, edit or remove custom ones; and the SQL section's "How each attribute becomes SQL".

The custom attributes live in session state as validated `Attribute`s (`keys.CUSTOM_ATTRIBUTES`);
the page passes `custom_attributes()` into the `TrainingSpec` it builds from its widgets, so the
timeline, the SQL and the build all follow them. The form saves through a callback, which runs
before the page script: the rerun that follows already builds the spec with the change. An
invalid attribute is refused with the field named in the form's words, and the list stays as it was.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Mapping

import pandas as pd
import streamlit as st

from prospect_core.events.warehouse import with_event_identities
from prospect_core.infra.errors import UserError
from prospect_core.studio import keys, spec_form
from prospect_core.studio.state import current_spec
from prospect_core.trainingset.attributes import (AGGREGATIONS, MAX_PERIOD_DAYS, OPERATORS, PRESETS, PROPERTIES, WINDOWS,
                                                  Attribute, EventRef, attribute_from_dict)
from prospect_core.trainingset.features import Feature, spec_features
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.spec_fields import FIELDS
from prospect_core.trainingset.training_sql import attribute_fragment
from prospect_core.trainingset.wording import plain, window_title

NEW = "New attribute"
NO_CRITERION = "(no criterion)"
NO_PROPERTY = "(none)"
DEFAULT_PERIOD_DAYS = 14  # what the Own period box shows before a period is chosen
COMPUTES = {
    "count": "Count of matching events",
    "count_distinct": "Distinct values of a property",
    "first": "First value of a property",
    "last": "Last value of a property",
    "any": "Whether any event matched",
}
OPERATOR_WORDS = {"eq": "equals", "neq": "differs from", "like": "matches, % = anything", "in": "is one of",
                  "gt": "greater than", "gte": "at least", "lt": "less than", "lte": "at most", "is_not_null": "is present"}
# The validator's field names, in the form's words.
FIELD_WORDS = {"name": "Name", "label": "Label", "aggregation": "Computes", "events": "Events",
               "property": "Property", "windows": "Windows", "where.property": "Criterion property",
               "where.operator": "Criterion operator", "where.value": "Criterion value", "where": "Criterion"}
_FIELD = re.compile(r"attributes\[\d+\]\.(\w+)(?:\[\d+\])?(?:\.(\w+))?(?:\[\d+\])?")


def custom_attributes() -> tuple[Attribute, ...]:
    """This session's custom attributes, as the page puts them into its TrainingSpec."""
    if keys.CUSTOM_ATTRIBUTES not in st.session_state:
        st.session_state[keys.CUSTOM_ATTRIBUTES] = current_spec().attributes
    return st.session_state[keys.CUSTOM_ATTRIBUTES]


def in_form_words(message: str) -> str:
    """`attributes[20].where[0].value must be ...` -> `Criterion value must be ...`."""
    def replace(match: re.Match[str]) -> str:
        field, sub = match.group(1), match.group(2)
        return FIELD_WORDS.get(f"{field}.{sub}" if sub else field, FIELD_WORDS.get(field, field))
    text = _FIELD.sub(replace, message, count=1)
    return text[0].upper() + text[1:]


def attributes_section(spec: TrainingSpec, event_names: list[str], identities: Mapping[str, tuple[EventRef, ...]]) -> None:
    """The preset, every model input with a remove control, and the form to add or edit one.

    `event_names` are the source's events, most frequent first, for the form's Events box; `identities`
    their vendor and version where the source has them, which a saved attribute's events take."""
    st.subheader("Attributes: the model's inputs")
    st.caption("Each attribute becomes one model input per window. Start from a preset, remove what you do not "
               "want, add your own (for example page views of your customers pages): they flow into the SQL, the "
               "model, the model card and the Snowplow Signals definitions.")
    spec_form.choice_input("preset", spec, captions=[PRESETS[name].description for name in FIELDS["preset"].choices],
                           on_change=_pick_preset)
    features = spec_features(spec)
    customs = {attribute.name for attribute in spec.attributes}
    for attribute in spec.all_attributes:
        text, remove = st.columns([6, 1], vertical_alignment="center")
        text.markdown(_inputs_line(spec, features, attribute)
                      + (" · *your own*" if attribute.name in customs else ""))
        remove.button("Remove", key=f"remove_attribute_{attribute.name}", icon=":material/close:",
                      on_click=_remove, args=(attribute.name,), help=f"Stop using {attribute.name} as a model input.")
    if not features:
        st.info("No model inputs: pick a preset or add an attribute below.", icon=":material/info:")
    with st.expander(f"{len(features)} model inputs", icon=":material/list:"):
        st.dataframe(pd.DataFrame({
            "input": [f.column(spec) for f in features],
            "meaning": [f.description for f in features],
            "from": [f.window_text(spec) for f in features],
            "attribute": ["custom" if f.name in customs else "built-in" for f in features],
        }), hide_index=True, key="attribute_inputs")
    _attribute_form(spec, event_names, identities)


def attribute_sql_section(spec: TrainingSpec, dialect: str) -> None:
    """How each attribute becomes SQL: its lines of the training query (the bit-packed counters included)."""
    with st.expander("How each attribute becomes SQL", icon=":material/code:"):
        st.caption("The lines of the query above that compute each attribute's columns. Counters of one window "
                   "share a lane-packed sum, so many counts cost one pass.")
        features = spec_features(spec)
        for attribute in spec.all_attributes:
            st.markdown(_inputs_line(spec, features, attribute))
            st.code(attribute_fragment(spec, attribute.name, dialect), language="sql")


def _inputs_line(spec: TrainingSpec, features: tuple[Feature, ...], attribute: Attribute) -> str:
    """`**Label** → `column`, `column``, the label as typed."""
    columns = [f.column(spec) for f in features if f.attribute.name == attribute.name]
    return f"**{plain(attribute.label or attribute.name)}** → " + ", ".join(f"`{c}`" for c in columns)


def _attribute_form(spec: TrainingSpec, event_names: list[str], identities: Mapping[str, tuple[EventRef, ...]]) -> None:
    names = [attribute.name for attribute in custom_attributes()]
    choice = st.selectbox("Add or edit", [NEW, *names], key="attribute_choice",
                          help="Pick one of your attributes to change or remove it, or add a new one.")
    editing = next((a for a in custom_attributes() if a.name == choice), None)
    draft = editing or Attribute("", "count", events=("page_view",))
    criterion = draft.where[0] if draft.where else None
    windows = {window: window_title(spec, window) for window in WINDOWS}
    picked_events = list(dict.fromkeys(draft.event_names))
    events = list(dict.fromkeys([*event_names, *picked_events]))
    # Fresh widgets per attribute, per save, and per set of window titles and events: Streamlit keeps a
    # multiselect's chosen labels, and titles that change with the windows ("Last 30 days" -> "Last 45 days")
    # no longer fit the kept ones (a TypeError from the Windows box on the second window edit).
    shown = zlib.crc32("|".join([*windows.values(), *events]).encode())
    suffix = f"{choice}_{st.session_state.get(keys.ATTRIBUTE_FORM_ROUND, 0)}_{shown:x}"
    with st.form(f"attribute_form_{suffix}", border=True):
        left, middle, right = st.columns(3)
        left.text_input("Name", draft.name, key=f"attr_name_{suffix}", placeholder="num_customers_views",
                        help="Lower-case letters, digits and _; the column names add the window (_l7d), except "
                        "the whole history's.")
        left.text_input("Label", draft.label, key=f"attr_label_{suffix}", help="What people read, e.g. in the card.")
        left.selectbox("Computes", AGGREGATIONS, index=AGGREGATIONS.index(draft.aggregation),
                       format_func=COMPUTES.get, key=f"attr_aggregation_{suffix}")
        middle.multiselect("Events", events, default=picked_events, accept_new_options=True,
                           key=f"attr_events_{suffix}",
                           help="The source's events, most frequent first, or type a name; leave empty to read every "
                           "event. Events the source sends with a vendor and version are matched on them.")
        properties = [NO_PROPERTY, *(n for n, p in PROPERTIES.items() if p.type == "text")]
        middle.selectbox("Property", properties, index=properties.index(draft.property or NO_PROPERTY),
                         key=f"attr_property_{suffix}", help="Whose values are counted or taken (distinct, first, last).")
        middle.multiselect("Windows", list(windows), default=list(draft.windows), format_func=windows.get,
                           key=f"attr_windows_{suffix}",
                           help="Whole history: every earlier event, as Signals counts with no period.")
        middle.number_input("Own period (days)", 1, MAX_PERIOD_DAYS, draft.period_days or DEFAULT_PERIOD_DAYS,
                            key=f"attr_period_days_{suffix}",
                            help=f"The length of the window “{windows['period']}”; its column ends in _l<days>d.")
        criteria = [NO_CRITERION, *PROPERTIES]
        right.selectbox("Criterion property", criteria, index=criteria.index(criterion.property if criterion else NO_CRITERION),
                        key=f"attr_where_property_{suffix}", help="Count only events whose property matches.")
        right.selectbox("Criterion operator", OPERATORS, index=OPERATORS.index(criterion.operator if criterion else "like"),
                        format_func=lambda op: f"{OPERATOR_WORDS[op]} ({op})", key=f"attr_where_operator_{suffix}")
        value = criterion.value if criterion else ""
        right.text_input("Criterion value", ", ".join(map(str, value)) if isinstance(value, tuple) else
                         "" if value is None else str(value), key=f"attr_where_value_{suffix}",
                         help="Text, a number, or for 'is one of' values separated by commas; empty for 'is present'.")
        save, remove, _ = st.columns([1, 1, 3])
        save.form_submit_button("Save attribute" if editing else "Add attribute", type="primary",
                                on_click=_save, args=(suffix, editing, dict(identities)))
        if editing is not None:
            remove.form_submit_button("Remove attribute", on_click=_remove, args=(editing.name,))
    problem = st.session_state.pop(keys.ATTRIBUTE_ERROR, None)
    if problem:
        st.error(f"{plain(problem)}. The attributes are kept as they were until this is fixed.", icon=":material/error:")


def _form_attribute(suffix: str, editing: Attribute | None) -> dict[str, Any]:
    """The form's values as the attribute's JSON form, for `attribute_from_dict` to read and check.
    An event the edited attribute already gives with its vendor and version keeps them."""
    value = lambda name: st.session_state.get(f"attr_{name}_{suffix}")  # noqa: E731
    kept = editing.events if editing is not None else ()
    names = dict.fromkeys(e.strip() for e in value("events") or () if e.strip())
    data: dict[str, Any] = {
        "name": (value("name") or "").strip(),
        "aggregation": value("aggregation"),
        "events": [ref for name in names for ref in [e.to_dict() for e in kept if e.name == name] or [name]],
        "windows": list(value("windows") or ()),
    }
    if "period" in data["windows"]:
        data["period_days"] = int(value("period_days"))
    if value("label"):
        data["label"] = value("label").strip()
    if value("property") not in (None, NO_PROPERTY):
        data["property"] = value("property")
    prop = value("where_property")
    if prop not in (None, NO_CRITERION):
        operator, text = value("where_operator"), (value("where_value") or "").strip()
        criterion: dict[str, Any] = {"property": prop, "operator": operator}
        if operator == "in":
            criterion["value"] = [_typed(prop, item.strip()) for item in text.split(",") if item.strip()]
        elif operator != "is_not_null" or text:
            criterion["value"] = _typed(prop, text)
        data["where"] = [criterion]
    return data


def _typed(prop: str, text: str) -> Any:
    """A number for numeric properties when the text is one; anything else goes to validation as typed."""
    if PROPERTIES[prop].type == "number":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


def _save(suffix: str, editing: Attribute | None, identities: Mapping[str, tuple[EventRef, ...]]) -> None:
    current = list(custom_attributes())
    position = next((i for i, a in enumerate(current) if editing is not None and a.name == editing.name), len(current))
    try:
        attribute = with_event_identities(attribute_from_dict(_form_attribute(suffix, editing), position=position),
                                          identities)
        updated = current[:position] + [attribute] + current[position + 1:]
        checked = current_spec().replace(attributes=tuple(updated)).attributes  # every rule, columns included
    except UserError as error:
        st.session_state[keys.ATTRIBUTE_ERROR] = in_form_words(str(error))
        return
    st.session_state[keys.CUSTOM_ATTRIBUTES] = checked
    st.session_state["attribute_choice"] = attribute.name
    st.session_state[keys.ATTRIBUTE_FORM_ROUND] = st.session_state.get(keys.ATTRIBUTE_FORM_ROUND, 0) + 1


def _remove(name: str) -> None:
    """Drop one input. A preset's attribute turns the preset into a list: preset None, and the preset's
    other attributes kept as custom ones, before the user's own (the same columns and SQL, less one)."""
    spec = current_spec()
    kept = tuple(a for a in (*spec.preset_attributes, *custom_attributes()) if a.name != name)
    preset = spec.preset if name in {a.name for a in custom_attributes()} else "none"
    customs = kept[len(spec.preset_attributes):] if preset == spec.preset else kept
    try:
        checked = spec.replace(preset=preset, attributes=customs).attributes
    except UserError as error:
        st.session_state[keys.ATTRIBUTE_ERROR] = in_form_words(str(error))
        return
    st.session_state[keys.CUSTOM_ATTRIBUTES] = checked
    st.session_state[FIELDS["preset"].key] = preset
    st.session_state["attribute_choice"] = NEW
    st.session_state[keys.ATTRIBUTE_FORM_ROUND] = st.session_state.get(keys.ATTRIBUTE_FORM_ROUND, 0) + 1


def _pick_preset() -> None:
    """A preset picked starts again from it: the custom copies a removal made of any preset's attributes
    go (the preset brings its own back); the user's own attributes stay."""
    copies = [attribute for preset in PRESETS.values() for attribute in preset.attributes]
    st.session_state[keys.CUSTOM_ATTRIBUTES] = tuple(a for a in custom_attributes() if a not in copies)
