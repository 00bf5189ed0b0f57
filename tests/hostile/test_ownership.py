"""Issue 21, finding 2: runs have owners. On a real SQLite run store, and through the app (AppTest) with
`[auth]` in its secrets and `st.user` set as Streamlit sets it after a sign-in.

The owner is recorded in the signed model card and, for search, in a tag that anyone who can write to
the store can edit: a tampered tag must never hand a run to someone else. The real sign-in, through a
local OpenID Connect provider in a browser, is tests/hostile/test_browser_auth.py.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from prospect_core import runstore
from prospect_core.outputs.export import export_run
from prospect_core.modelling.model import TrainingRun
from prospect_core.outputs.artifact import Owner
from prospect_core.runstore import RunStore, RunStoreError, resolve_store
from tests.studio.test_app import build, messages, small_demo_db  # noqa: F401 — small_demo_db: fixture
from tests.studio.test_app_runstore import session, store_uri, train  # noqa: F401 — store_uri: fixture
from tests.test_runstore import KEY, run  # noqa: F401 — run: fixture

ISSUER = "https://id.example.com"
ALICE = Owner.of(ISSUER, "alice-sub", "alice@example.com")
BOB = Owner.of(ISSUER, "bob-sub", "bob@example.com")
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "c" * 32, "client_id": "studio",
        "client_secret": "s", "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
SECRETS = {"auth": AUTH, "admins": ["Carol@Example.com "]}


def claims(subject: str, email: str) -> dict:
    """`st.user` after a sign-in: the verified ID token's claims."""
    return {"is_logged_in": True, "iss": ISSUER, "sub": subject, "email": email, "email_verified": True}


def save(store: RunStore, run: TrainingRun, owner: Owner | None, workspace: str = "ws-a", *, key: bytes = KEY) -> str:
    """`run` saved by the export and store path the app uses, its card naming `owner`."""
    export = export_run(run, key, source="demo", run_owner=owner)
    return store.log_run(run, artifact=export.artifact, card_json=export.card_json, card_markdown=export.card_markdown,
                         evaluation=export.evaluation, workspace=workspace)


def test_an_owner_is_the_tokens_issuer_and_subject_not_the_email() -> None:
    assert Owner.of(ISSUER, "alice-sub", "new@example.com").id == ALICE.id
    assert Owner.of("https://other.example.com", "alice-sub", "alice@example.com").id != ALICE.id
    assert len(ALICE.id) == 64


def test_the_signed_card_decides_who_lists_and_deletes_a_run_whatever_its_tag_says(tmp_path, run) -> None:
    store = RunStore.local(tmp_path / "data")
    run_id = save(store, run, ALICE)
    client = MlflowClient(store.tracking_uri)
    assert client.get_run(run_id).data.tags[runstore.TAG_OWNER] == ALICE.id
    assert store.load_run(run_id, KEY).card["owner"] == {"id": ALICE.id, "email": "alice@example.com"}
    assert [s.run_id for s in store.list_runs(owner=ALICE.id, verify_key=KEY)] == [run_id]
    assert store.list_runs(owner=BOB.id, verify_key=KEY) == []

    client.set_tag(run_id, runstore.TAG_OWNER, BOB.id)  # someone with write access to the store edits the tag
    assert store.list_runs(owner=BOB.id, verify_key=KEY) == []
    (listed,) = store.list_runs(None, verify_key=KEY)
    assert listed.owner == ALICE

    with pytest.raises(RunStoreError, match="belongs to another user; it was not deleted"):
        store.delete_run(run_id, owner=BOB.id, verify_key=KEY)
    assert [s.run_id for s in store.list_runs(None)] == [run_id]
    store.delete_run(run_id, owner=ALICE.id, verify_key=KEY)
    assert store.list_runs(None) == []


def test_signed_in_users_see_open_and_delete_only_their_own_runs_and_an_admin_sees_all(store_uri) -> None:  # noqa: F811
    alice = train(build(session(secrets=SECRETS, user=claims("alice-sub", "alice@example.com"))))
    workspace = alice.session_state["workspace"]
    record = alice.session_state["runs"][-1]
    run_id = record.save.run_id
    assert record.export.card["owner"]["id"] == ALICE.id  # the card the run store holds
    assert "alice@example.com" in [text.value for text in alice.sidebar.text]
    assert any(button.label == "Sign out" for button in alice.sidebar.button)

    # Bob opens Alice's link: nothing of hers, one line, a workspace of his own.
    bob = session(workspace, secrets=SECRETS, user=claims("bob-sub", "bob@example.com"))
    assert "This workspace belongs to another user; started a new one." in [w.value for w in bob.warning], messages(bob)
    assert bob.session_state["workspace"] != workspace and bob.session_state["runs"] == []
    assert bob.query_params["workspace"] in (bob.session_state["workspace"], [bob.session_state["workspace"]])
    bob.switch_page("screens/explain.py").run()
    assert not any(b.label in ("Rebuild training set", "Delete this run") for b in bob.button), messages(bob)
    bob.switch_page("screens/evaluate.py").run()
    assert bob.toggle(key="all_runs_Model").label == "All my runs"
    bob.toggle(key="all_runs_Model").set_value(True).run()
    assert not bob.exception and bob.session_state["runs"] == [], messages(bob)
    assert not bob.get("selectbox") and "You have no saved run yet." in [i.value for i in bob.info]

    # A tag pointing at Bob does not make the run his: the signed card names Alice.
    MlflowClient(store_uri).set_tag(run_id, runstore.TAG_OWNER, BOB.id)
    tampered = session(workspace, secrets=SECRETS, user=claims("bob-sub", "bob@example.com"))
    assert tampered.session_state["runs"] == [] and tampered.session_state["workspace"] != workspace

    carol = session(secrets=SECRETS, user=claims("carol-sub", "carol@example.com"))  # listed in admins
    carol.switch_page("screens/evaluate.py").run()
    assert carol.toggle(key="all_runs_Model").label == "All runs in the store"
    carol.toggle(key="all_runs_Model").set_value(True).run()
    assert not carol.exception, messages(carol)
    picker = carol.selectbox(key="pick_all_Model")
    assert picker.value == run_id and "alice@example.com" in picker.format_func(run_id)
    assert [s.run_id for s in resolve_store().list_runs(None)] == [run_id]  # nobody deleted it


def test_signed_out_visitors_get_the_sign_in_screen_and_nothing_else(store_uri) -> None:  # noqa: F811
    train(build(session()))  # a run in the store, saved in single-user mode (no owner)
    at = session(secrets=SECRETS, user={"is_logged_in": False})
    assert not at.exception, messages(at)
    assert [b.label for b in at.button] == ["Sign in"]
    assert "workspace" not in at.session_state and "runs" not in at.session_state
    assert not at.sidebar.button and "workspace" not in at.query_params

    # Unverified addresses name nobody: not an admin, however the address reads.
    unverified = session(secrets=SECRETS, user={**claims("mallory", "carol@example.com"), "email_verified": False})
    unverified.switch_page("screens/evaluate.py").run()
    assert unverified.toggle(key="all_runs_Model").label == "All my runs"
