"""This session's records (the training set, the runs) and the server's bound on what sessions hold.

What a user builds lives in `st.session_state` (one browser session, never shared); the key names
are in keys.py. `MEMORY` (one per server, prospect_core/infra/session_memory.py) knows which session holds
which set and runs, lets them go when a session has been disconnected past the grace period, and
keeps the whole server under its caps.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

import pandas as pd
import streamlit as st

from prospect_core.events.sources import DEFAULT_SOURCE
from prospect_core.infra import limits
from prospect_core.trainingset.dataset import DatasetSummary
from prospect_core.infra.errors import UserError
from prospect_core.modelling.evaluation import ProspectOutcomes, ThresholdSettings
from prospect_core.modelling.explain import ShapSample
from prospect_core.modelling.leaderboard import Interval
from prospect_core.modelling.model import TrainingRun
from prospect_core.infra.session_memory import EVERYTHING, JOBS, RUN, SET, Held, SessionMemory
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.studio import keys, streamlit_private
from prospect_core.studio.config import secrets

if TYPE_CHECKING:  # the export pulls Signals' library, figures plotly: loaded where they are used, not with the first page
    import plotly.graph_objects as go

    from prospect_core.outputs.export import ExportBundle

# A new session starts with each moment's inputs as Signals serves them, so the model learns the numbers it
# is fed once deployed; the spec's and CLI's default stays the tutorial's, exact to its seed query.
NEW_WORKSPACE_SPEC = TrainingSpec(feature_timing="signals")
MAX_RUNS = 6  # runs kept per session; each holds a fitted model and its test rows


@dataclass
class BuiltSet:
    """The training set a session built, with what built it."""

    source: str
    spec: TrainingSpec
    frame: pd.DataFrame
    summary: DatasetSummary
    seconds: float
    notes: tuple[str, ...] = ()  # what the user should know about it, e.g. that it was sampled to the row limit
    capped: bool = False  # sampled down to the row limit: a new target needs the query again


@dataclass
class SaveStatus:
    """Where a run is saved in the run store, or why it is not."""

    run_id: str | None = None
    workspace: str | None = None
    not_saved: str | None = None  # the reason, when the save failed
    seconds: float = 0.0
    restored: bool = False  # loaded back from the store, not trained in this session


@dataclass(frozen=True)
class EvaluateParts:
    """What Evaluate shows of a run that does not move with its threshold, computed once
    (run_views.evaluate_parts): a rerun draws these from here instead of from the run's test rows."""

    test_prospects: int
    positive_prospects: int  # test prospects with a positive moment: the by-prospect view's converted ones
    prospect_roc_auc: float  # of each prospect's highest score against whether they ever reached the target
    caught: pd.DataFrame  # the by-prospect table as shown, one row per top share
    # Figures, not their JSON: st.plotly_chart copies a Figure (~2 ms) but validates a dict or JSON into
    # one again (~18 ms, most of it the template). Each holds at most figures.MAX_CURVE_POINTS points a trace.
    figures: dict[str, go.Figure]


@dataclass
class StudioRun:
    """One training run as the app keeps it: the core's run plus what the app adds lazily."""

    number: int
    source: str
    run: TrainingRun
    created: dt.datetime
    shap: ShapSample | None = None  # computed on first visit to Explain
    save: SaveStatus = field(default_factory=SaveStatus)
    threshold: ThresholdSettings | None = None  # the one threshold (with value and cost), in the card and the store
    outcomes: ProspectOutcomes | None = None  # each test prospect's flag and catch scores, computed once for Evaluate
    intervals: dict[str, Interval] | None = None  # the headline metrics' intervals (leaderboard_panel.metric_intervals)
    evaluate_parts: EvaluateParts | None = None  # Evaluate's figures and counts, computed on its first visit
    export: ExportBundle | None = None  # built by runstore.export_bundle, the one owner of when it is built again
    notes: tuple[str, ...] = ()  # the built set's notes (e.g. what an events export lacked), kept with the run


def init_state() -> None:
    """This session's defaults and its check-in with `MEMORY`. Every accessor here calls it, and app.py's
    sidebar does before each page runs, so pages need not."""
    state = st.session_state
    state.setdefault(keys.SOURCE, DEFAULT_SOURCE)
    state.setdefault(keys.SPEC, NEW_WORKSPACE_SPEC)
    state.setdefault(keys.BUILT, None)
    state.setdefault(keys.RUNS, [])
    state.setdefault(keys.RUN_COUNTER, 0)
    _check_in_with_memory()


def current_spec() -> TrainingSpec:
    """The last valid spec of this session (widgets that fail validation do not replace it)."""
    init_state()
    return st.session_state[keys.SPEC]


def current_source() -> str:
    init_state()
    return st.session_state[keys.SOURCE]


def set_source(source: str) -> None:
    st.session_state[keys.SOURCE] = source


