"""Every call the run store makes into MLflow's private code, one function each.

MLflow documents `mlflow.*` and `MlflowClient`; `mlflow.tracking._tracking_service` and
`mlflow.utils` are its own machinery and may change in any release. Each function says why the run
store needs it and what breaks if MLflow changes it; tests/studio/test_private_apis.py checks each against
the installed MLflow, and requirements.txt pins the minor series it passed on. mlflow is imported
inside each function, as in runstore.py: the CLI's quick commands and the app's start must not load it.
"""

from __future__ import annotations


def global_tracking_uri() -> str | None:
    """The tracking URI set in this process by `mlflow.set_tracking_uri`, or None if none was set.

    `mlflow.get_tracking_uri()` cannot tell "none set" (it resolves $MLFLOW_TRACKING_URI or the
    default) from a URI set, and the run store must put back exactly what it found after pointing
    `mlflow.sklearn.log_model`'s fluent API at itself. If it changes: saving a run fails ("not
    saved"), or the next save in this process follows the previous store."""
    from mlflow.tracking._tracking_service import utils

    return utils._tracking_uri


def set_global_tracking_uri(uri: str | None) -> None:
    """Put back what `global_tracking_uri` returned, None included, and nothing else.

    `mlflow.set_tracking_uri` also writes (or, for None, removes) $MLFLOW_TRACKING_URI, which the
    caller restores on its own: an operator's variable must survive a save. If it changes: as for
    `global_tracking_uri`."""
    from mlflow.tracking._tracking_service import utils

    utils._tracking_uri = uri


def check_installed_requirements(requirements: list[str]) -> None:
    """What `mlflow.sklearn.log_model` does with pinned requirements: compare them with the installed
    packages (a warning per mismatch), reading every package's metadata once per process (~0.75 s).

    The run store's warm-up calls it in the background so the first save finds that read cached. If
    it changes: the warm-up fails quietly and the first save of a process is ~0.75 s slower."""
    from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

    warn_dependency_requirement_mismatches(requirements)
