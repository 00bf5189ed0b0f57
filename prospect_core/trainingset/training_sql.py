"""Render the training-set SQL for a spec, in Snowflake or DuckDB.

One source of truth for the logic: the templates in `sql/` (Jinja, one relation a file) are written
once, and the few places where the dialects differ are macros supplied by a `Dialect` here
(date arithmetic, `datediff` in seconds, epoch seconds and nanoseconds, ISO day of week, reading
`deviceClass` from the YAUAA context, placeholders and string literals). Three formulations give the
same rows, each a template picked per dialect by `TEMPLATES`; all include `training_events.sql` for
the as-of cut-off, lookback scan, cohort and filters:
- `seed`: `training_set_seed.sql`, the tutorial's self-join, quadratic in a user's events.
- `portable`: `training_set_fast.sql`, running totals and value "islands" over each user's timeline,
  using only window frames Snowflake documents (constant RANGE offsets, no DISTINCT over a frame).
- `fast` (the default): the quickest exact template for the dialect. On DuckDB that is
  `training_set_fast_duckdb.sql`: framed aggregates over one shared user timeline with per-row
  RANGE offsets (exact second boundaries), counters packed into HUGEINT lanes, distinct counts by
  value islands. On Snowflake it is the portable template. Measurements: bench/README.md.
We do not transpile with sqlglot: it turns `col[0]:deviceClass::string` into DuckDB SQL that silently returns NULL, and a macro layer keeps
every difference visible in one class.

User text (target event, app ids, excluded and included events) never becomes SQL text. It is bound as a
parameter (`bind`) or, for the SQL a user copies into their own worksheet (`inline=True`), written
as a literal escaped for the dialect. Numbers come from the validated spec; the table name is
validated as an identifier by the spec.

Semantics kept from the tutorial, on purpose:
- `datediff('second', a, b) <= N` counts second *boundaries* crossed (0.2 s across a boundary is
  1 second), and both dialects' `datediff` behave that way.
- History is strictly earlier events (timestamp ties excluded); the target looks strictly ahead.
- `first_*` features take the earliest event in the window that has a value: NULLs are skipped
  (DuckDB's `arg_min` does this natively; we spell it out so Snowflake does the same).
- `first_seen` is computed from events inside the lookback scan, like the tutorial.
Deliberate change: `num_form_engagements_l7d` counts focus_form/change_form events (the tutorial's
SQL compared the count with 0, turning a counter into a boolean).

The feature columns are not written in the templates: they iterate over `feature_plan(spec)`, the
attribute registry (`prospect_core.trainingset.attributes`, built-ins and the spec's own) sorted into what each
formulation needs: event values, counters (count/any: a 0/1 flag a row, summed per window; packed
into HUGEINT lanes in the fast DuckDB query), distinct counts (value islands, one pass each) and
first/last values. `_AttributeSQL` writes an attribute's filter and value; its event names and
criteria values are bound like the spec's other user text.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Collection, Literal, Mapping

import jinja2

from prospect_core.infra.paths import REPO_ROOT
from prospect_core.trainingset.atomic import COLUMN_TYPES, IDENTITY_COLUMNS, OPTIONAL_COLUMNS, PRUNING_COLUMN
from prospect_core.trainingset.attributes import BASE_COLUMNS, PROPERTIES, Attribute, Criterion, EventRef
from prospect_core.trainingset.features import Feature, column_aliases, spec_attributes, spec_features
from prospect_core.trainingset.spec import TrainingSpec

DialectName = Literal["snowflake", "duckdb", "databricks"]
Formulation = Literal["seed", "fast", "portable"]
DIALECTS: tuple[DialectName, ...] = ("snowflake", "duckdb", "databricks")
FORMULATIONS: tuple[Formulation, ...] = ("seed", "fast", "portable")
DEFAULT_FORMULATION: dict[DialectName, Formulation] = {"duckdb": "fast", "snowflake": "fast", "databricks": "fast"}
# `fast` is the quickest exact template a dialect can run. DuckDB takes per-row RANGE offsets (and
# HUGEINT bit shifts); Snowflake documents neither, so its `fast` is the portable template
# (constant RANGE offsets on SUM/COUNT/MIN only), verified through fakesnow, not on Snowflake.
TEMPLATES: dict[tuple[Formulation, DialectName], str] = {
    ("seed", "duckdb"): "training_set_seed.sql",
    ("seed", "snowflake"): "training_set_seed.sql",
    ("fast", "duckdb"): "training_set_fast_duckdb.sql",
    ("fast", "snowflake"): "training_set_fast.sql",
    ("portable", "duckdb"): "training_set_fast.sql",
    ("portable", "snowflake"): "training_set_fast.sql",
    # Spark SQL (Databricks) runs the portable frames too: constant RANGE offsets over a bigint key
    ("seed", "databricks"): "training_set_seed.sql",
    ("fast", "databricks"): "training_set_fast.sql",
    ("portable", "databricks"): "training_set_fast.sql",
}

SQL_DIR = REPO_ROOT / "sql"
# Width of the counter lanes packed into one HUGEINT sum by training_set_fast_duckdb.sql: five lanes
# of 25 bits. Exact while no user has 2^25 (33.5 million) events in the lookback; the query stops
# with LANE_LIMIT_MESSAGE for a user with more.
LANE_BITS = 25
LANES_PER_SUM = 5
LANE_LIMIT_MESSAGE = "more events than the fast DuckDB query counts exactly"


@dataclass(frozen=True)
class RenderedSQL:
    """SQL text plus the values for its placeholders (empty when literals were inlined)."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)
    dialect: DialectName = "duckdb"


