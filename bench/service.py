"""The scoring service: `/score` CPU per request against the Scorer's own cost, and p95 at 8 clients.

    python bench/service.py                 # 2,000 requests a phase, 8 clients
    python bench/service.py --requests 500  # shorter

Trains the studio's model (`STUDIO_DEFAULTS`, by-prospect split) on the demo data and writes the
scoring-service bundle with `prospect_core.outputs.service_bundle`. Then, in one run:

1. The Scorer's own cost: CPU per row of the studio's `scoring.score_one` (the what-if form's
   scorer, `prospect_core/modelling/scoring.py`) and of the bundle's `Scorer.score` with and
   without explanations, in this process, one row at a time (what a request scores).
2. `/score` CPU per request, with `"explain": false` and with explanations: the user + system CPU
   time of the service's processes (uvicorn's parent and workers) over the phase, divided by the
   requests. The load average barely moves this figure.
3. Latency at 8 concurrent clients, each on one keep-alive connection, the service started with
   `python service.py` (one worker a core): p50, p95, p99, with the load average before and after.

The client shares the machine's cores with the service.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ANCHOR = dt.date(2025, 5, 14)


def build_bundle(folder: Path) -> list[dict]:
    """Train on the demo data, write the bundle into `folder`; return test rows as /score payloads."""
    from prospect_core.outputs.artifact import artifact_bytes, model_card, sha256_hex
    from prospect_core.events.build import query_training_set
    from prospect_core.events.demo_data import write_demo_db
    from prospect_core.modelling.model import STUDIO_DEFAULTS, train_model
    from prospect_core.outputs.service_bundle import write_service_folder
    from prospect_core.outputs.signing import sign_card, signing_key
    from prospect_core.trainingset.spec import TrainingSpec
    from prospect_core.events.warehouse import DuckDBWarehouse

    os.environ.setdefault("PROSPECT_SIGNING_KEY_FILE", str(folder / "signing.key"))  # never the user's key
    spec = TrainingSpec(as_of=ANCHOR)
    db = folder / "demo.duckdb"
    write_demo_db(db, anchor=ANCHOR)
    run = train_model(query_training_set(DuckDBWarehouse(db), spec), spec, STUDIO_DEFAULTS, split="by_user")
    data = artifact_bytes(run.pipeline)
    card = model_card(run, sql_snowflake="-- not needed here", artifact_sha256=sha256_hex(data))
    card = sign_card(card, data, signing_key())
    write_service_folder(folder / "service", data, json.dumps(card).encode(), key=signing_key())
    return json.loads(run.X_test.head(500).to_json(orient="records"))


def start_service(folder: Path) -> tuple[subprocess.Popen, str]:
    """`python service.py`: one worker a core, as the bundle's README runs it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "service.py", "--host", "127.0.0.1", "--port", str(port)], cwd=folder,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def scorer_cpu_ms(folder: Path, payloads: list[dict], n: int) -> dict[str, float]:
    """CPU ms per row of the studio's score_one and the bundle's Scorer, one row at a time, in this process."""
    import importlib.util

    import joblib

    from prospect_core.modelling.scoring import score_one
    from prospect_core.trainingset.spec import TrainingSpec

    spec_ = importlib.util.spec_from_file_location("bundled_service", folder / "service.py")
    module = importlib.util.module_from_spec(spec_)
    sys.modules[spec_.name] = module
    spec_.loader.exec_module(module)
    card = json.loads((folder / "model.card.json").read_text())
    pipeline = joblib.load(folder / "model.joblib")
    table = module.input_table(card, None)
    scorer = module.Scorer(pipeline, table)
    rows = [module.from_payload(table, payload) for payload in payloads]
    spec = TrainingSpec(as_of=ANCHOR)
    costs = {}
    for name, score in (("studio score_one", lambda row: score_one(pipeline, row, spec)),
                        ("bundle Scorer, no explanations", lambda row: scorer.score(row, False)),
                        ("bundle Scorer, explanations", lambda row: scorer.score(row, True))):
        for row in rows[:20]:
            score(row)  # warm-up
        started = time.process_time()
        for i in range(n):
            score(rows[i % len(rows)])
        costs[name] = (time.process_time() - started) / n * 1000
    return costs


def scorer_name(explain: bool) -> str:
    return f"bundle Scorer, {'explanations' if explain else 'no explanations'}"


def service_cpu_seconds(pid: int) -> float:
    """CPU seconds of the service's parent process and its workers."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(cpu_seconds(int(child)) for child in children)


async def fire(url: str, payloads: list[dict], n_requests: int, clients: int, explain: bool = True) -> tuple[np.ndarray, float]:
    """`clients` keep-alive connections sending `n_requests` in all; latencies in ms, wall seconds.

    A minimal HTTP/1.1 client on asyncio streams: httpx would spend ~1 ms of CPU a request on the
    same two cores the service needs, and measure itself as much as the service.
    """
    host, port = url.removeprefix("http://").split(":")
    bodies = [json.dumps({"attributes": payload, "explain": explain}).encode() for payload in payloads]
    requests = [
        b"POST /score HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (host.encode(), len(body), body)
        for body in bodies
    ]
    latencies: list[float] = []
    counter = iter(range(n_requests))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in counter:
                started = time.perf_counter()
                writer.write(requests[i % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"the service answered {head.splitlines()[0]!r}: {body[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return np.asarray(latencies) * 1000, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: what it costs, whatever else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the service did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        print(f"load average {os.getloadavg()[0]:.1f} at start; training the demo model ...", flush=True)
        payloads = build_bundle(folder)
        costs = scorer_cpu_ms(folder / "service", payloads, args.requests)
        process, url = start_service(folder / "service")
        results = {}
        try:
            wait_until_up(url, process)
            for explain in (False, True):
                asyncio.run(fire(url, payloads, 100, args.clients, explain))  # warm-up, not counted
                load = os.getloadavg()[0]
                cpu_before = service_cpu_seconds(process.pid)
                latencies, seconds = asyncio.run(fire(url, payloads, args.requests, args.clients, explain))
                cpu = (service_cpu_seconds(process.pid) - cpu_before) / args.requests * 1000
                results[explain] = (latencies, seconds, cpu, load, os.getloadavg()[0])
        finally:
            process.terminate()
            process.wait(timeout=20)
    workers = len(os.sched_getaffinity(0))  # python service.py starts one a core
    print("\nCPU per row scored in-process (one row at a time):")
    for name, ms in costs.items():
        print(f"  {name:32s} {ms:6.2f} ms")
    studio = costs["studio score_one"]
    for explain, (latencies, seconds, cpu, load, load_after) in results.items():
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
        label = "with explanations" if explain else "explain: false"
        print(f"\nPOST /score, {label}: {args.requests} requests from {args.clients} clients, {workers} workers, "
              f"in {seconds:.2f} s ({args.requests / seconds:.0f}/s)\n"
              f"  service CPU {cpu:.2f} ms a request = {cpu / studio:.2f}x the studio's score_one "
              f"({studio:.2f} ms){'  (target <= 1.3x)' if not explain else ''}, "
              f"{cpu / costs[scorer_name(explain)]:.2f}x the bundle's Scorer alone\n"
              f"  latency p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  max {latencies.max():.1f} ms\n"
              f"  load average {load:.1f} before, {load_after:.1f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
