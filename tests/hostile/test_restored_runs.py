"""Issue 21, findings 1, 2 (its "nothing restored is trusted" part) and 6, through the real app: a run
restored from a real SQLite MLflow store brings back only what its signed card covers.

The attacker can write to the store (the unauthenticated `mlflow server` the README once suggested)
but does not hold the signing key. They set a run's `prospect.source` tag to a file on the server, or
swap its evaluation.parquet; or they open another user's run, whose source is that user's upload or a
DuckDB file the CLI read outside the app's data folders. Clicking "Rebuild training set" must read
nothing this session could not have chosen itself, and never show a file's content.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from prospect_core.cli import main as cli_main
from prospect_core.runstore import TAG_SOURCE, resolve_store

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 180
CANARY = "canary-5e0c1f-must-never-be-shown"
REBUILD = "Rebuild training set"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_demo_db: Path) -> dict[str, Path]:
    """A studio with its own store, key, data folder and demo, and canary files outside the data folder."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(tiny_demo_db))
    monkeypatch.setenv("PROSPECT_DATA_DIRS", str(data))
    monkeypatch.setenv("PROSPECT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlruns.db'}")
    (tmp_path / "clone" / ".streamlit").mkdir(parents=True)  # laid out like the repository's own secrets
    secrets = tmp_path / "clone" / ".streamlit" / "secrets.toml"
    secrets.write_text(f'artifact_signing_key = "{CANARY}"\n')
    canary = tmp_path / "outside" / "notes.csv"
    canary.parent.mkdir()
    canary.write_text(f"{CANARY}\n{CANARY},1\n")
    return {"data": data, "secrets": secrets, "canary": canary, "store": tmp_path / "store"}


def session(workspace: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if workspace is not None:
        at.query_params["workspace"] = workspace
    at.run()
    assert not at.exception, messages(at)
    return at


def messages(at: AppTest) -> list[str]:
    return [element.value for element in [*at.error, *at.warning, *at.exception]]


def rendered(at: AppTest) -> str:
    """Every element and block on the page, main and sidebar, as its protobuf text: what a browser gets."""
    parts = []

    def walk(node) -> None:
        if getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(parts)


def trained(at: AppTest) -> tuple[str, str]:
    """Build the current source's set and train on it; the workspace and the saved run's id."""
    at.button(key="build").click().run()
    at.switch_page("screens/train.py").run()
    at.number_input(key="n_estimators").set_value(5)  # a model is all the store needs; trees take time
    at.button[0].click().run()  # the form's "Train model"
    assert not at.exception and not at.error, messages(at)
    record = at.session_state["runs"][-1]
    assert record.save.run_id, record.save.not_saved
    return at.session_state["workspace"], record.save.run_id


def studio_file(store: Path, run_id: str, name: str) -> Path:
    (path,) = store.glob(f"mlartifacts/{run_id}/artifacts/studio/{name}")
    return path


def explain(workspace: str) -> AppTest:
    """A new session opened with the workspace's link, on Explain, where a restored run offers a rebuild."""
    at = session(workspace)
    at.switch_page("screens/explain.py").run()
    assert not at.exception, messages(at)
    return at


def rebuild(at: AppTest) -> str:
    """Click Rebuild and follow the build job to its end; everything the page drew on the way."""
    next(button for button in at.button if button.label == REBUILD).click().run()
    seen = [rendered(at)]
    for _ in range(6):  # the build job's follow-up reruns, then the page drawn from the set
        if at.error or at.exception:
            break
        at.run()
        seen.append(rendered(at))
    return "\n".join(seen)


def test_a_tampered_source_tag_is_never_read_the_rebuild_uses_the_signed_cards_source(server):
    workspace, run_id = trained(session())
    for kind in ("events", "duckdb"):
        for target in (server["secrets"], server["canary"]):
            MlflowClient().set_tag(run_id, TAG_SOURCE, f"{kind}:{target}")  # anyone who can reach the store

            at = explain(workspace)
            page = rebuild(at)
            assert CANARY not in page and str(target) not in page, (kind, target)
            assert not at.exception and not at.error, messages(at)
            record = at.session_state["runs"][-1]
            assert record.source == "demo" and at.session_state["built"].source == "demo"  # the card's, not the tag's
            assert record.run.X_test is not None and len(record.run.X_test) == record.run.n_test
            assert len(at.get("plotly_chart")) == 4  # bar, beeswarm, waterfall, dependence: rebuilt from the demo


def test_a_cli_run_from_outside_the_data_folders_cannot_be_rebuilt_in_the_app(server, tmp_path, tiny_demo_db):
    outside = tmp_path / "outside" / "warehouse.duckdb"
    shutil.copy(tiny_demo_db, outside)
    assert cli_main(["train", "--source", f"duckdb:{outside}", "--out", str(tmp_path / "model.joblib"),
                     "--n-estimators", "5", "--workspace", "nightly"]) == 0
    (summary,) = resolve_store().list_runs("nightly")

    at = explain("nightly")
    assert [record.save.run_id for record in at.session_state["runs"]] == [summary.run_id]
    assert not any(button.label == REBUILD for button in at.button)
    (refusal,) = [error.value for error in at.error]
    assert refusal.startswith("Run 1's training set cannot be rebuilt here from its source, DuckDB file · "
                              "warehouse.duckdb. No DuckDB file at that path in this server's data folders"), refusal
    assert "\n" not in refusal and str(outside.parent) not in rendered(at)
    assert at.session_state["built"] is None and not at.exception


def test_another_sessions_upload_cannot_be_rebuilt_from_a_second_session(server, tiny_demo_db):
    victim = session()
    victim.radio(key="source_kind").set_value("events").run()
    victim.file_uploader(key="events_upload").set_value(("crm.duckdb", tiny_demo_db.read_bytes(), "")).run()
    uploaded = Path(victim.session_state["events_path"])
    assert victim.session_state["source"] == f"duckdb:{uploaded}", messages(victim)
    workspace, _ = trained(victim)

    attacker = explain(workspace)  # the victim's link, or "All runs in the store"
    assert attacker.session_state["runs"][-1].source == f"duckdb:{uploaded}"
    assert not any(button.label == REBUILD for button in attacker.button)
    (refusal,) = [error.value for error in attacker.error]
    assert refusal == ("Run 1's training set cannot be rebuilt here from its source, DuckDB file · crm.duckdb. "
                       "crm.duckdb was uploaded in another session, and a session reads only its own uploads: "
                       "upload it again."), refusal
    assert str(uploaded.parent) not in rendered(attacker)
    assert attacker.session_state["built"] is None and not attacker.exception
    assert uploaded.is_file()  # the victim's upload is still there: only the check refused it


def forge(store: Path, run_id: str, change) -> None:
    path = studio_file(store, run_id, "evaluation.parquet")
    buffer = io.BytesIO()
    change(pd.read_parquet(path)).to_parquet(buffer, index=False)
    path.write_bytes(buffer.getvalue())


def test_a_forged_evaluation_file_is_refused_and_the_run_lists_as_unverifiable(server):
    first = session()
    workspace, perfect = trained(first)
    next(button for button in first.button if button.label == "Train model").click().run()  # a second run
    unlabelled = first.session_state["runs"][-1].save.run_id
    assert unlabelled and unlabelled != perfect
    # Scores equal to the labels: ROC AUC 1.000 for a run whose stored metric is far lower.
    forge(server["store"], perfect, lambda frame: frame.assign(y_score=frame["y_true"].astype("float64")))
    forge(server["store"], unlabelled, lambda frame: frame.drop(columns=["y_true"]))

    for page in ("screens/evaluate.py", "screens/explain.py"):
        at = session(workspace)
        at.switch_page(page).run()
        assert not at.exception, messages(at)
        assert at.session_state["runs"] == []  # neither restored
        warnings = [w.value for w in at.warning if "is unverifiable and is not loaded" in w.value]
        assert len(warnings) == 2 and all("evaluation.parquet changed after this studio signed its card" in w
                                          for w in warnings), warnings
        assert not [metric for metric in at.metric if metric.label == "ROC AUC"]

    at.toggle(key="all_runs_Model").set_value(True).run()
    assert not at.exception, messages(at)
    assert sum("UNVERIFIABLE" in option for option in at.selectbox(key="pick_all_Model").options) == 2
    assert at.session_state["runs"] == []
