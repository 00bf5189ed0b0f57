"""Training set -> fit -> evaluation -> SHAP sample, seconds per stage and peak memory.

    python bench/train.py            # the demo data (default size) and a ~1M-event demo set
    python bench/train.py --quick    # the demo data only

Data comes from `prospect_core.demo_data.write_demo_db` (it carries a learnable signal, unlike
bench/events.py), anchored on a fixed date so runs are comparable. The model is the studio's:
`STUDIO_DEFAULTS` parameters and the by-prospect split. Each dataset runs in its own subprocess,
`--repeats` times (median seconds per stage); peak memory is that process's VmHWM after each stage,
so it only grows: the figure after a stage is the peak of everything up to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ANCHOR = dt.date(2025, 5, 14)
SPLIT = "by_user"  # the studio's default
DATASETS = {"demo": None, "~1M events": 20_000}  # demo users: None = the default size
STAGES = ("training set", "fit", "evaluate", "shap sample")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(db: str) -> None:
    """In a child process: one pass through the stages, as JSON on the last stdout line."""
    from prospect_core.dataset import build_training_set
    from prospect_core.explain import explain_sample
    from prospect_core.evaluation import evaluate
    from prospect_core.model import STUDIO_DEFAULTS, train_model
    from prospect_core.spec import TrainingSpec
    from prospect_core.warehouse import DuckDBWarehouse

    spec = TrainingSpec(as_of=ANCHOR)
    result: dict[str, dict[str, float]] = {}

    def record(stage: str, started: float) -> None:
        result[stage] = {"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb()}

    result["start"] = {"seconds": 0.0, "peak_mb": peak_rss_mb()}
    started = time.perf_counter()
    frame = build_training_set(DuckDBWarehouse(Path(db)), spec)
    record("training set", started)
    # train_model also scores and evaluates the test side; its own stage clock splits the two
    run = train_model(frame, spec, STUDIO_DEFAULTS, split=SPLIT)
    result["fit"] = {"seconds": sum(run.timings[s] for s in ("check", "split", "fit", "score")),
                     "peak_mb": peak_rss_mb()}
    started = time.perf_counter()
    evaluate(y_true=run.y_test, y_score=run.y_score)  # what a threshold change recomputes
    evaluation_seconds = run.timings["evaluate"]
    result["evaluate"] = {"seconds": evaluation_seconds, "peak_mb": peak_rss_mb(),
                          "re-evaluate": time.perf_counter() - started}
    started = time.perf_counter()
    sample = explain_sample(run.pipeline, run.X_test)
    record("shap sample", started)
    result["shape"] = {"rows": len(frame), "test_rows": run.n_test, "shap_rows": len(sample.rows),
                       "roc_auc": run.evaluation.roc_auc}
    print(json.dumps(result))


def run_worker(db: Path) -> dict:
    command = [sys.executable, __file__, "--worker", str(db)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode:
        raise RuntimeError(f"worker failed on {db}:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def write_dataset(directory: Path, name: str, n_users: int | None) -> tuple[Path, int]:
    from prospect_core.demo_data import write_demo_db

    path = directory / f"{name.replace(' ', '_').replace('~', '')}.duckdb"
    options = {"n_users": n_users} if n_users else {}
    events = write_demo_db(path, anchor=ANCHOR, **options)
    return path, events


def print_table(results: list[dict]) -> None:
    header = ("dataset", "events", "rows", *(f"{stage} s" for stage in STAGES), "total s", "peak MB", "ROC AUC")
    lines = [header]
    for r in results:
        seconds = [r["seconds"][stage] for stage in STAGES]
        lines.append((r["dataset"], f"{r['events']:,}", f"{r['rows']:,}", *(f"{s:.2f}" for s in seconds),
                      f"{sum(seconds):.2f}", f"{r['peak_mb']:.0f}", f"{r['roc_auc']:.3f}"))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print(" | ".join(str(cell).rjust(width) for cell, width in zip(line, widths)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))
    print()
    for r in results:
        steps = ", ".join(f"{stage} {r['peak_by_stage'][stage]:.0f}" for stage in ("start", *STAGES))
        print(f"{r['dataset']}: peak MB after each stage: {steps}; "
              f"re-evaluating the test scores (a threshold change's work) {r['re_evaluate_ms']:.0f} ms; "
              f"SHAP on {r['shap_rows']:,} rows")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the demo data only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    import duckdb

    print(f"duckdb {duckdb.__version__}, {len(os.sched_getaffinity(0))} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
    datasets = {"demo": None} if args.quick else DATASETS
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_train_") as directory:
        for name, n_users in datasets.items():
            path, events = write_dataset(Path(directory), name, n_users)
            runs = []
            for repeat in range(args.repeats):
                runs.append(run_worker(path))
                seconds = {stage: round(runs[-1][stage]["seconds"], 2) for stage in STAGES}
                print(f"  {name} run {repeat + 1}: {seconds} (load {os.getloadavg()[0]:.1f})", flush=True)
            results.append({
                "dataset": name, "events": events, "rows": runs[0]["shape"]["rows"],
                "seconds": {stage: statistics.median(run[stage]["seconds"] for run in runs) for stage in STAGES},
                "peak_mb": max(run["shap sample"]["peak_mb"] for run in runs),
                "peak_by_stage": {stage: max(run[stage]["peak_mb"] for run in runs) for stage in ("start", *STAGES)},
                "re_evaluate_ms": 1000 * statistics.median(run["evaluate"]["re-evaluate"] for run in runs),
                "shap_rows": runs[0]["shape"]["shap_rows"], "roc_auc": runs[0]["shape"]["roc_auc"],
            })
    print()
    print(f"median of {args.repeats} runs; load average {os.getloadavg()[0]:.1f} at the end")
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
