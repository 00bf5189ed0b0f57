"""Train: model family, parameters and split, one button, headline metrics, runs compared side by side."""

import streamlit as st

from prospect_core import studio
from prospect_core.infra.errors import UserError
from prospect_core.modelling.figures import roc_figure
from prospect_core.modelling.families import CALIBRATION_LABELS, FAMILIES
from prospect_core.modelling.model import MAX_SEED, N_FOLDS, STUDIO_DEFAULTS, ModelParams
from prospect_core.trainingset.wording import target_wording

DEFAULTS = STUDIO_DEFAULTS
TUTORIAL = ModelParams()


def train_form(built) -> tuple[str, ModelParams | None, bool]:
    """The set's caption, the split, the family and its parameters: (split, the parameters, or None when
    a value is refused (said on the page), whether **Train model** was pressed)."""
    st.caption(
        f"Training set: {built.summary.rows:,} prediction points from {built.summary.users:,} prospects, "
        f"{built.summary.positive_rate:.2%} positive (prospects who {studio.plain(target_wording(built.spec))}) from "
        f"{studio.plain(studio.source_label(built.source))}."
    )
    studio.show_build_notes(built)

    # Outside the form: a form does not rerun on a change, so its caption would describe the previous choice.
    split = st.radio(
        "Split", list(studio.SPLITS), format_func=studio.split_name, key="split",
        persist_state="session", horizontal=True, help="\n\n".join(map(studio.split_description, studio.SPLITS)),
    )
    st.caption(studio.split_description(split))
    family = st.radio(
        "Model", list(FAMILIES), format_func=lambda name: FAMILIES[name].label, key="family", persist_state="session",
        horizontal=True, help="XGBoost: boosted trees, explained with SHAP. Logistic regression: Snowplow's notebook "
        "model (balanced class weights), explained by its coefficients. Compare them below; the one picked here "
        "trains on the whole training side.",
    )
    trees = FAMILIES[family].early_stopping
    with st.form("train_form"):
        left, middle, right = st.columns(3)
        negatives = left.number_input(
            "Negatives per positive (training side)", 0, 10_000, DEFAULTS.train_negatives_per_positive,
            key="train_negatives_per_positive", persist_state="session",
            help="Fit on every positive and a seeded sample of this many negatives per positive; 0 = every negative. "
            "The test side is never sampled, and scores are corrected back to the population's rate.",
        )
        stopping = middle.number_input(
            "Early stopping rounds", 0, 1000, DEFAULTS.early_stopping_rounds, key="early_stopping_rounds",
            persist_state="session", disabled=not trees,
            help="Stop adding trees once this many bring no gain on held-out training prospects; 0 = off. "
            "Trees is then the maximum.",
        )
        n_estimators = left.number_input(
            "Trees (n_estimators)", 1, 5000, DEFAULTS.n_estimators, key="n_estimators", persist_state="session", disabled=not trees,
            help="More trees fit finer patterns and take longer.",
        )
        max_depth = left.number_input(
            "Max depth", 1, 20, DEFAULTS.max_depth, key="max_depth", persist_state="session", disabled=not trees,
            help="Deeper trees capture interactions; too deep overfits.",
        )
        learning_rate = middle.number_input(
            "Learning rate", 0.001, 1.0, DEFAULTS.learning_rate, step=0.05, format="%.3f", key="learning_rate",
            persist_state="session", disabled=not trees, help="Smaller steps need more trees but generalise better.",
        )
        subsample = middle.number_input(
            "Row subsample", 0.1, 1.0, DEFAULTS.subsample, step=0.1, key="subsample", persist_state="session", disabled=not trees,
            help="Share of rows each tree sees; below 1 adds randomness against overfitting.",
        )
        scale_pos_weight = right.number_input(
            "Positive class weight (scale_pos_weight)", 0.01, 10_000.0, DEFAULTS.scale_pos_weight, key="scale_pos_weight",
            persist_state="session", disabled=not trees,
            help=f"1 = as the tutorial. About negatives/positives ≈ {built.summary.negatives / max(built.summary.positives, 1):.0f} "
            "balances the classes (scores are corrected back to probabilities).",
        )
        seed = right.number_input("Random seed", 0, MAX_SEED, DEFAULTS.seed, key="seed", persist_state="session")
        calibration = right.selectbox(
            "Calibration", list(CALIBRATION_LABELS), format_func=CALIBRATION_LABELS.get, key="calibration",
            persist_state="session",
            help=f"Sigmoid or isotonic: scikit-learn's CalibratedClassifierCV over {N_FOLDS} folds of whole training "
            f"prospects, each fold calibrated on prospects its model did not see ({N_FOLDS} fits instead of 1). "
            "Explanations then show the "
            "score before calibration. Off: scores are corrected back to the population's rate.",
        )
        st.caption(
            f"Starts from a regularised model ({DEFAULTS.n_estimators} trees of depth {DEFAULTS.max_depth}, learning rate "
            f"{DEFAULTS.learning_rate}, row subsample {DEFAULTS.subsample}); the tutorial used XGBoost's defaults "
            f"({TUTORIAL.n_estimators} trees of depth {TUTORIAL.max_depth}, learning rate {TUTORIAL.learning_rate}), "
            "which memorise prospects and score worse on new ones."
        )
        submitted = st.form_submit_button("Train model", type="primary")
    try:
        params = ModelParams(
            n_estimators=int(n_estimators), max_depth=int(max_depth), learning_rate=float(learning_rate),
            subsample=float(subsample), scale_pos_weight=float(scale_pos_weight), seed=int(seed), family=family,
            train_negatives_per_positive=int(negatives) or None, early_stopping_rounds=int(stopping) or None,
            calibration=calibration,
        )
    except UserError as error:
        st.error(studio.plain(error), icon=":material/error:")
        return split, None, False
    return split, params, submitted


