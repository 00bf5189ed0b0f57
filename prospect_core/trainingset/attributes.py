"""Attributes as data: what each model input computes, once, for the SQL, the model and Signals.

An `Attribute` says what to compute over which events, in which windows:
- `aggregation`: `count` (matching events), `count_distinct` (distinct values of `property`),
  `first` / `last` (the earliest / latest non-NULL value of `property`), `any` (at least one
  matching event);
- `events`: the events it reads (empty: all events), each an `EventRef`: a name, and where known the
  Iglu vendor and version (`{"vendor": ..., "name": ..., "version": ...}` in JSON; a plain name in
  JSON is a name alone). The SQL matches vendor and version only when they are given;
- `where`: criteria on atomic properties (`Criterion`), all of which must hold;
- `windows`: `event` (the prediction point's own event: `last` of a property), `short` and `long`
  (the spec's short and long history windows), `lifetime` (all the prospect's history, no period:
  the column is named after the attribute alone) and `period` (a window of `period_days` days of the
  attribute's own, named `_l{N}d`). Which events of the history a window sees, and whether the
  prediction point's own instant is in it, is the spec's `feature_timing`;
- `kind` (how the model treats it), `dtype` (how it is stored), `default` (its value when nothing
  matched) and `label` (what people read).
Each (attribute, window) pair is one model column (`features.Feature`). A spec starts from a preset
(`PRESETS`: the tutorial's 20 features, `BUILT_IN_ATTRIBUTES`, by default; Snowplow's current
notebook's three lifetime counters; or none) and adds its own (`TrainingSpec.attributes`);
`attribute_from_dict` reads the JSON form (`{"name": ..., "aggregation": "count", "events": [...],
"where": [...], "windows": [...], "period_days": N}`).

Attributes come from users (a spec file, the app), so `validate_attributes` checks everything
before any SQL is rendered: plain identifiers that do not collide with the built-ins, properties from
`PROPERTIES` (the atomic-events columns the training SQL reads), operators and values that fit the
property, and limits on sizes and counts. Names become column names, so they are validated; values
(event names, criteria values) are always bound as parameters, never written into SQL text.
"""

from __future__ import annotations

import builtins
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from prospect_core.infra.errors import SpecError

Aggregation = Literal["count", "count_distinct", "first", "last", "any"]
Operator = Literal["eq", "neq", "like", "in", "gt", "gte", "lt", "lte", "is_not_null"]
Window = Literal["event", "short", "long", "lifetime", "period"]
Kind = Literal["numeric", "boolean", "categorical"]
Dtype = Literal["int64", "bool", "str"]

AGGREGATIONS: tuple[str, ...] = ("count", "count_distinct", "first", "last", "any")
OPERATORS: tuple[str, ...] = ("eq", "neq", "like", "in", "gt", "gte", "lt", "lte", "is_not_null")
WINDOWS: tuple[str, ...] = ("event", "short", "long", "lifetime", "period")
# The history windows in column order; `event` comes before them.
HISTORY_WINDOWS: tuple[str, ...] = ("short", "long", "period", "lifetime")
MAX_PERIOD_DAYS = 3650
NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte")

MAX_ATTRIBUTES = 20  # custom attributes a spec may add (each costs the fast query up to two lanes and passes)
MAX_CRITERIA = 8
MAX_EVENTS = 20
MAX_IN_VALUES = 50
MAX_VALUE_LENGTH = 512  # far below the 10 kB a hostile spec might send
MAX_NAME_LENGTH = 48
MAX_LABEL_LENGTH = 200
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
# Iglu's forms: a reverse-DNS vendor and a SchemaVer version (MODEL-REVISION-ADDITION)
_VENDOR = re.compile(r"[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)+")
_SCHEMA_VERSION = re.compile(r"[0-9]+-[0-9]+-[0-9]+")


@dataclass(frozen=True)
class Property:
    """An event property attributes may read: an atomic-events column, or one derived from one."""

    name: str
    type: Literal["text", "number", "json"]
    source: str  # the atomic-events column it comes from
    description: str
    # the only values it takes, and how to say so (scoring refuses others): None for any value
    values: tuple[Any, ...] | None = None
    values_text: str = ""


