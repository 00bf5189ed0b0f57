"""Snowplow Signals definitions from the attribute registry: what serves the model in real time.

`signals_definitions(spec, ...)` builds, with the real `snowplow_signals` SDK objects, one
`StreamAttributeGroup` keyed on `domain_userid` (an attribute per model column that Signals can
compute, each with its period, criteria and `default_value`, so Signals never returns None for a
count) and a `Service` serving it. `signals_document` turns them into the JSON this module writes:

    {
      "attribute_group": <StreamAttributeGroup.model_dump(mode="json", exclude_none=True, by_alias=True)>,
      "service": <Service.model_dump(...)>,
      "model_inputs": [                        # one entry a model column, in the training set's order
        {"input": "num_sessions_l7d",           # the model input (a column of the training set)
         "source": "signals",                   # "signals", or "request_time" (computed by the service)
         "attribute": "num_sessions_l7d",       # the Signals attribute to read, null when none
         "transform": "length",                 # how the service turns the attribute into the column
         "dtype": "int64",                      # the column's dtype: int64, bool or str
         "default": 0,                          # the value when the attribute is missing or null
         "parity": "approximate",               # exact | approximate | derived
         "note": "..."},                        # what differs from the training SQL, for people
        ...
      ]
    }

Transforms (what the scoring service does with the attribute's value `v`):
- `value`: the column is `v` (a counter, a first or last value);
- `greater_than_zero`: `v > 0` (`had_conversions_*`: Signals counts, the model takes a flag);
- `length`: `len(v)` (distinct counts: Signals keeps a `unique_list`);
- `request_iso_day_of_week`: no attribute; the ISO day of week (1 = Monday) of the request time
  (`day_of_week`, as Snowplow's own serving code does).
Then `default` replaces a missing value. (The scoring service in `service_template/service.py`
reads `input`, `source`, `attribute` and `default`; it infers the transform from the value and dtype.)
Parity: in `signals` feature timing a counter or first/last value is what Signals serves (`exact`); a
`unique_list` keeps at most 100 values (Snowplow's attribute docs), and in `tutorial` timing training
counts strictly earlier events, so those are `approximate`. `parity_report` measures it: the replay
(`outputs.replay`, no SQL) of Signals' semantics on the training set's own rows.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Mapping

import pydantic
import snowplow_signals as sp

from prospect_core.trainingset.attributes import Attribute, Criterion
from prospect_core.infra.errors import SpecError, UserError
from prospect_core.outputs import signals_defaults as defaults
from prospect_core.outputs.replay import UNIQUE_LIST_LIMIT, parity_sample, replay_parity
from prospect_core.trainingset.features import Feature, spec_features
from prospect_core.trainingset.spec import TrainingSpec

SNOWPLOW_VENDOR = "com.snowplowanalytics.snowplow"
EVENT_VERSION = "1-0-0"
MATERIAL_SHARE = 0.01
# Snowplow's own events the built-in attributes read: their identity is the guess, so no note says so.
_SNOWPLOW_EVENTS = frozenset({"page_view", "page_ping", "focus_form", "change_form", "submit_form"})


class SignalsError(UserError):
    """Snowplow Signals is not configured, or refused or missed a call; the message says which, never a credential."""

# Properties that are not atomic columns, as Signals reads them.
_ENTITY_PROPERTIES = {
    "device_class": dict(vendor="nl.basjes", name="yauaa_context", major_version=1, path="deviceClass"),
    "contexts_com_snowplowanalytics_snowplow_media_player_2": dict(
        vendor=SNOWPLOW_VENDOR, name="media_player", major_version=2, path="currentTime"
    ),
}


def _property(name: str) -> Any:
    if name in _ENTITY_PROPERTIES:
        return sp.EntityProperty(**_ENTITY_PROPERTIES[name])
    if name == "day_of_week":
        return sp.AtomicProperty(name="derived_tstamp", date_part="day_of_week")
    return sp.AtomicProperty(name=name)


def _criterion(criterion: Criterion) -> Any:
    prop = _property(criterion.property)
    if criterion.operator == "is_not_null":
        return sp.Criterion.is_not_null(prop)
    if criterion.operator == "in":
        return sp.Criterion.in_list(prop, list(criterion.value))
    return getattr(sp.Criterion, criterion.operator)(prop, criterion.value)


def _events(attribute: Attribute) -> list[Any]:
    """The attribute's events with the vendor and version it gives (read from the events where the
    source has them); Snowplow's own vendor and 1-0-0 only where it gives none."""
    return [sp.Event(vendor=event.vendor or SNOWPLOW_VENDOR, name=event.name, version=event.version or EVENT_VERSION)
            for event in attribute.events]