st.title("Train")
built = studio.built_set()
if built is None:
    st.info("No training set yet. Build one on **Data & target** first.")
    st.page_link("screens/data_and_target.py", label="Go to Data & target", icon=":material/database:")
    if not studio.runs():
        st.stop()
    # runs restored from the run store: offer their training set back; they are listed below meanwhile
    studio.ensure_test_rows(studio.runs()[-1])
    split, params, submitted = None, None, False
else:
    split, params, submitted = train_form(built)
job = studio.pending_job("train")
if submitted and params is not None and job is not None:
    st.info("A model is already training in this session; its result appears below when it is done.",
            icon=":material/hourglass_top:")
elif submitted and params is not None:
    try:
        job = studio.start_training(built, params, split)
    except UserError as error:
        st.error(studio.plain(error), icon=":material/error:")
if job is not None:
    studio.follow_job(job, done="Model trained")  # the run joins this session's runs when it is done
if built is not None and params is not None:
    studio.compare_section(built, params)

records = studio.runs()
if records:
    latest = records[-1].run.evaluation
    st.subheader(studio.plain(studio.run_label(records[-1])))
    studio.save_status(records[-1])
    studio.headline_metrics(records[-1], built)
    cols = st.columns(3)
    cols[0].metric("Best F1", f"{latest.best_f1:.3f}", help=f"at threshold {latest.best_f1_threshold:.2f}")
    cols[1].metric("Test moments", f"{latest.n:,}", help=f"{latest.positives:,} positive")
    st.caption(studio.plain(studio.base_rate_note(records[-1].run)))

    st.subheader("Runs this session")
    st.dataframe(studio.runs_table(records), hide_index=True, width="stretch")
    st.plotly_chart(
        # by number: the table above tells the runs apart; a legend clips their full labels
        roc_figure({f"Run {record.number}": record.run.evaluation for record in records},
                   title="ROC curves of this session's runs"),
        key="runs_roc",
    )
    st.page_link("screens/evaluate.py", label="Next: evaluate", icon=":material/arrow_forward:")
