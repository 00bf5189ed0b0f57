"""Who is using the studio: the one module that reads `st.user` and the `[auth]` section of secrets.

- Without `[auth]` in secrets the studio is single-user: .streamlit/config.toml binds it to
  127.0.0.1, and its one user lists, opens and deletes every run, as before.
- With `[auth]` (Streamlit's `st.login`, OpenID Connect) nothing but the sign-in screen is drawn until
  the user signs in. Workspaces and runs then belong to that user, known by the issuer and subject of
  the ID token Streamlit verified (`artifact.Owner`; the email is only shown). The emails listed in
  `admins` (top level in secrets) see every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from prospect_core.infra.errors import UserError
from prospect_core.studio.config import secrets
from prospect_core.outputs.artifact import Owner

AUTH_SECTION = "auth"  # Streamlit's own section: redirect_uri, cookie_secret and the provider
ADMINS_SECRET = "admins"


@dataclass(frozen=True)
class Identity:
    """The studio's user: a signed-in `owner`, or nobody in particular in single-user mode."""

    owner: Owner | None  # None: single-user mode
    admin: bool = False

    @property
    def sees_all(self) -> bool:
        return self.owner is None or self.admin

    @property
    def owner_filter(self) -> str | None:
        """The owner id whose runs this user may list, open and delete; None: every run."""
        return None if self.sees_all else self.owner.id

    def owns(self, owner: Owner | None) -> bool:
        """Whether a run recorded with `owner` (from its signed card) is this user's to open or delete."""
        return self.sees_all or (owner is not None and owner.id == self.owner.id)


SINGLE_USER = Identity(None)


class NotSignedIn(UserError):
    """Auth is on and this session has no signed-in user (app.py draws only the sign-in screen then)."""

    def __init__(self) -> None:
        super().__init__("sign in to use the studio")


def auth_configured() -> bool:
    return bool(secrets().get(AUTH_SECTION))


def signed_in() -> bool:
    """False only when auth is on and nobody with a usable identity is signed in in this session."""
    return not auth_configured() or _claims() is not None


def current_identity() -> Identity:
    """Who is using this session; NotSignedIn when auth is on and nobody is signed in."""
    if not auth_configured():
        return SINGLE_USER
    claims = _claims()
    if claims is None:
        raise NotSignedIn
    issuer, subject, email = claims
    return Identity(Owner.of(issuer, subject, email), admin=_is_admin(email))


def _claims() -> tuple[str, str, str | None] | None:
    """The signed-in user's issuer, subject and email, from the ID token Streamlit verified at sign-in."""
    user: Mapping[str, Any] = st.user
    issuer, subject, email = user.get("iss"), user.get("sub"), user.get("email")
    if user.get("is_logged_in") is not True or not isinstance(issuer, str) or not isinstance(subject, str) \
            or not issuer or not subject:
        return None
    # A provider may hand out an address it has not verified; such an address names nobody here.
    verified = isinstance(email, str) and user.get("email_verified") is not False
    return issuer, subject, email if verified else None


def _is_admin(email: str | None) -> bool:
    admins = secrets().get(ADMINS_SECRET) or []
    if email is None or not isinstance(admins, (list, tuple)):
        return False
    return email.strip().casefold() in {str(admin).strip().casefold() for admin in admins}


def sign_in_page() -> StreamlitPage:
    """The one page a signed-out visitor gets when auth is on."""
    return st.Page(_sign_in_screen, title="Sign in", icon=":material/login:", url_path="sign-in")


def _sign_in_screen() -> None:
    st.title("Prospect Scoring Studio")
    if st.user.get("is_logged_in") is True:  # signed in, but the token named no issuer or subject
        st.error("Your sign-in did not say who you are: the identity provider's ID token has no issuer (iss) "
                 "or subject (sub). Sign out and sign in again, or ask the operator to check the provider.",
                 icon=":material/error:")
        st.button("Sign out", on_click=st.logout, icon=":material/logout:")
        return
    st.write("Sign in to use the studio. Your workspaces and runs are yours: other users cannot list, open, "
             "rebuild or delete them.")
    st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login)


def account_panel() -> None:
    """The sidebar's who-is-signed-in line (as text) and Sign out; nothing in single-user mode."""
    identity = current_identity()
    if identity.owner is None:
        return
    with st.sidebar:
        st.caption("SIGNED IN AS" + (" · ADMIN, SEES EVERY RUN" if identity.admin else ""))
        st.text(identity.owner.email or "(the identity provider gave no verified email)")
        st.button("Sign out", key="sign_out", on_click=st.logout, icon=":material/logout:")
