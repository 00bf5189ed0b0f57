"""The run store: every finished training run in MLflow tracking, and back out again (issue 16).

`RunStore.log_run` is the one way a run is saved, for the app, the CLI's `train` and the Python API:

- params: every `TrainingSpec` field (`spec.*`) and every `ModelParams` field (`model.*`);
- metrics: the test metrics of the run's `Evaluation`, plus the row counts;
- tags: source (the card's), split, target column and workspace id (`prospect.*`), labels for search;
- artifacts: `model/` (the pipeline through `mlflow.sklearn.log_model`, with a signature and an input
  example, for `mlflow.sklearn.load_model` and `mlflow models serve`); `studio/model.joblib` with the
  signed `studio/model_card.json` and `studio/model_card.md` exactly as exported (the card signs these
  joblib bytes, not MLflow's pickle); `studio/evaluation.parquet` (test ids, labels and scores: what
  Evaluate draws, its sha256 in the signed card); and, when given, `studio/signals_definitions.json`
  and `studio/shap_sample.parquet`.

A run is written as RUNNING and marked complete (tag `prospect.complete`, status FINISHED) only after
its last artifact, so a process killed mid-write leaves a run that lists as incomplete, never a run
that looks whole. Anyone who can reach the store can write to it, so `load_run` trusts only what the
signed card covers: the spec, the source string and the evaluation file's sha256 come from the card,
the model is unpickled only after the signature matched (then through the restricted unpickler), and
tags are labels for search, never inputs. A run whose files fail these checks lists as unverifiable.

Where: `MLFLOW_TRACKING_URI`, else `tracking_uri` in secrets, else a SQLite database and an artifact
folder under data/ (`data/mlruns.db`, `data/mlartifacts/`), created on first use. Workspace ids are
labels, not access control: anyone who can reach the store can read every run.

A run saved by a signed-in user records its `Owner` in the signed card (`owner`) and, for search, in
the `prospect.owner` tag. Anyone who can write to the store can edit a tag, so ownership is decided
by the card: `list_runs(owner=...)` and `delete_run(owner=...)` check it.

mlflow is imported inside the functions: `import mlflow.sklearn` takes about a second, which the app
must not pay at start nor the CLI for `sql` or `dataset`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import secrets as token_source
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

from prospect_core.infra.paths import DATA_DIR
from prospect_core.modelling.families import DEFAULT_FAMILY
from prospect_core.outputs.artifact import Owner, card_owner, library_versions
from prospect_core import mlflow_private
from prospect_core.infra.errors import UserError, shown, write_failure

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from prospect_core.modelling.evaluation import Evaluation
    from prospect_core.modelling.model import ModelParams, TrainingRun
    from prospect_core.trainingset.spec import TrainingSpec

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
TRACKING_URI_SECRET = "tracking_uri"
EXPERIMENT_NAME = "prospect-scoring-studio"
DEFAULT_DATA_DIR = DATA_DIR

TAG_WORKSPACE = "prospect.workspace"
TAG_SOURCE = "prospect.source"
TAG_SPLIT = "prospect.split"
TAG_TARGET = "prospect.target_column"
TAG_COMPLETE = "prospect.complete"
TAG_OWNER = "prospect.owner"  # a label for search; the signed card's `owner` is what counts

MODEL_DIR = "model"
STUDIO_DIR = "studio"
ARTIFACT_FILE = "model.joblib"
CARD_FILE = "model_card.json"
CARD_MARKDOWN_FILE = "model_card.md"
EVALUATION_FILE = "evaluation.parquet"
DEFINITIONS_FILE = "signals_definitions.json"
SHAP_FILE = "shap_sample.parquet"
REQUIRED_FILES = (ARTIFACT_FILE, CARD_FILE, EVALUATION_FILE)

# A workspace id goes into an MLflow filter string, so it is validated, never quoted.
_WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_OWNER_ID = re.compile(r"[0-9a-f]{64}")
_INPUT_EXAMPLE_ROWS = 5
MAX_LISTED_RUNS = 1000
WARM_UP_THREAD = "prospect-tracking-warm-up"  # the thread `warm_up` imports mlflow in

# One save at a time per process: `mlflow.sklearn.log_model` logs through MLflow's process-global
# tracking URI, and a fresh SQLite store is created (tables, experiment) by the first writer. Saves
# from other processes are kept apart by SQLite's own locking and by MLflow's unique run ids.
_SAVE_LOCK = threading.Lock()

# MLflow's usage telemetry would report this installation's activity to MLflow's servers; off unless
# the operator turns it on.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


class _VerifiedPickleNotice(logging.Filter):
    """Drops mlflow.sklearn's warning, on every log, that a pickled model can run code when loaded. The
    studio loads a stored model only after its signed card verifies, through an allow-list unpickler,
    so the warning gives a CLI user nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pickle or cloudpickle format" not in record.getMessage()


logging.getLogger("mlflow.sklearn").addFilter(_VerifiedPickleNotice())

RunState = Literal["ready", "incomplete", "unverifiable"]


class NotSavedError(UserError):
    """A run could not be written to the run store; it stays usable in memory and can be saved again."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not saved: {reason}")
        self.reason = reason


class RunStoreError(UserError):
    """The run store cannot be read, or a stored run cannot be loaded; the message says why."""


def new_workspace_id() -> str:
    """A random workspace id for a new session's URL."""
    return token_source.token_urlsafe(12)


def check_workspace_id(workspace: str) -> str:
    if not isinstance(workspace, str) or not _WORKSPACE_ID.fullmatch(workspace):
        raise UserError(
            f"the workspace id must be 1 to 64 letters, digits, '-' or '_', got {shown(workspace)}; "
            "open the studio without a workspace in the link to start a new one"
        )
    return workspace


def _check_owner_id(owner: str) -> str:
    """An owner id goes into an MLflow filter string, so it is validated, never quoted."""
    if not isinstance(owner, str) or not _OWNER_ID.fullmatch(owner):
        raise ValueError(f"an owner id is 64 hexadecimal digits, got {shown(owner)}")
    return owner


@dataclass(frozen=True)
class RunSummary:
    """One stored run as a run picker lists it; `state` says whether it can be loaded."""

    run_id: str
    name: str
    workspace: str | None
    target_column: str | None
    split: str | None
    source: str | None
    started_ms: int
    roc_auc: float | None
    state: RunState
    reason: str = ""  # why the run is incomplete or unverifiable
    owner: Owner | None = None  # as its signed card records it; None: no owner, or the card was not verified


@dataclass
class StoredRun:
    """A stored run loaded back: what Evaluate and Explain draw, with the verified pipeline."""

    run_id: str
    workspace: str | None  # the store's label, when it is a valid workspace id
    source: str  # as the signed card records it
    spec: TrainingSpec
    params: ModelParams
    split: str
    y_test: np.ndarray
    y_score: np.ndarray
    test_ids: pd.DataFrame  # event_id, domain_userid, derived_tstamp, aligned with y_test
    evaluation: Evaluation  # recomputed from the stored labels and scores
    pipeline: Any  # loaded only after its signed card verified
    card: dict[str, Any]
    card_markdown: str | None
    definitions: bytes | None = None
    shap_sample: pd.DataFrame | None = None


