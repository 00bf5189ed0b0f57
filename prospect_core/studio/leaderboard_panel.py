"""Train's Compare models and Tune (a background job each, cancellable), the leaderboard they fill,
and the intervals shown beside a run's headline metrics on Train and Evaluate.

The numbers come from prospect_core.modelling.leaderboard; this module only asks and draws.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

import pandas as pd
import streamlit as st

from prospect_core.infra.errors import UserError
from prospect_core.modelling import leaderboard
from prospect_core.modelling.families import FAMILIES, ModelParams
from prospect_core.studio import keys
from prospect_core.studio.jobs import follow_job, pending_job, start_job
from prospect_core.studio.state import BuiltSet, StudioRun
from prospect_core.trainingset.wording import plain

TUNE_SECONDS = (10, 3600, 60)  # min, max, default budget


def current_leaderboard(built: BuiltSet) -> leaderboard.Leaderboard | None:
    """The leaderboard of this training set, if one was compared (a new set starts none)."""
    held = st.session_state.get(keys.LEADERBOARD)
    return held[1] if held is not None and held[0] == id(built.frame) else None


def _start(built: BuiltSet, title: str, work: Callable[[Callable[[str], None], Callable[[], bool]], leaderboard.Leaderboard]) -> None:
    stopped = threading.Event()

    def cancel() -> bool:
        stopped.set()
        return True

    def deliver(board: leaderboard.Leaderboard) -> None:
        st.session_state[keys.LEADERBOARD] = (id(built.frame), board)

    start_job("compare", title, lambda report: work(report, stopped.is_set), cancel=cancel, deliver=deliver)


def compare_section(built: BuiltSet, base: ModelParams) -> None:
    """Compare models (the chosen families, each at `base`'s settings) and Tune (`base`'s family)."""
    st.subheader("Compare models")
    st.caption(f"{leaderboard.N_FOLDS}-fold cross-validation by prospect on the whole training set (seed "
               f"{base.seed}): each model is fitted {leaderboard.N_FOLDS} times, each time scored on a fifth of the "
               "prospects it never saw. The range is the lowest and highest fold.")
    families = st.multiselect("Models to compare", list(FAMILIES), default=list(FAMILIES), key="compare_families",
                              format_func=lambda name: FAMILIES[name].label)
    left, budget_column, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    job = pending_job("compare")
    compare = left.button("Compare models", key="compare_models", disabled=job is not None or not families,
                          icon=":material/leaderboard:")
    budget = budget_column.number_input("Tuning budget (seconds)", *TUNE_SECONDS, step=30, key="tune_seconds")
    can_tune = leaderboard.optuna_available() and base.family in leaderboard.TUNABLE
    tune = right.button("Tune", key="tune_model", disabled=job is not None or not can_tune, icon=":material/tune:",
                        help=f"Optuna tries {FAMILIES[base.family].label}'s depth, trees, learning rate and subsample "
                        "on the same folds until the budget is spent; each trial joins the leaderboard.")
    if not leaderboard.optuna_available():
        st.caption(f"{leaderboard.OPTUNA_MISSING}.")
    elif base.family not in leaderboard.TUNABLE:
        st.caption(f"{FAMILIES[base.family].label} has no parameters to tune here.")
    board = current_leaderboard(built)
    try:
        if compare:
            candidates = [replace(base, family=name) for name in families]
            _start(built, "Comparing models", lambda report, stop: leaderboard.compare_models(
                built.frame, built.spec, candidates, seed=base.seed, progress=report, stop=stop))
            st.rerun()
        if tune:
            previous = board or leaderboard.Leaderboard(n_folds=leaderboard.N_FOLDS, seed=base.seed)
            tuned = leaderboard.Leaderboard(previous.n_folds, previous.seed, list(previous.entries))
            _start(built, f"Tuning {FAMILIES[base.family].label} for {int(budget)} s", lambda report, stop: leaderboard.tune(
                built.frame, built.spec, base, tuned, budget_seconds=float(budget), progress=report, stop=stop))
            st.rerun()
    except UserError as error:
        st.error(plain(error), icon=":material/error:")
    if job is not None:
        follow_job(job, done="Models compared")
    if board is not None and board.entries:
        st.dataframe(leaderboard_table(board), hide_index=True, width="stretch")


def leaderboard_table(board: leaderboard.Leaderboard) -> pd.DataFrame:
    """Mean (lowest–highest fold) of each metric, and the mean fit seconds, best ROC AUC first."""
    table = board.table()
    shown = pd.DataFrame({"model": table["model"]})
    for metric in leaderboard.METRICS:
        shown[leaderboard.METRIC_NAMES[metric]] = [
            f"{mean:.3f} ({low:.3f}–{high:.3f})"
            for mean, low, high in zip(table[metric], table[f"{metric}_low"], table[f"{metric}_high"])]
    shown["fit seconds"] = table["fit_seconds"].round(2)
    return shown


def metric_intervals(record: StudioRun, built: BuiltSet | None) -> dict[str, leaderboard.Interval]:
    """The run's headline intervals, computed once: its folds on the leaderboard when its split has folds
    (random, by prospect) and its parameters were compared on this set; else a bootstrap of its test prospects."""
    if record.intervals is None:
        run = record.run
        board = current_leaderboard(built) if built is not None and built.spec == run.spec else None
        entry = board.entry_for(run.params) if board is not None and run.split != "out_of_time" else None
        if entry is not None:
            record.intervals = entry.intervals()
        else:
            record.intervals = leaderboard.bootstrap_intervals(
                y_true=run.y_test, y_score=run.y_score, prospect_ids=run.test_ids["domain_userid"], seed=run.params.seed)
    return record.intervals


def headline_metrics(record: StudioRun, built: BuiltSet | None) -> None:
    """ROC AUC, PR AUC and log loss of the run's test side, each with its interval below it."""
    evaluation = record.run.evaluation
    intervals = metric_intervals(record, built)
    helps = {"roc_auc": "0.5 = chance, 1 = perfect ranking", "pr_auc": f"Base rate {evaluation.base_rate:.2%}",
             "log_loss": "Lower is better"}
    for column, metric in zip(st.columns(len(leaderboard.METRICS)), leaderboard.METRICS):
        interval = intervals[metric]
        column.metric(leaderboard.METRIC_NAMES[metric], f"{getattr(evaluation, metric):.3f}", help=helps[metric])
        column.caption(f"{interval.low:.3f}–{interval.high:.3f}")
    st.caption(f"Ranges: {next(iter(intervals.values())).basis}.")
