"""`TrainingSpec`: the one description of a training set.

A spec says which prospects to learn from (the cohort), what history each prediction may look at
(the short and long windows), and what counts as success (the target event, how often, and how soon).
The SQL, the feature column names, the model card and the app's widgets all derive from it.

As-of semantics: the training set is built as if the query ran on `as_of`. Wherever the tutorial's
SQL says `current_date`, we use `as_of`, and no event after the end of that day is read. With
`as_of` = today this is exactly the tutorial's query.

Feature timing (`feature_timing`), what history an attribute sees at a prediction point:
- `tutorial` (the default, the tutorial's query): the prospect's strictly earlier events (none at the
  same instant), after the query's filters (events with a session, not excluded), inside the lookback
  scan; a window of N days keeps events at most N*86,400 second boundaries back (`datediff`).
  A `lifetime` window reads every earlier event the source holds before the as-of date.
- `signals` (what Snowplow Signals returns right after processing that event): every event of the
  prospect up to and including that instant (all events at the same instant), with no session, app
  or excluded-event filter (only the attribute's own events and criteria), deduplicated by event_id;
  a window of N days keeps events later than the instant minus N exact 24-hour days
  (`derived_tstamp > t - N * 86,400 s`, to the microsecond); `lifetime` has no lower bound.
The rows (prediction points), the cohort and the target are the same in both.

Sampling, for large cohorts (both off by default): `user_sample_percent` keeps that share of the
cohort's prospects, chosen by a hash of `domain_userid` in the SQL (the same prospects on every run and
in both dialects); `max_negatives_per_positive` keeps every positive row and at most that many negative
rows per positive, chosen by a hash of `event_id` after the query. Rates and metrics computed on a
sampled set describe the sample, not the population, and the model card and Evaluate page say so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping

from prospect_core.trainingset.attributes import DEFAULT_PRESET, PRESETS, Attribute, Window, validate_attributes
from prospect_core.infra.errors import SpecError
from prospect_core.infra.paths import REPO_ROOT

MAX_DAYS = 3650
MAX_TARGET_WINDOW_MINUTES = 60 * 24 * 90
MAX_TARGET_MIN_COUNT = 10_000
MAX_TEXT_LENGTH = 128
MAX_NEGATIVES_PER_POSITIVE = 1_000
EARLIEST_AS_OF = dt.date(2000, 1, 1)
MAX_SPEC_BYTES = 256 * 1024  # a spec is a few lines of JSON
# The deepest spec is attributes -> attribute -> where -> criterion -> value list: 6 levels. json.loads
# recurses once a level, so 100k nested `[` raised RecursionError (a traceback in the CLI).
MAX_SPEC_DEPTH = 16
# No spec number has more than 16 digits (criterion values are at most 1e15); json.loads refuses
# (ValueError) integers past Python's 4,300-digit conversion limit, a traceback in the app and the CLI.
MAX_NUMBER_DIGITS = 30


@dataclass(frozen=True)
class Bounds:
    """The whole numbers a spec field accepts, and their unit as error messages name it."""

    low: int
    high: int
    unit: str


# Every whole-number field's bounds, as data: validation reads them, and so do the app's widgets and
# the CLI's flags (prospect_core.trainingset.spec_fields), which never restate a number.
FIELD_BOUNDS = {
    "cohort_first_seen_from_days": Bounds(1, MAX_DAYS, "days"),
    "cohort_first_seen_to_days": Bounds(0, MAX_DAYS, "days"),
    "short_window_days": Bounds(1, MAX_DAYS, "days"),
    "long_window_days": Bounds(1, MAX_DAYS, "days"),
    "target_window_minutes": Bounds(1, MAX_TARGET_WINDOW_MINUTES, "minutes"),
    "target_min_count": Bounds(1, MAX_TARGET_MIN_COUNT, "events"),
    "user_sample_percent": Bounds(1, 100, "percent"),
    "max_negatives_per_positive": Bounds(1, MAX_NEGATIVES_PER_POSITIVE, "negative rows"),
    "collector_tstamp_margin_days": Bounds(0, MAX_DAYS, "days"),
}

FEATURE_TIMINGS: tuple[str, ...] = ("tutorial", "signals")

# The columns every training set has besides its features and target: which event, whose, when.
IDENTIFIER_COLUMNS = ("event_id", "domain_userid", "derived_tstamp")
# Kept beside them, never a model input: with the prospect and the time, a new target event, count
# or window is recomputed from the set alone (dataset.recompute_target), no query.
EVENT_NAME_COLUMN = "event_name"

# `schema.table` or `database.schema.table`, unquoted identifiers only: the table name is the one
# piece of user text that must become SQL text, so it is validated instead of escaped.
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}")


def _today() -> dt.date:
    return dt.date.today()


@dataclass(frozen=True)
class TrainingSpec:
    """What to train on and what to predict; validated on construction."""

    as_of: dt.date = field(default_factory=_today)
    cohort_first_seen_from_days: int = 60
    cohort_first_seen_to_days: int = 30
    short_window_days: int = 7
    long_window_days: int = 30
    target_event: str = "submit_form"
    target_min_count: int = 1
    target_window_minutes: int = 60
    app_ids: tuple[str, ...] = ("website", "hs-landing")
    excluded_events: tuple[str, ...] = ("application_error", "web_vitals", "link_click")
    events_table: str = "atomic.events"
    user_sample_percent: int = 100
    max_negatives_per_positive: int | None = None
    # Custom attributes (see prospect_core.trainingset.attributes), added to the preset's; each becomes
    # a column per window. Dicts in the JSON form are read into `Attribute`s.
    attributes: tuple[Attribute, ...] = ()
    # The attributes the spec starts from (attributes.PRESETS): the tutorial's 20 features by default.
    preset: str = DEFAULT_PRESET
    # What history an attribute sees at a prediction point (module docstring): tutorial or signals.
    feature_timing: str = "tutorial"
    # Snowplow's current notebook: leave out prediction points at or after the prospect's first
    # target event (what a converted prospect does next is not what the model is for). Off: the seed's rows.
    exclude_after_first_target: bool = False
    # How much earlier than the lookback's first day the scan reads by collector_tstamp, for tables that
    # have it: an event is kept unless its derived_tstamp is more than this after its collector_tstamp,
    # which a device clock never skews that far (training_events.sql says why).
    collector_tstamp_margin_days: int = 1
    # Snowplow's current notebook filters the events it reads by name and by app. Empty: every event
    # not excluded. In tutorial timing these filters shape the rows and the history both; in signals
    # timing the rows only (Signals counts what each attribute's own criteria say).
    included_events: tuple[str, ...] = ()
    # The cohort's app ids also filter the events counted (off: the cohort's prospects on any app).
    count_only_cohort_apps: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.preset, str) or self.preset not in PRESETS:
            raise SpecError(f"preset must be one of {list(PRESETS)}, got {_show(self.preset)}")
        if not isinstance(self.feature_timing, str) or self.feature_timing not in FEATURE_TIMINGS:
            raise SpecError(f"feature_timing must be one of {list(FEATURE_TIMINGS)}, got {_show(self.feature_timing)}")
        object.__setattr__(self, "attributes", validate_attributes(self.attributes, self.preset))
        # Accept any iterable of strings for the list fields, store tuples so the spec stays hashable.
        for name in ("app_ids", "excluded_events", "included_events"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = [value]
            try:
                value = tuple(value)
            except TypeError:
                raise SpecError(f"{name} must be a list of names, got {_show(value)}") from None
            object.__setattr__(self, name, value)
        _validate(self)

    # ----- derived names and numbers ---------------------------------------------------------
    @property
    def lookback_days(self) -> int:
        """Days of events the query scans, as in the tutorial: back to the cohort's earliest first-seen."""
        return self.cohort_first_seen_from_days

    def window_days(self, window: Window, period_days: int | None = None) -> int | None:
        """Days of history a feature window reads; None for the event itself and for lifetime."""
        if window in ("event", "lifetime"):
            return None
        if window == "period":
            return period_days
        return self.short_window_days if window == "short" else self.long_window_days

    def window_column(self, name: str, window: Window, period_days: int | None = None) -> str:
        """The column of attribute `name` in `window`: `num_sessions_l7d` in a 7-day window, the name
        alone for the event itself and for lifetime."""
        days = self.window_days(window, period_days)
        return name if days is None else f"{name}_l{days}d"

    @property
    def preset_attributes(self) -> tuple[Attribute, ...]:
        return PRESETS[self.preset].attributes

    @property
    def all_attributes(self) -> tuple[Attribute, ...]:
        """The preset's attributes, then the spec's own: every model input comes from one of them."""
        return (*self.preset_attributes, *self.attributes)

    @property
    def target_window_label(self) -> str:
        """`1h`, `2h`, `30min`: the window as it appears in the target column's name."""
        minutes = self.target_window_minutes
        return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}min"

    @property
    def target_column(self) -> str:
        """Name of the target column: `target_had_submit_form_next1h`, `target_had_3_page_view_next1h`."""
        count = "" if self.target_min_count == 1 else f"{self.target_min_count}_"
        return f"target_had_{count}{_slug(self.target_event)}_next{self.target_window_label}"

    @property
    def target_description(self) -> str:
        times = "at least once" if self.target_min_count == 1 else f"at least {self.target_min_count} times"
        return (
            f"the prospect triggers '{self.target_event}' {times} within {self.target_window_minutes} "
            "minutes after the event (strictly later events only)"
        )

    @property
    def is_sampled(self) -> bool:
        """Whether the training set is a sample of the cohort's rows rather than all of them."""
        return self.user_sample_percent < 100 or self.max_negatives_per_positive is not None

    @property
    def sampling_description(self) -> str | None:
        """What was sampled and what that means for the numbers; None when nothing is sampled."""
        if not self.is_sampled:
            return None
        parts = []
        if self.user_sample_percent < 100:
            parts.append(
                f"{self.user_sample_percent}% of the cohort's prospects (deterministic: by a hash of domain_userid)"
            )
        if self.max_negatives_per_positive is not None:
            parts.append(
                f"all positive rows and at most {self.max_negatives_per_positive} negative rows per positive "
                "(deterministic: by a hash of event_id)"
            )
        caveat = (
            " Negative downsampling raises the positive rate: base rates, precision, calibration and "
            "predicted probabilities are higher than on the full population; ranking metrics (ROC AUC) are "
            "less affected."
            if self.max_negatives_per_positive is not None
            else ""
        )
        return f"Trained and evaluated on a sample: {' and '.join(parts)}. Rates and metrics are on sampled data.{caveat}"

    def replace(self, **changes: Any) -> TrainingSpec:
        """A copy with some fields changed, validated like any other spec."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates as ISO strings, tuples as lists)."""
        data = dataclasses.asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["app_ids"] = list(self.app_ids)
        data["excluded_events"] = list(self.excluded_events)
        data["included_events"] = list(self.included_events)
        data["attributes"] = [attribute.to_dict() for attribute in self.attributes]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown spec field(s) {unknown}; expected some of {sorted(known)}")
        values = dict(data)
        if isinstance(values.get("as_of"), str):
            values["as_of"] = parse_date(values["as_of"], field_name="as_of")
        return cls(**values)


