"""The run store in the app (issue 16): each finished run saved, a workspace's runs restored.

- A training job saves its run right after the fit (`save_trained`, in the job's thread) through
  `runstore.RunStore.log_run`, with the bytes of `export.export_run`: the same call as the CLI's.
  A save that fails keeps the run in memory, marked "not saved: <reason>", with a Retry saving button.
- The URL carries a workspace id (`?workspace=…`, created on first visit). A session that starts
  (a reload, a new tab with the link, after a server restart) loads the workspace's newest runs back,
  each verified against its signed card before it is unpickled. In single-user mode (no `[auth]`)
  workspaces only group runs. With auth on, a run belongs to the user who trained it, as its signed
  card says (identity.py): listing, opening, rebuilding and deleting reach that user's runs only
  (admins: every run), and a link to another user's workspace opens a new one.
- A restored run has its labels, scores and evaluation but not its test rows' features (the training
  set is not stored): pages that need them offer "Rebuild training set", which builds the run's spec
  from its source again and takes the run's test rows from it by the same seeded split.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import pandas as pd
import streamlit as st

from prospect_core import runstore
from prospect_core.infra.errors import UserError
from prospect_core.modelling.evaluation import ProspectOutcomes, ThresholdSettings, prospect_outcomes, threshold_section
from prospect_core.modelling.model import CompactFrame, TrainingRun
from prospect_core.studio import keys
from prospect_core.events.warehouse import Warehouse
from prospect_core.studio.config import signing_key, streamlit_secrets
from prospect_core.studio.data import open_warehouse
from prospect_core.studio.identity import current_identity
from prospect_core.studio.labels import run_label
from prospect_core.studio.state import MAX_RUNS, SaveStatus, StudioRun, add_run, built_set, runs, set_source, set_spec
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.wording import plain

if TYPE_CHECKING:
    from prospect_core.outputs.export import ExportBundle

WORKSPACE_PARAM = "workspace"
# A remote MLflow server that is down must fail a save in seconds, not after MLflow's default seven
# retries with backoff (minutes); an operator's own settings win.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
for _name, _value in HTTP_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

# tracking URI -> the thread importing mlflow and opening that store, started on the first page
_WARMING: dict[str, threading.Thread] = {}
_WARM_UP_WAIT_S = 60.0
_LIST_SECONDS = 30.0  # how long the all-runs list is reused before the store is asked again


# ----- the store and the workspace ----------------------------------------------------------------


def run_store() -> runstore.RunStore:
    """The store this server logs to: MLFLOW_TRACKING_URI, `tracking_uri` in secrets, else data/mlruns.db."""
    store = runstore.resolve_store(streamlit_secrets())
    if store.tracking_uri not in _WARMING:  # mlflow's imports (seconds) run beside the user's first steps
        _WARMING[store.tracking_uri] = runstore.warm_up(store)
    return store


def _warmed(store: runstore.RunStore) -> runstore.RunStore:
    """`store` once its warm-up is done: two threads importing mlflow at once can see it half-imported."""
    thread = _WARMING.get(store.tracking_uri)
    if thread is not None:
        thread.join(_WARM_UP_WAIT_S)
    return store


def workspace_id() -> str:
    """This session's workspace id, kept in the URL (created on first visit)."""
    state = st.session_state
    workspace = state.get(keys.WORKSPACE)
    if workspace is None:
        asked = st.query_params.get(WORKSPACE_PARAM)
        try:
            workspace = runstore.check_workspace_id(asked) if asked else _new_workspace()
        except UserError as error:
            st.warning(f"{plain(error)}. Started a new workspace.", icon=":material/link_off:")
            workspace = _new_workspace()
        state[keys.WORKSPACE] = workspace
    if st.query_params.get(WORKSPACE_PARAM) != workspace:  # a page switch may drop it: put it back
        st.query_params[WORKSPACE_PARAM] = workspace
    return workspace


def _new_workspace() -> str:
    workspace = runstore.new_workspace_id()
    st.session_state[keys.WORKSPACE] = st.session_state[keys.RESTORED] = workspace  # no saved runs to look for
    st.query_params[WORKSPACE_PARAM] = workspace
    return workspace


