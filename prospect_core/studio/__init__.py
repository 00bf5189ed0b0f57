"""The Streamlit layer: everything the pages share, and the only part of prospect_core that imports streamlit.

Pages import this package, never each other, and call what is re-exported here. The names load on first use
(a module-level `__getattr__`, as prospect_core/__init__.py does), so the first page paints before the
modules a later page needs (the export and its Signals library, the model, SHAP) are imported:

| module | holds |
| --- | --- |
| keys.py | every `st.session_state` key the studio uses |
| config.py | `st.secrets`, the limits and signing key read from it, Snowflake settings with the session's form |
| identity.py | who uses the studio: single-user mode, or the signed-in user (`st.user`) and whether an admin |
| state.py | this session's training set and runs, and the server's memory bound on them |
| jobs.py | background jobs the pages poll (no domain imports) |
| data.py | the warehouse behind a source string, its cached queries, events files loaded in a job |
| uploads.py | each session's private upload folder |
| runstore.py | the run store: runs saved as they finish, the URL's workspace restored, the run picker |
| labels.py | how sources, splits, runs, features and category values are named on screen |
| actions.py | build, train, explain and export, each a call into the core; a restored run's Rebuild |
| widgets.py | the source chooser, the Snowflake panel, run pickers, the sidebar, notes and tables |
| attributes_panel.py | Data & target's Attributes section: the model's inputs, the custom-attribute form |
| signals_panel.py | Score & export's Signals definitions, parity report and what-if inputs |
| spec_form.py | Data & target's spec widgets, drawn from the field table both ways; spec links, files and errors |
| leaderboard_panel.py | Train's Compare models and Tune, the leaderboard, the headline metrics' intervals |
| run_views.py | a run's views for a marketer: scores first, Explain's picker, Evaluate's parts kept per run, by prospect, the one threshold and its profit |
| target_explorer.py | Data & target's target explorer |
| streamlit_private.py | every call into Streamlit's private runtime, each with a contract test |
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_SUBMODULES = {"config", "keys", "spec_form", "state"}  # modules pages reach as attributes (studio.keys.X)
# public name -> the module that defines it
_PUBLIC = {
    "BuiltSet": "prospect_core.studio.state",
    "ExportBundle": "prospect_core.outputs.export",
    "FEW_POSITIVE_PROSPECTS": "prospect_core.studio.widgets",
    "FEW_TEST_POSITIVE_PROSPECTS": "prospect_core.studio.widgets",
    "Identity": "prospect_core.studio.identity",
    "Job": "prospect_core.studio.jobs",
    "LoadedModel": "prospect_core.outputs.export",
    "MAX_RUNS": "prospect_core.studio.state",
    "MEMORY": "prospect_core.studio.state",
    "RARE_POSITIVES": "prospect_core.studio.widgets",
    "SOURCE_KINDS": "prospect_core.studio.labels",
    "SPLITS": "prospect_core.studio.labels",
    "StudioRun": "prospect_core.studio.state",
    "TRAINING_STAGES": "prospect_core.studio.actions",
    "UPLOAD_ROOT": "prospect_core.studio.uploads",
    "UploadFolder": "prospect_core.studio.uploads",
    "account_panel": "prospect_core.studio.identity",
    "add_run": "prospect_core.studio.state",
    "app_id_options": "prospect_core.studio.data",
    "attributes_section": "prospect_core.studio.attributes_panel",
    "batch_caption": "prospect_core.studio.signals_panel",
    "built_set": "prospect_core.studio.state",
    "by_prospect_view": "prospect_core.studio.run_views",
    "choose_source": "prospect_core.studio.widgets",
    "base_rate_note": "prospect_core.studio.labels",
    "counted": "prospect_core.trainingset.wording",
    "current_identity": "prospect_core.studio.identity",
    "current_source": "prospect_core.studio.state",
    "current_spec": "prospect_core.studio.state",
    "custom_attributes": "prospect_core.studio.attributes_panel",
    "default_events_table": "prospect_core.studio.data",
    "dialect_of": "prospect_core.studio.data",
    "ensure_demo_database": "prospect_core.studio.widgets",
    "ensure_test_rows": "prospect_core.studio.actions",
    "event_counts": "prospect_core.studio.data",
    "counted_events": "prospect_core.studio.data",
    "attribute_sql_section": "prospect_core.studio.attributes_panel",
    "event_options": "prospect_core.studio.data",
    "evaluate_parts": "prospect_core.studio.run_views",
    "export_bundle": "prospect_core.studio.runstore",
    "feature_labels": "prospect_core.studio.labels",
    "follow_job": "prospect_core.studio.jobs",
    "init_state": "prospect_core.studio.state",
    "load_uploaded_model": "prospect_core.studio.actions",
    "loaded_events": "prospect_core.studio.data",
    "max_training_rows": "prospect_core.studio.config",
    "open_warehouse": "prospect_core.studio.data",
    "open_workspace": "prospect_core.studio.runstore",
    "pending_job": "prospect_core.studio.jobs",
    "pick_moment": "prospect_core.studio.run_views",
    "plain": "prospect_core.trainingset.wording",
    "render_sidebar": "prospect_core.studio.widgets",
    "run_label": "prospect_core.studio.labels",
    "run_query": "prospect_core.studio.data",
    "runs": "prospect_core.studio.state",
    "runs_table": "prospect_core.studio.widgets",
    "save_status": "prospect_core.studio.runstore",
    "scores_first": "prospect_core.studio.run_views",
    "secrets": "prospect_core.studio.config",
    "selected_run": "prospect_core.studio.widgets",
    "set_source": "prospect_core.studio.state",
    "set_spec": "prospect_core.studio.state",
    "shap_max_rows": "prospect_core.studio.config",
    "shap_sample": "prospect_core.studio.actions",
    "show_build_notes": "prospect_core.studio.widgets",
    "sign_in_page": "prospect_core.studio.identity",
    "signals_definitions": "prospect_core.studio.signals_panel",
    "signals_section": "prospect_core.studio.signals_panel",
    "signed_in": "prospect_core.studio.identity",
    "signing_key": "prospect_core.studio.config",
    "snowflake_config": "prospect_core.studio.config",
    "snowflake_configured": "prospect_core.studio.config",
    "source_configured": "prospect_core.studio.config",
    "snowflake_connection_panel": "prospect_core.studio.widgets",
    "snowflake_problem": "prospect_core.studio.config",
    "source_description": "prospect_core.studio.labels",
    "source_label": "prospect_core.studio.labels",
    "source_name": "prospect_core.studio.labels",
    "source_notices": "prospect_core.studio.data",
    "split_description": "prospect_core.studio.labels",
    "split_name": "prospect_core.studio.labels",
    "start_build": "prospect_core.studio.actions",
    "start_job": "prospect_core.studio.jobs",
    "start_training": "prospect_core.studio.actions",
    "sweep_uploads": "prospect_core.studio.uploads",
    "target_event_notice": "prospect_core.studio.data",
    "target_explorer_section": "prospect_core.studio.target_explorer",
    "threshold_view": "prospect_core.studio.run_views",
    "compare_section": "prospect_core.studio.leaderboard_panel",
    "headline_metrics": "prospect_core.studio.leaderboard_panel",
    "current_threshold": "prospect_core.studio.runstore",
    "top_feature_index": "prospect_core.studio.widgets",
    "upload_folder": "prospect_core.studio.uploads",
    "what_if_inputs": "prospect_core.studio.signals_panel",
    "workspace_id": "prospect_core.studio.runstore",
}

__all__ = sorted({*_PUBLIC, *_SUBMODULES})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from prospect_core.studio import config, keys, spec_form, state
    from prospect_core.outputs.export import ExportBundle
    from prospect_core.outputs.export import LoadedModel
    from prospect_core.studio.actions import TRAINING_STAGES
    from prospect_core.studio.actions import ensure_test_rows
    from prospect_core.studio.actions import load_uploaded_model
    from prospect_core.studio.actions import shap_sample
    from prospect_core.studio.actions import start_build
    from prospect_core.studio.actions import start_training
    from prospect_core.studio.attributes_panel import attributes_section
    from prospect_core.studio.attributes_panel import custom_attributes
    from prospect_core.studio.config import max_training_rows
    from prospect_core.studio.config import secrets
    from prospect_core.studio.config import shap_max_rows
    from prospect_core.studio.config import signing_key
    from prospect_core.studio.config import snowflake_config
    from prospect_core.studio.config import snowflake_configured
    from prospect_core.studio.config import source_configured
    from prospect_core.studio.config import snowflake_problem
    from prospect_core.studio.data import app_id_options
    from prospect_core.studio.data import default_events_table
    from prospect_core.studio.data import dialect_of
    from prospect_core.studio.data import event_counts
    from prospect_core.studio.data import event_options
    from prospect_core.studio.data import loaded_events
    from prospect_core.studio.data import open_warehouse
    from prospect_core.studio.data import run_query
    from prospect_core.studio.data import source_notices
    from prospect_core.studio.data import target_event_notice
    from prospect_core.studio.identity import Identity
    from prospect_core.studio.identity import account_panel
    from prospect_core.studio.identity import current_identity
    from prospect_core.studio.identity import sign_in_page
    from prospect_core.studio.identity import signed_in
    from prospect_core.studio.jobs import Job
    from prospect_core.studio.jobs import follow_job
    from prospect_core.studio.jobs import pending_job
    from prospect_core.studio.jobs import start_job
    from prospect_core.studio.labels import SOURCE_KINDS
    from prospect_core.studio.labels import SPLITS
    from prospect_core.studio.labels import base_rate_note
    from prospect_core.studio.labels import feature_labels
    from prospect_core.studio.labels import run_label
    from prospect_core.studio.labels import source_description
    from prospect_core.studio.labels import source_label
    from prospect_core.studio.labels import source_name
    from prospect_core.studio.labels import split_description
    from prospect_core.studio.labels import split_name
    from prospect_core.studio.run_views import by_prospect_view
    from prospect_core.studio.run_views import evaluate_parts
    from prospect_core.studio.run_views import pick_moment
    from prospect_core.studio.run_views import scores_first
    from prospect_core.studio.run_views import threshold_view
    from prospect_core.studio.leaderboard_panel import compare_section
    from prospect_core.studio.leaderboard_panel import headline_metrics
    from prospect_core.studio.runstore import current_threshold
    from prospect_core.studio.runstore import export_bundle
    from prospect_core.studio.runstore import open_workspace
    from prospect_core.studio.runstore import save_status
    from prospect_core.studio.runstore import workspace_id
    from prospect_core.studio.signals_panel import batch_caption
    from prospect_core.studio.signals_panel import signals_definitions
    from prospect_core.studio.signals_panel import signals_section
    from prospect_core.studio.signals_panel import what_if_inputs
    from prospect_core.studio.state import BuiltSet
    from prospect_core.studio.state import MAX_RUNS
    from prospect_core.studio.state import MEMORY
    from prospect_core.studio.state import StudioRun
    from prospect_core.studio.state import add_run
    from prospect_core.studio.state import built_set
    from prospect_core.studio.state import current_source
    from prospect_core.studio.state import current_spec
    from prospect_core.studio.state import init_state
    from prospect_core.studio.state import runs
    from prospect_core.studio.state import set_source
    from prospect_core.studio.state import set_spec
    from prospect_core.studio.target_explorer import target_explorer_section
    from prospect_core.studio.uploads import UPLOAD_ROOT
    from prospect_core.studio.uploads import UploadFolder
    from prospect_core.studio.uploads import sweep_uploads
    from prospect_core.studio.uploads import upload_folder
    from prospect_core.studio.widgets import FEW_POSITIVE_PROSPECTS
    from prospect_core.studio.widgets import FEW_TEST_POSITIVE_PROSPECTS
    from prospect_core.studio.widgets import RARE_POSITIVES
    from prospect_core.studio.widgets import choose_source
    from prospect_core.studio.widgets import ensure_demo_database
    from prospect_core.studio.widgets import render_sidebar
    from prospect_core.studio.widgets import runs_table
    from prospect_core.studio.widgets import selected_run
    from prospect_core.studio.widgets import show_build_notes
    from prospect_core.studio.widgets import snowflake_connection_panel
    from prospect_core.studio.widgets import top_feature_index
    from prospect_core.trainingset.wording import counted
    from prospect_core.trainingset.wording import plain
