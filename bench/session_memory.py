"""Does a server's memory come back after its sessions leave? Waves of browser sessions build and train.

    python bench/session_memory.py                      # 4 waves of 4 sessions, grace 10 s
    python bench/session_memory.py --waves 4 --sessions 5 --grace 15

Starts one `streamlit run app.py` server on the app's default demo database (4,000 prospects) with
PROSPECT_SESSION_GRACE_SECONDS set to `--grace` (Streamlit's own `server.disconnectedSessionTTL` left at
its 120 s, so what comes back is what the studio's release frees). Each wave opens `--sessions` Chromium contexts
(Playwright, /usr/bin/chromium), each with its own target window (1, 2, ... hours, so no two share a
training set), clicks Build in all, then Train (the studio default model) in all, waits for every
result, and closes the contexts. The server's RSS (VmRSS of its process) is read right after the
browsers close and again once the grace period and a sweep have passed. Issue 11's figure before the
fix: 1,172 -> 1,615 -> 2,081 -> 2,513 MB over four waves of ten sessions, and still 2,515 MB 150 s
after the last browser closed. The target: after each wave, RSS within 20 % of the post-first-wave
level. Prints a Markdown table and the load average (results are shared-machine upper bounds).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bench.studio_server import CHROMIUM, CHROMIUM_ARGS, memory_mb, start_server  # noqa: E402

STEP_TIMEOUT_MS = 300_000


def wave(browser, url: str, sessions: int) -> float:
    """Open `sessions` sessions, build and train in each at once, close them; seconds taken."""
    started = time.perf_counter()
    contexts, pages = [], []
    for hours in range(1, sessions + 1):
        context = browser.new_context(viewport={"width": 1400, "height": 2400})
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.goto(url)
        page.get_by_role("heading", name="Data & target").wait_for()
        box = page.get_by_label("Within the next")
        box.fill(str(hours))
        box.press("Enter")
        page.get_by_text(f"SQL for target_had_submit_form_next{hours}h").wait_for()
        contexts.append(context)
        pages.append(page)
    for page in pages:
        page.get_by_role("button", name="Build training set").click()
    for page in pages:
        page.get_by_text("Positive rate", exact=True).wait_for()
    for page in pages:
        page.get_by_role("link", name="Train", exact=True).click()
        page.get_by_role("button", name="Train model").wait_for()
    for page in pages:
        page.get_by_role("button", name="Train model").click()
    for page in pages:
        page.get_by_text("Runs this session", exact=True).wait_for()
    for context in contexts:
        context.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waves", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--grace", type=int, default=10, help="PROSPECT_SESSION_GRACE_SECONDS for the server")
    parser.add_argument("--users", type=int, default=4000, help="demo prospects (the app's default demo: 4000)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from prospect_core.events.demo_data import write_demo_db

    folder = Path(tempfile.mkdtemp(prefix="session-memory-bench-"))
    db = folder / "demo.duckdb"
    write_demo_db(db, n_users=args.users, seed=3)
    process, url = start_server(db, folder / "streamlit.log", {"PROSPECT_SESSION_GRACE_SECONDS": str(args.grace)})
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            start = memory_mb(process.pid)[0]
            for number in range(1, args.waves + 1):
                seconds = wave(browser, url, args.sessions)
                closed = memory_mb(process.pid)[0]
                # The grace period, then the sweeper's next pass (every grace/4 s, at least 1 s), then a margin.
                time.sleep(args.grace + max(1.0, args.grace / 4) + 3)
                rows.append((number, seconds, closed, memory_mb(process.pid)[0], os.getloadavg()[0]))
                print(f"wave {number}: {seconds:.0f} s, RSS {closed:,.0f} MB at close, {rows[-1][3]:,.0f} MB after "
                      f"the grace period", flush=True)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    log = (folder / "streamlit.log").read_text()
    baseline = rows[0][3]
    print(f"\nServer RSS before the first session: {start:,.0f} MB; {args.waves} waves of {args.sessions} sessions "
          f"(build + train each) on a {args.users:,}-prospect demo, grace {args.grace} s\n")
    print("| wave | build + train (s) | RSS at close (MB) | RSS after the grace (MB) | vs after wave 1 | load avg (1 min) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for number, seconds, closed, released, load in rows:
        print(f"| {number} | {seconds:.0f} | {closed:,.0f} | {released:,.0f} | {released / baseline - 1:+.1%} | {load:.2f} |")
    worst = max(released / baseline - 1 for *_, released, _ in rows)
    print(f"\nLargest rise over the post-first-wave level: {worst:+.1%} (target: within 20 %)")
    print("Traceback in the server log: " + ("YES, see " + str(folder / "streamlit.log") if "Traceback" in log else "none"))


if __name__ == "__main__":
    main()
