"""Every call the studio makes into Streamlit's private code (`streamlit.runtime`), one function each.

Streamlit documents `st.*`; `streamlit.runtime` is its server's own machinery and may change in any
release. The studio needs it for one thing `st.*` cannot do: bound the memory held for sessions that
are not running a script (`state.py`'s `MEMORY`, whose sweeper runs in a thread of its own). Each
function says why it is needed and what breaks if Streamlit changes it; tests/studio/test_private_apis.py
checks each against the installed Streamlit, and requirements.txt pins the minor series it passed on.
Nothing else in the project imports `streamlit.runtime`.
"""

from __future__ import annotations

from typing import Any

from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.state import SessionState


def server_running() -> bool:
    """Whether this process is a Streamlit server (`streamlit run`, or AppTest's stand-in).

    `st.secrets` and the session registry exist only then; a plain import (the CLI, a notebook)
    must not touch them. If it changes: secrets are never read (or read outside a server and fail),
    and the memory bound cannot ask which sessions are connected."""
    return runtime.exists()


def session_id() -> str | None:
    """The id of the browser session whose script run this thread serves; None outside a script run.

    `st.context` has no session id, and the memory bound keys what each session holds by it. If it
    changes: no session checks in, so nothing held is ever counted or released."""
    context = get_script_run_ctx(suppress_warning=True)
    return context.session_id if context is not None else None


def session_connected(session_id: str) -> bool:
    """Whether a browser is connected to the session now (from any thread, outside a script run).

    The memory bound releases a session's training set and runs only once it has been disconnected
    past the grace period. If it changes: every session looks disconnected (work released under a
    user's eyes after the grace period) or connected (nothing is ever released)."""
    return runtime.exists() and bool(runtime.get_instance().is_active_session(session_id))


def close_session(session_id: str) -> None:
    """Have Streamlit close a session gone past the grace period now, not whenever its store next reaps.

    Its store keeps more than session state: the widgets' formatting callbacks keep the last run's
    page variables alive, and with them that run's training set and runs. `clear_user_info_for_session`
    is Streamlit's thread-safe way to close a stored session (it is what logging out does); a session
    that has reconnected meanwhile stays open (this app keeps no user info to clear). If it changes:
    a released session's memory stays until Streamlit's `disconnectedSessionTTL` store reaps it."""
    if runtime.exists():
        runtime.get_instance().clear_user_info_for_session(session_id)


def server_session_state(session_id: str) -> SessionState | None:
    """A connected session's state as the server keeps it across reconnections (the same object after a
    disconnect, which the memory bound holds on to); None for a session not connected, and under AppTest.

    `st.session_state` reaches only the session of the running script; the memory bound releases a
    disconnected session's objects from the sweeper's thread. If it changes: a disconnected session's
    training set and runs are never released (they are counted but stay in memory)."""
    app_session = runtime.get_instance().get_app_session(session_id) if runtime.exists() else None
    state = getattr(app_session, "session_state", None)
    return state if isinstance(state, SessionState) else None


def is_server_session_state(state: Any) -> bool:
    """Whether `state` is Streamlit's own `SessionState` (from `server_session_state`), not the
    `st.session_state` of a script run: the two are written differently (`set_outside_run`)."""
    return isinstance(state, SessionState)


def set_outside_run(state: SessionState, key: str, value: Any) -> None:
    """Set `key` in a session's `SessionState` outside any script run (the sweeper's thread).

    `SessionState` keeps values from earlier runs apart from values set since (merged when the next
    run starts): deleting the key drops both, and `reset_state_value` needs no script context (item
    assignment would log that one is missing, and check widgets of a run that is not there). If it
    changes: a released training set or run stays in the session's state, and in memory."""
    if key in state:
        del state[key]
    state.reset_state_value(key, value)
