"""Issue 16 in the app, through AppTest with a real SQLite run store in a temp folder: a run saved as
its training job ends, back in a fresh session opened with the workspace's link, and a store that
cannot take a run (not saved, then Retry saving)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from prospect_core.runstore import resolve_store
from prospect_core.studio.labels import run_label
from tests.studio.test_app import APP, TIMEOUT, build, messages, metric, small_demo_db  # noqa: F401 — the fixture


@pytest.fixture
def store_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_demo_db) -> str:  # noqa: F811
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(small_demo_db))
    uri = f"sqlite:///{tmp_path / 'store' / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def session(workspace: str | None = None, *, secrets: dict | None = None, user: dict | None = None) -> AppTest:
    """A new browser session of the app, opened with `workspace` in its link; `secrets` and the
    signed-in `user` (`st.user`) as given."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if workspace is not None:
        at.query_params["workspace"] = workspace
    for name, value in (secrets or {}).items():
        at.secrets[name] = value
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, messages(at)
    return at


def train(at: AppTest) -> AppTest:
    at.switch_page("screens/train.py").run()
    at.button[0].click().run()  # the form's "Train model"
    assert not at.exception and not at.error, messages(at)
    return at


def plotly_charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_a_trained_run_is_saved_and_a_fresh_session_with_the_link_draws_evaluate_from_the_store(store_uri):
    at = train(build(session()))
    workspace = at.session_state["workspace"]
    assert at.query_params["workspace"] in (workspace, [workspace])
    record = at.session_state["runs"][-1]
    assert record.save.not_saved is None
    listed = resolve_store().list_runs(workspace)
    assert [summary.run_id for summary in listed] == [record.save.run_id]
    assert listed[0].roc_auc == pytest.approx(record.run.evaluation.roc_auc)

    other = session()  # a new visitor: a new workspace, none of these runs
    assert other.session_state["workspace"] != workspace and other.session_state["runs"] == []

    again = session(workspace)  # a reload, a new tab with the link, or after a server restart
    restored = again.session_state["runs"]
    assert [r.save.run_id for r in restored] == [record.save.run_id]
    assert again.session_state["built"] is None  # the training set is not stored
    assert again.session_state["spec"] == record.run.spec  # the spec is back
    again.switch_page("screens/evaluate.py").run()
    assert not again.exception and not again.error, messages(again)
    assert float(metric(again, "ROC AUC")) == pytest.approx(record.run.evaluation.roc_auc, abs=5e-4)
    assert len(plotly_charts(again)) == 8  # ROC, PR, confusion, profit, lift, gains, calibration, importance
    assert restored[0].run.spec == record.run.spec and restored[0].run.params == record.run.params

    # Explain needs the test rows' features: rebuilt on demand, the same rows by the same seeded split.
    again.switch_page("screens/explain.py").run()
    assert any(b.label == "Rebuild training set" for b in again.button), messages(again)
    next(b for b in again.button if b.label == "Rebuild training set").click().run()
    for _ in range(5):  # the build job's follow-up reruns
        if again.session_state["built"] is not None:
            break
        again.run()
    again.run()
    assert not again.exception and not again.error, messages(again)
    assert restored[0].run.X_test is not None and len(restored[0].run.X_test) == record.run.n_test
    assert restored[0].run.X_test.equals(record.run.X_test)
    assert len(plotly_charts(again)) == 4  # bar, beeswarm, waterfall, dependence


def test_the_all_runs_toggle_lists_other_workspaces_and_a_run_can_be_deleted(store_uri):
    first = train(build(session()))
    theirs = first.session_state["runs"][-1].save.run_id
    mine = session()
    mine.switch_page("screens/evaluate.py").run()
    assert not mine.session_state["runs"]
    mine.toggle(key="all_runs_Model").set_value(True).run()
    assert not mine.exception, messages(mine)
    assert mine.selectbox(key="pick_all_Model").value == theirs
    assert [r.save.run_id for r in mine.session_state["runs"]] == [theirs]  # opened on request
    assert len(plotly_charts(mine)) == 8

    mine.button(key=f"delete_Model_{mine.session_state['runs'][-1].number}").click().run()
    assert not mine.exception, messages(mine)
    assert mine.session_state["runs"] == []
    assert resolve_store().list_runs(None) == []


def read_only(folder: Path, on: bool) -> None:
    """Make the store folder read-only, or writable again: file modes for a user, the immutable flag
    for root (who writes through file modes)."""
    paths = [folder, *folder.rglob("*")]
    if os.geteuid() == 0:
        if not shutil.which("chattr"):
            pytest.skip("running as root without chattr: cannot make a folder read-only for root")
        subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)
    else:
        for path in paths:
            path.chmod(path.stat().st_mode & ~0o222 if on else path.stat().st_mode | 0o200)