def open_workspace() -> None:
    """On every script run: the workspace in the URL; on a session's first run, its runs restored."""
    workspace = workspace_id()
    if st.session_state.get(keys.RESTORED) == workspace:
        if not _WARMING:  # a new workspace lists nothing; mlflow's imports still start now, not at the first Train
            with contextlib.suppress(UserError):  # a bad tracking URI is said when a run is saved
                run_store()
        return
    _restore_runs(workspace)
    # Marked done only once done. Streamlit stops a run for a click at its next session-state access or
    # element; on a cold server the first restore waits seconds for mlflow's imports, and a click on
    # another page then (issue 25: Evaluate at 4 s) stopped it after the mark and before the runs, which
    # never came back in that session. A stopped restore is done again by the next run; runs it already
    # holds are not loaded twice.
    st.session_state[keys.RESTORED] = st.session_state[keys.WORKSPACE]  # a foreign link's: the new one


def _restore_runs(workspace: str) -> None:
    """The workspace's saved runs into this session (a foreign link: a new workspace), or why not."""
    identity = current_identity()
    try:
        store = _warmed(run_store())
        summaries = store.list_runs(workspace, owner=identity.owner_filter, verify_key=signing_key())
        # Runs, none of them this user's: the link is someone else's workspace.
        foreign = not summaries and not identity.sees_all and bool(store.list_runs(workspace))
    except UserError as error:
        st.warning(f"This workspace's saved runs cannot be listed: {plain(error)}.", icon=":material/cloud_off:")
        return
    if foreign:
        _new_workspace()
        st.warning("This workspace belongs to another user; started a new one.", icon=":material/lock:")
        return
    st.session_state[keys.UNLOADABLE] = [summary for summary in summaries if summary.state != "ready"]
    held = {record.save.run_id for record in runs()}
    ready = [summary for summary in summaries if summary.state == "ready" and summary.run_id not in held]
    restored = []
    for summary in reversed(ready[:MAX_RUNS]):  # oldest first, as runs are kept
        try:
            restored.append(restore(store, summary.run_id))
        except UserError as error:
            st.warning(f"Run {plain(summary.name)} was not restored: {plain(error)}.", icon=":material/gpp_bad:")
    if restored and built_set() is None:  # a new session: the spec and source of its latest run
        set_spec(restored[-1].run.spec)
        set_source(restored[-1].source)


def restore(store: runstore.RunStore, run_id: str) -> StudioRun:
    """Load a stored run (verified before unpickling) into this session's runs: what it is and was built
    from as its signed card says (the store's tags and metrics are anyone's to write)."""
    stored = store.load_run(run_id, signing_key())
    if not current_identity().owns(runstore.Owner.from_card(stored.card)):  # the signed card, not a tag
        raise runstore.RunStoreError("this run belongs to another user")
    training = stored.card["training"]
    run = TrainingRun(
        pipeline=stored.pipeline, spec=stored.spec, params=stored.params, split=stored.split,
        test_rows=None,  # not stored: rebuilt on demand (actions.ensure_test_rows)
        y_test=stored.y_test, y_score=stored.y_score, test_keys=CompactFrame.of(stored.test_ids),
        n_train=int(training["train_rows"]), n_test=len(stored.y_test),
        positives_train=int(training["train_positives"]), positives_test=int(stored.y_test.sum()),
        evaluation=stored.evaluation,
    )
    record = add_run(run, stored.source)
    record.save = SaveStatus(run_id=run_id, workspace=stored.workspace, restored=True)
    record.threshold = ThresholdSettings.from_card(stored.card.get("recommended_threshold"))
    return record


# ----- saving -------------------------------------------------------------------------------------


@dataclass
class Trained:
    """A training job's result: the run, its export, and how saving it went."""

    run: TrainingRun
    export: ExportBundle | None
    save: SaveStatus
    threshold: ThresholdSettings
    outcomes: ProspectOutcomes


# ----- the one threshold ---------------------------------------------------------------------------


def default_threshold(run: TrainingRun) -> ThresholdSettings:
    """Where a run's threshold starts: its best-F1 threshold, exactly (a score; rounding it to the
    slider's grid would flag other prospects, and with a calibrated low base rate most scores are below 0.001)."""
    return ThresholdSettings(threshold=float(run.evaluation.best_f1_threshold))


def current_threshold(record: StudioRun) -> ThresholdSettings:
    """The run's one threshold: chosen on Evaluate, else where it started."""
    return record.threshold if record.threshold is not None else default_threshold(record.run)