@dataclass(frozen=True)
class RunStore:
    """An MLflow tracking store: a server's URI, or a local SQLite database with its artifact folder."""

    tracking_uri: str
    artifact_location: str | None = None  # where new experiments keep artifacts; None: the server decides

    @classmethod
    def local(cls, folder: str | os.PathLike[str]) -> RunStore:
        """The embedded store: `folder/mlruns.db` and `folder/mlartifacts/`."""
        folder = Path(folder).resolve()
        return cls(f"sqlite:///{folder / 'mlruns.db'}", (folder / "mlartifacts").as_uri())

    @property
    def label(self) -> str:
        """The store's URI without credentials, for messages."""
        return re.sub(r"//[^/@]*@", "//", self.tracking_uri)

    # ----- saving -------------------------------------------------------------------------------
    def log_run(
        self,
        run: TrainingRun,
        *,
        artifact: bytes,
        card_json: bytes | str,
        card_markdown: str,
        evaluation: bytes,
        workspace: str,
        definitions: bytes | None = None,
        shap_sample: pd.DataFrame | None = None,
    ) -> str:
        """Log a finished run with its export (`export.export_run`: artifact, signed card, its Markdown and
        the evaluation Parquet whose sha256 the card signs); return the MLflow run id. The source tag
        is a copy of the card's source, for search.

        Raises NotSavedError ("not saved: <reason>") when the store cannot take it: the caller keeps
        the run and may call again (Retry saving). A failed attempt's partial run is deleted when the
        store still answers, else it lists as incomplete.
        """
        check_workspace_id(workspace)
        card = json.loads(card_json)
        recorded = (card.get("artifact") or {}).get("sha256")
        if recorded != hashlib.sha256(artifact).hexdigest():
            raise ValueError("the card's artifact sha256 does not match the artifact bytes: pass the export's own pair")
        if (card.get("evaluation") or {}).get("sha256") != hashlib.sha256(evaluation).hexdigest():
            raise ValueError("the card's evaluation sha256 does not match the evaluation bytes: pass the export's own")
        source = card.get("source")
        if not isinstance(source, str):
            raise ValueError("the card records no source: export the run with export.export_run(..., source=...)")
        owner = card_owner(card)
        tags = {TAG_WORKSPACE: workspace, TAG_SOURCE: source[:5000], TAG_SPLIT: run.split,
                TAG_TARGET: run.spec.target_column}
        if owner is not None:
            tags[TAG_OWNER] = _check_owner_id(owner)
        with _SAVE_LOCK:
            run_id = None
            try:
                client = self._client(create=True)
                experiment_id = self._experiment_id(client, create=True)
                mlflow_run = client.create_run(experiment_id, run_name=f"{run.spec.target_column} · {run.split}",
                                               tags=tags)
                run_id = mlflow_run.info.run_id
                self._write(client, run_id, run, artifact, card_json, card_markdown, evaluation, definitions,
                            shap_sample)
                client.set_tag(run_id, TAG_COMPLETE, "true")
                client.set_terminated(run_id, "FINISHED")
                return run_id
            except Exception as error:  # noqa: BLE001 — every store fault becomes "not saved"; see _reason
                reason = _reason(error, self)
                if run_id is not None:
                    _forget(self, run_id)
                raise NotSavedError(reason) from error

    def _write(self, client: Any, run_id: str, run: TrainingRun, artifact: bytes, card_json: bytes | str,
               card_markdown: str, evaluation: bytes, definitions: bytes | None,
               shap_sample: pd.DataFrame | None) -> None:
        from mlflow.entities import Metric, Param

        params = {**{f"spec.{name}": _param_text(value) for name, value in run.spec.to_dict().items()},
                  **{f"model.{name}": _param_text(value) for name, value in run.params.to_dict().items()}}
        metrics = {**run.evaluation.metrics(), "n_train": run.n_train, "n_test": run.n_test,
                   "positives_train": run.positives_train, "positives_test": run.positives_test}
        now = _now_ms()
        client.log_batch(
            run_id,
            params=[Param(name, value) for name, value in params.items()],
            metrics=[Metric(name, float(value), now, 0) for name, value in metrics.items()],
        )
        self._log_model(run_id, run)
        with tempfile.TemporaryDirectory(prefix="prospect-run-") as folder:
            files = {
                ARTIFACT_FILE: artifact,
                CARD_MARKDOWN_FILE: card_markdown.encode("utf-8"),
                EVALUATION_FILE: evaluation,
            }
            if definitions is not None:
                files[DEFINITIONS_FILE] = definitions
            if shap_sample is not None:
                files[SHAP_FILE] = _parquet(shap_sample)
            # The card goes last: a run killed before it lists as incomplete, never as loadable.
            files[CARD_FILE] = card_json.encode("utf-8") if isinstance(card_json, str) else card_json
            for name, data in files.items():
                path = Path(folder) / name
                path.write_bytes(data)
                client.log_artifact(run_id, str(path), STUDIO_DIR)

    def _log_model(self, run_id: str, run: TrainingRun) -> None:
        """`mlflow.sklearn.log_model` with a signature and input example. The fluent API logs to the
        global tracking URI, so it is set for the call (under `_SAVE_LOCK`) and put back after."""
        import mlflow
        import mlflow.sklearn
        from mlflow.models import infer_signature

        example = run.X_test.head(_INPUT_EXAMPLE_ROWS)
        with warnings.catch_warnings():
            # The counts are integers in the training set; MLflow hints they could be doubles to allow
            # missing values. The schema records what the studio trained on, so the hint is noise.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(example, run.pipeline.predict_proba(example))
        # set_tracking_uri also writes $MLFLOW_TRACKING_URI: both are put back exactly as they were, or
        # the next resolve_store in this process (the app's next save) would follow this store.
        previous = _tracking_uri_setting()
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            mlflow.start_run(run_id=run_id)
            try:
                mlflow.sklearn.log_model(
                    run.pipeline,
                    name=MODEL_DIR,
                    signature=signature,
                    input_example=example,
                    serialization_format="pickle",  # a stock pipeline needs no cloudpickle
                    pip_requirements=_pip_requirements(run.params.family),  # inferring them runs a subprocess: seconds
                    pyfunc_predict_fn="predict_proba",  # a score, as the studio's scoring does
                )
            finally:
                # Still RUNNING: log_run marks the run complete (and FINISHED) after its last file.
                mlflow.end_run(status="RUNNING")
        finally:
            _restore_tracking_uri_setting(previous)

    # ----- reading ------------------------------------------------------------------------------
    def list_runs(self, workspace: str | None = None, *, owner: str | None = None,
                  verify_key: bytes | None = None) -> list[RunSummary]:
        """The runs of `workspace`, or of every workspace when None, newest first; with `owner`, only
        that owner's (it needs `verify_key`).

        A run without its completion mark or one of its files is `incomplete`; with `verify_key`,
        a run whose joblib and card fail the signature check is `unverifiable` (nothing is unpickled).
        `owner` selects by the owner tag, then drops every verified run whose signed card names
        someone else: a tag anyone could have edited never hands a run over.
        """
        if workspace is not None:
            check_workspace_id(workspace)
        if owner is not None and verify_key is None:
            raise ValueError("listing one owner's runs needs verify_key: the owner is read from the signed card")
        filters = [f"tags.`{TAG_WORKSPACE}` = '{workspace}'"] if workspace else []
        if owner is not None:
            filters.append(f"tags.`{TAG_OWNER}` = '{_check_owner_id(owner)}'")
        try:
            client = self._client(create=False)
            experiment_id = self._experiment_id(client, create=False)
            if experiment_id is None:
                return []
            from mlflow.entities import ViewType

            runs = client.search_runs([experiment_id], " and ".join(filters), ViewType.ACTIVE_ONLY,
                                      max_results=MAX_LISTED_RUNS, order_by=["attributes.start_time DESC"])
        except Exception as error:  # noqa: BLE001 — an unreadable store is a message, not a crash
            raise RunStoreError(f"cannot list the runs in {self.label}: {_reason(error, self)}") from error
        summaries = [self._summary(client, mlflow_run, verify_key) for mlflow_run in runs]
        # A run that cannot be verified stays listed (as unloadable) under its tag: it is never opened.
        return [summary for summary in summaries
                if owner is None or summary.state != "ready" or (summary.owner is not None and summary.owner.id == owner)]

    def _summary(self, client: Any, mlflow_run: Any, verify_key: bytes | None) -> RunSummary:
        tags = mlflow_run.data.tags
        auc = mlflow_run.data.metrics.get("roc_auc")
        state: RunState = "ready"
        reason = ""
        card: Mapping[str, Any] = {}
        try:
            present = {Path(item.path).name for item in client.list_artifacts(mlflow_run.info.run_id, STUDIO_DIR)}
            missing = [name for name in REQUIRED_FILES if name not in present]
            if tags.get(TAG_COMPLETE) != "true" or missing:
                state = "incomplete"
                reason = (f"missing {', '.join(missing)}" if missing else "the save did not finish") + \
                    " (the saving process stopped part way)"
            elif verify_key is not None:
                card = self._verified_files(client, mlflow_run.info.run_id, verify_key)[1]
        except UserError as error:
            state, reason = "unverifiable", str(error)
        except Exception as error:  # noqa: BLE001 — one unreadable run must not break the list
            state, reason = "incomplete", f"its files cannot be read: {_reason(error, self)}"
        return RunSummary(
            run_id=mlflow_run.info.run_id,
            name=mlflow_run.info.run_name or mlflow_run.info.run_id,
            workspace=tags.get(TAG_WORKSPACE),
            target_column=tags.get(TAG_TARGET),
            split=tags.get(TAG_SPLIT),
            source=tags.get(TAG_SOURCE),
            started_ms=mlflow_run.info.start_time or 0,
            roc_auc=float(auc) if auc is not None else None,
            state=state,
            reason=reason,
            owner=Owner.from_card(card),
        )

    def _verified_files(self, client: Any, run_id: str, key: bytes) -> tuple[bytes, dict[str, Any], pd.DataFrame]:
        """The run's joblib bytes, its card and its evaluation rows, after the card's signature matched
        the joblib under `key` and the evaluation file matched the sha256 the card signs."""
        from prospect_core.outputs.signing import verify

        artifact, card_json, evaluation = (self._read(client, run_id, name)
                                           for name in (ARTIFACT_FILE, CARD_FILE, EVALUATION_FILE))
        card = verify(artifact, card_json, key)
        return artifact, card, _signed_evaluation(evaluation, card)

    def load_run(self, run_id: str, key: bytes) -> StoredRun:
        """A stored run, its pipeline unpickled only after its card and evaluation file verified under `key`.

        RunStoreError when the run is missing, deleted or incomplete; ArtifactError (a UserError)
        when its files fail verification: such a run is never unpickled. Its spec, source, split,
        params and row counts come from the signed card; no tag is read but the workspace label.
        """
        import numpy as np
        import pandas as pd

        from prospect_core.outputs.artifact import ArtifactError, load_artifact_bytes
        from prospect_core.modelling.evaluation import evaluate
        from prospect_core.modelling.model import ModelParams
        from prospect_core.trainingset.spec import TrainingSpec

        _check_run_id(run_id)
        try:
            client = self._client(create=False)
            mlflow_run = client.get_run(run_id)
            if mlflow_run.info.lifecycle_stage != "active":
                raise RunStoreError(f"run {run_id} was deleted")
            if mlflow_run.data.tags.get(TAG_COMPLETE) != "true":
                raise RunStoreError(f"run {run_id} is incomplete: its save did not finish, so it cannot be loaded")
            artifact, card, frame = self._verified_files(client, run_id, key)  # ArtifactError: never unpickled
            present = {Path(item.path).name for item in client.list_artifacts(run_id, STUDIO_DIR)}
            optional = {name: self._read(client, run_id, name) for name in (CARD_MARKDOWN_FILE, DEFINITIONS_FILE, SHAP_FILE)
                        if name in present}
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001
            raise RunStoreError(f"cannot read run {run_id} from {self.label}: {_reason(error, self)}") from error

        try:
            spec = TrainingSpec.from_dict(card["spec"])
            params, split = ModelParams(**card["params"]), card["split"]["kind"]
        except (KeyError, TypeError, AttributeError, UserError) as error:
            raise ArtifactError(f"its card's spec cannot be read: {shown(str(error), limit=200, quote=False)}") from None
        pipeline = load_artifact_bytes(artifact)  # only now: the card and both files verified above
        y_test = frame["y_true"].to_numpy(dtype=np.int64)
        y_score = frame["y_score"].to_numpy(dtype=np.float64)
        workspace = mlflow_run.data.tags.get(TAG_WORKSPACE)
        return StoredRun(
            run_id=run_id,
            workspace=workspace if isinstance(workspace, str) and _WORKSPACE_ID.fullmatch(workspace) else None,
            source=card["source"],
            spec=spec,
            params=params,
            split=split,
            y_test=y_test,
            y_score=y_score,
            test_ids=frame.drop(columns=["y_true", "y_score"]),
            evaluation=evaluate(y_true=y_test, y_score=y_score),
            pipeline=pipeline,
            card=card,
            card_markdown=optional[CARD_MARKDOWN_FILE].decode("utf-8") if CARD_MARKDOWN_FILE in optional else None,
            definitions=optional.get(DEFINITIONS_FILE),
            shap_sample=pd.read_parquet(io.BytesIO(optional[SHAP_FILE])) if SHAP_FILE in optional else None,
        )

    def delete_run(self, run_id: str, *, owner: str | None = None, verify_key: bytes | None = None) -> None:
        """Delete a run (MLflow's soft delete: gone from every list; `mlflow gc` frees its files).

        With `owner` (and `verify_key`), only a run whose signed card names that owner: else
        RunStoreError, and the run stays."""
        _check_run_id(run_id)
        if owner is not None and verify_key is None:
            raise ValueError("deleting as an owner needs verify_key: the owner is read from the signed card")
        try:
            client = self._client(create=False)
            if owner is not None:
                card = self._verified_files(client, run_id, verify_key)[1]
                if card_owner(card) != owner:
                    raise RunStoreError(f"run {run_id} belongs to another user; it was not deleted")
            client.delete_run(run_id)
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001
            raise RunStoreError(f"cannot delete run {run_id} in {self.label}: {_reason(error, self)}") from error

    # ----- plumbing -----------------------------------------------------------------------------
    def _client(self, *, create: bool) -> Any:
        # Artifact downloads draw a progress bar on stderr by default: noise in the CLI's output.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlflow import MlflowClient

        local = self._local_folder()
        if local is not None and create:
            try:
                local.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise NotSavedError(write_failure("the run store", local, error)) from None
        return MlflowClient(tracking_uri=self.tracking_uri)

    def _experiment_id(self, client: Any, *, create: bool) -> str | None:
        experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
        if experiment is not None:
            if experiment.lifecycle_stage != "active":
                client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        if not create:
            return None
        from mlflow.exceptions import MlflowException

        try:
            return client.create_experiment(EXPERIMENT_NAME, artifact_location=self.artifact_location)
        except MlflowException:  # another process created it first
            experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
            if experiment is None:
                raise
            return experiment.experiment_id

    def _read(self, client: Any, run_id: str, name: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="prospect-run-") as folder:
            path = client.download_artifacts(run_id, f"{STUDIO_DIR}/{name}", folder)
            return Path(path).read_bytes()

    def _local_folder(self) -> Path | None:
        if self.tracking_uri.startswith("sqlite:///"):
            return Path(self.tracking_uri.removeprefix("sqlite:///")).parent
        return None


