"""Data & target: choose the events, define the cohort, windows and target, build the training set."""

import streamlit as st

from prospect_core import studio
from prospect_core.infra.errors import UserError
from prospect_core.modelling.figures import class_balance_figure, timeline_figure
from prospect_core.trainingset.training_sql import render_training_sql

st.title("Data & target")
st.caption("Who to learn from, what history each prediction may use, and what counts as success.")

# ----- source ------------------------------------------------------------------------------------
st.subheader("1 · Events")
kind = st.radio(
    "Source",
    list(studio.SOURCE_KINDS),
    format_func=studio.source_name,
    captions=[studio.source_description(kind, studio.source_configured(kind)) for kind in studio.SOURCE_KINDS],
    horizontal=True,
    key="source_kind",
    persist_state="session",
)
source = studio.choose_source(kind)
if source is None:
    st.stop()
studio.set_source(source)
events_table = studio.current_spec().events_table
if kind in ("duckdb", "snowflake", "databricks"):
    events_table = studio.spec_form.events_table_input(kind, studio.default_events_table(kind, studio.current_spec()))

# ----- spec --------------------------------------------------------------------------------------
st.subheader("2 · Cohort, history and target")
form = studio.spec_form
form.spec_from_url()  # a shared link's settings, on this session's first run
kept = form.apply_picked_target(studio.current_spec())

left, middle, right = st.columns(3)
with left:
    st.markdown("**Cohort**")
    form.date_input("as_of", kept)
    form.number_input("cohort_first_seen_from_days", kept)
    form.number_input("cohort_first_seen_to_days", kept)
    form.names_input("app_ids", kept, studio.app_id_options(kept))
    form.switch_input("count_only_cohort_apps", kept)
    form.number_input("user_sample_percent", kept)
    form.number_input("max_negatives_per_positive", kept)
# The pickers below count events over the cohort just entered, not the one of the previous run.
counted_spec = form.with_widgets(kept, ["as_of", "cohort_first_seen_from_days", "cohort_first_seen_to_days", "app_ids"])
event_counts, event_identities = studio.counted_events(source, counted_spec)
with middle:
    st.markdown("**History windows**")
    form.number_input("short_window_days", kept)
    form.number_input("long_window_days", kept)
    form.choice_input("feature_timing", kept)
with right:
    st.markdown("**Target**")
    # Excluded events are dropped before anything is counted: they cannot be a target. (Their box is
    # drawn below, full width, so every chip shows; its value this run is already in session state.)
    excluded = form.drawn_value("excluded_events", kept)
    counts = dict(zip(event_counts["event_name"], event_counts["events"])) if event_counts is not None else {}
    form.target_event_input(kept, [name for name in studio.event_options(event_counts, []) if name not in excluded],
                            counts)
    form.number_input("target_min_count", kept)
    form.window_input(kept)
    form.switch_input("exclude_after_first_target", kept)

form.names_input("excluded_events", kept, studio.event_options(event_counts, kept.excluded_events))
form.names_input("included_events", kept, studio.event_options(event_counts, kept.included_events))
spec, settings_valid = form.spec_from_widgets(kept, events_table=events_table, attributes=studio.custom_attributes())
studio.set_spec(spec)
form.share_spec(spec)
for notice in studio.source_notices(source, spec, event_counts):
    st.info(studio.plain(notice), icon=":material/info:")
target_notice = studio.target_event_notice(event_counts, spec)
if target_notice:
    st.warning(studio.plain(target_notice[0].upper() + target_notice[1:]), icon=":material/help:")

st.plotly_chart(timeline_figure(spec), key="timeline")
studio.target_explorer_section(source, spec)

studio.attributes_section(spec, studio.event_options(event_counts, []), event_identities)

# ----- SQL ---------------------------------------------------------------------------------------
st.subheader("3 · Training-set SQL")
source_dialect = studio.dialect_of(source)
dialect = st.segmented_control(  # keyed by the source's dialect, so a new source starts at its own
    "Dialect", ["snowflake", "databricks", "duckdb"], default=source_dialect,
    format_func={"snowflake": "Snowflake", "databricks": "Databricks", "duckdb": "DuckDB"}.get,
    key=f"dialect_{source_dialect}", required=True,
)
with st.expander(f"SQL for {spec.target_column} ({dialect})", expanded=False):
    st.code(render_training_sql(spec, dialect, inline=True).text, language="sql")
studio.attribute_sql_section(spec, dialect)

# ----- build -------------------------------------------------------------------------------------
job = studio.pending_job("build")
if st.button("Build training set", type="primary", key="build", disabled=job is not None or not settings_valid,
             help=None if settings_valid else "Fix the settings above first."):
    try:
        job = studio.start_build(source, spec)
    except UserError as error:
        st.error(studio.plain(error), icon=":material/error:")
if job is not None:
    studio.follow_job(job, done="Training set ready")  # the set becomes this session's when it is done

built = studio.built_set()
if built is not None:
    st.subheader("4 · Training set")
    if built.spec != spec or built.source != source:
        st.info("The settings changed since this set was built; press **Build training set** to rebuild it.")
    summary = built.summary
    cols = st.columns(5)
    cols[0].metric("Rows (prediction points)", f"{summary.rows:,}", help="One row a moment: an event of a cohort prospect")
    cols[1].metric("Prospects", f"{summary.users:,}")
    cols[2].metric("Positive moments", f"{summary.positives:,}", help="Moments after which the prospect reached the target")
    cols[3].metric("Positive prospects", f"{summary.positive_users:,}", help="Prospects behind the positive moments")
    cols[4].metric("Positive rate", f"{summary.positive_rate:.2%}")
    studio.show_build_notes(built)
    if built.spec.is_sampled:
        st.info(built.spec.sampling_description, icon=":material/filter_alt:")
    if summary.rows == 0:
        st.error(
            "The training set is empty: no prospect was first seen in the cohort window on these apps. "
            "Widen the cohort window, check the app ids, or move the as-of date.", icon=":material/error:",
        )
    elif summary.positives == 0:
        st.error(
            f"No row is positive for {built.spec.target_column}: the model cannot learn. Pick another target "
            "event, a longer target window, a lower count or an earlier as-of date.", icon=":material/error:",
        )
    elif summary.positives < studio.RARE_POSITIVES:
        st.warning(
            f"Only {summary.positives} positive rows: metrics will be noisy. Consider a longer target window "
            "or a wider cohort.", icon=":material/error:",
        )
    elif summary.positive_users < studio.FEW_POSITIVE_PROSPECTS:
        prospects = studio.counted(summary.positive_users, "prospect")
        st.warning(
            f"The {summary.positives:,} positive moments come from only {prospects}: a model learns those few, and its test "
            "metrics swing with one or two of them. Widen the cohort window, sample more prospects or pick a more "
            "common target.", icon=":material/error:",
        )
    chart, preview = st.columns([1, 2])
    chart.plotly_chart(class_balance_figure(summary.negatives, summary.positives), key="balance")
    preview.dataframe(built.frame.head(200), hide_index=True, height=320)
    st.page_link("screens/train.py", label="Next: train a model", icon=":material/arrow_forward:")