def run_outcomes(run: TrainingRun) -> ProspectOutcomes:
    ids = run.test_ids  # built anew on every read
    return prospect_outcomes(y_true=run.y_test, y_score=run.y_score, prospect_ids=ids["domain_userid"],
                             timestamps=ids["derived_tstamp"])


def outcomes(record: StudioRun) -> ProspectOutcomes:
    """The run's per-prospect outcomes, computed once (Evaluate's threshold moves then cost milliseconds)."""
    if record.outcomes is None:
        record.outcomes = run_outcomes(record.run)
    return record.outcomes


def _card_section(settings: ThresholdSettings, prospects: ProspectOutcomes) -> dict:
    return threshold_section(settings, settings.curve(prospects))


def _export(run: TrainingRun, source: str, key: bytes, owner: runstore.Owner | None, threshold: dict | None,
            training_frame: pd.DataFrame | None, warehouse: Warehouse | None = None) -> ExportBundle:
    """The one place a run's export is built: the card saved to the store is the card downloaded.

    With the set's `warehouse`, the card's parity report replays Signals over its prospects' events."""
    from prospect_core.outputs.export import export_run, parity_events  # Signals' library (seconds): not before a run is exported

    events = None
    if warehouse is not None and training_frame is not None:
        events = parity_events(warehouse, run.spec, training_frame)
    return export_run(run, key, source=source, training_frame=training_frame, events=events,
                      recommended_threshold=threshold, run_owner=owner)


def _parity_warehouse(source: str, spec: TrainingSpec) -> Warehouse | None:
    """The set's warehouse for the parity replay, in the page's thread; None when it cannot be opened
    (the report then says how each input is served without measuring it)."""
    try:
        return open_warehouse(source, spec)
    except UserError:
        return None


def export_bundle(record: StudioRun) -> ExportBundle:
    """The run's artifact and model card (signed by this installation), as saved in the run store.

    Built once per run (by its training job, or here for a run restored or not saved), and again only
    when what the card says changes (`choose_threshold`), which saves it again."""
    if record.export is None:
        if record.run.test_rows is None and _training_frame(record) is None:  # the card's parity report needs rows
            raise UserError("this restored run's test rows are not loaded: rebuild its training set (What if, below) "
                            "to export it")
        frame = _training_frame(record)
        warehouse = _parity_warehouse(record.source, record.run.spec) if frame is not None else None
        record.export = _export(record.run, record.source, signing_key(), current_identity().owner,
                                _card_section(current_threshold(record), outcomes(record)), frame, warehouse)
    return record.export


def _training_frame(record: StudioRun) -> pd.DataFrame | None:
    """The set the run was fitted on, while it is this session's set: the card's parity report is measured on it."""
    built = built_set()
    return built.frame if built is not None and built.spec == record.run.spec and built.source == record.source else None


def saver(source: str, training_frame: pd.DataFrame | None = None) -> Callable[[TrainingRun, Callable[[str], None]], Trained]:
    """What a training job calls after its fit; reads the store, key and workspace now, in the page's thread.

    `training_frame`, the set the run was fitted on, is what the card's parity report is measured on."""
    workspace = workspace_id()
    try:
        store, key, owner = run_store(), signing_key(), current_identity().owner
        warehouse = _parity_warehouse(source, built_set().spec) if training_frame is not None and built_set() else None
    except UserError as error:
        problem = str(error)
        return lambda run, report: Trained(run, None, SaveStatus(workspace=workspace, not_saved=problem),
                                           default_threshold(run), run_outcomes(run))

    def save(run: TrainingRun, report: Callable[[str], None]) -> Trained:
        report("Saving the run to the run store…")
        started = time.perf_counter()
        threshold, prospects = default_threshold(run), run_outcomes(run)
        _warmed(store)
        try:
            export = _export(run, source, key, owner, _card_section(threshold, prospects), training_frame, warehouse)
        except UserError as error:  # a signing key too short to sign with
            return Trained(run, None, SaveStatus(workspace=workspace, not_saved=str(error)), threshold, prospects)
        status = _log(store, run, export, workspace)
        status.seconds = time.perf_counter() - started
        return Trained(run, export, status, threshold, prospects)

    return save


