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
