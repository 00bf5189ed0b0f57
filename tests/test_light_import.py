"""Importing the package and the CLI's quick commands load no heavy library (read from `python -X importtime`).

sklearn, xgboost, shap, mlflow and the rest cost seconds per process (more under load): they load
where a model is fitted, explained, exported or logged, never for `--help`, `sql` or `spec`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import prospect_core

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"sklearn", "scipy", "xgboost", "lightgbm", "shap", "mlflow", "snowplow_signals", "snowflake", "plotly"}


def imported_packages(*args: str, cwd: Path = ROOT) -> set[str]:
    """The top-level packages a fresh `python -X importtime ARGS` imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("args", [
    ("-c", "import prospect_core"),
    ("-m", "prospect_core", "--help"),
    ("-m", "prospect_core", "sql"),
], ids=["import", "--help", "sql"])
def test_quick_entry_points_load_no_heavy_library(args):
    loaded = imported_packages(*args)
    assert "prospect_core" in loaded  # the probe saw the package itself
    assert loaded & HEAVY == set()


def test_spec_command_loads_no_heavy_library(tmp_path):
    assert imported_packages("-m", "prospect_core", "spec", "--out", str(tmp_path / "spec.json")) & HEAVY == set()
    assert (tmp_path / "spec.json").read_text().startswith("{")


def test_the_probe_sees_a_heavy_import():
    """The check above can fail: a command that fits a model does load sklearn."""
    assert "sklearn" in imported_packages("-c", "import prospect_core.modelling.model as m; m.build_pipeline(m.TrainingSpec())")


def test_public_names_resolve_on_first_use():
    assert set(prospect_core.__all__) <= set(dir(prospect_core))
    for name in prospect_core.__all__:
        assert getattr(prospect_core, name) is not None
    from prospect_core.trainingset.spec import TrainingSpec

    assert prospect_core.TrainingSpec is TrainingSpec
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        prospect_core.nothing_here  # noqa: B018
