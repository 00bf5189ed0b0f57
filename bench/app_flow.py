"""Click to rendered result in the studio: build, train, every chart, and a threshold change.

    python bench/app_flow.py             # the demo data at its default size, 3 fresh processes
    python bench/app_flow.py --runs 1
    python bench/app_flow.py --runs 1 --users 20000 --baseline main   # ~1M events, this checkout vs main

`--baseline REF` runs the same flow on REF's code (a temporary git worktree) alternating with this
checkout's, in the same run, on the same database.

Drives app.py with Streamlit's AppTest (as tests/studio/test_app.py does), pointed at a demo DuckDB file
through PROSPECT_DEMO_DB. Each flow runs in a fresh subprocess so no cache carries over between
flows. A step's time is from the click (or page switch) until the script run has finished, i.e. the
page is rendered; AppTest runs the script in-process with no browser, so network and drawing time
in a browser are not included. A threshold change is timed over several slider moves per flow
(median); AppTest reruns the whole page script, which bounds the fragment rerun a browser gets.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

APP = Path(__file__).resolve().parent.parent / "app.py"
THRESHOLDS = (0.9, 0.1, 0.7, 0.3, 0.5, 0.2)
STEPS = ("open app", "build", "train", "evaluate page", "explain page")
FLOW = ("build", "train", "evaluate page", "explain page")  # build -> train -> all charts
TARGETS = {"flow": 20.0, "threshold": 0.300}


def worker(db: str, app: Path = APP) -> None:
    """In a child process: one flow through the app; seconds per step as JSON on the last line."""
    os.environ["PROSPECT_DEMO_DB"] = db
    from streamlit.testing.v1 import AppTest

    seconds: dict[str, float] = {}

    def timed(step: str, action) -> object:
        started = time.perf_counter()
        at = action()
        seconds[step] = time.perf_counter() - started
        problems = [element.value for element in [*at.exception, *at.error]]
        if problems:
            raise RuntimeError(f"{step}: {problems}")
        return at

    at = AppTest.from_file(str(app), default_timeout=600)
    timed("open app", at.run)
    timed("build", lambda: at.button(key="build").click().run())
    at.switch_page("screens/train.py").run()
    timed("train", lambda: at.button[0].click().run())  # the form's "Train model"
    timed("evaluate page", lambda: at.switch_page("screens/evaluate.py").run())
    changes = []
    for threshold in THRESHOLDS:
        started = time.perf_counter()
        at.slider[0].set_value(threshold).run()
        changes.append(time.perf_counter() - started)
    timed("explain page", lambda: at.switch_page("screens/explain.py").run())
    rows = at.session_state["built"].summary.rows
    print(json.dumps({"seconds": seconds, "threshold_changes": changes, "rows": rows}))


def run_flow(db: Path, checkout: Path | None = None) -> dict:
    """One flow in a fresh process, on this checkout's code or on `checkout`'s (its app and package)."""
    root = checkout or APP.parent
    command = [sys.executable, __file__, "--worker", str(db), "--app", str(root / "app.py")]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=root,
                               env={**os.environ, "PYTHONPATH": str(root)})
    if completed.returncode:
        raise RuntimeError(f"flow failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, help="demo prospects (default: write_demo_db's; 20000 is ~1M events)")
    parser.add_argument("--baseline", help="a git ref whose code runs the same flows, alternating with this checkout's")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--app", type=Path, default=APP, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(args.app.parent))  # the checkout whose code this flow measures
        for name in [name for name in sys.modules if name == "prospect_core" or name.startswith("prospect_core.")]:
            del sys.modules[name]
        worker(args.worker, args.app)
        return 0
    if args.baseline:
        return compare_with(args.baseline, args.runs, args.users)
    from prospect_core.events.demo_data import write_demo_db

    print(f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_app_") as directory:
        db = Path(directory) / "demo.duckdb"
        events = write_demo_db(db, **({"n_users": args.users} if args.users else {}))
        flows = []
        for index in range(args.runs):
            flows.append(run_flow(db))
            shown = {step: round(value, 2) for step, value in flows[-1]["seconds"].items()}
            print(f"  flow {index + 1}: {shown} (load {os.getloadavg()[0]:.1f})", flush=True)
    step_seconds = {step: statistics.median(flow["seconds"][step] for flow in flows) for step in STEPS}
    flow_seconds = statistics.median(sum(flow["seconds"][step] for step in FLOW) for flow in flows)
    changes = [change for flow in flows for change in flow["threshold_changes"]]
    threshold_seconds = statistics.median(changes)

    print()
    print(f"demo data: {events:,} events, {flows[0]['rows']:,} training rows; median of {len(flows)} flows; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    lines = [("step", "seconds", "target")]
    lines += [(step, f"{step_seconds[step]:.2f}", "") for step in STEPS]
    lines.append(("build -> train -> all charts", f"{flow_seconds:.2f}", f"< {TARGETS['flow']:.0f} s"))
    lines.append((f"threshold change (median of {len(changes)})", f"{threshold_seconds:.3f}",
                  f"< {TARGETS['threshold'] * 1000:.0f} ms"))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    for index, line in enumerate(lines):
        print(" | ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in enumerate(zip(line, widths))))
        if index == 0:
            print("-+-".join("-" * width for width in widths))
    print(f"flow {flow_seconds / TARGETS['flow']:.2f} of its target, threshold change "
          f"{threshold_seconds / TARGETS['threshold']:.2f} of its target")
    return 0


def compare_with(ref: str, runs: int, users: int | None) -> int:
    """Threshold changes (and the flow's steps) of `ref`'s code and this checkout's, alternating, one database."""
    from prospect_core.events.demo_data import write_demo_db

    root = APP.parent
    print(f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_app_") as directory:
        old = Path(directory) / "baseline"
        subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(old), ref], check=True, capture_output=True)
        try:
            db = Path(directory) / "demo.duckdb"
            events = write_demo_db(db, **({"n_users": users} if users else {}))
            results: dict[str, list[dict]] = {"old": [], "new": []}
            for index in range(runs):
                for name, checkout in (("old", old), ("new", root)):
                    flow = run_flow(db, checkout)
                    results[name].append(flow)
                    changes = ", ".join(f"{change:.3f}" for change in flow["threshold_changes"])
                    print(f"  {name} flow {index + 1}: threshold changes {changes} s; "
                          f"evaluate page {flow['seconds']['evaluate page']:.2f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(old)], capture_output=True)
    print(f"\n{events:,} events, {results['new'][0]['rows']:,} training rows; load average {os.getloadavg()[0]:.1f} at the end")
    for name in ("old", "new"):
        changes = [change for flow in results[name] for change in flow["threshold_changes"]]
        page = statistics.median(flow["seconds"]["evaluate page"] for flow in results[name])
        print(f"{name} ({ref if name == 'old' else 'this checkout'}): threshold change median {statistics.median(changes):.3f} s "
              f"(max {max(changes):.3f}, n={len(changes)}), evaluate page {page:.2f} s, target <= {TARGETS['threshold']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
