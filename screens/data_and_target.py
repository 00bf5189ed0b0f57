"""Data & target: choose the events, define the cohort, windows and target, build the training set."""

import dataclasses
import datetime as dt

import streamlit as st

from prospect_core import studio
from prospect_core.infra.errors import UserError
from prospect_core.modelling.figures import class_balance_figure, timeline_figure
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import render_training_sql

OTHER_EVENT = "Other event…"

st.title("Data & target")
st.caption("Who to learn from, what history each prediction may use, and what counts as success.")

# ----- source ------------------------------------------------------------------------------------
st.subheader("1 · Events")
snowflake_ready = studio.snowflake_configured()
kind = st.radio(
    "Source",
    list(studio.SOURCE_KINDS),
    format_func=studio.source_name,
    captions=[studio.source_description(kind, snowflake_ready) for kind in studio.SOURCE_KINDS],
    horizontal=True,
    key="source_kind",
    persist_state="session",
)
source = studio.choose_source(kind)
if source is None:
    st.stop()
studio.set_source(source)
events_table = studio.current_spec().events_table
if kind in ("duckdb", "snowflake"):
    events_table = st.text_input(
        "Events table", value=studio.default_events_table(kind, studio.current_spec()), key=f"events_table_{kind}", persist_state="session",
        help="The Snowplow atomic events table: schema.table or database.schema.table.",
    )

# ----- spec --------------------------------------------------------------------------------------
st.subheader("2 · Cohort, history and target")
studio.marketer.spec_from_url()  # a shared link's settings, on this session's first run
kept = studio.marketer.apply_picked_target(studio.current_spec())

left, middle, right = st.columns(3)
with left:
    st.markdown("**Cohort**")
    as_of = st.date_input(
        "As-of date", value=kept.as_of, max_value=dt.date.today(), key="as_of", persist_state="session",
        help="Build the set as if the query ran on this day: no later event is used.",
    )
    cohort_from = st.number_input(
        "First seen from (days before as-of)", 1, 3650, kept.cohort_first_seen_from_days, key="cohort_from",
        persist_state="session", help="Oldest first visit of prospects in the cohort; also how far back events are read.",
    )
    cohort_to = st.number_input(
        "First seen until (days before as-of)", 0, 3650, kept.cohort_first_seen_to_days, key="cohort_to",
        persist_state="session", help="Newest first visit; leave prospects time to reach the target.",
    )
    app_ids = st.multiselect(
        "Apps that define the cohort", studio.app_id_options(kept), default=list(kept.app_ids),
        accept_new_options=True, key="app_ids", persist_state="session",
    )
    sample_percent = st.number_input(
        "Sample prospects (%)", 1, 100, kept.user_sample_percent, key="user_sample_percent",
        persist_state="session",
        help="For large cohorts: keep this share of prospects, chosen by a hash of domain_userid "
        "(the same prospects every time, in Snowflake and DuckDB). 100 = all.",
    )
    max_negatives = st.number_input(
        "Max negatives per positive (0 = keep all)", 0, 1_000, kept.max_negatives_per_positive or 0,
        key="max_negatives", persist_state="session",
        help="Keep every positive row and at most this many negative rows per positive, chosen by a hash "
        "of event_id. Rates and metrics are then on sampled data.",
    )
# The pickers below count events over the cohort just entered, not the one of the previous run.
try:
    counted_spec = dataclasses.replace(kept, as_of=as_of, cohort_first_seen_from_days=int(cohort_from),
                                       cohort_first_seen_to_days=int(cohort_to), app_ids=tuple(app_ids))
except UserError:
    counted_spec = kept
event_counts = studio.event_counts(source, counted_spec)
with middle:
    st.markdown("**History windows**")
    short_days = st.number_input(
        "Short window (days)", 1, 3650, kept.short_window_days, key="short_days", persist_state="session",
        help="Features named *_l7d by default",
    )
    long_days = st.number_input(
        "Long window (days)", 1, 3650, kept.long_window_days, key="long_days", persist_state="session",
        help="Features named *_l30d by default",
    )
