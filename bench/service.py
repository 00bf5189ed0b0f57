"""The scoring service under load: 2,000 `POST /score` requests from 8 concurrent clients.

    python bench/service.py                 # 2,000 requests, 8 clients
    python bench/service.py --requests 500  # shorter

Trains the studio's model (`STUDIO_DEFAULTS`, by-prospect split) on the demo data, writes the
scoring-service bundle with `prospect_core.outputs.service_bundle`, starts it with `uvicorn service:app` (one
worker) on 127.0.0.1 and sends each client's requests over one keep-alive connection, with test rows
as the payloads. Prints latency percentiles (time from send to full response, measured in the
client), throughput, the service process's CPU time per request (a figure the machine's load
barely changes) and the load average. The client shares the machine's cores with the service.
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service:app", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


async def fire(url: str, payloads: list[dict], n_requests: int, clients: int) -> tuple[np.ndarray, float]:
    """`clients` keep-alive connections sending `n_requests` in all; latencies in ms, wall seconds.

    A minimal HTTP/1.1 client on asyncio streams: httpx would spend ~1 ms of CPU a request on the
    same two cores the service needs, and measure itself as much as the service.
    """
    host, port = url.removeprefix("http://").split(":")
    bodies = [json.dumps({"attributes": payload}).encode() for payload in payloads]
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
        process, url = start_service(folder / "service")
        try:
            wait_until_up(url, process)
            asyncio.run(fire(url, payloads, 50, args.clients))  # warm-up, not counted
            load = os.getloadavg()[0]
            cpu_before = cpu_seconds(process.pid)
            latencies, seconds = asyncio.run(fire(url, payloads, args.requests, args.clients))
            service_cpu = cpu_seconds(process.pid) - cpu_before
        finally:
            process.terminate()
            process.wait(timeout=20)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(f"{args.requests} POST /score from {args.clients} clients in {seconds:.2f} s: "
          f"{args.requests / seconds:.0f} requests/s\n"
          f"latency p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  max {latencies.max():.1f} ms "
          f"(target p95 < 20 ms)\nservice CPU {service_cpu / args.requests * 1000:.2f} ms a request "
          f"(user + system time of the uvicorn process)\nload average {load:.1f} before the run, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