# The atomic-events columns the training SQL may read (the layout of `events_files.EVENTS_LAYOUT`
# and `demo_data.COLUMNS`; a test checks they agree), plus two derived from them, in the table's
# column order (the scan lists the columns it reads in this order).
PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in (
        Property("app_id", "text", "app_id", "app id of the tracker"),
        Property("event_name", "text", "event_name", "event name (page_view, submit_form, ...)"),
        Property("domain_sessionid", "text", "domain_sessionid", "session id"),
        Property("page_url", "text", "page_url", "URL of the page"),
        Property("refr_medium", "text", "refr_medium", "referrer medium (search, social, ...)"),
        Property("mkt_medium", "text", "mkt_medium", "marketing medium (utm_medium)"),
        Property("mkt_campaign", "text", "mkt_campaign", "marketing campaign (utm_campaign)"),
        Property("device_class", "text", "contexts_nl_basjes_yauaa_context_1", "YAUAA device class (Phone, Desktop, ...)"),
        Property("day_of_week", "number", "derived_tstamp", "ISO day of week of the event, 1 = Monday",
                 values=tuple(range(1, 8)), values_text="an ISO day of week from 1 (Monday) to 7 (Sunday)"),
        Property(
            "contexts_com_snowplowanalytics_snowplow_media_player_2", "json",
            "contexts_com_snowplowanalytics_snowplow_media_player_2", "media player context (is_not_null only)",
        ),
    )
}
# Read by every formulation anyway (the scan, cohort and dedup); never listed twice in the scan.
BASE_COLUMNS = ("event_id", "app_id", "event_name", "derived_tstamp", "domain_userid", "domain_sessionid")


@dataclass(frozen=True)
class Criterion:
    """`property operator value`: `page_url like '%pricing%'`, `day_of_week gte 6`, `app_id in [...]`."""

    property: str
    operator: Operator
    value: Any = None  # text, a number, a tuple of texts for `in`, None for `is_not_null`

    def to_dict(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"property": self.property, "operator": self.operator, **({} if value is None else {"value": value})}


@dataclass(frozen=True)
class EventRef:
    """An event an attribute reads: its name, and its Iglu vendor and version when they are known."""

    name: str
    vendor: str | None = None
    version: str | None = None

    def to_dict(self) -> str | dict[str, str]:
        if self.vendor is None and self.version is None:
            return self.name  # the JSON form of a name alone, as specs wrote it before vendors
        return {key: value for key, value in (("vendor", self.vendor), ("name", self.name), ("version", self.version))
                if value is not None}


def event_ref_from(data: Any, where: str) -> EventRef:
    """An `EventRef` from a name or a `{"vendor", "name", "version"}` object."""
    if isinstance(data, EventRef):
        return data
    if isinstance(data, Mapping):
        unknown = sorted(str(key) for key in set(data) - {"vendor", "name", "version"})
        if unknown:
            raise SpecError(f"{where} has unknown field(s) {unknown[:5]}; expected vendor, name and version")
        return EventRef(data.get("name"), data.get("vendor"), data.get("version"))
    return EventRef(data)


@dataclass(frozen=True)
class Attribute:
    name: str
    aggregation: Aggregation
    events: tuple[EventRef, ...] = ()
    where: tuple[Criterion, ...] = ()
    property: str | None = None
    windows: tuple[Window, ...] = ("short", "long")
    label: str = ""
    kind: Kind | None = None  # derived from the aggregation when not given
    dtype: Dtype | None = None
    default: Any = field(default=None)
    # the length of the `period` window, in days (24-hour days, see TrainingSpec.feature_timing)
    period_days: int | None = None

    def __post_init__(self) -> None:
        for name in ("events", "where", "windows"):
            value = getattr(self, name)
            if isinstance(value, (str, Criterion, EventRef)):
                value = (value,)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.events, tuple):
            object.__setattr__(self, "events", tuple(
                event if isinstance(event, EventRef) else EventRef(event) for event in self.events))
        implied = _IMPLIED.get(self.aggregation) if isinstance(self.aggregation, str) else None
        prop = PROPERTIES.get(self.property) if isinstance(self.property, str) else None
        if self.aggregation in ("first", "last") and prop is not None and prop.type == "number":
            implied = _NUMBER_VALUE  # a number's value is a category stored as a number (day_of_week)
        implied_kind, implied_dtype, implied_default = implied or (None, None, None)
        if self.kind is None:
            object.__setattr__(self, "kind", implied_kind)
        if self.dtype is None:
            object.__setattr__(self, "dtype", implied_dtype)
        if self.default is None:
            object.__setattr__(self, "default", implied_default)

    @builtins.property  # `property` is a field name here
    def filtered(self) -> bool:
        """Whether it reads only some events (event names or criteria)."""
        return bool(self.events or self.where)

    @builtins.property
    def event_names(self) -> tuple[str, ...]:
        return tuple(event.name for event in self.events)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "aggregation": self.aggregation}
        if self.property is not None:
            data["property"] = self.property
        if self.events:
            data["events"] = [event.to_dict() for event in self.events]
        if self.where:
            data["where"] = [criterion.to_dict() for criterion in self.where]
        data["windows"] = list(self.windows)
        if self.period_days is not None:
            data["period_days"] = self.period_days
        if self.label:
            data["label"] = self.label
        return data


# kind, dtype, default per aggregation
_IMPLIED: dict[str, tuple[Kind, Dtype, Any]] = {
    "count": ("numeric", "int64", 0),
    "count_distinct": ("numeric", "int64", 0),
    "any": ("boolean", "bool", False),
    "first": ("categorical", "str", ""),
    "last": ("categorical", "str", ""),
}
_NUMBER_VALUE: tuple[Kind, Dtype, Any] = ("categorical", "int64", 0)

_PAGE_VIEW = ("page_view",)
_PRICING = (Criterion("page_url", "like", "%pricing%"),)
_MEDIA = (Criterion("contexts_com_snowplowanalytics_snowplow_media_player_2", "is_not_null"),)

# The tutorial's 20 features. Order matters: columns are listed window by window (event, short,
# long), in this order within a window, which is the tutorial's column order.
BUILT_IN_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("latest_app_id", "last", property="app_id", windows=("event",),
              label="App id of the event ('' when missing)"),
    Attribute("day_of_week", "last", property="day_of_week", windows=("event",), kind="categorical",
              dtype="int64", default=0, label="ISO day of week of the event, 1 = Monday"),
    Attribute("latest_device_class", "last", property="device_class", windows=("event",),
              label="YAUAA device class of the event ('' when missing)"),
    Attribute("num_sessions", "count_distinct", property="domain_sessionid",
              label="Distinct sessions with an event in the window"),
    Attribute("num_apps", "count_distinct", property="app_id", label="Distinct app ids seen in the window"),
    Attribute("num_page_views", "count", events=_PAGE_VIEW, label="page_view events in the window"),
    Attribute("num_page_pings", "count", events=("page_ping",),
              label="page_ping heartbeats in the window (reading time)"),
    Attribute("num_pricing_views", "count", events=_PAGE_VIEW, where=_PRICING,
              label="page_view events on a URL containing 'pricing'"),
    Attribute("had_conversions", "any", events=("submit_form",), label="At least one submit_form event in the window"),
    Attribute("num_form_engagements", "count", events=("focus_form", "change_form"), windows=("short",),
              label="focus_form and change_form events in the window (a count; the tutorial's SQL made it a boolean)"),
    Attribute("num_media_events", "count", where=_MEDIA, windows=("long",), label="Events carrying a media player context"),
    Attribute("first_refr_medium", "first", property="refr_medium", windows=("long",),
              label="Referrer medium of the earliest event in the window that has one ('' if none)"),
    Attribute("first_mkt_medium", "first", property="mkt_medium", windows=("long",),
              label="Marketing medium of the earliest event in the window that has one ('' if none)"),
    Attribute("num_engaged_campaigns", "count_distinct", property="mkt_campaign", windows=("long",),
              label="Distinct marketing campaigns in the window"),
)
BUILT_IN_NAMES = frozenset(attribute.name for attribute in BUILT_IN_ATTRIBUTES)