def deliver_trained(trained: Trained, source: str, notes: tuple[str, ...] = ()) -> StudioRun:
    """Into this session's runs, with the save's outcome (no `st.*` call: see jobs.follow_job)."""
    record = add_run(trained.run, source, notes=notes)
    record.save, record.export = trained.save, trained.export
    record.threshold, record.outcomes = trained.threshold, trained.outcomes
    return record


def _log(store: runstore.RunStore, run: TrainingRun, export: ExportBundle, workspace: str) -> SaveStatus:
    try:
        run_id = store.log_run(run, artifact=export.artifact, card_json=export.card_json,
                               card_markdown=export.card_markdown, evaluation=export.evaluation,
                               workspace=workspace, definitions=export.signals_json)
    except UserError as error:
        reason = error.reason if isinstance(error, runstore.NotSavedError) else str(error)
        return SaveStatus(workspace=workspace, not_saved=reason)
    return SaveStatus(run_id=run_id, workspace=workspace)


def save_again(record: StudioRun) -> None:
    """Save the run (its current export) to the run store; a run already saved is replaced by it."""
    workspace = record.save.workspace or workspace_id()
    previous = record.save.run_id
    try:
        with st.spinner("Saving the run to the run store…"):
            export = export_bundle(record)
            record.save = _log(_warmed(run_store()), record.run, export, workspace)
            if previous and record.save.run_id:
                run_store().delete_run(previous, owner=current_identity().owner_filter, verify_key=signing_key())
    except UserError as error:  # a signing key too short to sign with, or the old run not deleted
        record.save = SaveStatus(run_id=record.save.run_id, workspace=workspace, not_saved=str(error))
    st.session_state.pop(keys.ALL_RUNS, None)


def choose_threshold(record: StudioRun, settings: ThresholdSettings) -> None:
    """The run's one threshold (with its value and cost) becomes `settings`: the card is exported again
    when next asked for and, if the run was saved, saved again in the background, so that the stored
    card stays the one downloaded and a reload finds the same settings. A threshold moved while a save
    runs is saved once that save ends (the last one wins); the page never waits on the store."""
    if record.threshold == settings:
        return
    record.threshold, record.export = settings, None
    frame = _training_frame(record)
    if not record.save.run_id or (record.run.test_rows is None and frame is None):
        return
    with _SAVING_LOCK:
        if id(record) in _SAVING:  # the running save sees the new settings when it ends, and goes round again
            return
        _SAVING.add(id(record))
    store, key, identity = run_store(), signing_key(), current_identity()
    thread = threading.Thread(target=_save_settings, args=(record, store, key, identity.owner, identity.owner_filter, frame),
                              name=f"threshold-save-{record.number}", daemon=True)
    thread.start()


_SAVING_LOCK = threading.Lock()
_SAVING: set[int] = set()  # id() of the records (of every session) being saved


def _save_settings(record: StudioRun, store: runstore.RunStore, key: bytes, owner: runstore.Owner | None,
                   owner_filter: str | None, frame: pd.DataFrame | None) -> None:
    while True:
        settings = record.threshold
        previous, workspace = record.save.run_id, record.save.workspace or ""
        try:
            export = _export(record.run, record.source, key, owner, _card_section(settings, outcomes(record)), frame)
            status = _log(_warmed(store), record.run, export, workspace)
            if previous and status.run_id:
                store.delete_run(previous, owner=owner_filter, verify_key=key)
        except UserError as error:  # a signing key too short to sign with, or the old run not deleted
            status, export = SaveStatus(run_id=previous, workspace=workspace, not_saved=str(error)), None
        record.save = status
        with _SAVING_LOCK:
            if record.threshold == settings:
                record.export = export if record.export is None else record.export
                _SAVING.discard(id(record))
                return


def threshold_saving(record: StudioRun) -> bool:
    """True while the run's threshold is being saved to the run store."""
    with _SAVING_LOCK:
        return id(record) in _SAVING


def save_status(record: StudioRun) -> None:
    """Where the run is saved, or "not saved: <reason>" with a Retry saving button."""
    save = record.save
    if save.not_saved:
        st.warning(f"{plain(run_label(record))}: not saved: {plain(save.not_saved)}. It stays usable in this session "
                   "until the page is closed.", icon=":material/cloud_off:")
        if st.button("Retry saving", key=f"retry_save_{record.number}", icon=":material/refresh:"):
            save_again(record)
            st.rerun()
    elif save.run_id:
        restored = "restored from" if save.restored else "saved in"
        st.caption(f"{plain(run_label(record))}: {restored} the run store as MLflow run {save.run_id[:8]}… "
                   f"(workspace {save.workspace}).")