def set_spec(spec: TrainingSpec) -> None:
    st.session_state[keys.SPEC] = spec


def built_set() -> BuiltSet | None:
    init_state()
    return st.session_state[keys.BUILT]


def set_built(built: BuiltSet) -> None:
    st.session_state[keys.BUILT] = built
    _admit(Held(SET))


def runs() -> list[StudioRun]:
    init_state()
    return st.session_state[keys.RUNS]


def add_run(run: TrainingRun, source: str, notes: tuple[str, ...] = ()) -> StudioRun:
    state = st.session_state
    state[keys.RUN_COUNTER] += 1
    record = StudioRun(number=state[keys.RUN_COUNTER], source=source, run=run, created=dt.datetime.now(), notes=notes)
    state[keys.RUNS] = [*state[keys.RUNS], record][-MAX_RUNS:]
    _admit(Held(RUN, record.number))
    return record


# ----- memory held for sessions ------------------------------------------------------------------


def _memory_limit(name: str) -> Callable[[], int]:
    """A reader of the limit `limits.<name>`; a bad setting is logged, and its default used, so that
    an operator's typo cannot break every page (it is read on every script run, and by the sweeper)."""

    def read() -> int:
        try:
            return getattr(limits, name)(secrets())
        except UserError as error:
            bound = {"session_grace_seconds": limits.SESSION_GRACE, "max_live_sets": limits.LIVE_SETS,
                     "max_live_runs": limits.LIVE_RUNS}[name]
            logging.getLogger(__name__).warning("%s; using the default, %d", error, bound.default)
            return bound.default

    return read


def _release(state: Any, items: Iterable[Any], why: str) -> None:
    """Take released objects out of a session's state and leave it a note saying so (any thread)."""
    kinds = {item.kind for item in items}
    everything = EVERYTHING in kinds
    held_runs = _get(state, keys.RUNS) or []
    numbers = {record.number for record in held_runs} if everything else {item.number for item in items if item.kind == RUN}
    notes = []
    if (everything or SET in kinds) and _get(state, keys.BUILT) is not None:
        _set(state, keys.BUILT, None)
        notes.append(f"This training set was {why}; build it again on **Data & target**.")
    gone = [record.number for record in held_runs if record.number in numbers]
    if gone:
        _set(state, keys.RUNS, [record for record in held_runs if record.number not in numbers])
        names = ", ".join(str(number) for number in gone)
        notes.append(f"Run{'s' if len(gone) > 1 else ''} {names} {'were' if len(gone) > 1 else 'was'} {why}; "
                     "train again on **Train**.")
    if everything or JOBS in kinds:
        for kind in keys.JOBS:
            job = _get(state, keys.job(kind))
            if job is not None:
                job.stop(why)  # kept unless everything goes: a session that reconnects is told why
            if everything:
                _set(state, keys.job(kind), None)
    if notes:
        _set(state, keys.MEMORY_NOTES, [*(_get(state, keys.MEMORY_NOTES) or []), *notes])


def _get(state: Any, key: str) -> Any:
    try:
        return state[key]
    except KeyError:
        return None


def _set(state: Any, key: str, value: Any) -> None:
    # A disconnected session's state is Streamlit's own SessionState, changed outside any script run.
    if streamlit_private.is_server_session_state(state):
        streamlit_private.set_outside_run(state, key, value)
    else:
        state[key] = value


def return_freed_memory() -> None:
    """Hand what a release freed back to the system, so that the server's RSS goes down with it."""
    gc.collect()  # fitted pipelines and frames can sit in reference cycles
    try:  # glibc keeps freed heap pages for the process unless asked; other C libraries have no such call
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _make_memory() -> SessionMemory:
    return SessionMemory(grace_seconds=_memory_limit("session_grace_seconds"), max_sets=_memory_limit("max_live_sets"),
                         max_runs=_memory_limit("max_live_runs"), is_connected=streamlit_private.session_connected,
                         release=_release, forget=streamlit_private.close_session, after_release=return_freed_memory)


MEMORY = _make_memory()


def _check_in_with_memory() -> None:
    """Tell `MEMORY` what this session holds; take out what the cap released; say what was released."""
    session_id = streamlit_private.session_id()
    if session_id is None:
        return
    state = st.session_state
    held = ([Held(SET)] if state[keys.BUILT] is not None else []) + [Held(RUN, record.number) for record in state[keys.RUNS]]
    taken = MEMORY.touch(session_id, streamlit_private.server_session_state(session_id), held)
    for item, why in taken.items():
        _release(state, [item], why)
    MEMORY.start_sweeper(lambda: 1.0)  # a closed tab's queries stop within about a second
    for note in state.get(keys.MEMORY_NOTES) or []:
        st.warning(note, icon=":material/memory:")
    state[keys.MEMORY_NOTES] = []


def _admit(item: Held) -> None:
    session_id = streamlit_private.session_id()
    if session_id is not None:
        MEMORY.admit(session_id, item)
