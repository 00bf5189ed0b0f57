"""Snowplow Signals' semantics replayed in plain Python over an event list: the proof the SQL is measured by.

Nothing here is SQL. From the attribute registry (`trainingset.attributes` via `features.spec_features`)
and a list of events in the atomic layout, `replay` computes every model input at every prediction
point as Signals computes its attributes:
- `counter`: the number of matching events (`count`; `any` is `counter > 0`, what the service derives);
- `unique_list`: the distinct non-null values of the property, at most `UNIQUE_LIST_LIMIT` kept; the
  model reads its length (`count_distinct`);
- `first` / `last`: the property of the earliest / latest matching event that has one (null-skipping);
- a matching event has one of the attribute's event names (any, when it names none) and meets every
  criterion; a criterion on a missing value is false (`is_not_null` aside), `like` is SQL's LIKE
  (`%` any run, `_` one character, no escape character, case-sensitive);
- Signals' timing: at a prediction point, every event of the prospect up to and including that
  instant (all events at the same instant), and with a period, only events later than the instant
  minus the period. An event-level input (`latest_*`) is `last` over every event: the scored event's
  own value, or the latest earlier one when it has none. `day_of_week` is the scored event's ISO day
  of week (the service derives it from the request time).

`Semantics` switches the differences between the training SQL's tutorial timing and Signals one at a
time, so the same code replays both and the parity report can say which difference moves a value:
`TUTORIAL` (strictly earlier events, a window of at most N second boundaries back as `datediff`
counts them, the SQL's own event filters: session, excluded and included events, the cohort's apps
when the spec says so; no cap), `SIGNALS` (the list above) and the steps between.
Events are de-duplicated on `event_id` (its earliest copy): Snowplow delivers at least once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from prospect_core.trainingset.atomic import COLUMN_NAMES
from prospect_core.trainingset.attributes import Attribute, Criterion
from prospect_core.trainingset.features import Feature, spec_features
from prospect_core.trainingset.spec import TrainingSpec

# Snowplow's attribute docs: a unique_list-style aggregation keeps at most 100 values.
UNIQUE_LIST_LIMIT = 100
ATTRIBUTE_DOCS = "https://docs.snowplow.io/docs/signals/define-attributes/attributes/"
_NANOS = 1_000_000_000


@dataclass(frozen=True)
class Semantics:
    """Which rules a replay counts by: each field is one documented difference between the training
    SQL's tutorial timing and what Signals serves."""

    includes_current: bool  # events at the prediction instant count (Signals) or only strictly earlier ones
    exact_period: bool  # a period keeps events later than instant - period, or at most N second boundaries back
    sql_filters: bool  # history is the rows' events only: with a session id, by the spec's event name and app filters
    lookback_only: bool  # a window with a period reads only the lookback scan (a lifetime window reads all)
    event_fallback: bool  # an event-level value missing on the event falls back to the latest earlier one
    capped: bool  # a unique_list keeps at most UNIQUE_LIST_LIMIT values


TUTORIAL = Semantics(includes_current=False, exact_period=False, sql_filters=True, lookback_only=True,
                     event_fallback=False, capped=False)
SIGNALS = Semantics(includes_current=True, exact_period=True, sql_filters=False, lookback_only=False,
                    event_fallback=True, capped=True)


def training_semantics(spec: TrainingSpec) -> Semantics:
    """The rules the training SQL counts by under the spec's feature timing: in `signals` timing all of
    Signals' but the unique_list cap, which no SQL aggregate keeps."""
    return TUTORIAL if spec.feature_timing == "tutorial" else replace(SIGNALS, capped=False)