# ----- the run picker ------------------------------------------------------------------------------


def pick_run(label: str) -> StudioRun | None:
    """This workspace's runs (latest first); a toggle lists the user's runs in every workspace (every
    run in single-user mode and for admins); a run can be deleted."""
    if current_identity().sees_all:
        show_all = st.toggle("All runs in the store", key=f"all_runs_{label}",
                             help="Every workspace's runs, whoever trained them.")
    else:
        show_all = st.toggle("All my runs", key=f"all_runs_{label}", help="Your runs in every workspace.")
    record = _pick_from_store(label) if show_all else _pick_from_session(label)
    if record is None:
        return None
    save_status(record)
    with st.popover("Delete run", icon=":material/delete:"):
        st.caption(f"{plain(run_label(record))} leaves this session and the run store (`mlflow gc` frees its files).")
        if st.button("Delete this run", key=f"delete_{label}_{record.number}", type="primary"):
            delete(record)
            st.rerun()
    return record


def _pick_from_session(label: str) -> StudioRun | None:
    by_number = {record.number: record for record in reversed(runs())}
    for summary in st.session_state.get(keys.UNLOADABLE) or []:
        st.warning(f"Saved run {plain(summary.name)} is {summary.state} and is not loaded: {plain(summary.reason)}.",
                   icon=":material/gpp_bad:")
    if not by_number:
        st.info("No model yet. Build a training set on **Data & target**, then train one on **Train**.")
        return None
    # Pick by number: a widget may hand back a copy of an option, and runs are mutated in place
    # (their SHAP sample and export are computed once and kept on the record).
    number = st.selectbox(label, list(by_number), format_func=lambda n: run_label(by_number[n]), key=f"pick_{label}")
    return by_number[number]


def _pick_from_store(label: str) -> StudioRun | None:
    cached = st.session_state.get(keys.ALL_RUNS)
    owner = current_identity().owner_filter
    try:
        if cached is None or time.monotonic() - cached[0] > _LIST_SECONDS:
            cached = (time.monotonic(), _warmed(run_store()).list_runs(None, owner=owner, verify_key=signing_key()))
            st.session_state[keys.ALL_RUNS] = cached
    except UserError as error:
        st.error(f"The run store cannot be listed: {plain(error)}.", icon=":material/cloud_off:")
        return None
    summaries = {summary.run_id: summary for summary in cached[1]}
    if not summaries:
        st.info("The run store holds no run yet." if owner is None else "You have no saved run yet.")
        return None

    def describe(run_id: str) -> str:
        summary = summaries[run_id]
        when = dt.datetime.fromtimestamp(summary.started_ms / 1000).strftime("%Y-%m-%d %H:%M")
        auc = f" · AUC {summary.roc_auc:.3f}" if summary.roc_auc is not None else ""
        state = "" if summary.state == "ready" else f" · {summary.state.upper()}"
        owner = f" · {summary.owner.email or 'no email'}" if summary.owner is not None else ""
        return f"{summary.name} · workspace {summary.workspace}{owner} · {when}{auc}{state}"

    run_id = st.selectbox(f"{label} (all workspaces)", list(summaries), format_func=describe, key=f"pick_all_{label}")
    summary = summaries[run_id]
    if summary.state != "ready":
        st.warning(f"This run is {summary.state} and cannot be opened: {plain(summary.reason)}.", icon=":material/gpp_bad:")
        return None
    held = next((record for record in runs() if record.save.run_id == run_id), None)
    if held is not None:
        return held
    try:
        with st.spinner("Loading the run (its signed card checked first)…"):
            return restore(run_store(), run_id)
    except UserError as error:
        st.error(f"Not loaded: {plain(error)}.", icon=":material/gpp_bad:")
        return None


def delete(record: StudioRun) -> None:
    run_id = record.save.run_id
    if run_id:
        try:
            run_store().delete_run(run_id, owner=current_identity().owner_filter, verify_key=signing_key())
        except UserError as error:
            st.error(plain(error), icon=":material/error:")
            return
    st.session_state[keys.RUNS] = [held for held in runs() if held is not record]
    st.session_state.pop(keys.ALL_RUNS, None)
