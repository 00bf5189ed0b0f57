"""Prospect Scoring Studio: training sets, the XGBoost model, evaluation and export.

The public names below are loaded on first use (a module-level `__getattr__`, PEP 562), as large
libraries do: `import prospect_core`, and the CLI's quick commands (`--help`, `sql`, `spec`), then
load no model library. Everything else is importable from its own module.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# OpenMP threads that have nothing to do sleep instead of spinning (libgomp's default spins for a
# while first). On shared cores a spinning XGBoost thread steals the CPU its sibling or a neighbour
# process needs, and fits then swing several-fold (bench/README.md). libgomp reads this once, when
# xgboost's library loads, so it is set here, before anything in the package imports xgboost;
# a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# public name -> the module that defines it (README "Use it from Python")
_PUBLIC = {
    "TrainingSet": "events.build", "build_training_set": "events.build",
    "DatasetError": "infra.errors", "SourceError": "infra.errors", "SpecError": "infra.errors", "UserError": "infra.errors",
    "ExportBundle": "outputs.export", "LoadedModel": "outputs.export", "export_run": "outputs.export", "load_model": "outputs.export",
    "DEFAULT_MAX_TRAINING_ROWS": "infra.limits",
    "ModelParams": "modelling.model", "TrainingRun": "modelling.model", "train_model": "modelling.model",
    "signing_key": "outputs.signing",
    "open_source": "events.sources",
    "TrainingSpec": "trainingset.spec",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'prospect_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"prospect_core.{module}"), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from prospect_core.events.build import TrainingSet, build_training_set
    from prospect_core.infra.errors import DatasetError, SourceError, SpecError, UserError
    from prospect_core.outputs.export import ExportBundle, LoadedModel, export_run, load_model
    from prospect_core.infra.limits import DEFAULT_MAX_TRAINING_ROWS
    from prospect_core.modelling.model import ModelParams, TrainingRun, train_model
    from prospect_core.outputs.signing import signing_key
    from prospect_core.events.sources import open_source
    from prospect_core.trainingset.spec import TrainingSpec