def spec_from_json(text: str | bytes, *, what: str) -> TrainingSpec:
    """The spec in JSON text of `TrainingSpec` fields: the CLI's --spec, the app's link and Load spec.

    Every problem is a `SpecError` starting with `what` ("--spec spec.json", "The spec in this link").
    """
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"{what} is larger than {MAX_SPEC_BYTES // 1024} kB; a spec is a few lines of JSON")
    try:
        text = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError:
        raise SpecError(f"{what} is not UTF-8 text; expected a JSON object of spec fields") from None
    depth = _json_depth(text)
    if depth > MAX_SPEC_DEPTH:
        raise SpecError(f"{what} nests lists or objects {depth:,} levels deep; expected at most {MAX_SPEC_DEPTH}")

    def whole_number(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
            raise SpecError(f"{what} holds a number {len(digits.lstrip('-')):,} digits long; "
                            f"expected numbers of at most {MAX_NUMBER_DIGITS} digits")
        return int(digits)

    def finite(number: str) -> float:
        if not math.isfinite(float(number)):
            raise SpecError(f"{what} holds {_show(number)}, which is not a finite number; expected finite numbers")
        return float(number)

    try:
        data = json.loads(text, parse_int=whole_number, parse_float=finite, parse_constant=finite)
    except json.JSONDecodeError as error:
        raise SpecError(f"{what} is not JSON text ({str(error)[:80]}); expected an object of spec fields") from None
    if not isinstance(data, dict):
        raise SpecError(f"{what} must hold a JSON object of spec fields, got {type(data).__name__}")
    try:
        return TrainingSpec.from_dict(data)
    except SpecError as error:
        raise SpecError(f"{what}: {error}") from None
    except (TypeError, ValueError, AttributeError) as error:  # a field of a shape the dataclass itself refuses
        raise SpecError(f"{what}: {str(error)[:200]}") from None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _json_depth(text: str) -> int:
    """How deep JSON text nests lists and objects, from its brackets outside strings (never recursing)."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse_date(text: str, *, field_name: str = "as_of") -> dt.date:
    """Parse `YYYY-MM-DD`, with a message that says so when the text is anything else."""
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise SpecError(f"{field_name} must be a date written YYYY-MM-DD, got {_show(text)}") from None


def _slug(text: str) -> str:
    """Lower-case ASCII identifier fragment for column names; the event itself stays data."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return slug[:40] or "event"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_whole_number(spec: TrainingSpec, name: str, *, or_else: str = "") -> None:
    value, bounds = getattr(spec, name), FIELD_BOUNDS[name]
    is_integer = isinstance(value, int) and not isinstance(value, bool)
    if not is_integer or not bounds.low <= value <= bounds.high:
        raise SpecError(f"{name} must be a whole number of {bounds.unit} from {bounds.low} to {bounds.high}"
                        f"{or_else}, got {_show(value)}")


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{name} must be a non-empty event or app name, got {_show(value)}")
    if len(value) > MAX_TEXT_LENGTH:
        raise SpecError(f"{name} must be at most {MAX_TEXT_LENGTH} characters, got {len(value)}")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise SpecError(f"{name} must not contain control characters (tabs, newlines, NUL), got {_show(value)}")
    if any(unicodedata.category(char) == "Cs" for char in value):
        raise SpecError(f"{name} must be valid Unicode text, got an unpaired surrogate in {_show(value)}")


def _validate(spec: TrainingSpec) -> None:
    if not isinstance(spec.as_of, dt.date) or isinstance(spec.as_of, dt.datetime):
        raise SpecError(f"as_of must be a date (YYYY-MM-DD), got {_show(spec.as_of)}")
    today = _today()
    if not EARLIEST_AS_OF <= spec.as_of <= today:
        raise SpecError(
            f"as_of must be between {EARLIEST_AS_OF} and today ({today}); got {spec.as_of}"
        )

    _check_whole_number(spec, "cohort_first_seen_from_days")
    _check_whole_number(spec, "cohort_first_seen_to_days")
    if spec.cohort_first_seen_to_days >= spec.cohort_first_seen_from_days:
        raise SpecError(
            "the cohort window is empty: cohort_first_seen_from_days must be greater than "
            f"cohort_first_seen_to_days (users first seen between FROM and TO days before as-of), "
            f"got from={spec.cohort_first_seen_from_days}, to={spec.cohort_first_seen_to_days}"
        )
    _check_whole_number(spec, "short_window_days")
    _check_whole_number(spec, "long_window_days")
    if spec.short_window_days >= spec.long_window_days:
        raise SpecError(
            "short_window_days must be shorter than long_window_days, "
            f"got short={spec.short_window_days}, long={spec.long_window_days}"
        )
    _check_whole_number(spec, "target_window_minutes")
    _check_whole_number(spec, "target_min_count")

    _check_text("target_event", spec.target_event)
    if not spec.app_ids:
        raise SpecError("app_ids must list at least one app id (the cohort is users seen on these apps), got none")
    for app_id in spec.app_ids:
        _check_text("app_ids", app_id)
    for event in spec.excluded_events:
        _check_text("excluded_events", event)
    if spec.target_event in spec.excluded_events:
        raise SpecError(
            f"target_event {spec.target_event!r} is also in excluded_events, so no row could ever be "
            "positive; remove it from excluded_events or pick another target event"
        )

    for event in spec.included_events:
        _check_text("included_events", event)
    if spec.included_events and spec.target_event not in spec.included_events:
        raise SpecError(
            f"target_event {spec.target_event!r} is not in included_events, so no row could ever be "
            "positive; add it to included_events or leave included_events empty to count every event"
        )
    for name in ("exclude_after_first_target", "count_only_cohort_apps"):
        if not isinstance(getattr(spec, name), bool):
            raise SpecError(f"{name} must be true or false, got {_show(getattr(spec, name))}")
    _check_whole_number(spec, "user_sample_percent")
    _check_whole_number(spec, "collector_tstamp_margin_days")
    if spec.max_negatives_per_positive is not None:
        _check_whole_number(spec, "max_negatives_per_positive", or_else=", or None to keep every negative")

    if not isinstance(spec.events_table, str) or not TABLE_NAME.fullmatch(spec.events_table):
        raise SpecError(
            "events_table must be a table name like atomic.events or database.schema.events "
            f"(letters, digits, _ and $), got {_show(spec.events_table)}"
        )
    step = query_step_named(spec.events_table)
    if step is not None:
        raise SpecError(
            f"events_table {spec.events_table!r} has the name of a step of the training-set query ({step}), "
            "which Snowflake would read instead of the table; write the table with its schema, e.g. "
            f"atomic.{spec.events_table} (main.{spec.events_table} in a DuckDB file)"
        )
    _check_columns(spec)  # last: it reads the target column, so the target's fields must be valid


# A CTE's definition in sql/*.sql: a name (parts of it may be Jinja, like `{{ attribute.name }}_edges`)
# at the start of a line, then `as (`.
_CTE_DEFINITION = re.compile(r"^((?:\w|\{\{[^}]*\}\})+) as (?:\{\{ cte_hint \}\})?\(\s*$", re.M)


@functools.lru_cache(maxsize=1)
def _query_steps() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Every CTE name the templates can render, read from the templates themselves, as (name, pattern)."""
    names = {match.group(1) for path in sorted((REPO_ROOT / "sql").glob("*.sql"))
             for match in _CTE_DEFINITION.finditer(path.read_text(encoding="utf-8"))}
    return tuple((name, re.compile("".join(".+" if part.startswith("{{") else re.escape(part)
                                           for part in re.split(r"(\{\{[^}]*\}\})", name) if part), re.I))
                 for name in sorted(names))


def query_step_named(table: str) -> str | None:
    """The CTE of our queries that an unqualified table name would resolve to (in Snowflake a CTE
    shadows a table of the same name), or None. A qualified name never resolves to a CTE."""
    if "." in table:
        return None
    name = next((name for name, pattern in _query_steps() if pattern.fullmatch(table)), None)
    return None if name is None else re.sub(r"\{\{[^}]*\}\}", "*", name)


def _check_columns(spec: TrainingSpec) -> None:
    """Custom attributes' columns must not collide with any other column of the training set."""
    if not spec.all_attributes:
        raise SpecError("preset 'none' with no attributes leaves the model no input; add attributes or pick a preset")
    taken = {*IDENTIFIER_COLUMNS, EVENT_NAME_COLUMN, spec.target_column}
    taken |= {spec.window_column(a.name, w, a.period_days) for a in spec.preset_attributes for w in a.windows}
    for index, attribute in enumerate(spec.attributes):
        for window in attribute.windows:
            column = spec.window_column(attribute.name, window, attribute.period_days)
            if column in taken:
                raise SpecError(
                    f"attributes[{index}].name {attribute.name!r} gives the column {column!r}, which another "
                    "column of the training set already has; choose another name"
                )
            taken.add(column)
