"""The spec form as data: each `TrainingSpec` field's label, widget key, help, unit and bounds.

The app's widgets (prospect_core.studio.spec_form), the words its errors use and the CLI's flags
(prospect_core.cli) are all drawn from `SPEC_FIELDS`; the bounds are the spec's own `FIELD_BOUNDS`.
Adding a spec field is a change to spec.py, this table and a test.

`widget_values` and `spec_values` are the two directions between a spec and the widgets' values,
plain data both ways (no streamlit here).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from prospect_core.trainingset.attributes import PRESETS
from prospect_core.trainingset.spec import FEATURE_TIMINGS, FIELD_BOUNDS, Bounds, TrainingSpec

# The fields no row of the table draws, and where they are set instead.
NOT_FORM_FIELDS = {"attributes": "the Attributes section of Data & target, and --spec files"}

OTHER_EVENT = "Other event…"  # the target picker's last option: the event is typed in a text box
WINDOW_UNITS = {"hours": 60, "minutes": 1}  # minutes in one of each unit the target window is shown in
WINDOW_UNIT_KEY = "window_unit"
OTHER_EVENT_KEY = "target_other"


@dataclass(frozen=True)
class SpecField:
    """One `TrainingSpec` field as the page and the CLI show it.

    `kind` says how it is shown: `date`, `number` (a whole number within the spec's bounds), `text`,
    `names` (a list of names), `switch` (true/false), `event` (a picker of events, or any typed name)
    `window` (a number in minutes or hours) and `choice` (one of `choices`, shown as its
    `choice_words`). `zero_is_none` marks a number whose 0 means None.
    `key` is None for a field the page does not draw (yet); `from_spec` is False for a widget a loaded
    spec leaves alone (the events table belongs to the data source).
    """

    name: str
    label: str
    kind: str
    key: str | None
    unit: str = ""
    help: str | None = None
    zero_is_none: bool = False
    from_spec: bool = True
    choices: tuple[str, ...] = ()
    choice_words: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def bounds(self) -> Bounds | None:
        return FIELD_BOUNDS.get(self.name)

    @property
    def widget_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def lowest(self) -> int:
        """The smallest number its widget or flag accepts (0 where 0 means None)."""
        return 0 if self.zero_is_none else self.bounds.low

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SPEC_FIELDS = (
    SpecField("as_of", "As-of date", "date", "as_of",
              help="Build the set as if the query ran on this day: no later event is used."),
    SpecField("cohort_first_seen_from_days", "First seen from", "number", "cohort_from", unit="days before as-of",
              help="Oldest first visit of prospects in the cohort; also how far back events are read."),
    SpecField("cohort_first_seen_to_days", "First seen until", "number", "cohort_to", unit="days before as-of",
              help="Newest first visit; leave prospects time to reach the target."),
    SpecField("app_ids", "Apps that define the cohort", "names", "app_ids"),
    SpecField("count_only_cohort_apps", "Count only events on these apps", "switch", "count_only_cohort_apps",
              help="Off: a cohort prospect's events on every app count. On: only those on the apps above, as "
              "Snowplow's notebook reads them (in signals timing only the moments are chosen so: Signals counts "
              "every app)."),
    SpecField("user_sample_percent", "Sample prospects (%)", "number", "user_sample_percent",
              help="For large cohorts: keep this share of prospects, chosen by a hash of domain_userid "
              "(the same prospects every time, in Snowflake and DuckDB). 100 = all."),
    SpecField("max_negatives_per_positive", "Max negatives per positive", "number", "max_negatives",
              unit="0 = keep all", zero_is_none=True,
              help="Keep every positive row and at most this many negative rows per positive, chosen by a hash "
              "of event_id. Rates and metrics are then on sampled data."),
    SpecField("short_window_days", "Short window", "number", "short_days", unit="days",
              help="Features named *_l7d by default"),
    SpecField("long_window_days", "Long window", "number", "long_days", unit="days",
              help="Features named *_l30d by default"),
    SpecField("target_event", "Target event", "event", "target_pick"),
    SpecField("target_min_count", "At least this many times", "number", "min_count",
              help="1 = 'did it at all'; the tutorial's 'more than 2 page views' is page_view with 3."),
    SpecField("target_window_minutes", "Within the next", "window", "window_amount"),
    SpecField("excluded_events", "Excluded events", "names", "excluded", unit="noise",
              help="Dropped before anything is counted, and so never a target event."),
    SpecField("events_table", "Events table", "text", "events_table", from_spec=False,
              help="The Snowplow atomic events table: schema.table or database.schema.table."),
    SpecField("collector_tstamp_margin_days", "collector_tstamp margin", "number", None, unit="days",
              help="Tables with collector_tstamp are also filtered on it (it prunes on Snowflake): from this many "
              "days before the lookback's start. An event is kept unless its derived_tstamp is more than this "
              "after its collector_tstamp."),
    SpecField("included_events", "Only these events", "names", "included", unit="empty = all",
              help="Every other event is dropped before anything is counted, as excluded ones are; the target event "
              "must be one of them (in signals timing only the moments are chosen so: Signals counts every event)."),
    SpecField("exclude_after_first_target", "Leave out moments after the first target", "switch",
              "after_first_target",
              help="A prospect who already reached the target is not who the model is for: its moments at or after "
              "its first target event are not rows."),
    SpecField("preset", "Attributes preset", "choice", "preset", choices=tuple(PRESETS),
              choice_words={name: preset.title for name, preset in PRESETS.items()},
              help="The attributes the model starts from: " + "; ".join(
                  f"{name} = {preset.description}" for name, preset in PRESETS.items())
              + ". The spec's own attributes are added to them."),
    SpecField("feature_timing", "Each moment's inputs", "choice", "feature_timing", choices=FEATURE_TIMINGS,
              choice_words={"tutorial": "What the prospect had done before this moment",
                            "signals": "What Signals knows right after this moment"},
              help="tutorial = each moment sees the prospect's earlier events, as the tutorial's query does; "
              "signals = it also sees the event itself and everything at that instant, unfiltered, as Snowplow "
              "Signals serves it right after that event."),
)
FIELDS = {field.name: field for field in SPEC_FIELDS}


# ----- the target window, in minutes or hours ------------------------------------------------------
def window_unit(minutes: int) -> str:
    """The unit a window is shown in: hours when it is a whole number of them."""
    return "hours" if minutes % WINDOW_UNITS["hours"] == 0 else "minutes"


def window_minutes(amount: int, unit: str) -> int:
    return int(amount) * WINDOW_UNITS[unit]


def window_amount(minutes: int, unit: str) -> int:
    """`minutes` in `unit`, rounded to the nearest whole one and at least 1 (90 minutes is 2 hours)."""
    return max(1, int(minutes / WINDOW_UNITS[unit] + 0.5))


# ----- spec <-> widget values ----------------------------------------------------------------------
def widget_values(spec: TrainingSpec, names: Iterable[str] | None = None) -> dict[str, Any]:
    """What each widget shows for `spec`, by widget key: of every field a loaded spec sets, or of `names`."""
    values: dict[str, Any] = {}
    for field in _fields(names):
        if field.key is None or not field.from_spec:
            continue
        value = getattr(spec, field.name)
        if field.kind == "names":
            value = list(value)
        elif field.zero_is_none:
            value = value or 0
        elif field.kind == "event":
            values[OTHER_EVENT_KEY] = value
        elif field.kind == "window":
            values[WINDOW_UNIT_KEY] = window_unit(value)
            value = window_amount(value, values[WINDOW_UNIT_KEY])
        values[field.key] = value
    return values


def spec_values(widgets: Mapping[str, Any], names: Iterable[str] | None = None) -> dict[str, Any]:
    """The spec fields (all, or `names`) that `widgets`, values by widget key, hold; a field whose
    widget is absent is left out."""
    values: dict[str, Any] = {}
    for field in _fields(names):
        if field.key is None or not field.from_spec or field.key not in widgets:
            continue
        value = widgets[field.key]
        if field.kind == "names":
            value = tuple(value)
        elif field.kind == "number":
            value = int(value) or None if field.zero_is_none else int(value)
        elif field.kind == "event" and value == OTHER_EVENT:
            value = widgets.get(OTHER_EVENT_KEY, "")
        elif field.kind == "window":
            value = window_minutes(value, widgets.get(WINDOW_UNIT_KEY, "minutes"))
        elif field.kind == "switch":
            value = bool(value)
        values[field.name] = value
    return values



def _fields(names: Iterable[str] | None) -> tuple[SpecField, ...]:
    return SPEC_FIELDS if names is None else tuple(FIELDS[name] for name in names)