def _check_run_id(run_id: object) -> None:
    """A run id reaches MLflow's store only as 32 hexadecimal digits."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise RunStoreError(f"a run id is 32 hexadecimal digits, got {shown(run_id)}")


def warm_up(store: RunStore) -> threading.Thread:
    """Import mlflow and open `store` in a background thread, so a train that ends with `log_run` pays
    for neither. Errors are left for `log_run` to report.

    The thread runs at the lowest CPU priority (nice 19, this thread only): on two cores it would
    otherwise take a core from XGBoost's threads, and a fit whose OpenMP threads wait for each other
    at every tree took 6-10 s instead of 4.5 s beside it (issue 17). So it uses what the build and
    the fit leave idle.
    """

    def work() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # Linux: this thread only
        except (AttributeError, OSError):  # not Linux: the warm-up just runs at normal priority
            pass
        try:
            import mlflow.sklearn  # noqa: F401
            from mlflow.models import infer_signature  # noqa: F401

            # log_model checks the pinned requirements against the installed packages, reading every
            # package's metadata once per process (~0.75 s): done here, so log_run finds it cached.
            mlflow_private.check_installed_requirements(_pip_requirements())
            with _SAVE_LOCK:
                store._experiment_id(store._client(create=True), create=True)
        except Exception:  # noqa: BLE001 — log_run meets the same fault and says it as "not saved"
            pass

    thread = threading.Thread(target=work, name=WARM_UP_THREAD, daemon=True)
    thread.start()
    return thread


def resolve_store(secrets: Mapping[str, Any] | None = None, *, tracking_uri: str | None = None) -> RunStore:
    """The run store to use: `tracking_uri` when given, else $MLFLOW_TRACKING_URI, else `tracking_uri`
    in secrets (the app passes st.secrets), else the embedded SQLite store under data/."""
    uri = tracking_uri or os.environ.get(TRACKING_URI_ENV) or (secrets or {}).get(TRACKING_URI_SECRET)
    if not uri:
        return RunStore.local(DEFAULT_DATA_DIR)
    uri = str(uri).strip()
    if not re.match(r"(https?|sqlite|postgresql|mysql|mssql|file|databricks)[+a-z0-9]*:", uri):
        raise UserError(
            f"the tracking URI must be an MLflow tracking URI such as http://host:5000 or "
            f"sqlite:///path/mlruns.db, got {shown(re.sub(r'//[^/@]*@', '//', uri))}"
        )
    if uri.startswith("sqlite:///"):
        # Else MLflow keeps a SQLite store's artifacts in ./mlruns of whatever folder the process runs in.
        database = Path(uri.removeprefix("sqlite:///")).resolve()
        return RunStore(uri, (database.parent / "mlartifacts").as_uri())
    return RunStore(uri)


# ----- helpers ------------------------------------------------------------------------------------


def _signed_evaluation(data: bytes, card: dict[str, Any]) -> pd.DataFrame:
    """The evaluation file's rows, once its sha256 is the one the signed card records and its columns,
    types and length are what `export.evaluation_parquet` writes for the card's test rows; else
    ArtifactError with the reason. The card's signature is checked before this is called."""
    import pandas as pd
    from pandas.api.types import is_float_dtype, is_integer_dtype

    from prospect_core.outputs.artifact import EVALUATION_COLUMNS, ArtifactError

    signed, source = card.get("evaluation"), card.get("source")
    if not isinstance(signed, dict) or not isinstance(signed.get("sha256"), str) or not isinstance(source, str):
        raise ArtifactError("the run was saved by an older version of the studio, whose card does not sign the run's "
                            "evaluation data and source, so neither can be trusted; train it again to keep it")
    if hashlib.sha256(data).hexdigest() != signed["sha256"]:
        raise ArtifactError(f"its {EVALUATION_FILE} changed after this studio signed its card (its labels or scores "
                            "are not the ones the run produced), so the run is not loaded")
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception:  # noqa: BLE001 — pyarrow's errors vary by fault; any of them means "not the file we wrote"
        raise ArtifactError(f"its {EVALUATION_FILE} cannot be read as Parquet") from None
    expected = f"expected the columns {', '.join(EVALUATION_COLUMNS)}, with y_true 0 or 1 and y_score from 0 to 1"
    if list(frame.columns) != list(EVALUATION_COLUMNS):
        raise ArtifactError(f"its {EVALUATION_FILE} has the columns {shown(', '.join(map(str, frame.columns)), limit=200)}; "
                            f"{expected}")
    y_true, y_score = frame["y_true"], frame["y_score"]
    if not is_integer_dtype(y_true) or not y_true.isin((0, 1)).all() \
            or not is_float_dtype(y_score) or not y_score.between(0.0, 1.0).all():
        raise ArtifactError(f"its {EVALUATION_FILE} holds labels or scores out of range or of the wrong type; {expected}")
    rows = (card.get("training") or {}).get("test_rows")
    if len(frame) != rows:
        raise ArtifactError(f"its {EVALUATION_FILE} has {len(frame):,} rows, but its card records {shown(rows)} test rows")
    return frame


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()


