"""A stand-in for Snowplow Signals: a local HTTP server with the route the real SDK calls to read attributes.

`snowplow_signals.SignalsSandbox(api_url=..., sandbox_token=...).get_service_attributes(...)` sends
`POST {api_url}/api/v1/get-online-attributes` with `Authorization: Bearer <token>` and a body
`{"service": name, "attribute_keys": {"domain_userid": [id]}}`, and reads back `{attribute: [value]}`.
This server answers that route from a dict of prospects, so the SDK runs unmodified against it. (With
an API key the SDK first fetches a token from console.snowplowanalytics.com, a host it hard-codes.)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ATTRIBUTES_ROUTE = "/api/v1/get-online-attributes"


class SignalsStandIn:
    def __init__(self, *, token: str, service: str, attributes: list[str], prospects: dict[str, dict[str, Any]]) -> None:
        self.token = token
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

    def answer(self, path: str, headers: Any, body: dict[str, Any]) -> tuple[int, Any]:
        if path != ATTRIBUTES_ROUTE:
            return 404, {"detail": "Not Found"}
        if headers.get("Authorization") != f"Bearer {self.token}":
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
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                standin.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                if standin.delay_seconds:
                    time.sleep(standin.delay_seconds)
                status, payload = standin.answer(self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
