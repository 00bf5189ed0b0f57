"""Contract tests: each private Streamlit and MLflow call the project makes (prospect_core/studio/
streamlit_private.py, prospect_core/mlflow_private.py) still does, on the installed versions, what the
studio relies on. An upgrade that moves one fails here; requirements.txt pins the minor series that passed.

Streamlit's are checked in a real `streamlit run` server with two browser sessions, since AppTest stands
in a mock for the server's session registry; MLflow's against MLflow itself.
"""

from __future__ import annotations

import logging
import re

import pytest

from prospect_core import mlflow_private
from prospect_core.studio import streamlit_private
from prospect_core.runstore import TRACKING_URI_ENV, _pip_requirements
from tests.studio.test_browser import ROOT, browser, new_session, run_streamlit, stop_streamlit  # noqa: F401  (browser: fixture)

# Calls each function as the memory bound does: from a thread of its own, outside any script run. It
# shows what it found; `shared` (one per server) keeps a weak reference to an object in the other
# session's state, gone when that state is.
PROBE = '''
import gc
import threading
import weakref

import streamlit as st

from prospect_core.studio import streamlit_private as private


@st.cache_resource
def shared() -> dict:
    return {}


def outside_run(work):
    result = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


st.session_state.setdefault("mark", "set in its run")
st.session_state.setdefault("token", threading.Event())  # lives as long as the session's state
st.text(f"me={private.session_id()} running={private.server_running()} mark={st.session_state['mark']}")
other, action = st.query_params.get("other"), st.query_params.get("action")
if action == "set":
    state = outside_run(lambda: private.server_session_state(other))
    shared()["token"] = weakref.ref(state["token"])
    st.text(f"server state: {type(state).__name__} {private.is_server_session_state(state)} seen={state['mark']}")
    outside_run(lambda: private.set_outside_run(state, "mark", "set outside its run"))
if action == "close":
    outside_run(lambda: private.close_session(other))
if other:
    gc.collect()
    held = shared()["token"]() is not None
    st.text(f"connected={outside_run(lambda: private.session_connected(other))} held={held}")
st.button("Rerun")
'''


def test_streamlit_private_calls_in_a_real_server(browser, tmp_path):  # noqa: F811  (browser: fixture)
    assert not streamlit_private.server_running()  # pytest is no server
    assert streamlit_private.session_id() is None  # nor a script run
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    log = open(tmp_path / "streamlit.log", "w+")
    process, url = run_streamlit(script, log, {"PYTHONPATH": str(ROOT)})
    try:
        first = new_session(browser, url)
        first.get_by_text(re.compile(r"mark=set in its run")).wait_for()
        line = first.get_by_text(re.compile(r"^me=")).inner_text()
        session, running = re.fullmatch(r"me=(\S+) running=(\S+) mark=.*", line).groups()
        assert running == "True" and session != "None"

        # Another session finds the first's state by its id, and sets a value outside any script run...
        second = new_session(browser, f"{url}/?other={session}&action=set")
        second.get_by_text("server state: SessionState True seen=set in its run").wait_for()
        second.get_by_text("connected=True held=True").wait_for()
        # ...that the first session's st.session_state reads on its next run.
        first.get_by_role("button", name="Rerun").click()
        first.get_by_text(re.compile(r"mark=set outside its run")).wait_for()

        first.context.close()  # disconnected: the server still keeps its state for a while
        second.goto(f"{url}/?other={session}&action=check")
        rerun_until(second, "connected=False held=True")

        second.goto(f"{url}/?other={session}&action=close")  # closed: its state can be freed
        rerun_until(second, "connected=False held=False")
        second.context.close()
    finally:
        stop_streamlit(process, log)


def rerun_until(page, text: str, tries: int = 20) -> None:
    """Rerun the probe until it shows `text`: the server closes connections and sessions on its own loop."""
    for _ in range(tries):
        page.get_by_role("button", name="Rerun").wait_for()
        if page.get_by_text(text, exact=True).count():
            return
        page.get_by_role("button", name="Rerun").click()
        page.wait_for_timeout(500)
    page.get_by_text(text, exact=True).wait_for(timeout=1000)


@pytest.fixture
def clean_tracking_uri(monkeypatch):
    """No tracking URI set in this process nor in the environment; both put back afterwards."""
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    before = mlflow_private.global_tracking_uri()
    mlflow_private.set_global_tracking_uri(None)
    yield
    mlflow_private.set_global_tracking_uri(before)


def test_mlflow_global_tracking_uri_round_trips(clean_tracking_uri, tmp_path, monkeypatch):
    import mlflow

    assert mlflow_private.global_tracking_uri() is None  # none set: get_tracking_uri gives a default
    store = f"sqlite:///{tmp_path / 'store.db'}"
    mlflow.set_tracking_uri(store)
    assert mlflow_private.global_tracking_uri() == store

    mlflow_private.set_global_tracking_uri(None)  # put back "none set": MLflow follows the environment again
    monkeypatch.setenv(TRACKING_URI_ENV, f"sqlite:///{tmp_path / 'operator.db'}")
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'operator.db'}"

    mlflow_private.set_global_tracking_uri(store)  # a URI set wins over the environment, as set_tracking_uri's
    assert mlflow.get_tracking_uri() == store  # what the fluent API (log_model) logs to


def test_mlflow_requirements_check_warns_of_a_mismatch_and_caches_the_metadata():
    from mlflow.utils import requirements_utils

    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = logging.getLogger(requirements_utils.__name__)
    logger.addHandler(handler)
    try:
        mlflow_private.check_installed_requirements(_pip_requirements())  # what the run store pins: all installed
        assert seen == []
        assert requirements_utils._MODULES_TO_PACKAGES is not None  # read once, kept for log_model
        mlflow_private.check_installed_requirements(["numpy==0.0.1"])
        assert len(seen) == 1 and "numpy (current: " in seen[0] and "required: numpy==0.0.1" in seen[0]
    finally:
        logger.removeHandler(handler)
