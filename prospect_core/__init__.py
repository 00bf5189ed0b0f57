"""Prospect Scoring Studio: training sets, the XGBoost model, evaluation and export."""

import os

# OpenMP threads that have nothing to do sleep instead of spinning (libgomp's default spins for a
# while first). On shared cores a spinning XGBoost thread steals the CPU its sibling or a neighbour
# process needs, and fits then swing several-fold (bench/README.md). libgomp reads this once, when
# xgboost's library loads, so it is set here, before anything in the package imports xgboost;
# a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
