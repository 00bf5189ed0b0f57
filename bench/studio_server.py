"""What the browser benches share: a real `streamlit run app.py` on a demo file, Debian's Chromium, and
the server's memory read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's: Playwright's own browser download is not available here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(script: Path, log: IO[str], env: dict[str, str]) -> tuple[subprocess.Popen, str | None]:
    """`streamlit run script` on a free loopback port with `env` added, logging to `log`; the process and
    its URL once it answers its health check (None when it did not within 90 s: the caller says why)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return process, url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    return process, None


def start_server(db: Path, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` with PROSPECT_DEMO_DB=`db` and `env` (see `launch`)."""
    process, url = launch(ROOT / "app.py", log.open("w"), {"PROSPECT_DEMO_DB": str(db), **env})
    if url is None:
        raise SystemExit(f"streamlit did not start; see {log}")
    return process, url


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process `pid` in MB: resident now, and its peak so far."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def cpu_share(pid: int, seconds: float = 1.0) -> float:
    """The cores process `pid` kept busy over the next `seconds` (1.0 = one core all the time)."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds
