"""Issue 16 end to end in a real browser (Debian's Chromium, driven by Playwright, against `streamlit run`):
train two runs, reload the page, and both runs and their Evaluate charts are back; restart the
streamlit server on the same run store, open the link, and they are still there. Screenshots of the
restored pages at 1400 and 420 px go to test-artifacts/ to be looked at. Without Chromium this fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from prospect_core.events.demo_data import write_demo_db
from bench.studio_server import free_port
from tests.studio.test_browser import ARTIFACTS, ROOT, STEP_TIMEOUT_MS, browser, open_page  # noqa: F401  (browser: fixture)

CHARTS_ON_EVALUATE = 8  # ROC, PR, confusion, profit, lift, gains, calibration, importance


class Server:
    """`streamlit run app.py` on a free port, with the run store at `store`; restartable."""

    def __init__(self, folder: Path, demo_db: Path, store: str, *, address: str | None = "127.0.0.1",
                 secrets: Path | None = None) -> None:
        """`address` None: the one in .streamlit/config.toml; `secrets`: a secrets.toml instead of the repository's."""
        self.folder, self.env = folder, {**os.environ, "PROSPECT_DEMO_DB": str(demo_db), "MLFLOW_TRACKING_URI": store}
        self.flags = [*(["--server.address", address] if address else []),
                      *(["--secrets.files", str(secrets)] if secrets else [])]
        self.process: subprocess.Popen | None = None
        self.logs: list[Path] = []

    def start(self) -> str:
        self.port = free_port()
        log_path = self.folder / f"streamlit-{len(self.logs)}.log"
        self.logs.append(log_path)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(self.port),
             *self.flags, "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=self.env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return self.url
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"streamlit did not start on {self.url}:\n{log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def tracebacks(self) -> str:
        return "\n".join(path.read_text() for path in self.logs if "Traceback" in path.read_text())


@pytest.fixture
def server():
    # A private folder, not pytest's tmp_path: other pytest sessions on this machine (same user) prune
    # old basetemps, and the store must outlive this test's server restart.
    with tempfile.TemporaryDirectory(prefix="runstore-browser-") as folder:
        yield from _server(Path(folder))


def _server(tmp_path: Path):
    db = tmp_path / "demo.duckdb"
    write_demo_db(db, n_users=600, seed=3)
    running = Server(tmp_path, db, f"sqlite:///{tmp_path / 'store' / 'mlruns.db'}")
    running.start()
    yield running
    running.stop()
    assert not running.tracebacks(), running.tracebacks()




def sidebar_runs(page) -> list[str]:
    text = page.locator('[data-testid="stSidebar"]').inner_text()
    return re.findall(r"Run (\d) · ", text)


def evaluate_both_runs(page) -> None:
    """Evaluate draws every chart for the latest run, then for run 1 picked in the run picker."""
    open_page(page, "Evaluate")
    page.locator(".js-plotly-plot").nth(CHARTS_ON_EVALUATE - 1).wait_for()
    assert "Run 2" in page.locator(".js-plotly-plot .legend").first.text_content()
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile(r"^Run 1 ")).click()
    page.locator(".js-plotly-plot .legend", has_text="Run 1").first.wait_for()
    page.locator(".js-plotly-plot").nth(CHARTS_ON_EVALUATE - 1).wait_for()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1400, 420):
        page.set_viewport_size({"width": width, "height": 2400})
        page.wait_for_timeout(1200)  # relayout and plotly's transitions
        page.screenshot(path=str(ARTIFACTS / f"runstore_{name}_{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 2400})


def test_two_runs_come_back_after_a_reload_and_after_a_server_restart(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.goto(server.url)
    page.get_by_role("heading", name="Data & target").wait_for()
    page.wait_for_url(re.compile(r"workspace="))
    workspace = re.search(r"workspace=([A-Za-z0-9_-]+)", page.url).group(1)

    page.get_by_role("button", name="Build training set").click()
    page.get_by_text("Positive rate", exact=True).wait_for()
    open_page(page, "Train")
    for number in (1, 2):
        page.get_by_role("button", name="Train model").click()
        page.get_by_role("heading", name=re.compile(rf"^Run {number} ·")).wait_for()
        page.get_by_text(re.compile(rf"Run {number} · .*saved in the run store as MLflow run")).wait_for()
    shot(page, "train")

    page.reload()  # a new session: only the link's workspace ties it to the runs
    page.get_by_role("heading", name="Train").wait_for()
    page.get_by_role("button", name="Rebuild training set").wait_for()  # runs back, their training set not
    page.get_by_text("MODELS THIS SESSION").wait_for()
    assert sidebar_runs(page) == ["2", "1"]
    assert f"workspace={workspace}" in page.url
    evaluate_both_runs(page)

    server.stop()
    server.start()  # same store, new process: nothing in memory
    # A deep link straight to a page, the first request the new server sees. The pages live in screens/,
    # a folder Streamlit does not run on its own, so app.py routes it, with its navigation, sidebar and
    # the workspace's runs.
    page.goto(f"{server.url}/evaluate?workspace={workspace}")
    page.get_by_role("heading", name="Evaluate").wait_for()
    page.get_by_text("MODELS THIS SESSION").wait_for()
    assert sidebar_runs(page) == ["2", "1"]
    assert page.locator('[data-testid="stSidebarNav"]').get_by_text("Data & target").count() == 1
    assert f"workspace={workspace}" in page.url and "/evaluate" in page.url
    page.locator(".js-plotly-plot").nth(CHARTS_ON_EVALUATE - 1).wait_for()
    shot(page, "deep_link_after_restart")
    evaluate_both_runs(page)
    shot(page, "evaluate")

    page.get_by_text("All runs in the store", exact=True).first.click()  # the all-runs toggle
    page.get_by_text(f"workspace {workspace}").first.wait_for()
    shot(page, "evaluate_all_runs")

    open_page(page, "Explain")
    page.get_by_role("button", name="Rebuild training set").wait_for()
    shot(page, "explain_restored")
    page.get_by_role("button", name="Rebuild training set").click()
    page.get_by_text("One prospect", exact=True).wait_for()
    page.locator(".js-plotly-plot").nth(3).wait_for()
    shot(page, "explain_rebuilt")

    open_page(page, "Score & export")
    page.get_by_role("button", name="Download model (.joblib)").wait_for()
    shot(page, "score_and_export")


def test_a_click_to_another_page_while_a_cold_server_restores_the_workspace_keeps_its_runs(server, browser, tmp_path):
    """Issue 25: `/train?workspace=…` on a server that has not imported mlflow yet, Evaluate clicked after
    4 s, while the restore waits for those imports: the click stopped the restore after it was marked
    done, and Evaluate said "No model yet" for the rest of the session."""
    workspace = "earlyclick01"
    trained = subprocess.run(  # a run in the store from the CLI: the server has opened no session yet
        [sys.executable, "-m", "prospect_core", "train", "--source", "demo", "--split", "by_user",
         "--workspace", workspace, "--out", str(tmp_path / "model.joblib")],
        cwd=ROOT, env={**server.env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    assert trained.returncode == 0, trained.stderr
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.goto(f"{server.url}/train?workspace={workspace}")
    page.wait_for_timeout(4000)
    page.get_by_role("link", name="Evaluate", exact=True).click()
    page.get_by_role("heading", name="Evaluate", exact=True).wait_for()
    page.locator(".js-plotly-plot").nth(CHARTS_ON_EVALUATE - 1).wait_for(timeout=90_000)
    assert sidebar_runs(page) == ["1"] and page.get_by_text("No model yet").count() == 0
    assert f"workspace={workspace}" in page.url
