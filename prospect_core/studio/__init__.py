"""The Streamlit layer: everything the pages share, and the only part of prospect_core that imports streamlit.

Pages import this package, never each other, and call what is re-exported here:

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
| marketer.py | the spec form's words and widgets: spec errors in the page's words, the spec shared and loaded |
| run_views.py | a run's views for a marketer: scores first, Explain's picker, by prospect, thresholds in business terms |
| target_explorer.py | Data & target's target explorer |
| streamlit_private.py | every call into Streamlit's private runtime, each with a contract test |
"""

from prospect_core.outputs.export import ExportBundle, LoadedModel
from prospect_core.studio import config, keys, state
from prospect_core.studio.actions import (
    TRAINING_STAGES,
    ensure_test_rows,
    load_uploaded_model,
    shap_sample,
    start_build,
    start_training,
)
from prospect_core.studio.attributes_panel import attributes_section, custom_attributes
from prospect_core.studio.config import (
    max_training_rows,
    secrets,
    shap_max_rows,
    signing_key,
    snowflake_config,
    snowflake_configured,
    snowflake_problem,
)
from prospect_core.studio.data import (
    app_id_options,
    default_events_table,
    dialect_of,
    event_counts,
    event_options,
    loaded_events,
    open_warehouse,
    run_query,
    source_notices,
    target_event_notice,
)
from prospect_core.studio.identity import Identity, account_panel, current_identity, sign_in_page, signed_in
from prospect_core.studio.jobs import Job, follow_job, pending_job, start_job
from prospect_core.studio.labels import (
    SOURCE_KINDS,
    SPLITS,
    feature_labels,
    run_label,
    source_description,
    source_label,
    source_name,
    split_description,
    split_name,
)
from prospect_core.studio.run_views import by_prospect_view, pick_moment, scores_first, threshold_in_business_terms
from prospect_core.studio.target_explorer import target_explorer_section
from prospect_core.studio.runstore import export_bundle, open_workspace, save_status, workspace_id
from prospect_core.studio.signals_panel import batch_caption, signals_definitions, signals_section, what_if_inputs
from prospect_core.studio.state import (
    MAX_RUNS,
    MEMORY,
    BuiltSet,
    StudioRun,
    add_run,
    built_set,
    current_source,
    current_spec,
    init_state,
    runs,
    set_source,
    set_spec,
)
from prospect_core.studio.uploads import UPLOAD_ROOT, UploadFolder, sweep_uploads, upload_folder
from prospect_core.trainingset.wording import counted, plain
from prospect_core.studio import marketer
from prospect_core.studio.widgets import (
    FEW_POSITIVE_PROSPECTS,
    FEW_TEST_POSITIVE_PROSPECTS,
    RARE_POSITIVES,
    choose_source,
    ensure_demo_database,
    render_sidebar,
    runs_table,
    selected_run,
    show_build_notes,
    snowflake_connection_panel,
    top_feature_index,
)

__all__ = [name for name in dir() if not name.startswith("_")]
