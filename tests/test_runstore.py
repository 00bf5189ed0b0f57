"""The run store (issue 16) on real MLflow stores: SQLite files in a temp folder, and an `mlflow server`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.studio_server import free_port

from prospect_core import runstore
from prospect_core.outputs.artifact import ArtifactError
from prospect_core.outputs.export import export_run
from prospect_core.modelling.model import ModelParams, TrainingRun, train_model
from prospect_core.outputs.signing import sign_card
from prospect_core.runstore import NotSavedError, RunStore, RunStoreError
from tests.modelling.test_model import ROOT, SPEC, synthetic_training_set

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
PARAMS = ModelParams(n_estimators=20, max_depth=3, learning_rate=0.1, seed=3)


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    return train_model(synthetic_training_set(), SPEC, PARAMS, split="by_user")


def exported(run: TrainingRun, key: bytes = KEY, source: str = "demo") -> dict:
    """What the export path hands the store: artifact bytes, the signed card, its Markdown, the evaluation file."""
    export = export_run(run, key, source=source)
    return {"artifact": export.artifact, "card_json": export.card_json, "card_markdown": export.card_markdown,
            "evaluation": export.evaluation}


def save(store: RunStore, run: TrainingRun, workspace: str = "ws-a", **extra) -> str:
    return store.log_run(run, **exported(run), workspace=workspace, **extra)


def studio_file(store_folder: Path, run_id: str, name: str) -> Path:
    (path,) = store_folder.glob(f"mlartifacts/{run_id}/artifacts/studio/{name}")
    return path


def test_a_logged_run_comes_back_with_its_evaluation_and_verified_pipeline(tmp_path: Path, run: TrainingRun) -> None:
    from mlflow import MlflowClient

    store = RunStore.local(tmp_path / "data")
    shap = pd.DataFrame({"feature": ["a", "b"], "value": [0.5, -0.25]})
    run_id = save(store, run, definitions=b'{"attributes": []}', shap_sample=shap)
    assert (tmp_path / "data" / "mlruns.db").is_file()  # created on first use

    stored = MlflowClient(store.tracking_uri).get_run(run_id)
    assert stored.data.params["spec.target_event"] == "submit_form"
    assert stored.data.params["spec.app_ids"] == "website,hs-landing"
    assert stored.data.params["model.n_estimators"] == "20" and stored.data.params["model.seed"] == "3"
    assert len([name for name in stored.data.params if name.startswith("spec.")]) == len(SPEC.to_dict())
    assert stored.data.metrics["roc_auc"] == pytest.approx(run.evaluation.roc_auc)
    assert stored.data.metrics["n_test"] == run.n_test
    assert stored.data.tags[runstore.TAG_SPLIT] == "by_user"
    assert stored.data.tags[runstore.TAG_TARGET] == SPEC.target_column
    assert stored.info.status == "FINISHED"

    loaded = store.load_run(run_id, KEY)
    assert (loaded.spec, loaded.params, loaded.split, loaded.workspace) == (SPEC, PARAMS, "by_user", "ws-a")
    assert loaded.evaluation.metrics() == run.evaluation.metrics()
    np.testing.assert_array_equal(loaded.y_test, run.y_test)
    pd.testing.assert_frame_equal(loaded.test_ids, run.test_ids)
    np.testing.assert_allclose(loaded.pipeline.predict_proba(run.X_test)[:, 1], run.y_score)
    assert loaded.definitions == b'{"attributes": []}'
    pd.testing.assert_frame_equal(loaded.shap_sample, shap)
    assert loaded.card_markdown.startswith("# Prospect scoring model")


def test_the_mlflow_model_loads_without_prospect_core(tmp_path: Path, run: TrainingRun) -> None:
    store = RunStore.local(tmp_path / "data")
    run_id = save(store, run)
    (model_pkl,) = (tmp_path / "data" / "mlartifacts" / "models").glob("*/artifacts/model.pkl")
    assert b"prospect_core" not in model_pkl.read_bytes()
    rows = tmp_path / "rows.parquet"
    run.X_test.head(20).to_parquet(rows)
    # A clean process whose path does not reach this checkout: MLflow's own loader and pyfunc.
    script = (
        "import sys, mlflow.pyfunc, mlflow.sklearn, pandas as pd\n"
        f"uri = 'runs:/{run_id}/model'\n"
        f"rows = pd.read_parquet({str(rows)!r})\n"
        "print(mlflow.sklearn.load_model(uri).predict_proba(rows)[:, 1].round(6).tolist())\n"
        "print(mlflow.pyfunc.load_model(uri).predict(rows)[:, 1].round(6).tolist())\n"
        "assert 'prospect_core' not in sys.modules\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": store.tracking_uri, "PYTHONPATH": ""}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    sklearn_scores, pyfunc_scores = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    np.testing.assert_allclose(sklearn_scores, run.y_score[:20].round(6), atol=1e-6)
    assert pyfunc_scores == sklearn_scores


def test_workspaces_list_their_own_runs_and_all_on_request(tmp_path: Path, run: TrainingRun) -> None:
    store = RunStore.local(tmp_path / "data")
    assert store.list_runs("ws-a") == []  # a fresh store lists nothing, and is not an error
    first, second = save(store, run, "ws-a"), save(store, run, "ws-a")
    other = save(store, run, "ws-b")
    assert [summary.run_id for summary in store.list_runs("ws-a", verify_key=KEY)] == [second, first]  # newest first
    assert {summary.run_id for summary in store.list_runs()} == {first, second, other}
    (summary,) = store.list_runs("ws-b", verify_key=KEY)
    assert (summary.state, summary.workspace, summary.split, summary.source) == ("ready", "ws-b", "by_user", "demo")
    assert summary.roc_auc == pytest.approx(run.evaluation.roc_auc)

    store.delete_run(first)
    assert [summary.run_id for summary in store.list_runs("ws-a")] == [second]
    with pytest.raises(RunStoreError, match="was deleted"):
        store.load_run(first, KEY)


def test_a_workspace_id_is_validated_before_it_reaches_a_filter(tmp_path: Path, run: TrainingRun) -> None:
    store = RunStore.local(tmp_path / "data")
    save(store, run, "ws-a")
    for hostile in ("x' OR tags.`prospect.workspace` != '", "", "a" * 65, "ws a"):
        with pytest.raises(runstore.UserError, match="workspace id must be 1 to 64 letters"):
            store.list_runs(hostile)
    assert len(runstore.new_workspace_id()) == 16 and runstore.check_workspace_id(runstore.new_workspace_id())


def test_half_written_runs_list_as_incomplete_and_never_load(tmp_path: Path, run: TrainingRun) -> None:
    from mlflow import MlflowClient

    folder = tmp_path / "data"
    store = RunStore.local(folder)
    whole = save(store, run)
    lost_card = save(store, run)
    studio_file(folder, lost_card, runstore.CARD_FILE).unlink()  # as if killed before the card was written
    client = MlflowClient(store.tracking_uri)
    experiment = client.get_experiment_by_name(runstore.EXPERIMENT_NAME).experiment_id
    killed = client.create_run(experiment, tags={runstore.TAG_WORKSPACE: "ws-a"}).info.run_id  # killed after create_run

    states = {summary.run_id: (summary.state, summary.reason) for summary in store.list_runs("ws-a", verify_key=KEY)}
    assert states[whole] == ("ready", "")
    assert states[lost_card][0] == "incomplete" and "missing model_card.json" in states[lost_card][1]
    assert states[killed][0] == "incomplete" and "missing model.joblib" in states[killed][1]
    with pytest.raises(RunStoreError, match="cannot read run"):
        store.load_run(lost_card, KEY)
    with pytest.raises(RunStoreError, match="is incomplete"):
        store.load_run(killed, KEY)


def test_a_tampered_or_foreign_run_is_unverifiable_and_never_unpickled(tmp_path: Path, run: TrainingRun) -> None:
    folder = tmp_path / "data"
    store = RunStore.local(folder)
    tampered = save(store, run)
    joblib_file = studio_file(folder, tampered, runstore.ARTIFACT_FILE)
    # A signed-looking artifact that would run code: it must be refused before any unpickling.
    marker = tmp_path / "ran"
    joblib_file.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    foreign = store.log_run(run, **exported(run, OTHER_KEY), workspace="ws-a")

    states = {summary.run_id: summary for summary in store.list_runs("ws-a", verify_key=KEY)}
    assert states[tampered].state == "unverifiable" and "joblib file changed" in states[tampered].reason
    assert states[foreign].state == "unverifiable" and "another installation" in states[foreign].reason
    with pytest.raises(ArtifactError, match="joblib file changed"):
        store.load_run(tampered, KEY)
    with pytest.raises(ArtifactError, match="another installation"):
        store.load_run(foreign, KEY)
    assert not marker.exists()
    assert store.list_runs("ws-a")[0].state == "ready"  # without a key, the list does not read the files


def test_ten_runs_finishing_together_are_all_saved(tmp_path: Path, run: TrainingRun) -> None:
    store = RunStore.local(tmp_path / "data")
    exports = [exported(run, source=f"demo {n}") for n in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(lambda n: store.log_run(run, **exports[n], workspace=f"ws-{n % 2}"), range(10)))
    assert len(set(ids)) == 10
    summaries = store.list_runs(verify_key=KEY)
    assert {summary.run_id for summary in summaries} == set(ids)
    assert {summary.state for summary in summaries} == {"ready"}
    assert sorted(summary.source for summary in summaries) == sorted(f"demo {n}" for n in range(10))
    assert len(store.list_runs("ws-1")) == 5


def test_two_processes_saving_into_one_store_both_succeed(tmp_path: Path, run: TrainingRun) -> None:
    folder = tmp_path / "data"
    save(RunStore.local(folder), run)  # the store exists; the two writers race on its SQLite file
    processes = [subprocess.Popen([sys.executable, "-c", _save_script(folder, f"proc-{n}")], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    outputs = [process.communicate(timeout=180) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-1500:] for _, err in outputs]
    assert {summary.state for summary in RunStore.local(folder).list_runs(verify_key=KEY)} == {"ready"}
    assert len(RunStore.local(folder).list_runs()) == 3


def _save_script(folder: Path, workspace: str) -> str:
    """A process that trains the fixture's model and saves it into the store at `folder`, printing the outcome."""
    return (
        "import json\n"
        "from tests.test_runstore import PARAMS, exported, SPEC\n"
        "from tests.modelling.test_model import synthetic_training_set\n"
        "from prospect_core.modelling.model import train_model\n"
        "from prospect_core.runstore import NotSavedError, RunStore\n"
        "run = train_model(synthetic_training_set(), SPEC, PARAMS, split='by_user')\n"
        "try:\n"
        f"    print('saved', RunStore.local({str(folder)!r}).log_run(run, **exported(run), "
        f"workspace={workspace!r}))\n"
        "except NotSavedError as error:\n"
        "    print(error)\n"
    )


