"""Issue 21, finding 3: every query over a user's data is bounded and cancellable.

A 536 kB DuckDB file whose atomic.events view is a triple cross join (`write_cross_join_db`) passes
the view check and made the page script count its events for hours: no Cancel, no time or memory
bound, and the query ran on for minutes after the tab closed. Now the page draws at once with the
count's progress and a Cancel, the server's time limit stops it with a line naming the setting that
raises it, DuckDB's memory and threads are bounded per file, and a closed tab stops its query.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.studio_server import cpu_share, start_server
from prospect_core import studio
from prospect_core.infra.errors import SourceError
from prospect_core.infra.limits import QueryLimits, query_limits
from prospect_core.events.warehouse import DuckDBWarehouse
from prospect_core.trainingset.wording import plain
from tests.hostile.conftest import SPEC
from tests.studio.test_browser import STEP_TIMEOUT_MS, browser, new_session  # noqa: F401  (browser: fixture)

APP = Path(__file__).resolve().parents[2] / "app.py"
OVER_TIME = ("Counting events was stopped after 3 s, the time limit for one query on this server "
             "(PROSPECT_QUERY_SECONDS or `query_seconds` in secrets raises it)")
SHOWN_OVER_TIME = plain(OVER_TIME)  # as the error box's Markdown carries it: the backticks are text


def choose_cross_join_file(cross_join_db: Path, monkeypatch, **secrets) -> tuple[AppTest, float]:
    """The app with `secrets`, on Data & target with the cross-join file chosen; and how long that took."""
    monkeypatch.setenv("PROSPECT_DATA_DIRS", str(cross_join_db.parent))
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.secrets.update(secrets)
    at.run()
    at.radio(key="source_kind").set_value("duckdb").run()
    started = time.perf_counter()
    at.text_input(key="duckdb_path").input(str(cross_join_db)).run()
    return at, time.perf_counter() - started


def counting(at: AppTest) -> bool:
    assert not at.exception, [e.value for e in at.exception]
    return any(status.label.startswith("Counting events…") for status in at.status)


def test_the_page_draws_at_once_and_the_time_limit_stops_the_count(cross_join_db, monkeypatch):
    at, seconds = choose_cross_join_file(cross_join_db, monkeypatch, query_seconds=3)
    assert seconds < 10  # the page waits a second for the count, then draws on (it ran for hours)
    assert counting(at) and at.button(key="cancel_counts").label == "Cancel"
    assert at.selectbox(key="target_pick").value == SPEC.target_event  # the rest of the page is there
    assert at.button(key="build") is not None

    job = at.session_state["job_counts"]
    job.future.exception(timeout=15)  # ends at the 3 s limit, interrupted
    at.run()
    assert not counting(at)
    assert [error.value for error in at.error] == [SHOWN_OVER_TIME]
    at.run()  # said again, not run again: the same query would hit the same limit
    assert [error.value for error in at.error] == [SHOWN_OVER_TIME] and at.session_state["job_counts"] is job


def test_cancel_stops_the_count(cross_join_db, monkeypatch):
    at, _ = choose_cross_join_file(cross_join_db, monkeypatch)
    assert counting(at)
    job = at.session_state["job_counts"]
    at.button(key="cancel_counts").click().run()
    job.future.exception(timeout=5)
    at.run()
    assert not counting(at)
    assert [error.value for error in at.error] == ["the query was cancelled; press the button again to rerun it"]
    at.button(key="again_counts").click().run()  # Run again: counting again
    assert counting(at) and at.session_state["job_counts"] is not job
    at.button(key="cancel_counts").click().run()


def test_duckdb_memory_and_threads_are_set_per_file_and_a_query_past_the_memory_limit_says_so(cross_join_db, monkeypatch):
    assert query_limits() == QueryLimits(seconds=120, memory_mb=4_000, threads=1)
    assert query_limits({"query_seconds": 30, "duckdb_memory_mb": "2,000", "duckdb_threads": 2}) == QueryLimits(30, 2_000, 2)
    monkeypatch.setenv("PROSPECT_DUCKDB_MEMORY_MB", "50")
    monkeypatch.setenv("PROSPECT_DUCKDB_THREADS", "1")
    monkeypatch.setenv("PROSPECT_DATA_DIRS", str(cross_join_db.parent))  # the app opens files in its data folders only
    warehouse = studio.open_warehouse(f"duckdb:{cross_join_db}", SPEC)  # what the app's queries and builds read
    settings = warehouse.query("select current_setting('memory_limit') as memory, current_setting('threads') as threads")
    assert settings.to_dict("records") == [{"memory": "47.6 MiB", "threads": 1}]  # DuckDB's MB are 10^6 bytes
    with pytest.raises(SourceError) as refused:
        warehouse.query("select string_agg(event_id || repeat('x', 1000), ',') as s from atomic.base, range(100)")
    assert str(refused.value) == ("the query on cross_join.duckdb needed more than the DuckDB memory limit per query "
                                  "of 50 MB (PROSPECT_DUCKDB_MEMORY_MB or `duckdb_memory_mb` in secrets raises it)")
    assert DuckDBWarehouse(cross_join_db).query("select current_setting('threads') as t")["t"][0] >= 1  # CLI: DuckDB's own


def test_a_closed_tab_stops_its_query_within_seconds(cross_join_db, tiny_demo_db, browser, tmp_path):  # noqa: F811
    process, url = start_server(tiny_demo_db, tmp_path / "streamlit.log", {"PROSPECT_DATA_DIRS": str(cross_join_db.parent)})
    try:
        page = new_session(browser, url)
        page.get_by_text("DuckDB file", exact=True).click()
        box = page.get_by_role("textbox", name="DuckDB file path")
        box.fill(str(cross_join_db))
        box.press("Enter")
        page.get_by_text("Counting events…").first.wait_for(timeout=STEP_TIMEOUT_MS)
        page.get_by_role("button", name="Cancel").wait_for()
        busy = cpu_share(process.pid, 2.0)
        assert busy > 0.15, busy  # the count keeps a core busy (as much as a shared machine lets it)
        page.context.close()
        closed = time.monotonic()
        while (share := cpu_share(process.pid, 1.0)) > 0.05:  # an idle server: a few hundredths
            assert time.monotonic() - closed < 8, f"the closed tab's query still runs ({share:.2f} of a core)"
        print(f"query gone {time.monotonic() - closed:.1f} s after the tab closed (busy: {busy:.2f} of a core)")
    finally:
        process.terminate()
        process.wait(timeout=20)
    log = (tmp_path / "streamlit.log").read_text()
    assert "Traceback" not in log, log
