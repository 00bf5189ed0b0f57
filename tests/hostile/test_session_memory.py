"""Issue 11, finding 3: memory is bounded per server.

A session's training set and runs are released once it has been disconnected past the grace period,
and the server's caps on live sets and runs release the oldest, whoever's they are, with a message to
the session that lost them. The registry is driven here with Streamlit's own `SessionState` (what the
server keeps for a disconnected session) and the app's own release function; the caps also through
the app (AppTest). That RSS really comes back on a `streamlit run` server: bench/session_memory.py.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.state import SessionState
from streamlit.testing.v1 import AppTest

from prospect_core import studio
from prospect_core.infra.errors import UserError
from prospect_core.infra.limits import max_live_runs, session_grace_seconds
from prospect_core.infra.session_memory import RUN, SET, Held, SessionMemory
from prospect_core.trainingset.spec import TrainingSpec

APP = Path(__file__).resolve().parents[2] / "app.py"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def server_state(*run_numbers: int, with_set: bool = True) -> SessionState:
    """What the server keeps for a session: Streamlit's SessionState holding a training set and runs."""
    state = SessionState()
    frame = pd.DataFrame({"x": range(1000)})
    state.reset_state_value("built", studio.BuiltSet("demo", TrainingSpec(), frame, None, 0.1) if with_set else None)
    state.reset_state_value("runs", [studio.StudioRun(n, "demo", object(), None) for n in run_numbers])
    # As at the start of every rerun: the values move to the state kept from earlier runs, which is
    # where a disconnected session has them (a release that only set new values left these alive).
    state.on_script_will_rerun(None)
    return state


def held(state: SessionState) -> list[Held]:
    return ([Held(SET)] if state["built"] is not None else []) + [Held(RUN, record.number) for record in state["runs"]]


def registry(clock: Clock, connected: set[str], *, grace: int = 120, sets: int = 8, runs: int = 24,
             forgotten: list[str] | None = None) -> SessionMemory:
    return SessionMemory(grace_seconds=lambda: grace, max_sets=lambda: sets, max_runs=lambda: runs,
                         is_connected=lambda session_id: session_id in connected, release=studio.state._release,
                         forget=(forgotten if forgotten is not None else []).append, clock=clock)


def test_a_disconnected_session_keeps_its_work_for_the_grace_period_then_lets_it_go():
    clock, connected, forgotten = Clock(), {"gone", "staying"}, []
    memory = registry(clock, connected, forgotten=forgotten)
    gone, staying = server_state(1, 2), server_state(1)
    frame = weakref.ref(gone["built"].frame)
    for session_id, state in (("gone", gone), ("staying", staying)):
        memory.touch(session_id, state, held(state))

    connected.discard("gone")  # its browser closed
    clock.now += 119
    memory.sweep()
    assert gone["built"] is not None and len(gone["runs"]) == 2  # a reconnect within the grace finds its work
    assert forgotten == []

    clock.now += 2
    memory.sweep()
    assert gone["built"] is None and gone["runs"] == []
    assert gone["memory_notes"] == [
        "This training set was released to free memory after this session was disconnected for more than 120 s "
        "(PROSPECT_SESSION_GRACE_SECONDS); build it again on **Data & target**.",
        "Runs 1, 2 were released to free memory after this session was disconnected for more than 120 s "
        "(PROSPECT_SESSION_GRACE_SECONDS); train again on **Train**.",
    ]
    gc.collect()
    assert frame() is None  # nothing else held on to it
    assert staying["built"] is not None and len(staying["runs"]) == 1
    assert list(memory.holdings()) == ["staying"]
    assert forgotten == ["gone"]  # and the server is asked to close the session itself


def test_a_running_job_is_stopped_as_its_session_disconnects_and_dropped_after_the_grace():
    clock, connected = Clock(), {"gone"}
    memory = registry(clock, connected, grace=120)
    state = server_state(with_set=False)
    cancelled = []

    class Future:  # a running job's, done once cancelled
        finished = False

        def done(self):
            return self.finished

    future = Future()

    def cancel():
        cancelled.append(1)
        future.finished = True
        return True

    job = studio.Job("build", "Building", future, 0.0, [], cancel=cancel)
    state.reset_state_value("job_build", job)
    memory.touch("gone", state, held(state))
    assert cancelled == []
    connected.discard("gone")  # its tab closed: its query must not run on (issue 21)
    memory.sweep()
    assert cancelled == [1] and state["job_build"] is job  # kept: a session that reconnects is told why
    assert job.stopped == "Stopped when this browser tab closed or lost its connection"
    clock.now += 121
    memory.sweep()
    assert cancelled == [1] and state["job_build"] is None