def test_a_read_only_store_is_not_saved_with_a_reason_and_retry_saves_once(tmp_path: Path, run: TrainingRun) -> None:
    folder = tmp_path / "data"
    store = RunStore.local(folder)
    first = save(store, run)
    script = _save_script(folder, "ws-a")
    if os.geteuid() == 0:  # root writes through file modes: make the folder read-only in a private mount namespace
        if not shutil.which("unshare"):
            pytest.skip("running as root without unshare: cannot make a folder read-only for root")
        command = ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && '
                   'exec "$1" -c "$2"', str(folder), sys.executable, script]
    else:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        command = [sys.executable, "-c", script]
    try:
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1].startswith("not saved: ")
    assert "read-only" in out.stdout, out.stdout
    assert [summary.run_id for summary in store.list_runs()] == [first]  # nothing half-written

    retried = save(store, run)  # the store is writable again: Retry saving
    assert [summary.state for summary in store.list_runs("ws-a", verify_key=KEY)] == ["ready", "ready"]
    assert retried != first


def test_a_store_folder_that_cannot_be_created_is_not_saved(tmp_path: Path, run: TrainingRun) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(NotSavedError, match=r"^not saved: cannot write the run store at .*file/data"):
        save(RunStore.local(blocker / "data"), run)


def test_a_server_that_is_down_fails_fast_with_a_reason(tmp_path: Path, run: TrainingRun, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    store = RunStore(f"http://127.0.0.1:{free_port()}")
    started = time.perf_counter()
    with pytest.raises(NotSavedError, match=r"^not saved: the MLflow server at http://127\.0\.0\.1:\d+ cannot be reached"):
        save(store, run)
    with pytest.raises(RunStoreError, match="cannot be reached"):
        store.list_runs("ws-a")
    assert time.perf_counter() - started < 30


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and served artifacts in tmp_path."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination",
         str(tmp_path / "server-artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, tmp_path / "server-artifacts"
    finally:
        os.killpg(process.pid, 15)  # its own session: the server and its gunicorn/uvicorn workers
        process.wait(timeout=30)
        log.close()


def test_runs_go_to_a_real_mlflow_server(mlflow_server, run: TrainingRun, monkeypatch) -> None:
    url, artifacts = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    store = runstore.resolve_store({"tracking_uri": "sqlite:///ignored.db"})  # the environment wins over secrets
    assert store == RunStore(url)
    run_id = save(store, run, "team")
    (summary,) = store.list_runs("team", verify_key=KEY)
    assert (summary.run_id, summary.state) == (run_id, "ready")
    loaded = store.load_run(run_id, KEY)
    assert loaded.evaluation.metrics() == run.evaluation.metrics()
    assert list(artifacts.rglob("model_card.json"))  # the server stored the files, not this process
    store.delete_run(run_id)
    assert store.list_runs("team") == []


def test_the_store_location_defaults_to_data_and_follows_configuration(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    default = runstore.resolve_store()
    assert default.tracking_uri == f"sqlite:///{ROOT / 'data' / 'mlruns.db'}"
    assert default.artifact_location == (ROOT / "data" / "mlartifacts").as_uri()
    assert runstore.resolve_store({"tracking_uri": "http://mlflow.team:5000"}) == RunStore("http://mlflow.team:5000")
    assert runstore.resolve_store(tracking_uri="sqlite:///x.db") == RunStore("sqlite:///x.db", (Path.cwd() / "mlartifacts").as_uri())
    with pytest.raises(runstore.UserError, match=r"must be an MLflow tracking URI .*got 'ftp://host/'"):
        runstore.resolve_store({"tracking_uri": "ftp://user:secret@host/"})
    assert RunStore("https://user:pw@mlflow.team").label == "https://mlflow.team"  # no credentials in messages


def test_cli_train_logs_the_run_unless_told_not_to(tmp_path: Path, monkeypatch, capsys) -> None:
    from prospect_core.cli import main

    monkeypatch.setenv("PROSPECT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    dataset = tmp_path / "set.parquet"
    synthetic_training_set().to_parquet(dataset)
    uri = f"sqlite:///{tmp_path / 'runs' / 'mlruns.db'}"
    common = ["train", "--dataset", str(dataset), "--as-of", SPEC.as_of.isoformat(), "--n-estimators", "10"]
    assert main([*common, "--out", str(tmp_path / "a.joblib"), "--tracking-uri", uri, "--workspace", "nightly"]) == 0
    assert "logged to sqlite:///" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse refuses both flags together
        main([*common, "--out", str(tmp_path / "b.joblib"), "--tracking-uri", uri, "--no-track"])
    assert main([*common, "--out", str(tmp_path / "b.joblib"), "--no-track"]) == 0
    assert "logged" not in capsys.readouterr().out

    from prospect_core.outputs.signing import signing_key

    store = runstore.resolve_store(tracking_uri=uri)
    (summary,) = store.list_runs("nightly", verify_key=signing_key())
    assert (summary.state, summary.source, summary.split) == ("ready", "dataset set.parquet", "random")
    loaded = store.load_run(summary.run_id, signing_key())
    assert loaded.card == json.loads((tmp_path / "a.joblib.card.json").read_text())
    assert list((tmp_path / "runs" / "mlartifacts").rglob("model.joblib"))  # beside the database, not ./mlruns


def test_logging_a_run_says_nothing_the_user_cannot_act_on(tmp_path: Path, run: TrainingRun, caplog) -> None:
    # mlflow.sklearn warns on every log that pickles can run code; the studio verifies the signed card
    # and loads through an allow-list unpickler, so that line is dropped. Other mlflow warnings stay.
    import logging

    import mlflow.sklearn  # noqa: F401  (its import configures its loggers, dropping other handlers)

    mlflow_logger = logging.getLogger("mlflow")  # mlflow's loggers do not propagate to the root
    mlflow_logger.addHandler(caplog.handler)
    try:
        save(RunStore.local(tmp_path), run)
        logging.getLogger("mlflow.sklearn").warning("some other warning")
    finally:
        mlflow_logger.removeHandler(caplog.handler)
    messages = [record.getMessage() for record in caplog.records]
    assert not [message for message in messages if "pickle" in message]
    assert "some other warning" in messages


def test_the_warm_up_imports_mlflow_at_the_lowest_priority_and_opens_the_store(tmp_path: Path) -> None:
    script = (
        "import os, threading, sys\n"
        "from prospect_core import runstore\n"
        "seen = []\n"
        "original = os.setpriority\n"
        "def spy(which, who, value):\n"
        "    seen.append((who == threading.get_native_id(), threading.current_thread().name, value))\n"
        "    original(which, who, value)\n"
        "os.setpriority = spy\n"
        f"store = runstore.RunStore.local({str(tmp_path)!r})\n"
        "runstore.warm_up(store).join(120)\n"
        "print(seen, 'mlflow.sklearn' in sys.modules, os.nice(0))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    seen, imported, main_nice = out.stdout.split(") ")[0] + ")]", *out.stdout.strip().rsplit(" ", 2)[1:]
    assert "(True, 'prospect-tracking-warm-up', 19)" in seen  # its own thread, not the process
    assert (imported, main_nice) == ("True", "0")
    assert (tmp_path / "mlruns.db").is_file()  # the store is created, so the first save skips it


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


# Evaluation files signed with the right key but not what the studio writes, and a card from before the
# card signed the evaluation file and source: each lists as unverifiable with its reason, never loads.
MALFORMED_EVALUATIONS = [
    ("older version", None, ("evaluation", "source"), "saved by an older version of the studio"),
    ("not parquet", lambda frame: b"not parquet", (), "cannot be read as Parquet"),
    ("no y_true", lambda frame: _frame_bytes(frame.drop(columns=["y_true"])), (), "has the columns 'event_id, "),
    ("labels of 2", lambda frame: _frame_bytes(frame.assign(y_true=frame["y_true"] * 2)), (), "out of range or of the wrong type"),
    ("scores as text", lambda frame: _frame_bytes(frame.assign(y_score=frame["y_score"].astype(str))), (),
     "out of range or of the wrong type"),
    ("a row short", lambda frame: _frame_bytes(frame.iloc[:-1]), (), "rows, but its card records"),
]


@pytest.mark.parametrize("change, dropped, reason", [case[1:] for case in MALFORMED_EVALUATIONS],
                         ids=[case[0] for case in MALFORMED_EVALUATIONS])
def test_a_signed_but_malformed_evaluation_file_or_an_old_card_is_unverifiable(tmp_path: Path, run: TrainingRun,
                                                                               change, dropped, reason) -> None:
    folder = tmp_path / "data"
    store = RunStore.local(folder)
    run_id = save(store, run)
    evaluation, card_file = (studio_file(folder, run_id, name) for name in (runstore.EVALUATION_FILE, runstore.CARD_FILE))
    card = json.loads(card_file.read_text())
    if change is not None:
        evaluation.write_bytes(change(pd.read_parquet(evaluation)))
        card["evaluation"]["sha256"] = hashlib.sha256(evaluation.read_bytes()).hexdigest()
    card = {name: value for name, value in card.items() if name not in dropped}
    card_file.write_text(json.dumps(sign_card(card, studio_file(folder, run_id, runstore.ARTIFACT_FILE).read_bytes(), KEY)))

    (summary,) = store.list_runs("ws-a", verify_key=KEY)
    assert summary.state == "unverifiable" and reason in summary.reason, summary.reason
    with pytest.raises(ArtifactError, match=re.escape(reason)):
        store.load_run(run_id, KEY)
