"""Target-only rebuild vs full rebuild: CPU seconds of a target change at 1M events, in one run.

    .venv/bin/python bench/target_only.py            # ~1M events (bench/events.py), default spec
    .venv/bin/python bench/target_only.py --events 200000

Builds the default set (submit_form within 1 hour), then changes only the target (within 30 minutes;
then page_view at least 3 times): once through the build path with the earlier set (the target column
recomputed, `prospect_core.trainingset.dataset.recompute_target`) and once as a full query. CPU is the
process's user+system seconds (DuckDB's threads included), the median of 3; both results are compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from bench.events import generate_events, write_events_db  # noqa: E402
from prospect_core.events.build import EarlierSet, build_training_set  # noqa: E402
from prospect_core.events.warehouse import DuckDBWarehouse  # noqa: E402
from prospect_core.trainingset.spec import TrainingSpec  # noqa: E402

AS_OF = dt.date(2025, 5, 14)
LIMIT = 10**8


def cpu(work) -> tuple[float, object]:
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = write_events_db(Path(folder) / "events.duckdb", generate_events(args.events, as_of=AS_OF, seed=0))
        warehouse = DuckDBWarehouse(db)
        spec = TrainingSpec(as_of=AS_OF)
        first = build_training_set(warehouse, spec, max_rows=LIMIT)
        earlier = EarlierSet(first.spec, first.frame)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{first.preflight.events_in_lookback:,} events in the lookback, {first.summary.rows:,} rows")
        print("| new target | full rebuild CPU s | target only CPU s | ratio | equal |")
        print("|---|---|---|---|---|")
        for change in ({"target_window_minutes": 30}, {"target_event": "page_view", "target_min_count": 3}):
            wanted = spec.replace(**change)
            full = [cpu(lambda: build_training_set(warehouse, wanted, max_rows=LIMIT)) for _ in range(3)]
            quick = [cpu(lambda: build_training_set(warehouse, wanted, max_rows=LIMIT, earlier=earlier)) for _ in range(3)]
            full_cpu, quick_cpu = statistics.median(c for c, _ in full), statistics.median(c for c, _ in quick)
            rebuilt, reused = full[0][1].frame, quick[0][1].frame
            equal = reused.set_index("event_id").loc[rebuilt["event_id"]].reset_index().equals(rebuilt)
            print(f"| {wanted.target_column} | {full_cpu:.2f} | {quick_cpu:.3f} | 1/{full_cpu / quick_cpu:.0f} | {equal} |")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{pd.Timestamp.now():%Y-%m-%d}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