def _param_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def _pip_requirements(family: str = DEFAULT_FAMILY) -> list[str]:
    """What loads a model of `family`: the card's libraries (artifact.library_versions) but Python."""
    return [f"{name}=={version}" for name, version in library_versions(family).items() if name != "python"]


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _tracking_uri_setting() -> tuple[str | None, str | None]:
    """MLflow's process-global tracking URI and $MLFLOW_TRACKING_URI, as they are now."""
    return mlflow_private.global_tracking_uri(), os.environ.get(TRACKING_URI_ENV)


def _restore_tracking_uri_setting(previous: tuple[str | None, str | None]) -> None:
    uri, environment = previous
    mlflow_private.set_global_tracking_uri(uri)
    if environment is None:
        os.environ.pop(TRACKING_URI_ENV, None)
    else:
        os.environ[TRACKING_URI_ENV] = environment


def _forget(store: RunStore, run_id: str) -> None:
    """Best effort after a failed save: delete the partial run, so a retry leaves one run, not two."""
    try:
        from mlflow import MlflowClient

        MlflowClient(store.tracking_uri).delete_run(run_id)
    except Exception:  # noqa: BLE001 — the store is failing already; the run then lists as incomplete
        pass


def _reason(error: BaseException, store: RunStore) -> str:
    """What went wrong, in a user's words: read-only, full, locked, unreachable, else the store's own."""
    chain = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(item) for item in chain)
    if isinstance(error, NotSavedError):
        return error.reason
    lowered = text.lower()
    unreachable = ("connection refused", "max retries exceeded", "failed to establish", "timed out",
                   "name or service not known", "connectionerror", "remote end closed")
    if any(isinstance(item, ConnectionError) for item in chain) or any(word in lowered for word in unreachable):
        return f"the MLflow server at {store.label} cannot be reached; check that it is running, then retry"
    for item in chain:
        if isinstance(item, OSError) and item.errno is not None:
            return write_failure("the run", store.label, item).removeprefix(f"cannot write the run at {store.label}: ")
    if "readonly database" in lowered or "read-only" in lowered or "unable to open database" in lowered:
        return f"the run store at {store.label} is read-only or cannot be opened; choose a writable location"
    if "database is locked" in lowered:
        return f"the run store at {store.label} is locked by another process; try again in a moment"
    if "no space left" in lowered or "database or disk is full" in lowered:
        return f"the disk holding {store.label} is full; free some space and try again"
    first = next((line for line in str(error).strip().splitlines() if line.strip()), type(error).__name__)
    return shown(first, limit=200, quote=False)
