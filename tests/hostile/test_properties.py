"""Property-based tests of spec validation and SQL rendering (hypothesis).

- Any spec input either validates or raises `SpecError`, never another exception.
- Any spec that validates renders SQL that sqlglot parses as one statement, in both dialects, bound
  and inlined, for every formulation.
- Inlined literals round-trip: the parsed literal is the original text (and DuckDB itself reads it back).
"""

from __future__ import annotations

import datetime as dt
import math
import re

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prospect_core.infra.errors import SpecError
from prospect_core.trainingset.spec import MAX_TEXT_LENGTH, TrainingSpec
from prospect_core.trainingset.training_sql import DIALECT_BY_NAME, DIALECTS, FORMULATIONS, render_training_sql
from prospect_core.trainingset.wording import WORD_JOINER, plain
from tests.hostile.conftest import HOSTILE_TEXTS, LONG_TEXT

QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every code point hypothesis can draw, surrogates included, plus the corpus and SQL's own syntax.
any_character = st.characters(codec=None, categories=None, exclude_categories=())
syntax = st.sampled_from(["'", "''", "\\", '"', "$$", "--", "/*", "*/", ";", "%", "%(x)s", "$1", "?", "{{", "}}", "\u200b", "🙂"])
names = st.one_of(
    st.sampled_from(list(HOSTILE_TEXTS.values())),
    st.lists(st.one_of(syntax, any_character), min_size=1, max_size=30).map("".join),
    st.text(min_size=1, max_size=MAX_TEXT_LENGTH + 5),
)
junk = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
    st.text(max_size=20), st.binary(max_size=5), st.just(LONG_TEXT), st.lists(st.integers(), max_size=2),
    st.dates(), st.datetimes(), st.just(object()),
)
days = st.one_of(st.integers(-5, 4000), junk)
spec_inputs = st.fixed_dictionaries({}, optional={
    "as_of": st.one_of(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)), junk),
    "cohort_first_seen_from_days": days,
    "cohort_first_seen_to_days": days,
    "short_window_days": days,
    "long_window_days": days,
    "target_event": st.one_of(names, junk),
    "target_min_count": st.one_of(st.integers(-2, 20_000), junk),
    "target_window_minutes": st.one_of(st.integers(-2, 200_000), junk),
    "app_ids": st.one_of(st.lists(st.one_of(names, junk), max_size=3), names, junk),
    "excluded_events": st.one_of(st.lists(st.one_of(names, junk), max_size=3), names, junk),
    "events_table": st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,8}(\.[A-Za-z_][A-Za-z0-9_$]{0,8}){0,3}", fullmatch=True),
                              names, junk),
})


@QUICK
@given(spec_inputs)
def test_any_input_validates_or_raises_spec_error(values):
    try:
        spec = TrainingSpec(**values)
    except SpecError as error:
        assert str(error) and "\n" not in str(error)[:200]
        return
    assert spec.cohort_first_seen_to_days < spec.cohort_first_seen_from_days
    assert spec.short_window_days < spec.long_window_days
    assert spec.target_event not in spec.excluded_events and spec.app_ids


@QUICK
@given(st.dictionaries(st.sampled_from(["as_of", "target_event", "app_ids", "bogus", "events_table"]),
                       st.one_of(junk, names, st.dates().map(dt.date.isoformat)), max_size=4))
def test_from_dict_validates_or_raises_spec_error(data):
    try:
        TrainingSpec.from_dict(data)
    except SpecError:
        pass


valid_names = st.one_of(
    st.sampled_from(list(HOSTILE_TEXTS.values())),
    st.lists(st.one_of(syntax, st.characters(codec=None, exclude_categories=("Cc", "Cs"))), min_size=1, max_size=25)
    .map("".join).filter(lambda text: text.strip() and len(text) <= MAX_TEXT_LENGTH),
)


