"""The package's layout holds: every module imports on its own, and only the studio imports streamlit."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "prospect_core"
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py") if path.name != "__main__.py"
)


def test_the_module_list_is_the_package():
    assert {"prospect_core", "prospect_core.events.build", "prospect_core.outputs.export", "prospect_core.studio",
            "prospect_core.studio.jobs"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_in_a_fresh_process(module):
    """A cycle hidden by import order shows up when a module is the first one imported."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                          cwd=PACKAGE.parent, timeout=120)
    assert done.returncode == 0, done.stderr


def test_nothing_outside_the_studio_imports_streamlit():
    importing = re.compile(r"^\s*(import streamlit|from streamlit\b)", re.M)
    outside = [path.relative_to(PACKAGE.parent) for path in PACKAGE.rglob("*.py")
               if PACKAGE / "studio" not in path.parents and importing.search(path.read_text())]
    assert outside == []


def test_the_jobs_module_knows_no_domain():
    """Background jobs run any work; they import nothing of the core but its errors, the key names and
    `plain` (a job's title and progress lines name files, and are shown as text)."""
    imports = re.findall(r"^from (prospect_core\S*) import", (PACKAGE / "studio" / "jobs.py").read_text(), re.M)
    assert sorted(imports) == ["prospect_core.infra.errors", "prospect_core.studio", "prospect_core.trainingset.wording"]


def test_app_py_is_the_only_way_to_a_page():
    """Streamlit runs the files of a pages/ folder beside app.py on their own until `st.navigation` has
    run once in the process (a deep link after a restart would skip the router); screens/ it does not."""
    root = PACKAGE.parent
    routed = set(re.findall(r'st\.Page\("([^"]+)"', (root / "app.py").read_text()))
    assert not (root / "pages").exists()
    assert routed == {path.relative_to(root).as_posix() for path in (root / "screens").glob("*.py")}


@pytest.mark.parametrize("owner, private", [
    ("streamlit_private.py", r"\bstreamlit\.(runtime|web)\b|from streamlit import (runtime|web)\b"),
    ("mlflow_private.py", r"\bmlflow(\.\w+)*\._|\bmlflow\.utils\b"),
])
def test_private_calls_into_a_library_live_in_one_module(owner, private):
    """Each private call has its contract test there (tests/studio/test_private_apis.py); one found elsewhere has none."""
    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), root / "app.py", *(root / "screens").glob("*.py")]
    assert {path.name for path in files if re.search(private, path.read_text())} == {owner}


def _imported_modules(path: Path, module: str) -> set[str]:
    """Every prospect_core module `path` imports, at module level or inside a function: an import moved
    into a function still closes a cycle, it only hides it until that function runs."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package `level - 1` steps up
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # `from package import module` imports that module; `from module import name` the module
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names)
    return {name for name in found if name in MODULES and name != module}


def import_cycle() -> list[str] | None:
    """A cycle in the package's import graph, as the modules along it, or None."""
    graph = {module: _imported_modules(PACKAGE.parent / (module.replace(".", "/") + ("/__init__.py" if (
        PACKAGE.parent / module.replace(".", "/")).is_dir() else ".py")), module) for module in MODULES}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            cycle = visit(imported, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    return next((cycle for module in MODULES if (cycle := visit(module, []))), None)


def test_the_package_has_no_import_cycle():
    cycle = import_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# The core's layers, in order: a module imports only its own layer and the ones before it. The studio and
# the CLI sit on top of all of them.
LAYERS = ("infra", "trainingset", "events", "modelling", "outputs", "mlflow_private", "runstore", "studio", "cli")


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_each_layer_imports_only_the_layers_before_it():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        own = _layer(module)
        if own is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            layers = {_layer(name) for name in names if name.startswith("prospect_core.")} - {None}
            upward += [(module, layer) for layer in layers if LAYERS.index(layer) > LAYERS.index(own)]
    assert upward == []