def _guessed_identity(attribute: Attribute) -> str:
    """The note's words for events named alone, whose vendor and version the definitions guess."""
    named = [event.name for event in attribute.events
             if event.vendor is None and event.version is None and event.name not in _SNOWPLOW_EVENTS]
    if not named:
        return ""
    return (f"; vendor and version of {', '.join(named)} guessed ({SNOWPLOW_VENDOR}, {EVENT_VERSION}): the attribute "
            "names the event alone, as when the events source has no event_vendor and event_version columns")


def _period(feature: Feature, spec: TrainingSpec) -> dt.timedelta | None:
    """The Signals period: the window's days; none for lifetime (Signals keeps counting forever)."""
    days = feature.days(spec)
    return None if days is None else dt.timedelta(days=days)


# aggregation -> (Signals aggregation, Signals type, transform)
_AGGREGATIONS = {
    "count": ("counter", "int64", "value"),
    "any": ("counter", "int64", "greater_than_zero"),
    "count_distinct": ("unique_list", "string_list", "length"),
    "first": ("first", "string", "value"),
    "last": ("last", "string", "value"),
}


def _model_input(feature: Feature, spec: TrainingSpec, attribute_name: str | None, transform: str,
                 parity: str, note: str) -> dict[str, Any]:
    source = "request_time" if transform.startswith("request_") else "signals"
    return {"input": feature.column(spec), "source": source, "attribute": attribute_name, "transform": transform,
            "dtype": feature.dtype, "default": feature.default, "parity": parity, "note": note}


def _translate(feature: Feature, spec: TrainingSpec) -> tuple[Any | None, dict[str, Any]]:
    """The Signals attribute for one model column (None when the service derives it) and its mapping entry."""
    attribute = feature.attribute
    column = feature.column(spec)
    if feature.window == "event" and attribute.property == "day_of_week":
        return None, _model_input(feature, spec, None, "request_iso_day_of_week", "derived",
                                  "computed by the service from the request time (ISO day of week, 1 = Monday)")
    aggregation, signals_type, transform = _AGGREGATIONS[attribute.aggregation]
    criteria = sp.Criteria(all=[_criterion(c) for c in attribute.where]) if attribute.where else None
    description = feature.description
    if feature.window == "event":
        definition = sp.Attribute(
            name=column, description=description, type=signals_type, events=[], aggregation="last",
            property=_property(attribute.property), default_value=feature.default,
        )
        note = "last value over all events: at scoring time the latest event Signals saw, the one being scored"
        return definition, _model_input(feature, spec, column, transform, "approximate", note)
    default = [] if transform == "length" else 0 if transform == "greater_than_zero" else feature.default
    definition = sp.Attribute(
        name=column, description=description, type=signals_type, events=_events(attribute),
        aggregation=aggregation, property=_property(attribute.property) if attribute.property else None,
        criteria=criteria, period=_period(feature, spec), default_value=default,
    )
    timing = ("counted as Signals counts" if spec.feature_timing == "signals"
              else "training counts strictly earlier events, Signals the current one too")
    notes = {"value": timing, "greater_than_zero": f"counter > 0; {timing}",
             "length": f"len(unique_list); Signals keeps at most {UNIQUE_LIST_LIMIT} values; {timing}"}
    parity = "exact" if spec.feature_timing == "signals" and transform != "length" else "approximate"
    return definition, _model_input(feature, spec, column, transform, parity,
                                     notes[transform] + _guessed_identity(attribute))


def _sdk_model(build: Any, fields: dict[str, str], values: dict[str, Any]) -> Any:
    """`build()`, an SDK model; the SDK's own validation error becomes one SpecError naming the option.

    The SDK's pydantic models are the rule (a name is `^[A-Za-z0-9_]+$`, an owner an email address that
    `email-validator` delivers to: `me@host.local` is not), so what passes here passes at publish time.
    `fields` maps the model's field to our option, `values` our option to what was given."""
    try:
        return build()
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        option = fields.get(str(problem["loc"][0])) if problem["loc"] else None
        message = (problem["msg"][:1].lower() + problem["msg"][1:]).rstrip(".")
        if option is None:
            raise SpecError(f"Snowplow Signals refuses the definitions: {'.'.join(map(str, problem['loc']))}: {message}") from None
        raise SpecError(f"{defaults.OPTION_WORDS[option]} is not accepted by Snowplow Signals: {message}; "
                        f"got {values[option]!r:.60}") from None