@st.composite
def valid_specs(draw) -> TrainingSpec:
    cohort_to = draw(st.integers(0, 100))
    short = draw(st.integers(1, 60))
    target = draw(valid_names)
    return TrainingSpec(
        as_of=draw(st.dates(dt.date(2000, 1, 1), dt.date.today())),
        cohort_first_seen_from_days=draw(st.integers(cohort_to + 1, 3650)),
        cohort_first_seen_to_days=cohort_to,
        short_window_days=short,
        long_window_days=draw(st.integers(short + 1, 3650)),
        target_event=target,
        target_min_count=draw(st.integers(1, 10_000)),
        target_window_minutes=draw(st.integers(1, 129_600)),
        app_ids=tuple(draw(st.lists(valid_names, min_size=1, max_size=3))),
        excluded_events=tuple(e for e in draw(st.lists(valid_names, max_size=3)) if e != target),
        events_table=draw(st.sampled_from(["atomic.events", "db.atomic.events", "s$1._x", "events"])),
    )


def parse_one_statement(text: str, dialect: str) -> sqlglot.exp.Expression:
    statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    assert len(statements) == 1, f"{len(statements)} statements"
    return statements[0]


def string_literals(tree: sqlglot.exp.Expression) -> set[str]:
    return {literal.this for literal in tree.find_all(sqlglot.exp.Literal) if literal.is_string}


@SLOW
@given(valid_specs())
def test_every_valid_spec_renders_sql_that_parses_in_both_dialects(spec):
    user_text = {spec.target_event, *spec.app_ids, *spec.excluded_events}
    for dialect in DIALECTS:
        for formulation in FORMULATIONS:
            inlined = render_training_sql(spec, dialect, formulation=formulation, inline=True)
            assert inlined.params == {}
            tree = parse_one_statement(inlined.text, dialect)
            assert user_text <= string_literals(tree)  # every value is one literal, read back unchanged

            bound = render_training_sql(spec, dialect, formulation=formulation)
            assert set(bound.params.values()) >= user_text
            text = bound.text
            if dialect == "snowflake":  # the connector substitutes pyformat placeholders client-side
                text = text % {name: "'v'" for name in bound.params}
            parse_one_statement(text, dialect)


@QUICK
@given(valid_names)
def test_inlined_literals_round_trip_through_sqlglot_and_duckdb(text):
    for dialect in DIALECTS:
        literal = DIALECT_BY_NAME[dialect].string_literal(text)
        tree = parse_one_statement(f"select {literal} as v", dialect)
        assert string_literals(tree) == {text}
    duckdb_literal = DIALECT_BY_NAME["duckdb"].string_literal(text)
    with duckdb.connect() as connection:  # not the shared default connection: fetchone leaves it busy
        assert connection.execute(f"select {duckdb_literal}").fetchall() == [(text,)]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1, 0, 10**100, 1.5, True, "7", None])
def test_numbers_that_are_not_whole_days_in_range_are_spec_errors(value):
    with pytest.raises(SpecError, match=r"long_window_days must be a whole number of days from 1 to 3650"):
        TrainingSpec(long_window_days=value)


# ----- text shown where Markdown is rendered (wording.plain) ------------------------------------------
MARKDOWN_PAYLOADS = ["[click](https://evil.example)", "![x](https://evil.example/x.png)", "<img src=x onerror=alert(1)>",
                     ":red[alarm]", ":material/warning:", ":smile:", "$x^2$", "**bold** _it_ ~~gone~~", "# heading",
                     "- item\n1. item\n---\n> quote", "| a | b |\n| --- | --- |", "www.evil.example", "a@evil.example",
                     "`code`", "&lt;b&gt;", "\\[still text\\]"]
markdown_texts = st.one_of(st.sampled_from([*HOSTILE_TEXTS.values(), *MARKDOWN_PAYLOADS]),
                           st.lists(st.one_of(st.sampled_from(MARKDOWN_PAYLOADS), any_character), max_size=20).map("".join))


@QUICK
@given(markdown_texts.filter(lambda text: WORD_JOINER not in text))
def test_plain_text_reads_as_typed_with_no_markdown_left(text):
    shown = plain(text)
    assert re.sub(r"\\(.)", r"\1", shown.replace(WORD_JOINER, ""), flags=re.DOTALL) == text  # nothing lost or added
    bare = re.sub(r"\\.", "", shown, flags=re.DOTALL)  # what Markdown reads as syntax: nothing
    assert not set("[]<>*`$~|#&") & set(bare)
    assert not re.search(r":\w|://|www\.|@\w", bare)
    assert not re.search(r"^[ \t]*([-+=]|\d+[.)])", shown, flags=re.MULTILINE)  # list, rule, heading underline
