"""What the buttons do: build, train, explain, export and rebuild a restored run's set, each a few lines
that call the core.

Build and train run as background jobs (jobs.py); their results go into this session's state
(state.py) when they are done. Export and explanation are computed once per run and kept with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import streamlit as st

from prospect_core.modelling import model
from prospect_core.events.build import EarlierSet, build_training_set
from prospect_core.modelling.explain import ShapSample, explain_sample
from prospect_core.infra.errors import UserError
from prospect_core.infra.limits import over_time_message
from prospect_core.modelling.model import CompactFrame, ModelParams, split_dataset
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.studio.config import max_training_rows, query_limits, shap_max_rows, signing_key
from prospect_core.studio import keys
from prospect_core.studio.data import loaded_events, open_warehouse, readable_source, shared_training_set
from prospect_core.studio.jobs import Job, follow_job, pending_job, start_job
from prospect_core.studio.labels import run_label, source_label
from prospect_core.studio.runstore import Trained, deliver_trained, saver
from prospect_core.studio.state import BuiltSet, StudioRun, built_set, return_freed_memory, set_built
from prospect_core.trainingset import features
from prospect_core.trainingset.wording import plain

if TYPE_CHECKING:
    from prospect_core.outputs.export import LoadedModel


def start_build(source: str, spec: TrainingSpec) -> Job:
    """Preflight, query and type-check the training set in the background (prospect_core.events.build)."""
    warehouse = open_warehouse(source, spec)
    limit, seconds = max_training_rows(), query_limits().seconds
    # What the events export lacked is said with the set (and its runs), not only while it loads.
    kind, _, path = source.partition(":")
    loaded = loaded_events(path, spec.events_table) if kind == "events" else None
    file_notes = loaded.notices if loaded is not None else ()

    # This session's set from the same source: a new target alone is recomputed from it, not queried.
    held = built_set()
    earlier = EarlierSet(held.spec, held.frame, capped=held.capped) if held is not None and held.source == source else None

    def work(report: Callable[[str], None]) -> BuiltSet:
        built = build_training_set(warehouse, spec, max_rows=limit, load=shared_training_set(source), progress=report,
                                   earlier=earlier)
        return_freed_memory()  # the query's Arrow result and the raw frame: gone, but glibc keeps their pages
        return BuiltSet(source, spec, built.frame, built.summary, built.seconds, notes=(*file_notes, *built.notes),
                        capped=built.capped)

    title = f"Building the training set from {source_label(source)}"
    return start_job("build", title, work, cancel=warehouse.cancel, deliver=set_built,
                     stop_after=(seconds, over_time_message(title, seconds)))


TRAINING_STAGES = {"check": "Checking the training set", "split": "Splitting train and test rows",
                   "fit": "Fitting XGBoost", "score": "Scoring the test rows", "evaluate": "Computing metrics"}


def start_training(built: BuiltSet, params: ModelParams, split: str) -> Job:
    save = saver(built.source, built.frame)  # the run store, key and workspace, read in the page's thread

    def work(report: Callable[[str], None]) -> Trained:
        run = model.train_model(built.frame, built.spec, params, split=split,
                                progress=lambda stage: report(f"{TRAINING_STAGES.get(stage, stage)}…"))
        return_freed_memory()  # the fit's train matrices (hundreds of MB at 1M events) are freed by now
        return save(run, report)  # in the job, after the fit: the page never waits on the store

    return start_job("train", "Training", work,
                     deliver=lambda trained: deliver_trained(trained, built.source, notes=built.notes))


def shap_sample(record: StudioRun) -> ShapSample:
    """The run's SHAP sample, computed once per run on first use and kept with it."""
    if record.shap is None:
        with st.spinner("Computing SHAP values on a sample of test rows…"):
            record.shap = explain_sample(record.run.pipeline, record.run.X_test, max_rows=shap_max_rows())
    return record.shap


def load_uploaded_model(artifact: Any, card: Any) -> LoadedModel:
    """Verify an uploaded joblib file and its model card, then load it; UserError when refused.

    Nothing is unpickled unless the card carries this installation's signature over both files, and
    then only the classes a studio pipeline is made of (see `export.load_model`).
    """
    from prospect_core.outputs.export import load_model  # Signals' library (seconds): not before a model is loaded

    return load_model(artifact.getvalue(), card.getvalue(), signing_key(), name=Path(artifact.name).name)


def ensure_test_rows(record: StudioRun) -> bool:
    """True when the run has its test rows' features; else take them from a matching training set, or
    offer "Rebuild training set" (False: the page stops until it is built)."""
    run = record.run
    if run.test_rows is not None:
        return True
    built = built_set()
    if built is not None and built.spec == run.spec and built.source == record.source:
        train, test = split_dataset(built.frame, run.spec, run.split, seed=run.params.seed)
        y = built.frame[run.spec.target_column].astype(bool).to_numpy()
        if len(test) == run.n_test and np.array_equal(y[test], np.asarray(run.y_test, dtype=bool)):
            run.test_rows = CompactFrame.of(built.frame[features.feature_columns(run.spec)].iloc[test].reset_index(drop=True))
            return True
        st.warning("The rebuilt training set differs from the one this run was trained on (its events changed "
                   "since), so its test rows cannot be recovered. Train again to explain this target.",
                   icon=":material/warning:")
        return False
    job = pending_job("build")
    if job is not None:
        follow_job(job, done="Training set rebuilt")
        return False
    try:  # the check a fresh source passes: the run's card may name any file on the server
        readable_source(record.source)
    except UserError as error:
        st.error(f"Run {record.number}'s training set cannot be rebuilt here from its source, "
                 f"{plain(source_label(record.source))}. {plain(error)}.", icon=":material/block:")
        return False
    st.info(f"{plain(run_label(record))} was restored from the run store, which keeps its scores but not its training set. "
            "Rebuild the training set (its spec, from its source) to see its test rows here.",
            icon=":material/restore:")
    if st.button("Rebuild training set", key=f"rebuild_{record.number}", type="primary", icon=":material/construction:"):
        try:
            st.session_state[keys.SOURCE], st.session_state[keys.SPEC] = record.source, run.spec
            start_build(record.source, run.spec)
        except UserError as error:
            st.error(plain(error), icon=":material/error:")
            return False
        st.rerun()
    return False
