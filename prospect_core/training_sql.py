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

User text (target event, app ids, excluded events) never becomes SQL text. It is bound as a
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
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import jinja2

from prospect_core.features import column_aliases
from prospect_core.spec import TrainingSpec

DialectName = Literal["snowflake", "duckdb"]
Formulation = Literal["seed", "fast", "portable"]
DIALECTS: tuple[DialectName, ...] = ("snowflake", "duckdb")
FORMULATIONS: tuple[Formulation, ...] = ("seed", "fast", "portable")
DEFAULT_FORMULATION: dict[DialectName, Formulation] = {"duckdb": "fast", "snowflake": "fast"}
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
}

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
PRICING_URL_PATTERN = "%pricing%"
# Width of the counter lanes packed into one HUGEINT sum by training_set_fast_duckdb.sql: five lanes
# of 25 bits. Exact while no user has 2^25 (33.5 million) events in the lookback; the query stops
# with LANE_LIMIT_MESSAGE for a user with more.
LANE_BITS = 25
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

    def placeholder(self, name: str) -> str:
        raise NotImplementedError

    def string_literal(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def date_literal(self, value: dt.date) -> str:
        return f"'{value.isoformat()}'::date"

    def days_before(self, date_sql: str, days: int) -> str:
        raise NotImplementedError

    def seconds_between(self, earlier: str, later: str) -> str:
        """Seconds from `earlier` to `later`, counting second boundaries like Snowflake's datediff."""
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
        return f"substr(md5(cast({user_id} as varchar)), 1, 8) < '{threshold:08x}'"


class SnowflakeDialect(Dialect):
    name = "snowflake"

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

    epoch_literal = "'1970-01-01 00:00:00'::timestamp_ntz"

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

    epoch_literal = "timestamp '1970-01-01 00:00:00'"

    def epoch_nanosecond(self, timestamp: str) -> str:
        return f"epoch_ns({timestamp})"

    def iso_day_of_week(self, timestamp: str) -> str:
        return f"isodow({timestamp})"

    def device_class(self, context_column: str) -> str:
        # Works for JSON and for VARCHAR holding JSON text.
        return f"json_extract_string({context_column}, '$[0].deviceClass')"


DIALECT_BY_NAME: dict[str, Dialect] = {"snowflake": SnowflakeDialect(), "duckdb": DuckDBDialect()}


@functools.lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SQL_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template_values(spec: TrainingSpec) -> dict[str, Any]:
    """Values the templates may bind: user text and constants, never inlined into SQL text."""
    return {
        "target_event": spec.target_event,
        "app_ids": list(spec.app_ids),
        "excluded_events": list(spec.excluded_events),
        "pricing_url_pattern": PRICING_URL_PATTERN,
    }


def render_training_sql(
    spec: TrainingSpec,
    dialect: DialectName = "duckdb",
    *,
    formulation: Formulation | None = None,
    inline: bool = False,
    events_table: str | None = None,
) -> RenderedSQL:
    """The training-set query for `spec`.

    `inline=True` writes user values as escaped literals, for SQL that runs as printed (the SQL
    preview, the CLI's `sql` command, the model card). Otherwise values are bound as parameters.
    `events_table` overrides the spec's table for engines that read a prepared view of it.
    `formulation` picks the template (`TEMPLATES`): `fast` (the default: the dialect's quickest exact
    window formulation), `portable` (running totals, what Snowflake's `fast` is, runnable on both)
    or `seed` (the tutorial's self-join, kept for comparison); all give the same rows.
    """
    if dialect not in DIALECT_BY_NAME:
        raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    formulation = formulation or DEFAULT_FORMULATION[dialect]
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    return render_template(
        TEMPLATES[formulation, dialect], spec, dialect, inline=inline, events_table=events_table
    )


def render_template(
    name: str,
    spec: TrainingSpec,
    dialect: DialectName = "duckdb",
    *,
    inline: bool = False,
    events_table: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> RenderedSQL:
    """Render any template in `sql/` for `spec` with the dialect's macros.

    `context` adds template variables of the caller's own (numbers and names it has validated;
    user text still goes through `bind`).
    """
    if dialect not in DIALECT_BY_NAME:
        raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    macros = DIALECT_BY_NAME[dialect]
    values = template_values(spec)
    params: dict[str, Any] = {}

    def bind(name: str) -> str:
        value = values[name]
        if inline:
            return macros.string_literal(value)
        params[name] = value
        return macros.placeholder(name)

    def bind_list(name: str) -> str:
        items = values[name]
        if inline:
            return ", ".join(macros.string_literal(item) for item in items)
        names = [f"{name}_{index}" for index in range(len(items))]
        params.update(zip(names, items))
        return ", ".join(macros.placeholder(item_name) for item_name in names)

    def not_in(column: str, name: str) -> str:
        # `x not in ()` is not valid SQL; an empty exclusion list excludes nothing.
        return f"{column} not in ({bind_list(name)})" if values[name] else "true"

    as_of = macros.date_literal(spec.as_of)
    text = _environment().get_template(name).render(
        spec=spec,
        col=column_aliases(spec),
        target_column=spec.target_column,
        events_table=events_table or spec.events_table,
        short_window_seconds=spec.short_window_days * 86_400,
        long_window_seconds=spec.long_window_days * 86_400,
        target_window_seconds=spec.target_window_minutes * 60,
        days_before_as_of=lambda days: macros.days_before(as_of, days),
        end_of_as_of_day=macros.days_before(as_of, -1),
        bind=bind,
        bind_list=bind_list,
        not_in=not_in,
        seconds_between=macros.seconds_between,
        iso_day_of_week=macros.iso_day_of_week,
        epoch_nanosecond=macros.epoch_nanosecond,
        epoch_second=macros.epoch_second,
        device_class=macros.device_class,
        in_user_sample=macros.in_user_sample,
        cte_hint=macros.cte_hint,
        lane_bits=LANE_BITS,
        lane_limit_message=LANE_LIMIT_MESSAGE,
        **(context or {}),
    )
    return RenderedSQL(text=text, params=params, dialect=dialect)