def test_a_read_only_store_keeps_the_run_not_saved_and_retry_saves_it_once_fixed(store_uri, tmp_path):
    store = resolve_store()
    store._experiment_id(store._client(create=True), create=True)  # the store exists, its tables made
    folder = Path(store_uri.removeprefix("sqlite:///")).parent
    (folder / "mlartifacts").mkdir(exist_ok=True)
    read_only(folder, True)
    try:
        at = train(build(session()))
        record = at.session_state["runs"][-1]
        assert record.save.run_id is None
        assert "read-only" in record.save.not_saved, record.save.not_saved
        warning = next(w.value for w in at.warning if "not saved: " in w.value)
        assert run_label(record) in warning and "read-only" in warning
        assert float(metric(at, "ROC AUC")) == pytest.approx(record.run.evaluation.roc_auc, abs=5e-4)  # still usable
    finally:
        read_only(folder, False)  # the operator fixes the store
    assert store.list_runs(None) == []

    next(b for b in at.button if b.label == "Retry saving").click().run()
    assert not at.exception, messages(at)
    assert record.save.not_saved is None and record.save.run_id
    assert not [w for w in at.warning if "not saved: " in w.value]
    assert [s.run_id for s in store.list_runs(at.session_state["workspace"])] == [record.save.run_id]


def test_a_run_whose_card_no_longer_verifies_is_listed_as_unverifiable_and_never_loaded(store_uri):
    at = train(build(session()))
    workspace, run_id = at.session_state["workspace"], at.session_state["runs"][-1].save.run_id
    folder = Path(store_uri.removeprefix("sqlite:///")).parent
    (artifact,) = folder.glob(f"mlartifacts/{run_id}/artifacts/studio/model.joblib")
    artifact.write_bytes(artifact.read_bytes() + b"\0")  # the joblib no longer matches its signed card

    again = session(workspace)
    assert again.session_state["runs"] == []
    again.switch_page("screens/evaluate.py").run()
    assert not again.exception, messages(again)
    warning = next(w.value for w in again.warning if "is unverifiable and is not loaded" in w.value)
    assert "joblib file changed" in warning, warning
    again.toggle(key="all_runs_Model").set_value(True).run()
    assert any("UNVERIFIABLE" in option for option in again.selectbox(key="pick_all_Model").options)
    assert any("cannot be opened" in w.value for w in again.warning) and again.session_state["runs"] == []


def stored_card(store_uri: str, run_id: str) -> bytes:
    """The model card's bytes as the run store holds them (the local store's artifact folder)."""
    folder = Path(store_uri.removeprefix("sqlite:///")).parent
    [path] = [path for path in folder.rglob("model_card.json") if run_id in path.parts]
    return path.read_bytes()


def wait_until_saved(record, seconds: float = 60.0) -> None:
    from prospect_core.studio.runstore import threshold_saving

    deadline = time.monotonic() + seconds
    while threshold_saving(record):
        assert time.monotonic() < deadline, "the threshold's save did not end"
        time.sleep(0.1)


def offered_card(at: AppTest) -> bytes:
    """The card bytes Score & export offers. AppTest drops its media files after each run, so the bytes are
    read from the bundle the page handed to the button, once the button is seen drawn."""
    at.switch_page("screens/score_and_export.py").run()
    assert not at.exception and not at.error, messages(at)
    button = next(b for b in at.get("download_button") if b.proto.label == "Download model card")
    assert button.proto.url.endswith(".json")
    return at.session_state["runs"][-1].export.card_json


def test_the_stored_card_is_the_downloaded_card_before_and_after_a_threshold_is_chosen(store_uri):
    at = train(build(session()))
    record = at.session_state["runs"][-1]
    assert offered_card(at) == stored_card(store_uri, record.save.run_id)
    started = json.loads(offered_card(at))["recommended_threshold"]
    assert started["value"] == record.threshold.threshold  # the one threshold, from the start: best F1

    # Evaluate's value and threshold go into the card and the store, saved again in the background
    at.switch_page("screens/evaluate.py").run()
    at.number_input(key=f"profit_{record.number}_value").set_value(500.0).run()
    at.slider(key=f"threshold_{record.number}").set_value(0.25).run()
    assert not at.exception and not at.error, messages(at)
    wait_until_saved(record)
    record = at.session_state["runs"][-1]
    card = offered_card(at)
    assert card == stored_card(store_uri, record.save.run_id)
    assert json.loads(card)["recommended_threshold"]["inputs"]["value_per_conversion"] == 500.0
    assert json.loads(card)["recommended_threshold"]["value"] == 0.25

    # a reload (a new session on the workspace's link) finds the same threshold, value and cost
    again = session(workspace=at.session_state["workspace"])
    again.switch_page("screens/evaluate.py").run()
    restored = again.session_state["runs"][-1]
    assert (restored.threshold.threshold, restored.threshold.value_per_conversion) == (0.25, 500.0)
    assert again.slider(key=f"threshold_{restored.number}").value == 0.25
    assert [summary.run_id for summary in resolve_store().list_runs(at.session_state["workspace"])] == [record.save.run_id]
