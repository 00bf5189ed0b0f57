"""The README's "Use it from Python" example, run as written against a small demo database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from prospect_core.events.demo_data import write_demo_db

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_python_example_builds_trains_and_exports(tmp_path):
    section = README.read_text().split("## Use it from Python", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    demo = tmp_path / "demo.duckdb"
    write_demo_db(demo, n_users=600, seed=7)
    environment = {**os.environ, "PROSPECT_DEMO_DB": str(demo)}  # the signing key file comes from conftest
    done = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, env=environment,
                          cwd=README.parent, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = int(re.search(r"^([\d,]+) rows, [\d.]+% positive$", done.stdout, re.M).group(1).replace(",", ""))
    auc = float(re.search(r"^ROC AUC ([\d.]+) on [\d,]+ test rows$", done.stdout, re.M).group(1))
    assert rows > 1_000 and 0.5 < auc <= 1.0, done.stdout
    assert "Checking the events table and counting the cohort…" in done.stdout  # the build's progress
    assert re.search(r"^prospect_model_[0-9a-f]{8}\.joblib \d+ bytes$", done.stdout, re.M), done.stdout


def test_quick_start_is_one_command_per_block_and_ci_runs_the_second():
    """Pasting a block runs one thing: with both in one block, the app started and the tests never ran."""
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) == 2 and all(len(block.strip().splitlines()) == 1 for block in blocks), blocks
    start_app, run_suite = (block.strip() for block in blocks)
    assert start_app.endswith("streamlit run app.py") and run_suite.endswith("python -m pytest")
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    assert [line for line in ci if line and not line.startswith(("#", "set ", "cd "))] == [run_suite]