# Snowplow's current prospect-scoring notebook: three lifetime counters, published as Signals
# attributes under these names, and its model's only inputs.
NOTEBOOK_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("num_page_views", "count", events=_PAGE_VIEW, windows=("lifetime",), label="page_view events so far"),
    Attribute("num_pricing_views", "count", events=_PAGE_VIEW, where=_PRICING, windows=("lifetime",),
              label="page_view events on a URL containing 'pricing' so far"),
    Attribute("num_customers_views", "count", events=_PAGE_VIEW, where=(Criterion("page_url", "like", "%customers%"),),
              windows=("lifetime",), label="page_view events on a URL containing 'customers' so far"),
)


@dataclass(frozen=True)
class Preset:
    """A named set of attributes a spec starts from (`TrainingSpec.preset`), before its own."""

    name: str
    attributes: tuple[Attribute, ...]
    description: str
    title: str  # its name in a picker, in plain words


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("tutorial", BUILT_IN_ATTRIBUTES, "the tutorial's 20 features", "Tutorial's 20"),
        Preset("notebook", NOTEBOOK_ATTRIBUTES,
               "Snowplow's current notebook: num_page_views, num_pricing_views and num_customers_views, lifetime",
               "Snowplow notebook's three lifetime counters"),
        Preset("none", (), "no attributes: only the spec's own", "None"),
    )
}
DEFAULT_PRESET = "tutorial"


# ----- reading and validating user definitions ---------------------------------------------------


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def attribute_from_dict(data: Any, *, position: int = 0) -> Attribute:
    """An `Attribute` from its JSON form; `SpecError` names the field when the form is wrong."""
    where = f"attributes[{position}]"
    if isinstance(data, Attribute):
        return data
    if not isinstance(data, Mapping):
        raise SpecError(f"{where} must be an object with name, aggregation, events, where and windows, got {_show(data)}")
    known = {"name", "aggregation", "events", "where", "property", "windows", "label", "period_days"}
    unknown = sorted(str(key) for key in set(data) - known)
    if unknown:
        raise SpecError(f"{where} has unknown field(s) {unknown[:5]}; expected some of {sorted(known)}")
    criteria = data.get("where", ())
    if not isinstance(criteria, (list, tuple)):
        raise SpecError(f"{where}.where must be a list of criteria, got {_show(criteria)}")
    if len(criteria) > MAX_CRITERIA:
        raise SpecError(f"{where}.where has {len(criteria)} criteria; at most {MAX_CRITERIA} are allowed")
    parsed = []
    for index, criterion in enumerate(criteria):
        if not isinstance(criterion, Mapping) or set(criterion) - {"property", "operator", "value"}:
            raise SpecError(
                f"{where}.where[{index}] must be an object with property, operator and value, got {_show(criterion)}"
            )
        value = criterion.get("value")
        if isinstance(value, list):
            value = tuple(value)
        parsed.append(Criterion(criterion.get("property"), criterion.get("operator"), value))
    events = data.get("events", ())
    period_days = data.get("period_days")
    # a period of its own is the attribute's window unless it lists others too
    windows = data.get("windows", ("period",) if period_days is not None else ("short", "long"))
    for name, value in (("events", events), ("windows", windows)):
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where}.{name} must be a list, got {_show(value)}")
    if len(events) > MAX_EVENTS:
        raise SpecError(f"{where}.events must list at most {MAX_EVENTS} events")
    refs = tuple(event_ref_from(event, f"{where}.events[{index}]") for index, event in enumerate(events))
    return Attribute(
        name=data.get("name"), aggregation=data.get("aggregation"), events=refs, where=tuple(parsed),
        property=data.get("property"), windows=tuple(windows), label=data.get("label") or "",
        period_days=period_days,
    )


