"""Every `st.session_state` key the studio uses, in one place.

Widgets keep their own keys (`key=` on the page that draws them); these are the records the studio
layer reads and writes. No imports: jobs.py and state.py both read them.
"""

SOURCE = "source"  # the source string of the chosen events, e.g. "duckdb:data/events.duckdb"
SPEC = "spec"  # the last valid TrainingSpec (widgets that fail validation do not replace it)
BUILT = "built"  # the BuiltSet, or None
SIGNALS_DATASET_ZIP = "signals_dataset_zip"  # the last dataset-builder bundle, zipped for download
RUNS = "runs"  # StudioRun records, oldest first
RUN_COUNTER = "run_counter"  # the number of the last run
MEMORY_NOTES = "memory_notes"  # what the server's memory bound released, said on the next page
SNOWFLAKE_OVERRIDES = "snowflake_overrides"  # this session's connection form, in memory only
SNOWFLAKE_AUTOMATIC = "snowflake_automatic"  # the connection opened as pages draw (one login per setting)
DATABRICKS_OVERRIDES = "databricks_overrides"  # this session's Databricks form, in memory only
DATABRICKS_AUTOMATIC = "databricks_automatic"  # the Databricks connection opened as pages draw
UPLOAD_FOLDER = "upload_folder"  # this session's UploadFolder
EVENTS_UPLOAD_ID = "events_upload_id"  # the upload already saved, so a rerun does not save it again
EVENTS_PATH = "events_path"  # where that upload was saved
EVENTS_LOADED = "events_loaded"  # the LoadedEvents of this session's events file
EVENTS_LOADING = "events_loading"  # (path, events table) of the load running in the background
EVENTS_AS_OF = "events_as_of"  # the events file whose last event day the as-of date was set to
EVENTS_LOAD_FAILED = "events_load_failed"  # ((path, events table), message) of the last failed load
LOADED_MODEL = "loaded_model"  # a LoadedModel uploaded on Score & export
CUSTOM_ATTRIBUTES = "custom_attributes"  # the custom Attributes of Data & target's form, validated
ATTRIBUTE_ERROR = "attribute_error"  # why the form's last attribute was refused, shown once
ATTRIBUTE_FORM_ROUND = "attribute_form_round"  # bumped after a save, so the form's widgets start afresh
EXPLORE = "explore_targets"  # the target explorer was asked for (it then follows the spec)
PICKED_TARGET = "picked_target"  # (event, window minutes) picked in the explorer, applied on the next run
URL_READ = "spec_url_read"  # this session has read its URL's spec
LOADED_SPEC_ID = "loaded_spec_id"  # the spec upload already applied
WINDOW_NOTE = "window_unit_note"  # how a unit switch rounded the target window, said once
WORKSPACE = "workspace"  # this session's workspace id, also in the URL (?workspace=)
RESTORED = "restored_workspace"  # the workspace whose saved runs this session has loaded back
UNLOADABLE = "unloadable_runs"  # RunSummary of this workspace's incomplete or unverifiable runs
LEADERBOARD = "leaderboard"  # (the built set's id, Leaderboard) of Train's Compare models and Tune
ALL_RUNS = "all_runs_listed"  # (monotonic time, RunSummary list) of the store's runs, for the all-runs picker


JOBS = ("build", "train", "load", "compare", "counts", "notices", "explore", "learnability")  # the last four: Data & target's


def job(kind: str) -> str:
    """This session's running (or finished, uncollected) job of `kind`, one of JOBS."""
    return f"job_{kind}"


def finished(kind: str) -> str:
    """The confirmation of a job of `kind` that finished on the previous run, shown once."""
    return f"finished_{kind}"
