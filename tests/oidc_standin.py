"""A stand-in OpenID Connect provider: a local HTTP server that Streamlit's `st.login` signs in against,
unmodified, over the real authorization-code flow.

Streamlit (through Authlib) reads `/.well-known/openid-configuration`, sends the browser to
`/authorize` (with state, nonce and a PKCE S256 challenge), and exchanges the code at `/token`
(client id and secret in HTTP Basic, the PKCE verifier) for an ID token it verifies with `/jwks`.
This server answers each of those: `/authorize` signs in at once, as the user named by the
`oidc_standin_user` cookie of the browser (a test sets it per browser context, so two contexts are
two people), and `/token` returns an RS256 ID token signed with a key made at start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

USER_COOKIE = "oidc_standin_user"


@dataclass(frozen=True)
class User:
    subject: str
    email: str
    email_verified: bool = True


class OidcStandIn:
    def __init__(self, *, client_id: str, client_secret: str, redirect_uri: str, users: dict[str, User]) -> None:
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.users = users
        self.key = RSAKey.generate_key(2048, parameters={"kid": "standin-1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens_issued: list[str] = []  # the user name of every ID token handed out
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def __enter__(self) -> OidcStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def authorize(self, query: dict[str, str], cookies: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("client_id") != self.client_id or query.get("redirect_uri") != self.redirect_uri:
            return 400, {}, b"unknown client or redirect_uri"
        name = cookies.get(USER_COOKIE)
        if name not in self.users:
            return 400, {}, b"no user chosen: set the oidc_standin_user cookie"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"user": name, "nonce": query.get("nonce"), "challenge": query.get("code_challenge")}
        location = f"{self.redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}, b""

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if grant["challenge"] and challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        user = self.users[grant["user"]]
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user.subject, "aud": self.client_id, "iat": now, "exp": now + 600,
                  "email": user.email, "email_verified": user.email_verified, "name": grant["user"]}
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        self.tokens_issued.append(grant["user"])
        id_token = jwt.encode({"alg": "RS256", "kid": "standin-1"}, claims, self.key)
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 600,
                     "id_token": id_token}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: pytest shows failures, not every request
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, json.dumps(provider.metadata()).encode())
                elif url.path == "/jwks":
                    self._send(200, json.dumps({"keys": [provider.key.as_dict(private=False)]}).encode())
                elif url.path == "/authorize":
                    query = {name: values[-1] for name, values in parse_qs(url.query).items()}
                    cookie = SimpleCookie(self.headers.get("Cookie", ""))
                    status, headers, body = provider.authorize(query, {name: morsel.value for name, morsel in cookie.items()})
                    self._send(status, body, headers, content_type="text/plain")
                else:
                    self._send(404, b"{}")

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/token":
                    self._send(404, b"{}")
                    return
                length = int(self.headers.get("Content-Length", "0"))
                form = {name: values[-1] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = provider.token(form, self.headers.get("Authorization", ""))
                self._send(status, json.dumps(body).encode())

        return Handler