class Dialect:
    """Macros whose SQL differs between warehouses. Subclasses override what differs."""

    name: DialectName
    epoch_literal: str
    # Written before a CTE's `(`: how to ask for it to be inlined rather than materialised.
    cte_hint: str = ""
    # Whether `qualify` filters on a window function; without it the template nests a select.
    has_qualify: bool = True
    text_type: str = "varchar"

    def placeholder(self, name: str) -> str:
        raise NotImplementedError

    def string_literal(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    # The type a context column has in this warehouse, for the NULL standing in for a missing one.
    json_type: str = "json"

    def date_literal(self, value: dt.date) -> str:
        return f"'{value.isoformat()}'::date"

    def table_name(self, table: str) -> str:
        """The events table as this dialect reads it (validated by the spec as plain identifiers)."""
        return table

    def typed_null(self, sql_type: str) -> str:
        """NULL of an atomic column's type (`atomic.COLUMN_TYPES`): what a missing optional column reads as."""
        return f"cast(null as {self.json_type if sql_type == 'json' else sql_type})"

    def days_before(self, date_sql: str, days: int) -> str:
        raise NotImplementedError

    def seconds_between(self, earlier: str, later: str) -> str:
        """Seconds from `earlier` to `later`, counting second boundaries like Snowflake's datediff."""
        raise NotImplementedError

    def seconds_before(self, timestamp: str, seconds: int) -> str:
        """`timestamp` less a whole number of seconds, exactly (to the microsecond)."""
        raise NotImplementedError

    def epoch_nanosecond(self, timestamp: str) -> str:
        """Nanoseconds since the epoch as an integer: an order key with a constant range offset of 1 tick."""
        raise NotImplementedError

    def epoch_second(self, timestamp: str) -> str:
        """Second boundaries crossed since the epoch: `datediff` itself, so windows on this number
        count boundaries exactly as the seed's `datediff('second', ...) <= N` does."""
        return self.seconds_between(self.epoch_literal, timestamp)

    def iso_day_of_week(self, timestamp: str) -> str:
        raise NotImplementedError

    def device_class(self, context_column: str) -> str:
        raise NotImplementedError

    def in_user_sample(self, user_id: str, percent: int) -> str:
        """True for `percent`% of user ids, the same ids on every run and in every dialect.

        Not `hash()`: Snowflake's and DuckDB's differ. `md5` is the same in both (lower-case hex of
        the UTF-8 bytes), and its first 8 hex digits compared as text against `percent`% of 16^8
        written as 8 hex digits is a numeric comparison (fixed-width lower-case hex sorts like the
        number), so no dialect-specific hex-to-number conversion is needed. Samples nest: the 10%
        sample is inside the 20% sample. Override here if a dialect's `md5` differs.
        """
        if percent >= 100:
            return "true"
        threshold = percent * 16**8 // 100
        return f"substr(md5(cast({user_id} as {self.text_type})), 1, 8) < '{threshold:08x}'"


class SnowflakeDialect(Dialect):
    name = "snowflake"
    json_type = "variant"

    def date_literal(self, value: dt.date) -> str:
        # With its format spelled out: `'...'::date` depends on the account's DATE_INPUT_FORMAT being AUTO.
        return f"to_date('{value.isoformat()}', 'YYYY-MM-DD')"

    def placeholder(self, name: str) -> str:
        # The connector's default paramstyle (pyformat): values are escaped by the connector.
        return f"%({name})s"

    def string_literal(self, value: str) -> str:
        # Snowflake treats backslash as an escape inside single-quoted strings.
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"

    def days_before(self, date_sql: str, days: int) -> str:
        return f"dateadd('day', {-days}, {date_sql})"

    def seconds_between(self, earlier: str, later: str) -> str:
        return f"datediff('second', {earlier}, {later})"

    def seconds_before(self, timestamp: str, seconds: int) -> str:
        return f"dateadd('second', {-seconds}, {timestamp})"

    # Format spelled out, for the same reason as date_literal (TIMESTAMP_INPUT_FORMAT).
    epoch_literal = "to_timestamp_ntz('1970-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')"

    def epoch_nanosecond(self, timestamp: str) -> str:
        return f"date_part(epoch_nanosecond, {timestamp})"

    def iso_day_of_week(self, timestamp: str) -> str:
        return f"dayofweekiso({timestamp})"

    def device_class(self, context_column: str) -> str:
        return f"{context_column}[0]:deviceClass::string"


class DuckDBDialect(Dialect):
    name = "duckdb"
    # DuckDB materialises a CTE read more than once, wide columns and all; Snowflake has no hint.
    cte_hint = "not materialized "

    def placeholder(self, name: str) -> str:
        return f"${name}"

    def days_before(self, date_sql: str, days: int) -> str:
        # date -/+ interval gives a timestamp at midnight, which is what the comparisons need.
        sign = "-" if days >= 0 else "+"
        return f"({date_sql} {sign} interval {abs(days)} day)"

    def seconds_between(self, earlier: str, later: str) -> str:
        return f"date_diff('second', {earlier}, {later})"

    def seconds_before(self, timestamp: str, seconds: int) -> str:
        return f"({timestamp} - interval {seconds} second)"

    epoch_literal = "timestamp '1970-01-01 00:00:00'"

    def epoch_nanosecond(self, timestamp: str) -> str:
        return f"epoch_ns({timestamp})"

    def iso_day_of_week(self, timestamp: str) -> str:
        return f"isodow({timestamp})"

    def device_class(self, context_column: str) -> str:
        # Works for JSON and for VARCHAR holding JSON text.
        return f"json_extract_string({context_column}, '$[0].deviceClass')"


class DatabricksDialect(Dialect):
    """Spark SQL as Databricks runs it, on Snowplow's Databricks atomic events: contexts are arrays of
    structs with snake_case fields, timestamps are microseconds. Tested on a local Apache Spark, which
    has no `qualify` (Databricks has; the nested select is the same plan)."""

    name = "databricks"
    has_qualify = False
    text_type = "string"

    def placeholder(self, name: str) -> str:
        # named parameter markers: databricks-sql-connector's native parameters and spark.sql(args=...)
        return f":{name}"

    def string_literal(self, value: str) -> str:
        # Spark reads backslash escapes in string literals, and `'a''b'` is two adjacent literals
        # ("ab"), not a quote: escape both with a backslash.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def date_literal(self, value: dt.date) -> str:
        return f"date '{value.isoformat()}'"

    def table_name(self, table: str) -> str:
        # Spark's unquoted identifiers are letters, digits and _: a part with `$` (Snowflake allows it) is quoted
        return ".".join(f"`{part}`" if "$" in part else part for part in table.split("."))

    def typed_null(self, sql_type: str) -> str:
        # A context is an array of structs; the only field the studio reads from one is device_class
        kind = {"json": "array<struct<device_class:string>>", "varchar": "string"}.get(sql_type, sql_type)
        return f"cast(null as {kind})"

    def days_before(self, date_sql: str, days: int) -> str:
        # a date, compared with timestamps as midnight (UTC: the session time zone the source sets)
        return f"date_add({date_sql}, {-days})"

    def seconds_before(self, timestamp: str, seconds: int) -> str:
        return f"timestampadd(second, {-seconds}, {timestamp})"

    def seconds_between(self, earlier: str, later: str) -> str:
        # Spark's datediff(second, ...) counts whole elapsed seconds (0.9 to 1.1 is 0); the seed's
        # datediff counts second boundaries crossed, which is the difference of truncated seconds.
        return f"(unix_seconds({later}) - unix_seconds({earlier}))"

    epoch_literal = "timestamp '1970-01-01 00:00:00'"

    def epoch_second(self, timestamp: str) -> str:
        return f"unix_seconds({timestamp})"

    def epoch_nanosecond(self, timestamp: str) -> str:
        # Spark timestamps hold microseconds: nanoseconds are those times 1,000 (periods are N * 10^9 ticks)
        return f"(unix_micros({timestamp}) * 1000)"

    def iso_day_of_week(self, timestamp: str) -> str:
        return f"extract(dayofweek_iso from {timestamp})"

    def device_class(self, context_column: str) -> str:
        # Snowplow's Databricks loader writes each context as array<struct> with snake_case fields
        return f"{context_column}[0].device_class"


DIALECT_BY_NAME: dict[str, Dialect] = {
    "snowflake": SnowflakeDialect(), "duckdb": DuckDBDialect(), "databricks": DatabricksDialect(),
}


@functools.lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SQL_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template_values(spec: TrainingSpec) -> dict[str, Any]:
    """Values the templates may bind: user text and constants, never inlined into SQL text.

    Each attribute's event names and criteria values are `<name>_events` (the events named alone) and
    `<name>_where_<i>`; an event given with a vendor or version is `<name>_event_<i>` with
    `<name>_event_<i>_vendor` and `<name>_event_<i>_version` (`identified_events`)."""
    values: dict[str, Any] = {
        "target_event": spec.target_event,
        "app_ids": list(spec.app_ids),
        "excluded_events": list(spec.excluded_events),
        "included_events": list(spec.included_events),
    }
    for attribute in spec_attributes(spec):
        named, identified = named_events(attribute), identified_events(attribute)
        if named:
            values[f"{attribute.name}_events"] = [event.name for event in named]
        for index, event in identified:
            key = f"{attribute.name}_event_{index}"
            values.update({key: event.name, f"{key}_vendor": event.vendor, f"{key}_version": event.version})
        for index, criterion in enumerate(attribute.where):
            value = criterion.value
            values[f"{attribute.name}_where_{index}"] = list(value) if isinstance(value, tuple) else value
    return values


def named_events(attribute: Attribute) -> list[EventRef]:
    """The attribute's events given by name alone: matched on event_name only."""
    return [event for event in attribute.events if event.vendor is None and event.version is None]


def identified_events(attribute: Attribute) -> list[tuple[int, EventRef]]:
    """(position, event) for the attribute's events given with a vendor or version."""
    return [(index, event) for index, event in enumerate(attribute.events)
            if event.vendor is not None or event.version is not None]


_COMPARISONS = {"eq": "=", "neq": "<>", "like": "like", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class FeaturePlan:
    """The registry as the templates read it: which features need which kind of pass.

    - `event`: the prediction point's own values; `counters`: count/any attributes (one flag a row,
      summed over each window); `distinct`: count_distinct attributes (value islands);
      `values`: first/last features (a null-skipping first or last value a window).
    - `spans`: the history each windowed column is computed over, once per length (`d7`: 7 days,
      `lifetime`: no lower bound), with `span_seconds` (None for lifetime) and `span_of` (by feature key).
    - `timing`: the spec's feature_timing. `scan_days`: how far back before the as-of date the scan
      reads (None: the whole table); `extra_history`: whether attributes read events that are not
      rows (`history` in training_events.sql holds more than `events`).
    - `raw_columns`: atomic columns the attributes read beyond `BASE_COLUMNS`, in layout order
      (`event_vendor` and `event_version` last, when an attribute's events give them).
    - `fallbacks`: in signals timing, per event feature (by key) the lifetime `last` feature that
      stands in when the scored event has no value (Signals' `last` skips NULLs); computed with
      `values`, never a column of its own unless the spec asks for it.
    """

    features: tuple[Feature, ...]
    event: tuple[Feature, ...]
    counters: tuple[Attribute, ...]
    distinct: tuple[Attribute, ...]
    values: tuple[Feature, ...]
    raw_columns: tuple[str, ...]
    spans: tuple[str, ...] = ()
    span_seconds: Mapping[str, int | None] = field(default_factory=dict)
    span_of: Mapping[str, str] = field(default_factory=dict)
    timing: str = "tutorial"
    scan_days: int | None = 0
    extra_history: bool = False
    fallbacks: Mapping[str, Feature] = field(default_factory=dict)

    @property
    def history_features(self) -> tuple[Feature, ...]:
        return tuple(feature for feature in self.features if feature.window != "event")

    def _in_span(self, attributes: tuple[Attribute, ...], span: str) -> list[Attribute]:
        names = {f.name for f in self.history_features if self.span_of[f.key] == span}
        return [a for a in attributes if a.name in names]

    def matched_in_scan(self, attribute: Attribute) -> bool:
        """Whether a narrow scan computes the counter's `matches_<name>`: it has criteria, or events
        with an identity, whose columns (URLs, contexts, vendor and version) then stay in the scan."""
        return bool(attribute.where or identified_events(attribute))

    def counters_in(self, span: str) -> list[Attribute]:
        return self._in_span(self.counters, span)

    def distinct_in(self, span: str) -> list[Attribute]:
        return self._in_span(self.distinct, span)

    @property
    def distinct_spans(self) -> list[tuple[Attribute, str]]:
        """(attribute, span) per distinct count column, span by span."""
        return [(a, span) for span in self.spans for a in self.distinct_in(span)]

    @property
    def bounded_spans(self) -> list[str]:
        return [span for span in self.spans if self.span_seconds[span] is not None]

    @property
    def widest_seconds(self) -> int | None:
        """The longest span in seconds, None when one is lifetime: how far back any column reads."""
        if "lifetime" in self.spans:
            return None
        return max((self.span_seconds[span] for span in self.spans), default=0)

    @property
    def first_value_spans(self) -> list[str]:
        """Spans with a `first` column: the portable template reads marks at their first position."""
        return list(dict.fromkeys(self.span_of[f.key] for f in self.values if f.attribute.aggregation == "first"))

    @property
    def value_attributes(self) -> list[Attribute]:
        """Attributes with a first or last column, once each."""
        return list({f.name: f.attribute for f in self.values}.values())

    # ----- what the fast DuckDB template packs -----
    @property
    def kind_bits(self) -> list[str]:
        """Bits of `kinds`: one per counter, then the target."""
        return [a.name for a in self.counters] + ["target"]

    @property
    def edge_bits(self) -> list[str]:
        """Bits of `edges`: each distinct attribute's island starts (and ends, in a bounded span) per span."""
        return [f"{edge}_{a.name}_{span}" for a, span in self.distinct_spans
                for edge in (("starts", "ends") if self.span_seconds[span] is not None else ("starts",))]

    def lane_sums(self, lanes: int) -> list[tuple[str, str, list[str]]]:
        """(sum name, frame, flags): flags summed over one frame, at most `lanes` to a packed sum."""
        groups = [(f"{span}_counts", f"{span}_history", [f"is_{a.name}" for a in self.counters_in(span)])
                  for span in self.spans]
        groups.append(("islands_started", "earlier", [f"starts_{a.name}_{span}" for a, span in self.distinct_spans]))
        groups += [(f"islands_ended_{span}", f"before_{span}", [f"ends_{a.name}_{span}" for a in self.distinct_in(span)])
                   for span in self.bounded_spans]
        sums = []
        for name, frame, flags in groups:
            for start in range(0, len(flags), lanes):
                suffix = "" if start == 0 else f"_{start // lanes + 1}"
                sums.append((name + suffix, frame, flags[start:start + lanes]))
        return sums

    def lane_index(self, lanes: int) -> dict[str, tuple[str, int]]:
        """`'<frame>:<flag>'` -> (sum name, lane)."""
        return {f"{frame}:{flag}": (name, index) for name, frame, flags in self.lane_sums(lanes)
                for index, flag in enumerate(flags)}


def columns_read(attribute: Attribute) -> set[str]:
    """The atomic columns an attribute's value and criteria come from."""
    read = {PROPERTIES[criterion.property].source for criterion in attribute.where}
    if attribute.property:
        read.add(PROPERTIES[attribute.property].source)
    return read


def features_reading(spec: TrainingSpec, columns: Collection[str]) -> list[str]:
    """The spec's feature columns computed from any of `columns`: constant when those are all NULL."""
    return [feature.column(spec) for feature in spec_features(spec) if columns_read(feature.attribute) & set(columns)]


def _event_fallbacks(spec: TrainingSpec, features: tuple[Feature, ...]) -> dict[str, Feature]:
    """Signals serves an event-level input as `last` over the prospect's whole history, which skips
    NULLs: the scored event's own value, else the latest earlier one. The day of week never is NULL."""
    if spec.feature_timing != "signals":
        return {}
    return {f.key: Feature(f.attribute, "lifetime") for f in features
            if f.window == "event" and f.attribute.property != "day_of_week"}


def feature_plan(spec: TrainingSpec) -> FeaturePlan:
    features = spec_features(spec)
    attributes = spec_attributes(spec)
    fallbacks = _event_fallbacks(spec, features)
    # the lifetime `last` of each fallback, computed like any value feature (once, if the spec has it)
    read_values = tuple(f for f in features if f.window != "event" and f.attribute.aggregation in ("first", "last"))
    read_values += tuple(dict.fromkeys(f for f in fallbacks.values() if f not in read_values))
    read = set().union(*(columns_read(attribute) for attribute in attributes))
    # in the order of PROPERTIES, which is the table's column order
    sources = dict.fromkeys(prop.source for prop in PROPERTIES.values())
    layout = [name for name in sources if name in read and name not in BASE_COLUMNS]
    if any(identified_events(attribute) for attribute in attributes):
        layout += IDENTITY_COLUMNS
    windowed = [f for f in features if f.window != "event"] + list(read_values)
    span_of = {f.key: f.span(spec) for f in windowed}
    spans = tuple(dict.fromkeys(span_of.values()))
    span_days = {f.span(spec): f.days(spec) for f in windowed}
    lifetime = "lifetime" in spans
    signals = spec.feature_timing == "signals"
    # Lifetime history has no lower bound but the source's start: the scan reads all of it (for the
    # cohort's prospects only). Signals timing also reads each window's full length before the
    # lookback's first row; tutorial timing cuts its windows at the lookback, as the tutorial does.
    if lifetime:
        scan_days = None
    elif signals:
        scan_days = spec.lookback_days + max(span_days.values(), default=0)
    else:
        scan_days = spec.lookback_days
    return FeaturePlan(
        features=features,
        event=tuple(f for f in features if f.window == "event"),
        counters=tuple(a for a in attributes if a.aggregation in ("count", "any")),
        distinct=tuple(a for a in attributes if a.aggregation == "count_distinct"),
        values=read_values,
        raw_columns=tuple(layout),
        spans=spans,
        span_seconds={span: None if days is None else days * 86_400 for span, days in span_days.items()},
        span_of=span_of,
        timing=spec.feature_timing,
        scan_days=scan_days,
        extra_history=signals or lifetime,
        fallbacks=fallbacks,
    )


def render_training_sql(
    spec: TrainingSpec,
    dialect: DialectName = "duckdb",
    *,
    formulation: Formulation | None = None,
    inline: bool = False,
    events_table: str | None = None,
    columns: Collection[str] | None = None,
) -> RenderedSQL:
    """The training-set query for `spec`.

    `inline=True` writes user values as escaped literals, for SQL that runs as printed (the SQL
    preview, the CLI's `sql` command, the model card). Otherwise values are bound as parameters.
    `events_table` overrides the spec's table for engines that read a prepared view of it.
    `formulation` picks the template (`TEMPLATES`): `fast` (the default: the dialect's quickest exact
    window formulation), `portable` (running totals, what Snowflake's `fast` is, runnable on both)
    or `seed` (the tutorial's self-join, kept for comparison); all give the same rows.
    `columns`: see `render_template`.
    """
    if dialect not in DIALECT_BY_NAME:
        raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    formulation = formulation or DEFAULT_FORMULATION[dialect]
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    return render_template(
        TEMPLATES[formulation, dialect], spec, dialect, inline=inline, events_table=events_table, columns=columns
    )


def render_template(
    name: str,
    spec: TrainingSpec,
    dialect: DialectName = "duckdb",
    *,
    inline: bool = False,
    events_table: str | None = None,
    columns: Collection[str] | None = None,
    context: Mapping[str, Any] | None = None,
) -> RenderedSQL:
    """Render any template in `sql/` for `spec` with the dialect's macros.

    `columns` are the events table's columns (lower case) when the caller has looked (the preflight
    does): an optional atomic column it lacks reads as NULL, and when it has `collector_tstamp` the
    scan prunes on it too. None, for SQL written for no table in particular: every atomic column is
    read as it is and nothing filters on collector_tstamp.
    `context` adds template variables of the caller's own (numbers and names it has validated;
    user text still goes through `bind`).
    """
    if dialect not in DIALECT_BY_NAME:
        raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    macros = DIALECT_BY_NAME[dialect]
    values = template_values(spec)
    params: dict[str, Any] = {}

    def literal(value: Any) -> str:
        # numbers were validated as finite numbers by the spec; text is escaped for the dialect
        return macros.string_literal(value) if isinstance(value, str) else repr(value)

    def bind(name: str) -> str:
        value = values[name]
        if inline:
            return literal(value)
        params[name] = value
        return macros.placeholder(name)

    def bind_list(name: str) -> str:
        items = values[name]
        if inline:
            return ", ".join(literal(item) for item in items)
        names = [f"{name}_{index}" for index in range(len(items))]
        params.update(zip(names, items))
        return ", ".join(macros.placeholder(item_name) for item_name in names)

    def not_in(column: str, name: str) -> str:
        # `x not in ()` is not valid SQL; an empty exclusion list excludes nothing.
        return f"{column} not in ({bind_list(name)})" if values[name] else "true"

    def in_list_or_all(column: str, name: str) -> str:
        # an empty include-list includes everything
        return f"{column} in ({bind_list(name)})" if values[name] else "true"

    sql = _AttributeSQL(macros, bind, bind_list)
    as_of = macros.date_literal(spec.as_of)
    table = macros.table_name(events_table or spec.events_table)
    plan = feature_plan(spec)
    # the scan's lower bound less the margin; a lifetime window's scan has no lower bound to prune to
    prune = columns is not None and PRUNING_COLUMN in columns and plan.scan_days is not None
    text = _environment().get_template(name).render(
        spec=spec,
        col=column_aliases(spec),
        target_column=spec.target_column,
        events_table=table,
        events_source=events_source(table, missing_optional_columns(columns), macros),
        # Snowplow's table is loaded in collector_tstamp order, with no clustering key: this filter prunes
        # where derived_tstamp cannot. See training_events.sql for why it keeps every row.
        collector_tstamp_from=(macros.days_before(as_of, plan.scan_days + spec.collector_tstamp_margin_days)
                               if prune else None),
        short_window_seconds=spec.short_window_days * 86_400,
        long_window_seconds=spec.long_window_days * 86_400,
        target_window_seconds=spec.target_window_minutes * 60,
        days_before_as_of=lambda days: macros.days_before(as_of, days),
        end_of_as_of_day=macros.days_before(as_of, -1),
        bind=bind,
        bind_list=bind_list,
        not_in=not_in,
        in_list_or_all=in_list_or_all,
        seconds_between=macros.seconds_between,
        seconds_before=macros.seconds_before,
        iso_day_of_week=macros.iso_day_of_week,
        epoch_nanosecond=macros.epoch_nanosecond,
        epoch_second=macros.epoch_second,
        device_class=macros.device_class,
        in_user_sample=macros.in_user_sample,
        cte_hint=macros.cte_hint,
        has_qualify=macros.has_qualify,
        text_type=macros.text_type,
        lane_bits=LANE_BITS,
        lanes_per_sum=LANES_PER_SUM,
        lane_limit_message=LANE_LIMIT_MESSAGE,
        plan=plan,
        prop=sql.prop,
        match=sql.match,
        value_expr=sql.value_expr,
        value_ref=sql.value_ref,
        value_column=sql.value_column,
        row_values=sql.row_values,
        default_literal=sql.default_literal,
        bit_type=_bit_type,
        **(context or {}),
    )
    return RenderedSQL(text=text, params=params, dialect=dialect)


def missing_optional_columns(columns: Collection[str] | None) -> tuple[str, ...]:
    """The optional atomic columns a table with `columns` lacks (none when its columns are unknown)."""
    return () if columns is None else tuple(name for name in OPTIONAL_COLUMNS if name not in columns)


def events_source(table: str, missing: tuple[str, ...], macros: Dialect) -> str:
    """What the scan reads from: the table itself, or the table with a typed NULL for each missing
    optional column (Snowplow's loaders add a context column only once that entity was loaded)."""
    if not missing:
        return table
    nulls = ", ".join(f"{macros.typed_null(COLUMN_TYPES[name])} as {name}" for name in missing)
    return f"(select *, {nulls} from {table}) as atomic_events"


def _bit_type(bits: int) -> str:
    """The narrowest integer type that holds `bits` flag bits shifted into place."""
    return "integer" if bits <= 31 else "bigint" if bits <= 63 else "hugeint"


class _AttributeSQL:
    """SQL for an attribute's pieces, on a row alias (`eh.`) or none: its filter, its value, its default.

    Values go through `bind`, so user text is a parameter (or an escaped literal when inlined)."""

    def __init__(self, macros: Dialect, bind: Any, bind_list: Any) -> None:
        self.macros, self.bind, self.bind_list = macros, bind, bind_list

    def prop(self, name: str, prefix: str = "") -> str:
        """A property of the row `prefix` names: a column, or an expression of one (device class, day of week)."""
        if name == "device_class":
            return self.macros.device_class(prefix + PROPERTIES[name].source)
        if name == "day_of_week":
            return self.macros.iso_day_of_week(prefix + PROPERTIES[name].source)
        return prefix + name

    def criterion(self, attribute: Attribute, index: int, criterion: Criterion, prefix: str) -> str:
        column = self.prop(criterion.property, prefix)
        key = f"{attribute.name}_where_{index}"
        if criterion.operator == "is_not_null":
            return f"{column} is not null"
        if criterion.operator == "in":
            return f"{column} in ({self.bind_list(key)})"
        return f"{column} {_COMPARISONS[criterion.operator]} {self.bind(key)}"

    def match(self, attribute: Attribute, prefix: str = "") -> str:
        """The condition an event must meet to count, or '' when every event counts."""
        parts = [self.events_match(attribute, prefix)] if attribute.events else []
        parts += [self.criterion(attribute, i, c, prefix) for i, c in enumerate(attribute.where)]
        return " and ".join(parts)

    def events_match(self, attribute: Attribute, prefix: str) -> str:
        """Whether the event is one of the attribute's: by name, and by vendor and version where given.

        An event whose vendor or version is NULL (a source without those columns reads them as NULL)
        matches on its name: identity by name is the fallback, as the Signals definitions' notes say."""
        named, identified = named_events(attribute), identified_events(attribute)
        either = []
        if named:
            names = self.bind_list(f"{attribute.name}_events")
            either.append(f"{prefix}event_name = {names}" if len(named) == 1 else f"{prefix}event_name in ({names})")
        for index, event in identified:
            key = f"{attribute.name}_event_{index}"
            conditions = [f"{prefix}event_name = {self.bind(key)}"]
            conditions += [f"coalesce({prefix}{column} = {self.bind(f'{key}_{part}')}, true)"
                           for part, column in (("vendor", "event_vendor"), ("version", "event_version"))
                           if getattr(event, part) is not None]
            either.append("(" + " and ".join(conditions) + ")")
        return either[0] if len(either) == 1 else "(" + " or ".join(either) + ")"

    def value_expr(self, attribute: Attribute, prefix: str = "") -> str:
        """The attribute's property on a matching event, NULL on any other."""
        value = self.prop(attribute.property, prefix)
        condition = self.match(attribute, prefix)
        return f"case when {condition} then {value} end" if condition else value

    @staticmethod
    def from_base(attribute: Attribute) -> bool:
        """Whether the value is computed where it is used, from a column every pass carries anyway."""
        return not attribute.filtered and PROPERTIES[attribute.property].source in BASE_COLUMNS

    @staticmethod
    def value_column(attribute: Attribute) -> str:
        """Name of the per-row column holding the value: the column itself when it is one, unfiltered."""
        plain = not attribute.filtered and PROPERTIES[attribute.property].source == attribute.property
        return attribute.property if plain else f"value_{attribute.name}"

    def value_ref(self, attribute: Attribute, prefix: str = "") -> str:
        """The value on a row of a CTE that has `row_values`' columns."""
        return self.prop(attribute.property, prefix) if self.from_base(attribute) else prefix + self.value_column(attribute)

    def row_values(self, plan: FeaturePlan) -> list[tuple[str, str]]:
        """(expression, alias) per value column the passes carry, once each: event values, distinct
        values and first/last values that are not computed from the base columns."""
        attributes = [f.attribute for f in plan.event] + list(plan.distinct) + [f.attribute for f in plan.values]
        columns: dict[str, str] = {}
        for attribute in attributes:
            if not self.from_base(attribute):
                columns.setdefault(self.value_column(attribute), self.value_expr(attribute))
        return [(expr, alias) for alias, expr in columns.items()]

    def default_literal(self, feature: Feature) -> str:
        default = feature.default
        if isinstance(default, bool):
            return "true" if default else "false"
        return self.macros.string_literal(default) if isinstance(default, str) else repr(default)


def attribute_fragment(spec: TrainingSpec, name: str, dialect: DialectName = "duckdb") -> str:
    """The lines of `spec`'s training-set SQL (as printed, for `dialect`) that compute attribute `name`:
    what a person reads to see how one attribute becomes columns."""
    mention = re.compile(rf"(?<![A-Za-z0-9_])(?:is_|matches_)?{re.escape(name)}(?:_total|_l\d+d|_short|_long)?(?![A-Za-z0-9_])")
    lines = render_training_sql(spec, dialect, inline=True).text.splitlines()
    return "\n".join(line.strip() for line in lines if mention.search(line))