with right:
    st.markdown("**Target**")
    # Excluded events are dropped before anything is counted: they cannot be a target. (Their box is
    # drawn below, full width, so every chip shows; its value this run is already in session state.)
    excluded = st.session_state.get("excluded", list(kept.excluded_events))
    options = [name for name in studio.event_options(event_counts, []) if name not in excluded]
    options += ([] if kept.target_event in options else [kept.target_event]) + [OTHER_EVENT]
    counts = dict(zip(event_counts["event_name"], event_counts["events"])) if event_counts is not None else {}
    picked = st.selectbox(
        "Target event", options, index=options.index(kept.target_event), key="target_pick",
        persist_state="session", format_func=lambda name: f"{name} · {counts[name]:,} events" if name in counts else name,
    )
    target_event = picked
    if picked == OTHER_EVENT:
        target_event = st.text_input("Event name", value=kept.target_event, key="target_other", persist_state="session")
    min_count = st.number_input(
        "At least this many times", 1, 10_000, kept.target_min_count, key="min_count", persist_state="session",
        help="1 = 'did it at all'; the tutorial's 'more than 2 page views' is page_view with 3.",
    )
    window_value, window_unit = st.columns([3, 2])
    in_hours = kept.target_window_minutes % 60 == 0
    amount = window_value.number_input(
        "Within the next", 1, 60 * 24 * 90, kept.target_window_minutes // 60 if in_hours else kept.target_window_minutes,
        key="window_amount", persist_state="session",
    )
    unit = window_unit.selectbox(
        "Unit", ["hours", "minutes"], index=0 if in_hours else 1, key="window_unit", persist_state="session"
    )

excluded = st.multiselect(
    "Excluded events (noise)", studio.event_options(event_counts, kept.excluded_events),
    default=list(kept.excluded_events), accept_new_options=True, key="excluded", persist_state="session",
    help="Dropped before anything is counted, and so never a target event.",
)
try:
    spec = TrainingSpec(
        as_of=as_of,
        cohort_first_seen_from_days=int(cohort_from),
        cohort_first_seen_to_days=int(cohort_to),
        short_window_days=int(short_days),
        long_window_days=int(long_days),
        target_event=target_event,
        target_min_count=int(min_count),
        target_window_minutes=int(amount) * (60 if unit == "hours" else 1),
        app_ids=tuple(app_ids),
        excluded_events=tuple(excluded),
        events_table=events_table.strip(),
        user_sample_percent=int(sample_percent),
        max_negatives_per_positive=int(max_negatives) or None,
        attributes=studio.custom_attributes(),
    )
    settings_valid = True
except UserError as error:
    problem = studio.marketer.in_screen_words(str(error))
    st.error(f"{studio.plain(problem[:1].upper() + problem[1:])}. The last valid settings are kept, and Build waits, "
             "until this is fixed.", icon=":material/error:")
    spec, settings_valid = kept, False
studio.set_spec(spec)
studio.marketer.share_spec(spec)
for notice in studio.source_notices(source, spec, event_counts):
    st.info(studio.plain(notice), icon=":material/info:")
target_notice = studio.target_event_notice(event_counts, spec)
if target_notice:
    st.warning(studio.plain(target_notice[0].upper() + target_notice[1:]), icon=":material/help:")

st.plotly_chart(timeline_figure(spec), key="timeline")
studio.target_explorer_section(source, spec)

# ----- SQL ---------------------------------------------------------------------------------------
st.subheader("3 · Training-set SQL")
source_dialect = studio.dialect_of(source)
dialect = st.segmented_control(  # keyed by the source's dialect, so a new source starts at its own
    "Dialect", ["snowflake", "duckdb"], default=source_dialect,
    format_func={"snowflake": "Snowflake", "duckdb": "DuckDB"}.get, key=f"dialect_{source_dialect}", required=True,
)
with st.expander(f"SQL for {spec.target_column} ({dialect})", expanded=False):
    st.code(render_training_sql(spec, dialect, inline=True).text, language="sql")
studio.attributes_section(spec, dialect)

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
