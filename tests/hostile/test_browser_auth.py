"""Issue 21, finding 2 in a real browser (Chromium via Playwright, against `streamlit run`), in browser
contexts of their own, which are separate people.

Auth on: Streamlit's own `st.login` signs each context in against tests/oidc_standin.py, a local
OpenID Connect provider, over the real code flow (PKCE, an RS256 ID token checked against its JWKS).
Alice trains a run; Bob cannot list it, open it by its link, rebuild or delete it; Carol, an admin,
lists it. Auth off: the server listens on 127.0.0.1 only, as .streamlit/config.toml says, and its one
user still lists and deletes every run.
"""

from __future__ import annotations

import re
import secrets as token_source
import tempfile
from pathlib import Path

import pytest

from prospect_core.events.demo_data import write_demo_db
from prospect_core.outputs.signing import signing_key
from prospect_core.outputs.artifact import Owner
from prospect_core.runstore import resolve_store
from tests.hostile.test_ownership import save
from tests.oidc_standin import USER_COOKIE, OidcStandIn, User
from tests.studio.test_browser import browser, new_session, open_page  # noqa: F401 — browser: fixture
from tests.studio.test_browser_runstore import Server
from tests.test_runstore import run  # noqa: F401 — run: fixture

USERS = {"alice": User("alice-sub", "alice@example.com"), "bob": User("bob-sub", "bob@example.com"),
         "carol": User("carol-sub", "carol@example.com")}


@pytest.fixture
def folder():
    # Not pytest's tmp_path: other pytest sessions on this machine prune old basetemps under a live server.
    with tempfile.TemporaryDirectory(prefix="auth-browser-") as name:
        yield Path(name)


def start(folder: Path, **options) -> Server:
    db = folder / "demo.duckdb"
    write_demo_db(db, n_users=600, seed=3)
    server = Server(folder, db, f"sqlite:///{folder / 'store' / 'mlruns.db'}", **options)
    server.start()
    return server


def sign_in(browser, server: Server, provider: OidcStandIn, name: str):  # noqa: F811
    """A browser context of its own, signed in as `name` through the provider's sign-in."""
    page = new_session(browser, server.url)
    page.context.add_cookies([{"name": USER_COOKIE, "value": name, "url": provider.issuer}])  # who signs in there
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Data & target").wait_for()
    page.locator('[data-testid="stSidebar"]').get_by_text(USERS[name].email, exact=True).wait_for()
    return page


def test_with_auth_on_only_the_owner_and_an_admin_reach_a_run(browser, folder):  # noqa: F811
    with OidcStandIn(client_id="studio", client_secret=token_source.token_urlsafe(16), redirect_uri="",
                     users=USERS) as provider:
        secrets = folder / "secrets.toml"
        secrets.write_text(
            'admins = ["carol@example.com"]\n\n[auth]\n'
            'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{token_source.token_urlsafe(32)}"\nclient_id = "studio"\n'
            f'client_secret = "{provider.client_secret}"\nserver_metadata_url = "{provider.metadata_url}"\n'
        )
        server = start(folder, secrets=secrets)
        provider.redirect_uri = f"{server.url}/oauth2callback"
        try:
            signed_out = new_session(browser, server.url)
            signed_out.get_by_role("button", name="Sign in").wait_for()
            assert signed_out.get_by_role("link", name="Train").count() == 0 and "workspace=" not in signed_out.url

            alice = sign_in(browser, server, provider, "alice")
            alice.wait_for_url(re.compile(r"workspace="))
            workspace = re.search(r"workspace=([A-Za-z0-9_-]+)", alice.url).group(1)
            alice.get_by_role("button", name="Build training set").click()
            alice.get_by_text("Positive rate", exact=True).wait_for()
            open_page(alice, "Train")
            alice.get_by_role("button", name="Train model").click()
            alice.get_by_text(re.compile(r"Run 1 · .*saved in the run store as MLflow run")).wait_for()

            bob = sign_in(browser, server, provider, "bob")
            for link in (f"{server.url}/?workspace={workspace}", f"{server.url}/explain?workspace={workspace}"):
                bob.goto(link)
                bob.get_by_text("This workspace belongs to another user; started a new one.").wait_for()
                assert workspace not in bob.url
                assert bob.get_by_text("MODELS THIS SESSION").count() == 0
                assert bob.get_by_role("button", name="Rebuild training set").count() == 0
            open_page(bob, "Evaluate")
            bob.get_by_text("All my runs", exact=True).click()
            bob.get_by_text("You have no saved run yet.").wait_for()
            assert bob.get_by_text(workspace).count() == 0 and bob.get_by_text("Delete run").count() == 0

            carol = sign_in(browser, server, provider, "carol")
            open_page(carol, "Evaluate")
            carol.get_by_text("All runs in the store", exact=True).click()
            carol.get_by_text(f"(workspace {workspace})").wait_for()  # her run, opened for the admin
            carol.locator('[data-testid="stSelectbox"]', has_text="all workspaces").click()
            carol.get_by_role("option", name=re.compile(rf"workspace {workspace} · alice@example\.com")).wait_for()

            alice.get_by_role("button", name="Sign out").click()
            alice.get_by_role("button", name="Sign in").wait_for()
            for page in (signed_out, alice, bob, carol):
                page.context.close()
        finally:
            server.stop()
        assert provider.tokens_issued == ["alice", "bob", "carol"]
    assert not server.tracebacks(), server.tracebacks()
    (stored,) = resolve_store(tracking_uri=server.env["MLFLOW_TRACKING_URI"]).list_runs(None, verify_key=signing_key())
    assert stored.workspace == workspace  # still there: nobody but Alice could delete it
    assert stored.owner == Owner.of(provider.issuer, "alice-sub", "alice@example.com")  # as her signed card says

def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port`, from the kernel's own table."""
    found = set()
    for table, loopback in (("/proc/net/tcp", "0100007F"), ("/proc/net/tcp6", "00000000000000000000000001000000")):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add("loopback" if address == loopback else address)
    return found


def test_without_auth_the_server_listens_on_loopback_and_its_one_user_reaches_every_run(browser, folder, run):  # noqa: F811
    server = start(folder, address=None)  # the address comes from .streamlit/config.toml
    try:
        assert listening_addresses(server.port) == {"loopback"}
        save(resolve_store(tracking_uri=server.env["MLFLOW_TRACKING_URI"]), run, None, "elsewhere", key=signing_key())
        page = new_session(browser, server.url)
        page.get_by_role("heading", name="Data & target").wait_for()
        assert page.get_by_role("button", name="Sign in").count() == 0
        open_page(page, "Evaluate")
        page.get_by_text("All runs in the store", exact=True).click()
        page.get_by_text("(workspace elsewhere)").wait_for()  # the other workspace's run, opened
        page.get_by_role("button", name="Delete run").click()
        page.get_by_role("button", name="Delete this run").click()
        page.get_by_text("The run store holds no run yet.").wait_for()
        page.context.close()
    finally:
        server.stop()
    assert not server.tracebacks(), server.tracebacks()
    assert resolve_store(tracking_uri=server.env["MLFLOW_TRACKING_URI"]).list_runs(None) == []
