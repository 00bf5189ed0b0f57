"""The extra seconds logging a run to the MLflow store adds to a train on the demo data (issue 16: < 1 s).

    python bench/tracking.py            # ~1 min on an idle 2-core VM
    python bench/tracking.py --logs 10  # more warm logs per process

The demo training set (the default demo size, anchored on a fixed date) is built once; each measurement
then runs in a fresh process that trains the studio's model (STUDIO_DEFAULTS, by-prospect split), exports
it (joblib + signed card, as the export path does anyway) and times `RunStore.log_run` alone:

- cold, new store: the first log of a process into a store that does not exist yet (imports mlflow,
  creates the SQLite tables): the CLI's first `train`;
- cold: the first log of a process into an existing store: every later CLI `train`, or the app's first;
- warm: further logs in the same process: the app, where mlflow is imported already.

Each figure is printed with the 1-minute load average around it: the cores are shared.
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

ANCHOR = dt.date(2025, 5, 14)
TARGET_S = 1.0
ROOT = Path(__file__).resolve().parent.parent

MEASURE = r"""
import json, sys, time
import pandas as pd
from prospect_core.outputs.export import export_run
from prospect_core.modelling.model import STUDIO_DEFAULTS, train_model
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.runstore import RunStore

folder, dataset, logs, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5]
spec = TrainingSpec(as_of=__import__("datetime").date.fromisoformat(sys.argv[4]))
frame = pd.read_parquet(dataset)
store = RunStore.local(folder)
begun = time.perf_counter()
if mode == "warmed":
    from prospect_core.runstore import warm_up
    warm_up(store)  # as the CLI's train does before building and fitting
started = time.perf_counter()
run = train_model(frame, spec, STUDIO_DEFAULTS, split="by_user")
train_s = time.perf_counter() - started
key = b"bench key " * 4
bundle = export_run(run, key, source="demo")
data = bundle.artifact
export = {"artifact": data, "card_json": bundle.card_json, "card_markdown": bundle.card_markdown,
          "evaluation": bundle.evaluation}
seconds = []
for _ in range(logs if mode != "none" else 0):
    started = time.perf_counter()
    store.log_run(run, **export, workspace="bench")
    seconds.append(time.perf_counter() - started)
print(json.dumps({"train_s": train_s, "log_s": seconds, "total_s": time.perf_counter() - begun, "rows": len(frame), "artifact_kb": len(data) / 1024}))
"""


def load() -> float:
    return os.getloadavg()[0]


def measure(folder: Path, dataset: Path, logs: int, mode: str) -> dict:
    """One fresh process: `mode` none (train only), cold (train, then log) or warmed (warm_up, train, log)."""
    before = load()
    out = subprocess.run([sys.executable, "-c", MEASURE, str(folder), str(dataset), str(logs), ANCHOR.isoformat(), mode],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = (before, load())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=5, help="logs in the warm-log processes (the first is cold)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per mode")
    args = parser.parse_args()

    from prospect_core.events.build import query_training_set
    from prospect_core.events.demo_data import write_demo_db
    from prospect_core.trainingset.spec import TrainingSpec
    from prospect_core.events.warehouse import DuckDBWarehouse

    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as temp:
        temp_path = Path(temp)
        write_demo_db(temp_path / "demo.duckdb", anchor=ANCHOR)
        frame = query_training_set(DuckDBWarehouse(temp_path / "demo.duckdb"), TrainingSpec(as_of=ANCHOR))
        frame.to_parquet(temp_path / "set.parquet")
        folder = temp_path / "store"
        new_store = measure(folder, temp_path / "set.parquet", args.logs, "cold")
        runs = {mode: [] for mode in ("none", "cold", "warmed")}
        for _ in range(args.repeats):  # interleaved, so a busy neighbour hits every mode alike
            for mode in runs:
                runs[mode].append(measure(folder, temp_path / "set.parquet", 1 if mode != "none" else 0, mode))
        warm = measure(folder, temp_path / "set.parquet", args.logs, "cold")["log_s"][1:] + new_store["log_s"][1:]

    print(f"demo training set: {new_store['rows']:,} rows; artifact {new_store['artifact_kb']:.0f} kB; "
          f"{args.repeats} processes per mode")
    median = statistics.median
    bare = median(result["total_s"] for result in runs["none"])
    print(f"train only (fit+score+evaluate): median {bare:.2f} s  load {_loads(runs['none'])}")
    rows = [
        ("first log into a new store (imports mlflow, creates the tables)", [new_store["log_s"][0]], None),
        ("CLI train, log after the fit: log_run", [r["log_s"][0] for r in runs["cold"]], "cold"),
        ("CLI train with warm_up beside the fit (what `train` does): log_run", [r["log_s"][0] for r in runs["warmed"]], "warmed"),
        (f"app (mlflow imported already), {len(warm)} logs: log_run", warm, None),
    ]
    for label, seconds, mode in rows:
        print(f"{label}: {_spread(seconds)}  [{'meets' if median(seconds) < TARGET_S else 'misses'} < {TARGET_S:g} s]")
        if mode:
            extra = median(result["total_s"] for result in runs[mode]) - bare
            print(f"    extra seconds over train only, end to end: {extra:+.2f} s  load {_loads(runs[mode])}")


def _spread(seconds: list[float]) -> str:
    if len(seconds) == 1:
        return f"{seconds[0]:.2f} s"
    return f"median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f})"


def _loads(results: list[dict]) -> str:
    return f"{min(r['load'][0] for r in results):.2f}..{max(r['load'][1] for r in results):.2f}"


if __name__ == "__main__":
    main()
