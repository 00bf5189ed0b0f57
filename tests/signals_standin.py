"""A stand-in for Snowplow Signals: a local HTTP server with the route the real SDK calls to read attributes.

`snowplow_signals.SignalsSandbox(api_url=..., sandbox_token=...).get_service_attributes(...)` sends
`POST {api_url}/api/v1/get-online-attributes` with `Authorization: Bearer <token>` and a body
`{"service": name, "attribute_keys": {"domain_userid": [id]}}`, and reads back `{attribute: [value]}`.
This server answers that route from a dict of prospects, so the SDK runs unmodified against it.

With an API key (`Signals(api_url, api_key, api_key_id, org_id)`) the SDK first fetches a JWT from
`https://console.snowplowanalytics.com/api/msc/v1/organizations/{org}/credentials/v3/token`, a URL
it hard-codes. The server answers that too, as an HTTPS proxy: point `HTTPS_PROXY` at it and
`SSL_CERT_FILE` at `tls_certificate(...)`'s file, and httpx (inside the SDK) sends the token request
through a CONNECT tunnel that this server terminates with a certificate for that host.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ATTRIBUTES_ROUTE = "/api/v1/get-online-attributes"
CONSOLE_HOST = "console.snowplowanalytics.com"
TOKEN_ROUTE = re.compile(r"^/api/msc/v1/organizations/(?P<org>[^/]+)/credentials/v3/token$")


def tls_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key for the console host: `(certificate, key)`."""
    certificate, key = folder / "console.pem", folder / "console.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={CONSOLE_HOST}",
         "-addext", f"subjectAltName=DNS:{CONSOLE_HOST}", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )
    return certificate, key


class SignalsStandIn:
    def __init__(
        self, *, token: str, service: str, attributes: list[str], prospects: dict[str, dict[str, Any]],
        api_key: tuple[str, str, str] | None = None, tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.token = token
        self.api_key = api_key  # (org id, key id, key) the token route accepts
        self._tls = None
        if tls is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(*tls)
        self.issued_tokens: list[str] = []
        self.service = service
        self.attributes = attributes  # what the service computes: unknown prospects get None for each
        self.prospects = prospects
        self.delay_seconds = 0.0  # set to make Signals slow
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> SignalsStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue_token(self, path: str, headers: Any) -> tuple[int, Any]:
        """The console's token route: an API key and its id in, a JWT valid for an hour out."""
        import jwt

        match = TOKEN_ROUTE.match(path)
        if match is None or self.api_key is None:
            return 404, {"detail": "Not Found"}
        if (match["org"], headers.get("X-API-Key-Id"), headers.get("X-API-Key")) != self.api_key:
            return 401, {"detail": "Invalid API key"}
        token = jwt.encode({"exp": int(time.time()) + 3600, "org": match["org"]}, "stand-in", algorithm="HS256")
        self.issued_tokens.append(token)
        return 200, {"accessToken": token}

    def answer(self, path: str, headers: Any, body: dict[str, Any]) -> tuple[int, Any]:
        if path != ATTRIBUTES_ROUTE:
            return 404, {"detail": "Not Found"}
        if headers.get("Authorization") not in {f"Bearer {token}" for token in [self.token, *self.issued_tokens]}:
            return 401, {"detail": "Invalid token"}
        if body.get("service") != self.service:
            return 404, {"detail": f"Service {body.get('service')!r} not found"}
        (key, identifiers), = body["attribute_keys"].items()
        values = self.prospects.get(identifiers[0], {})
        data = {name: [values.get(name)] for name in self.attributes}
        data.update({name: [value] for name, value in values.items()})  # extra attributes too
        data[key] = identifiers
        return 200, data

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_CONNECT(self) -> None:  # noqa: N802: a tunnel to the console host, terminated here
                if standin._tls is None or self.path != f"{CONSOLE_HOST}:443":
                    self.send_error(403)
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                tunnel = standin._tls.wrap_socket(self.connection, server_side=True)
                Handler(tunnel, self.client_address, self.server)  # serves the requests inside the tunnel
                self.close_connection = True

            def do_GET(self) -> None:  # noqa: N802
                standin.requests.append({"path": self.path, "body": None, "headers": dict(self.headers)})
                self._reply(*standin.issue_token(self.path, self.headers))

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                standin.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                if standin.delay_seconds:
                    time.sleep(standin.delay_seconds)
                self._reply(*standin.answer(self.path, self.headers, body))

            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