def test_the_caps_release_the_oldest_on_the_server_and_tell_its_session():
    clock, connected = Clock(), {"live"}
    memory = registry(clock, connected, sets=1, runs=2)
    away, live = server_state(1), server_state(1, 2, with_set=False)  # "away" disconnected, within its grace
    memory.touch("away", away, held(away))
    memory.touch("live", live, held(live))

    live["runs"] = [*live["runs"], studio.StudioRun(3, "demo", object(), None)]
    memory.admit("live", Held(RUN, 3))  # three runs on the server: the oldest, away's, goes at once
    assert away["runs"] == [] and away["built"] is not None
    assert away["memory_notes"] == ["Run 1 was released to free memory: this server keeps at most 2 runs for all "
                                    "sessions (PROSPECT_MAX_LIVE_RUNS); train again on **Train**."]

    memory.admit("live", Held(SET))  # a second training set: away's goes
    assert away["built"] is None and "at most 1 training set for all sessions (PROSPECT_MAX_LIVE_SETS)" in away["memory_notes"][-1]

    live["runs"] = [*live["runs"], studio.StudioRun(4, "demo", object(), None)]
    memory.admit("live", Held(RUN, 4))  # live's own oldest goes, but only when its own script next runs
    assert len(live["runs"]) == 4
    taken = memory.touch("live", live, held(live))
    assert list(taken) == [Held(RUN, 1), Held(RUN, 2)]
    assert "this server keeps at most 2 runs" in taken[Held(RUN, 1)]
    assert sorted(item.number for item in memory.holdings()["live"] if item.kind == RUN) == [3, 4]


def test_the_limits_are_configurable_and_checked(monkeypatch):
    assert session_grace_seconds() == 120 and max_live_runs() == 24
    monkeypatch.setenv("PROSPECT_SESSION_GRACE_SECONDS", "0")
    assert session_grace_seconds() == 0
    assert session_grace_seconds({"session_grace_seconds": 5}) == 0  # the environment comes first
    monkeypatch.delenv("PROSPECT_SESSION_GRACE_SECONDS")
    assert session_grace_seconds({"session_grace_seconds": 600}) == 600
    monkeypatch.setenv("PROSPECT_MAX_LIVE_RUNS", "0")
    with pytest.raises(UserError, match=r"PROSPECT_MAX_LIVE_RUNS must be a whole number of runs >= 1"):
        max_live_runs()
    monkeypatch.setenv("PROSPECT_SESSION_GRACE_SECONDS", "soon")
    with pytest.raises(UserError, match=r"PROSPECT_SESSION_GRACE_SECONDS must be a whole number of seconds >= 0"):
        session_grace_seconds()


def test_through_the_app_a_run_past_the_servers_cap_releases_the_oldest_with_a_message(monkeypatch, tiny_demo_db):
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    monkeypatch.setenv("PROSPECT_MAX_LIVE_RUNS", "1")
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    at.button(key="build").click().run()
    at.switch_page("screens/train.py").run()
    at.number_input(key="n_estimators").set_value(5).run()
    at.button[0].click().run()  # the form's "Train model"
    assert [record.number for record in at.session_state["runs"]] == [1] and not at.warning
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [record.number for record in at.session_state["runs"]] == [2]
    assert [w.value for w in at.warning if "released" in w.value] == [
        "Run 1 was released to free memory: this server keeps at most 1 run for all sessions "
        "(PROSPECT_MAX_LIVE_RUNS); train again on **Train**."
    ]
    assert "Run 1 ·" not in " ".join(m.value for m in at.sidebar.markdown)


def test_a_new_training_set_is_not_taken_for_the_old_one_the_cap_released():
    clock, connected = Clock(), {"a", "b"}
    memory = registry(clock, connected, sets=1)
    memory.admit("a", Held(SET))
    memory.admit("b", Held(SET))  # a's set is to go at a's next run...
    memory.admit("a", Held(SET))  # ...but a builds a new one first: b's (now the oldest) is to go instead
    assert memory.touch("a", None, [Held(SET)]) == {}
    assert list(memory.touch("b", None, [Held(SET)])) == [Held(SET)]
