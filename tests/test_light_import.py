"""Importing the package and the CLI's quick commands load no heavy library (read from `python -X importtime`).

sklearn, xgboost, shap, mlflow and the rest cost seconds per process (more under load): they load
where a model is fitted, explained, exported or logged, never for `--help`, `sql` or `spec`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import prospect_core
from prospect_core.runstore import WARM_UP_THREAD
from tests.studio.test_app import small_demo_db  # noqa: F401 — the fixture

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


def test_the_studio_package_loads_no_heavy_library():
    assert imported_packages("-c", "import prospect_core.studio") & HEAVY == set()


FIRST_PAGE = """
import sys, threading
loaded = set()  # what the page's own threads import: the run store's warm-up thread imports mlflow (and so
                # sklearn) beside the first page on purpose, and how far it gets depends on the machine's load
def audit(event, args):
    if event == "import" and threading.current_thread().name != WARM_UP_THREAD:
        loaded.add(args[0].split(".")[0])
sys.addaudithook(audit)
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
assert not at.exception and [title.value for title in at.title] == ["Data & target"], at.exception
print(" ".join(sorted(loaded)))
""".replace("WARM_UP_THREAD", repr(WARM_UP_THREAD))


def test_the_first_page_paints_without_the_model_libraries(tmp_path, small_demo_db):  # noqa: F811
    """Data & target draws with none of what training, explaining and exporting need (what the run
    store's warm-up thread imports beside it, by design, is left out: see FIRST_PAGE)."""
    env = {**os.environ, "PROSPECT_DEMO_DB": str(small_demo_db), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns.db'}"}
    done = subprocess.run([sys.executable, "-c", FIRST_PAGE, str(ROOT / "app.py")], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split())
    assert "streamlit" in loaded and loaded & {"sklearn", "xgboost", "lightgbm", "shap", "snowplow_signals"} == set()
