"""Prospect Scoring Studio: training sets, the XGBoost model, evaluation and export."""

import os

# OpenMP threads that have nothing to do sleep instead of spinning (libgomp's default spins for a
# while first). On shared cores a spinning XGBoost thread steals the CPU its sibling or a neighbour
# process needs, and fits then swing several-fold (bench/README.md). libgomp reads this once, when
# xgboost's library loads, so it is set here, before anything in the package imports xgboost;
# a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The names a notebook needs; everything else is importable from its module (README "Use it from Python").
from prospect_core.build import TrainingSet, build_training_set  # noqa: E402  (after OMP_WAIT_POLICY, on purpose)
from prospect_core.errors import DatasetError, SourceError, SpecError, UserError  # noqa: E402
from prospect_core.export import ExportBundle, LoadedModel, export_run, load_model  # noqa: E402
from prospect_core.limits import DEFAULT_MAX_TRAINING_ROWS  # noqa: E402
from prospect_core.model import ModelParams, TrainingRun, train_model  # noqa: E402
from prospect_core.signing import signing_key  # noqa: E402
from prospect_core.sources import open_source  # noqa: E402
from prospect_core.spec import TrainingSpec  # noqa: E402

__all__ = [
    "DEFAULT_MAX_TRAINING_ROWS", "DatasetError", "ExportBundle", "LoadedModel", "ModelParams", "SourceError",
    "SpecError", "TrainingRun", "TrainingSet", "TrainingSpec", "UserError", "build_training_set", "export_run",
    "load_model", "open_source", "signing_key", "train_model",
]