def validate_attributes(attributes: tuple[Any, ...], preset: str = DEFAULT_PRESET) -> tuple[Attribute, ...]:
    """Custom attributes, read and checked, added to `preset`'s; `SpecError` names the attribute and
    field at fault."""
    if not isinstance(attributes, (list, tuple)):
        raise SpecError(f"attributes must be a list of attribute definitions, got {_show(attributes)}")
    if len(attributes) > MAX_ATTRIBUTES:
        raise SpecError(f"attributes lists {len(attributes)} attributes; at most {MAX_ATTRIBUTES} are allowed")
    parsed = tuple(attribute_from_dict(item, position=index) for index, item in enumerate(attributes))
    seen: set[str] = set()
    preset_names = {attribute.name for attribute in PRESETS[preset].attributes}
    for index, attribute in enumerate(parsed):
        _validate_one(attribute, f"attributes[{index}]")
        if attribute.name in preset_names:
            raise SpecError(f"attributes[{index}].name {attribute.name!r} is an attribute of the {preset!r} preset; "
                            "choose another name, or preset 'none'")
        if attribute.name in seen:
            raise SpecError(f"attributes[{index}].name {attribute.name!r} is used twice; names must be unique")
        seen.add(attribute.name)
    return parsed


def _check_text(where: str, value: Any, limit: int = MAX_VALUE_LENGTH) -> None:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{where} must be non-empty text, got {_show(value)}")
    if len(value) > limit:
        raise SpecError(f"{where} must be at most {limit} characters, got {len(value):,}")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise SpecError(f"{where} must be printable text (no control characters or unpaired surrogates), got {_show(value)}")


def _validate_one(attribute: Attribute, where: str) -> None:
    name = attribute.name
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _IDENTIFIER.fullmatch(name):
        raise SpecError(
            f"{where}.name must be a plain identifier of lower-case letters, digits and _ (starting with a letter, "
            f"at most {MAX_NAME_LENGTH} characters), got {_show(name)}"
        )
    if name.startswith(("target_", "event_", "domain_", "derived_")):
        raise SpecError(f"{where}.name {name!r} may not start with target_, event_, domain_ or derived_ (reserved columns)")
    if attribute.aggregation not in AGGREGATIONS:
        raise SpecError(f"{where}.aggregation must be one of {list(AGGREGATIONS)}, got {_show(attribute.aggregation)}")
    windows = attribute.windows
    if not isinstance(windows, tuple) or not windows or any(window not in WINDOWS for window in windows):
        raise SpecError(f"{where}.windows must list some of {list(WINDOWS)}, got {_show(windows)}")
    if len(set(windows)) != len(windows):
        raise SpecError(f"{where}.windows lists a window twice: {_show(windows)}")
    period_days = attribute.period_days
    if ("period" in windows) != (period_days is not None):
        raise SpecError(f"{where}.period_days and the window 'period' go together: give period_days (a whole "
                        f"number of days) for the window 'period', got windows {_show(windows)} and period_days {_show(period_days)}")
    if period_days is not None and (
        isinstance(period_days, bool) or not isinstance(period_days, int) or not 1 <= period_days <= MAX_PERIOD_DAYS
    ):
        raise SpecError(f"{where}.period_days must be a whole number of days from 1 to {MAX_PERIOD_DAYS}, got {_show(period_days)}")
    if "event" in windows and (attribute.aggregation != "last" or attribute.filtered or len(windows) > 1):
        raise SpecError(
            f"{where}.windows: the event window takes the event's own value, so it needs aggregation 'last', "
            "no events or where, and no other window"
        )
    if not isinstance(attribute.events, tuple) or len(attribute.events) > MAX_EVENTS:
        raise SpecError(f"{where}.events must list at most {MAX_EVENTS} event names")
    for index, event in enumerate(attribute.events):
        _check_event(event, f"{where}.events[{index}]")
    needs_property = attribute.aggregation in ("count_distinct", "first", "last")
    if needs_property:
        prop = PROPERTIES.get(attribute.property) if isinstance(attribute.property, str) else None
        # first and last also take a number's value (the tutorial's day_of_week, kept when a preset becomes a list)
        types = ("text",) if attribute.aggregation == "count_distinct" else ("text", "number")
        if prop is None or prop.type not in types:
            raise SpecError(
                f"{where}.property must be one of {sorted(n for n, p in PROPERTIES.items() if p.type in types)} "
                f"for aggregation {attribute.aggregation!r}, got {_show(attribute.property)}"
            )
    elif attribute.property is not None:
        raise SpecError(f"{where}.property applies to count_distinct, first and last only; remove it for {attribute.aggregation!r}")
    if not isinstance(attribute.label, str) or len(attribute.label) > MAX_LABEL_LENGTH:
        raise SpecError(f"{where}.label must be text of at most {MAX_LABEL_LENGTH} characters")
    if not isinstance(attribute.where, tuple) or len(attribute.where) > MAX_CRITERIA:
        raise SpecError(f"{where}.where must list at most {MAX_CRITERIA} criteria")
    for index, criterion in enumerate(attribute.where):
        if not isinstance(criterion, Criterion):
            raise SpecError(f"{where}.where[{index}] must be a criterion (property, operator, value), got {_show(criterion)}")
        _validate_criterion(criterion, f"{where}.where[{index}]")


