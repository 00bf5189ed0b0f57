"""The CLI's stdout is its output (`sql > file`, `dataset | ...`): only what the command prints.

DuckDB draws a progress bar on file descriptor 1, terminal or not, once a query has run 2 s, and its
setting cannot change on a connection whose settings are locked; `python -m prospect_core` sends
descriptor 1 to stderr (a terminal) or nowhere."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prospect_core.events.demo_data import write_demo_db

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO)}


def test_a_native_progress_bar_stays_off_the_commands_stdout():
    """A DuckDB query running ~3 s (past the 2 s after which DuckDB draws its bar), as `python -m prospect_core` runs a command."""
    script = textwrap.dedent("""
        import duckdb
        from prospect_core.cli import native_output_aside
        with native_output_aside():
            n = duckdb.connect().execute("select count(*) from range(250000000) as t(i) where i % 7 = 3").fetchone()[0]
            print(f"counted {n}")
    """)
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=ENVIRONMENT,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "counted 35714286\n"
    assert ran.stderr == ""  # not a terminal: the bar goes nowhere


def test_cli_dataset_prints_one_line_on_stdout_and_its_steps_on_stderr(tmp_path):
    db = tmp_path / "demo.duckdb"
    write_demo_db(db, n_users=300, seed=1)
    built = subprocess.run(
        [sys.executable, "-m", "prospect_core", "dataset", "--source", f"duckdb:{db}", "--out", str(tmp_path / "set.parquet")],
        capture_output=True, text=True, cwd=REPO, env=ENVIRONMENT, timeout=120,
    )
    assert built.returncode == 0, built.stderr
    assert built.stdout.count("\n") == 1 and "\r" not in built.stdout, built.stdout
    assert " rows (" in built.stdout and "written to" in built.stdout
    assert "•" in built.stderr  # the steps, where a pipe does not catch them