def replay(events: pd.DataFrame, points: pd.DataFrame, spec: TrainingSpec,
           semantics: Semantics = SIGNALS) -> pd.DataFrame:
    """Every model input of `spec` at each prediction point, counted over `events` by `semantics`.

    `events`: atomic-layout rows (at least event_id, derived_tstamp, domain_userid, domain_sessionid,
    event_name, app_id, and the columns the attributes read). `points`: rows with event_id,
    domain_userid and derived_tstamp (a training set). Returns one column per model input, named
    as in the training set, on `points`' index."""
    history = _history(events, spec, semantics)
    features = spec_features(spec)
    attributes = {f.attribute.name: f.attribute for f in features}.values()
    matches = {a.name: _matches(a, history).to_numpy(dtype=bool) for a in attributes}
    in_lookback = (history["derived_tstamp"] >= pd.Timestamp(spec.as_of) - pd.Timedelta(days=spec.lookback_days)).to_numpy()
    properties = {f.attribute.property for f in features if f.attribute.property}
    values = {name: property_values(name, history).to_numpy(dtype=object) for name in properties}
    times = _nanos(history["derived_tstamp"])
    at = pd.Series(np.arange(len(history)), index=history["event_id"].to_numpy(dtype=object))
    columns: dict[str, np.ndarray] = {f.column(spec): np.empty(len(points), dtype=object) for f in features}
    instants = _nanos(points["derived_tstamp"])
    users = history["domain_userid"].to_numpy(dtype=object)
    # each prospect's events are one run of the sorted history: [first, last) by user
    runs = {user: (int(first), int(first + size)) for user, first, size in zip(
        *np.unique(users, return_index=True), np.unique(users, return_counts=True)[1])} if len(users) else {}
    point_users = points["domain_userid"].to_numpy(dtype=object)
    own = at.reindex(points["event_id"].to_numpy(dtype=object)).to_numpy()
    for index in range(len(points)):
        first, last = runs.get(point_users[index], (0, 0))
        instant = instants[index]
        end = first + int(np.searchsorted(times[first:last], instant,
                                          side="right" if semantics.includes_current else "left"))
        for feature in features:
            column = columns[feature.column(spec)]
            if feature.window == "event":
                column[index] = _event_value(feature, values, own[index], first, end, instant, semantics)
                continue
            days = feature.days(spec)
            start = first + _window_start(times[first:last], instant, days, semantics)
            mask = matches[feature.attribute.name]
            if days is not None and semantics.lookback_only:
                mask = mask & in_lookback
            column[index] = _aggregate(feature, values, mask, start, end, semantics)
    frame = pd.DataFrame(columns, index=points.index)
    for feature in features:
        if feature.dtype != "str":
            frame[feature.column(spec)] = frame[feature.column(spec)].astype(feature.dtype)
    return frame


# ----- which events a replay reads ----------------------------------------------------------------


def _history(events: pd.DataFrame, spec: TrainingSpec, semantics: Semantics) -> pd.DataFrame:
    """The events counted, sorted by prospect and time, one copy per event_id."""
    frame = events.reindex(columns=[*events.columns, *(c for c in COLUMN_NAMES if c not in events.columns)])
    frame = frame[frame["event_id"].notna() & frame["domain_userid"].notna() & frame["derived_tstamp"].notna()]
    frame = frame.assign(derived_tstamp=pd.to_datetime(frame["derived_tstamp"]))
    frame = frame[frame["derived_tstamp"] < pd.Timestamp(spec.as_of) + pd.Timedelta(days=1)]
    if semantics.sql_filters:
        kept = frame["domain_sessionid"].notna() & ~frame["event_name"].isin(spec.excluded_events)
        if spec.included_events:
            kept &= frame["event_name"].isin(spec.included_events)
        if spec.count_only_cohort_apps:
            kept &= frame["app_id"].isin(spec.app_ids)
        frame = frame[kept]
    # the earliest copy of an event delivered twice (ties broken by user, session and name, as the SQL does)
    frame = frame.sort_values(["derived_tstamp", "domain_userid", "domain_sessionid", "event_name"],
                              kind="stable", na_position="last")
    frame = frame.drop_duplicates("event_id", keep="first")
    return frame.sort_values(["domain_userid", "derived_tstamp"], kind="stable").reset_index(drop=True)


def _nanos(times: pd.Series) -> np.ndarray:
    return pd.to_datetime(times).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _window_start(times: np.ndarray, instant: int, days: int | None, semantics: Semantics) -> int:
    """Index of the window's first event in a prospect's `times` (0 for lifetime): later than instant
    - period (Signals), or at most N second boundaries before the instant (the tutorial's
    `datediff('second', ...) <= N`, which counts boundaries: 0.2 s across one is 1 second)."""
    if days is None:
        return 0
    seconds = days * 86_400
    if semantics.exact_period:
        return int(np.searchsorted(times, instant - seconds * _NANOS, side="right"))
    boundary = (instant // _NANOS - seconds) * _NANOS
    return int(np.searchsorted(times, boundary, side="left"))


# ----- values ----------------------------------------------------------------------------------


def property_values(name: str, events: pd.DataFrame) -> pd.Series:
    """The property `name` of each event, None where it has none: a column, or a value derived from one."""
    if name == "day_of_week":
        return pd.to_datetime(events["derived_tstamp"]).map(lambda t: t.isoweekday()).astype(object)
    if name == "device_class":
        return events["contexts_nl_basjes_yauaa_context_1"].map(_device_class)
    values = events[name].astype(object)
    return values.where(values.notna(), None)


def _device_class(context: Any) -> Any:
    if context is None or (isinstance(context, float) and np.isnan(context)):
        return None
    entities = json.loads(context) if isinstance(context, (str, bytes)) else context
    try:
        value = entities[0]["deviceClass"]
    except (IndexError, KeyError, TypeError):
        return None
    return None if value is None else str(value)


def like_pattern(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regular expression: `%` any run, `_` one character, everything else itself."""
    parts = [".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _criterion_holds(criterion: Criterion, events: pd.DataFrame) -> pd.Series:
    values = property_values(criterion.property, events)
    present = values.notna()
    if criterion.operator == "is_not_null":
        return present
    value, operator = criterion.value, criterion.operator
    if operator == "like":
        pattern = like_pattern(value)
        test = lambda v: pattern.fullmatch(str(v)) is not None  # noqa: E731
    elif operator == "in":
        test = lambda v: v in value  # noqa: E731
    else:
        test = {"eq": lambda v: v == value, "neq": lambda v: v != value, "gt": lambda v: v > value,
                "gte": lambda v: v >= value, "lt": lambda v: v < value, "lte": lambda v: v <= value}[operator]
    return pd.Series([bool(present_) and bool(test(v)) for v, present_ in zip(values, present)], index=events.index)


def _matches(attribute: Attribute, events: pd.DataFrame) -> pd.Series:
    """Whether each event counts for `attribute`: one of its events (any, when none), every criterion."""
    holds = pd.Series(not attribute.events, index=events.index)
    for ref in attribute.events:  # the name, and the vendor and version where the attribute gives them
        one = events["event_name"] == ref.name
        for given, column in ((ref.vendor, "event_vendor"), (ref.version, "event_version")):
            if given is not None:
                one &= (events[column] == given) if column in events.columns else False
        holds |= one.fillna(False).astype(bool)
    for criterion in attribute.where:
        holds &= _criterion_holds(criterion, events)
    return holds


def _aggregate(feature: Feature, values: dict[str, np.ndarray], mask: np.ndarray, start: int, end: int,
               semantics: Semantics) -> Any:
    """One windowed input over history positions [start, end)."""
    attribute = feature.attribute
    counted = mask[start:end]
    if attribute.aggregation in ("count", "any"):
        count = int(counted.sum())
        return count > 0 if attribute.aggregation == "any" else count
    chosen = [value for value, counts in zip(values[attribute.property][start:end], counted)
              if counts and value is not None]
    if attribute.aggregation == "count_distinct":
        distinct = len(set(chosen))
        return min(distinct, UNIQUE_LIST_LIMIT) if semantics.capped else distinct
    if not chosen:
        return feature.default
    return chosen[0] if attribute.aggregation == "first" else chosen[-1]


def _event_value(feature: Feature, values: dict[str, np.ndarray], own: float, first: int, end: int,
                 instant: int, semantics: Semantics) -> Any:
    """An event-level input: the scored event's own value; under Signals' `last` over every event, the
    latest value of an event up to that instant when the scored one has none."""
    name = feature.attribute.property
    if name == "day_of_week":  # the service's request time, which is the event's instant
        return pd.Timestamp(int(instant)).isoweekday()
    column = values[name]
    value = None if np.isnan(own) else column[int(own)]
    if value is None and semantics.event_fallback:
        known = [v for v in column[first:end] if v is not None]
        value = known[-1] if known else None
    return feature.default if value is None else value


def between(first: Semantics, second: Semantics) -> list[tuple[str, Semantics]]:
    """The steps from `first` to `second`, one field changed at a time, named by the field."""
    steps, current = [], first
    for name in Semantics.__dataclass_fields__:
        if getattr(current, name) != getattr(second, name):
            current = replace(current, **{name: getattr(second, name)})
            steps.append((name, current))
    return steps


# ----- parity: what Signals would serve against what the model learned ----------------------------

# The prospects a parity report replays at most (a seeded sample beyond): the replay is plain Python,
# about 25 µs an input a row.
PARITY_PROSPECTS = 300
TRAINING_SQL = "the training SQL (sql/training_events.sql)"
# Each difference between the training SQL's rules and Signals', in words, with where it is documented.
DIFFERENCES: dict[str, tuple[str, str]] = {
    "includes_current": ("training counts strictly earlier events; Signals has already counted the current one "
                         "(and any other event at the same instant)", ATTRIBUTE_DOCS),
    "exact_period": ("training's window counts second boundaries back (datediff); Signals' period keeps events "
                     "later than the instant minus the period", TRAINING_SQL),
    "sql_filters": ("training leaves out events without a session id and those the spec's event and app filters "
                    "leave out; those filters are not in the attribute's criteria, so Signals counts them", TRAINING_SQL),
    "lookback_only": ("training's windows read only the lookback scan; Signals' period reaches back in full",
                      TRAINING_SQL),
    "event_fallback": ("an event without the value: training takes the default; Signals' last keeps the latest "
                       "earlier value", ATTRIBUTE_DOCS),
    "capped": (f"Signals keeps at most {UNIQUE_LIST_LIMIT} values of a unique_list", ATTRIBUTE_DOCS),
}
UNEXPLAINED = ("the training value differs from the replay of the training SQL's own rules: not a documented "
               "limit", TRAINING_SQL)


@dataclass(frozen=True)
class ParitySample:
    """The rows a parity report replays: all of the set's, or those of a seeded sample of its prospects."""

    rows: pd.DataFrame
    prospects: int
    of_prospects: int

    @property
    def sampled(self) -> bool:
        return self.prospects < self.of_prospects

    @property
    def description(self) -> str:
        rows = f"{len(self.rows):,} rows of {self.prospects:,} prospects"
        return f"{rows}, a seeded sample of the set's {self.of_prospects:,}" if self.sampled else rows


def parity_sample(frame: pd.DataFrame, limit: int = PARITY_PROSPECTS, seed: int = 0) -> ParitySample:
    """The rows of at most `limit` of the set's prospects, the same ones for the same set."""
    prospects = pd.unique(frame["domain_userid"].astype(object))
    chosen = prospects
    if len(prospects) > limit:
        chosen = np.random.default_rng(seed).choice(np.sort(prospects), size=limit, replace=False)
    rows = frame[frame["domain_userid"].astype(object).isin(set(chosen))]
    return ParitySample(rows, len(chosen), len(prospects))


def replay_parity(sample: ParitySample, events: pd.DataFrame, spec: TrainingSpec) -> dict[str, dict[str, Any]]:
    """Per model input: the share of rows whose training value equals what Signals would serve, and
    for the others, which documented difference moves the value (the first step of `between` at which
    it changes), as `{"share_matching": float, "mismatches": [{"why", "source", "share"}]}`."""
    rows = sample.rows
    trained = training_semantics(spec)
    ladder = [("", trained), *between(trained, SIGNALS)]
    replays = [replay(events, rows, spec, semantics) for _, semantics in ladder]
    report: dict[str, dict[str, Any]] = {}
    for feature in spec_features(spec):
        column = feature.column(spec)
        values = rows[column].astype(object).to_numpy()
        steps = [r[column].astype(object).to_numpy() for r in replays]
        served = steps[-1]
        moved = np.zeros(len(rows), dtype=bool)
        mismatches = []
        differs = values != served
        reasons = [(UNEXPLAINED, values != steps[0])]
        reasons += [(DIFFERENCES[name], steps[i] != steps[i - 1]) for i, (name, _) in enumerate(ladder) if i]
        for (why, source), changed in reasons:
            counted = differs & changed & ~moved
            moved |= counted
            if counted.any():
                mismatches.append({"why": why, "source": source, "share": float(counted.mean())})
        report[column] = {"share_matching": float((~differs).mean()) if len(rows) else None, "mismatches": mismatches}
    return report


def mismatch_reasons(row: dict[str, Any]) -> str:
    """A parity row's mismatches in words: each documented difference with its share and source."""
    return "; ".join(f"{m['share']:.1%}: {m['why']} ({m['source']})" for m in row.get("mismatches", ()))


def parity_warning(row: dict[str, Any]) -> str:
    """One line for a material parity row (the CLI's warning, the card's and the app's)."""
    return (f"{row['input']} differs from what Signals serves on {1 - row['share_matching']:.1%} of rows, "
            f"so served scores differ there: {mismatch_reasons(row)}")