def _check_event(event: EventRef, where: str) -> None:
    named = where if event.vendor is None and event.version is None else f"{where}.name"
    _check_text(named, event.name, 128)
    if event.vendor is not None and (not isinstance(event.vendor, str) or len(event.vendor) > 128
                                     or not _VENDOR.fullmatch(event.vendor)):
        raise SpecError(f"{where}.vendor must be an Iglu vendor like com.acme (dot-separated letters, digits, _ "
                        f"and -), got {_show(event.vendor)}")
    if event.version is not None and (not isinstance(event.version, str) or len(event.version) > 32
                                      or not _SCHEMA_VERSION.fullmatch(event.version)):
        raise SpecError(f"{where}.version must be a schema version like 1-0-0, got {_show(event.version)}")


def _validate_criterion(criterion: Criterion, where: str) -> None:
    prop = PROPERTIES.get(criterion.property) if isinstance(criterion.property, str) else None
    if prop is None:
        raise SpecError(f"{where}.property must be one of {sorted(PROPERTIES)}, got {_show(criterion.property)}")
    operator = criterion.operator
    if operator not in OPERATORS:
        raise SpecError(f"{where}.operator must be one of {list(OPERATORS)}, got {_show(operator)}")
    value = criterion.value
    if prop.type == "json" and operator != "is_not_null":
        raise SpecError(f"{where}.operator must be 'is_not_null' for the context {prop.name}, got {operator!r}")
    if operator == "is_not_null":
        if value is not None:
            raise SpecError(f"{where}.value must be left out for is_not_null, got {_show(value)}")
    elif operator == "in":
        if not isinstance(value, tuple) or not value or len(value) > MAX_IN_VALUES:
            raise SpecError(f"{where}.value must be a list of 1 to {MAX_IN_VALUES} values for 'in', got {_show(value)}")
        for item_index, item in enumerate(value):
            _check_value(prop, f"{where}.value[{item_index}]", item)
    elif operator in NUMERIC_OPERATORS:
        if prop.type != "number":
            raise SpecError(
                f"{where}.operator {operator!r} compares numbers, and {prop.name} is text; use eq, neq, like or in"
            )
        _check_value(prop, f"{where}.value", value)
    else:
        if operator == "like" and prop.type != "text":
            raise SpecError(f"{where}.operator 'like' matches text, and {prop.name} is a number")
        _check_value(prop, f"{where}.value", value)


def _check_value(prop: Property, where: str, value: Any) -> None:
    if prop.type == "number":
        # abs() first: math.isfinite overflows on a huge int
        if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) > 1e15 or not math.isfinite(value):
            raise SpecError(f"{where} must be a number (for {prop.name}), got {_show(value)}")
    else:
        _check_text(where, value)