def signals_definitions(
    spec: TrainingSpec, *, group_name: str = defaults.GROUP_NAME, service_name: str = defaults.SERVICE_NAME,
    version: int = defaults.VERSION, owner: str = defaults.OWNER,
) -> tuple[Any, Any, list[dict[str, Any]]]:
    """(StreamAttributeGroup, Service, model inputs mapping) for `spec`'s features."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= defaults.MAX_VERSION:
        raise SpecError(f"{defaults.OPTION_WORDS['version']} must be a whole number from 1 to {defaults.MAX_VERSION}, got {version!r:.60}")
    attributes, inputs = [], []
    for feature in spec_features(spec):
        definition, mapping = _translate(feature, spec)
        if definition is not None:
            attributes.append(definition)
        inputs.append(mapping)
    derived = [f"{i['input']}: {i['note'] if i['transform'] == 'request_iso_day_of_week' else i['transform']}"
               for i in inputs if i["transform"] != "value"]
    description = (
        f"Inputs of the prospect scoring model predicting {spec.target_column}. Not computed directly by "
        f"Signals, the scoring service derives: {'; '.join(derived)}."
    )
    given = {"group_name": group_name, "service_name": service_name, "owner": owner}
    group = _sdk_model(lambda: sp.StreamAttributeGroup(
        name=group_name, version=version, owner=owner, attribute_key=sp.domain_userid,
        attributes=attributes, description=description,
    ), {"name": "group_name", "owner": "owner"}, given)
    service = _sdk_model(lambda: sp.Service(
        name=service_name, owner=owner, attribute_groups=[group],
        description=f"Serves the attributes of {group_name} v{version} to the prospect scoring model",
    ), {"name": "service_name", "owner": "owner"}, given)
    return group, service, inputs


def signals_document(spec: TrainingSpec, **options: Any) -> dict[str, Any]:
    """The JSON-ready file: the group, the service and the model-input mapping (module docstring)."""
    group, service, inputs = signals_definitions(spec, **options)
    dump = dict(mode="json", exclude_none=True, by_alias=True)
    return {"attribute_group": group.model_dump(**dump), "service": service.model_dump(**dump), "model_inputs": inputs}


def parity_report(frame: Any, spec: TrainingSpec, events: Any = None) -> list[dict[str, Any]]:
    """One row per model input: how Signals serves it (`parity`, `why`) and, replayed on `frame`'s rows
    over their prospects' `events` (`replay.replay_parity`), the share of rows where the training value
    equals what Signals would serve, with the documented difference behind each mismatch. Without
    `events` nothing is replayed (`share_matching` None)."""
    measured = replay_parity(parity_sample(frame), events, spec) if events is not None else {}
    rows = []
    for feature in spec_features(spec):
        _, entry = _translate(feature, spec)
        column = feature.column(spec)
        found = measured.get(column, {"share_matching": None, "mismatches": []})
        share = found["share_matching"]
        rows.append({
            "input": column, "parity": entry["parity"], "why": entry["note"], "share_matching": share,
            "mismatches": found["mismatches"], "material": share is not None and 1 - share >= MATERIAL_SHARE,
        })
    return rows


def signals_client(env: Mapping[str, str] = os.environ) -> Any:
    """The real SDK client from Snowplow's Console variables, else the Sandbox's; SignalsError naming the
    variables when neither set is complete. Values are credentials: only names are ever shown."""
    if all(env.get(name) for name in defaults.API_VARIABLES):
        return sp.Signals(api_url=env["SP_API_URL"], api_key=env["SP_API_KEY"], api_key_id=env["SP_API_KEY_ID"],
                          org_id=env["SP_ORG_ID"])
    if all(env.get(name) for name in defaults.SANDBOX_VARIABLES):
        return sp.SignalsSandbox(api_url=env["SP_SANDBOX_URL"], sandbox_token=env["SP_SANDBOX_TOKEN"])
    raise SignalsError(f"Snowplow Signals is not configured: set {', '.join(defaults.API_VARIABLES)} (Snowplow "
                       f"Console), or {' and '.join(defaults.SANDBOX_VARIABLES)}")


def signals_failure(error: BaseException) -> str:
    """What a failed Signals call says, without its text (it may carry a credential or a URL with one)."""
    status = getattr(error, "status_code", None)  # SignalsAPIError; httpx.HTTPStatusError from the token route
    status = status if isinstance(status, int) else getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        hint = {401: ": check the credentials", 403: ": check the credentials"}
        return f"Snowplow Signals answered HTTP {status}{hint.get(status, '')}"
    return f"Snowplow Signals could not be reached ({type(error).__name__})"
