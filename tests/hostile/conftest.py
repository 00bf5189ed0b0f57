"""Shared data for the hostile-input suite: the corpus of hostile text, small event databases, a fitted pipeline.

Everything expensive is session-scoped and small (a few hundred events, a five-tree model), so the
whole suite stays within a couple of minutes on a busy two-core machine.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from prospect_core.trainingset.spec import TrainingSpec
from tests.conftest import AS_OF, event, write_events_db

T0 = dt.datetime(2025, 4, 1, 10, 0, 0)
SPEC = TrainingSpec(as_of=AS_OF)

# Text that must stay data wherever a user can type a name. Each is valid spec text (<= 128 chars,
# no control characters); anything longer or with control characters is refused (see LONG_TEXT).
HOSTILE_TEXTS = {
    "single quote": "it's",
    "double quote": 'say "hi"',
    "backslash": "back\\slash\\",
    "backslash quote": "\\'",
    "sql injection": "'; drop table atomic.events; --",
    "dollar quoting": "$$ select 1 $$",
    "block comment": "/* comment */ x",
    "line comment": "x -- comment",
    "pyformat": "%(target_event)s %s %%",
    "duckdb placeholder": "$target_event ? :name",
    "jinja": "{{ spec }} {% if %}",
    "unicode": "événement_ünïcødé_事件",
    "zero width": "submit\u200bform\u200d\ufeff",
    "right to left": "\u202eevil\u202c",
    "emoji": "🙂🚀👩‍👩‍👧",
    "semicolon": "a; b",
    "only spaces inside": " x ",
}
LONG_TEXT = "x" * 10_000


def events_table_rows(db: Path, table: str = "atomic.events") -> int:
    with duckdb.connect(str(db), read_only=True) as connection:
        return connection.execute(f"select count(*) from {table}").fetchone()[0]


def hostile_rows() -> list[dict]:
    """Two users on `website`: u1 does a page_view then every hostile event a minute apart; u2 only browses."""
    rows = [event("base", T0, user="u1")]
    for index, text in enumerate(HOSTILE_TEXTS.values(), start=1):
        rows.append(event(f"h{index}", T0 + dt.timedelta(minutes=index), user="u1", name=text))
    rows += [event(f"v{index}", T0 + dt.timedelta(hours=index), user="u2", session="s2") for index in range(3)]
    return rows


def write_cross_join_db(path: Path, side: int = 3_000) -> Path:
    """Issue 21, finding 3: a file of a few hundred kB whose atomic.events view is a triple cross join of
    `side` events, so any query over it (event counts, the preflight, a build) runs for hours. It
    passes the view check: a view selecting from its own file's tables, with no function at all. Its
    events are 40 days old, inside the default spec's lookback window, so the page counts them all."""
    start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=40), dt.time(10))
    rows = [event(f"e{index}", start + dt.timedelta(seconds=index), user=f"u{index % 50}") for index in range(side)]
    write_events_db(path, rows, table="atomic.base")
    with duckdb.connect(str(path)) as connection:
        connection.execute("create view atomic.events as select a.* from atomic.base a, atomic.base b, atomic.base c")
    return path


@pytest.fixture(scope="session")
def cross_join_db(tmp_path_factory) -> Path:
    return write_cross_join_db(tmp_path_factory.mktemp("cross_join") / "cross_join.duckdb")


@pytest.fixture(scope="session")
def hostile_db(tmp_path_factory) -> Path:
    """A DuckDB file whose events are named with every hostile text (and must survive every test)."""
    return write_events_db(tmp_path_factory.mktemp("hostile") / "hostile.duckdb", hostile_rows())


@pytest.fixture(scope="session")
def tiny_demo_db(tmp_path_factory) -> Path:
    """Demo events for 150 prospects, anchored on today like the app's own demo database."""
    from prospect_core.events.demo_data import write_demo_db

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    write_demo_db(path, n_users=150, seed=3)
    return path


@pytest.fixture(scope="session")
def fitted_run(tiny_demo_db):
    """A five-tree model trained on the tiny demo: enough to score uploads, quick to fit."""
    from prospect_core.events.build import query_training_set
    from prospect_core.modelling.model import ModelParams, train_model
    from prospect_core.events.warehouse import DuckDBWarehouse

    spec = TrainingSpec()
    frame = query_training_set(DuckDBWarehouse(tiny_demo_db), spec)
    return train_model(frame, spec, ModelParams(n_estimators=5, max_depth=2), split="random")
