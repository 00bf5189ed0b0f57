"""What the buttons do: build, train, explain and export, each a few lines that call the core.

Build and train run as background jobs (jobs.py); their results go into this session's state
(state.py) when they are done. Export and explanation are computed once per run and kept with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import streamlit as st

from prospect_core.modelling import model
from prospect_core.events.build import build_training_set
from prospect_core.modelling.explain import ShapSample, explain_sample
from prospect_core.outputs.export import ExportBundle, LoadedModel, export_run, load_model
from prospect_core.infra.limits import over_time_message
from prospect_core.modelling.model import ModelParams
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.studio.config import max_training_rows, query_limits, shap_max_rows, signing_key
from prospect_core.studio.data import loaded_events, open_warehouse, shared_training_set, source_label
from prospect_core.studio.jobs import Job, start_job
from prospect_core.studio.runstore import Trained, deliver_trained, saver
from prospect_core.studio.state import BuiltSet, StudioRun, built_set, return_freed_memory, set_built


def start_build(source: str, spec: TrainingSpec) -> Job:
    """Preflight, query and type-check the training set in the background (prospect_core.events.build)."""
    warehouse = open_warehouse(source, spec)
    limit, seconds = max_training_rows(), query_limits().seconds
    # What the events export lacked is said with the set (and its runs), not only while it loads.
    kind, _, path = source.partition(":")
    loaded = loaded_events(path) if kind == "events" else None
    file_notes = loaded.notices if loaded is not None else ()

    def work(report: Callable[[str], None]) -> BuiltSet:
        built = build_training_set(warehouse, spec, max_rows=limit, load=shared_training_set(source), progress=report)
        return_freed_memory()  # the query's Arrow result and the raw frame: gone, but glibc keeps their pages
        return BuiltSet(source, spec, built.frame, built.summary, built.seconds, notes=(*file_notes, *built.notes))

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


def export_bundle(record: StudioRun) -> ExportBundle:
    """The run's artifact and model card (signed by this installation), serialised once per run."""
    if "export" not in record.extras:
        # The parity report is measured on the whole training set while it is this session's set.
        built = built_set()
        frame = built.frame if built is not None and built.spec == record.run.spec and built.source == record.source else None
        record.extras["export"] = export_run(record.run, signing_key(), source=record.source, training_frame=frame,
                                             recommended_threshold=record.extras.get("recommended"))
    return record.extras["export"]


def load_uploaded_model(artifact: Any, card: Any) -> LoadedModel:
    """Verify an uploaded joblib file and its model card, then load it; UserError when refused.

    Nothing is unpickled unless the card carries this installation's signature over both files, and
    then only the classes a studio pipeline is made of (see `export.load_model`).
    """
    return load_model(artifact.getvalue(), card.getvalue(), signing_key(), name=Path(artifact.name).name)
