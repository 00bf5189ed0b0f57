"""Concurrent users: five browser sessions against one `streamlit run` server build and train at once.

Each session asks for a different target window (1 to 5 hours), so each has its own target column.
Every session must see only its own training set, run and model, with the same ROC AUC as the core
computes for that spec alone, and the server must still answer its health check afterwards with no
traceback in its log. Timings go to test-artifacts/concurrency.json (summarised in bench/concurrency.md).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request

import pytest

from prospect_core.studio.state import NEW_WORKSPACE_SPEC
from prospect_core.trainingset.wording import target_wording
from tests.studio.test_browser import ARTIFACTS, STEP_TIMEOUT_MS, browser, new_session, open_page, server  # noqa: F401  (fixtures)

SESSIONS = 5


def target_column(hours: int) -> str:
    return f"target_had_submit_form_next{hours}h"


def set_window(page, hours: int) -> None:
    box = page.get_by_label("Within the next")
    box.fill(str(hours))
    box.press("Enter")
    page.get_by_text(f"SQL for {target_column(hours)}").wait_for()


def metric_value(page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def wait_all(pages, make_locator) -> float:
    started = time.perf_counter()
    for page in pages:
        make_locator(page).wait_for(timeout=STEP_TIMEOUT_MS * 2)
    return time.perf_counter() - started


def single_user_auc(db, hours: int) -> float:
    """What one user alone gets for this spec: the core's build and training, no app involved."""
    from prospect_core.events.build import query_training_set
    from prospect_core.modelling.model import STUDIO_DEFAULTS, train_model
    from prospect_core.events.warehouse import DuckDBWarehouse

    spec = NEW_WORKSPACE_SPEC.replace(target_window_minutes=hours * 60)  # what a new session starts from
    frame = query_training_set(DuckDBWarehouse(db), spec)
    return train_model(frame, spec, STUDIO_DEFAULTS, split="by_user").evaluation.roc_auc


def open_session(browser, server, hours: int):
    page = new_session(browser, server)
    page.get_by_role("heading", name="Data & target").wait_for()
    set_window(page, hours)
    return page.context, page


def test_five_sessions_build_and_train_at_once(server, browser, tmp_path_factory):
    url, db = server, _server_db(tmp_path_factory)
    timings: dict[str, float] = {}

    # One user alone first, for the reference timing (a window no other session uses: no shared cache).
    started = time.perf_counter()
    context, page = open_session(browser, url, 6)
    page.get_by_role("button", name="Build training set").click()
    page.get_by_text("Positive rate", exact=True).wait_for()
    open_page(page, "Train")
    page.get_by_role("button", name="Train model").click()
    page.get_by_text("Runs this session", exact=True).wait_for()
    timings["one session: build + train (s)"] = round(time.perf_counter() - started, 1)
    context.close()

    hours = list(range(1, SESSIONS + 1))
    sessions = [open_session(browser, url, hour) for hour in hours]
    pages = [page for _, page in sessions]

    started = time.perf_counter()
    for page in pages:  # every click is in before any build finishes
        page.get_by_role("button", name="Build training set").click()
    timings[f"{SESSIONS} sessions: all built (s)"] = round(wait_all(pages, lambda p: p.get_by_text("Positive rate", exact=True)), 1)

    for page in pages:
        open_page(page, "Train")
    trained = time.perf_counter()
    for page in pages:
        page.get_by_role("button", name="Train model").click()
    wait_all(pages, lambda p: p.get_by_text("Runs this session", exact=True))
    timings[f"{SESSIONS} sessions: all trained (s)"] = round(time.perf_counter() - trained, 1)
    timings[f"{SESSIONS} sessions: build + train (s)"] = round(time.perf_counter() - started, 1)

    for hour, page in zip(hours, pages):
        sidebar = page.get_by_test_id("stSidebar").inner_text()
        # the sidebar names the target in words, its run by the target's window ("submit_form ×1 in 3 h")
        own, others = f"×1 in {hour} h", [f"×1 in {h} h" for h in hours + [6] if h != hour]
        assert own in sidebar and not any(other in sidebar for other in others), sidebar
        assert len(re.findall(r"Run \d+ ·", sidebar)) == 1, sidebar  # its one run, nobody else's
        auc = float(metric_value(page, "ROC AUC"))
        assert auc == pytest.approx(single_user_auc(db, hour), abs=5e-4), hour

    for hour, page in zip(hours, pages):  # each session's model scores for its own target
        open_page(page, "Score & export")
    for hour, page in zip(hours, pages):
        wording = target_wording(NEW_WORKSPACE_SPEC.replace(target_window_minutes=hour * 60), tense="will")
        page.get_by_text(f"Chance this prospect {wording}", exact=True).wait_for()  # the what-if, its own target
        page.get_by_role("button", name="Download model (.joblib)").wait_for()

    assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=5).read() == b"ok"
    for context, _ in sessions:
        context.close()
    timings["load average at the end (1 min)"] = round(os.getloadavg()[0], 2)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "concurrency.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(json.dumps(timings, indent=2))


def _server_db(tmp_path_factory):
    """The demo database the module's server was started with (tests/studio/test_browser.py's `server`)."""
    candidates = sorted(tmp_path_factory.getbasetemp().glob("browser*/demo.duckdb"), key=lambda p: p.stat().st_mtime)
    assert candidates, "the server fixture writes its demo database under a 'browser' temp folder"
    return candidates[-1]
