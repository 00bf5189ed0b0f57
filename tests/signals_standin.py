"""A stand-in for Snowplow Signals: a local HTTP server with the route the real SDK calls to read attributes.

`snowplow_signals.SignalsSandbox(api_url=..., sandbox_token=...).get_service_attributes(...)` sends
`POST {api_url}/api/v1/get-online-attributes` with `Authorization: Bearer <token>` and a body
`{"service": name, "attribute_keys": {"domain_userid": [id]}}`, and reads back `{attribute: [value]}`.
This server answers that route from a dict of prospects, so the SDK runs unmodified against it.

`build_dataset_with_custom_anchors(attribute_groups, anchors_table)` sends `POST {api_url}/api/v1/datasets/sql`
with a `DatasetBundleRequest` (`{"anchors": {"mode": "user_supplied", "source": {table}}, "attributes":
{"attribute_groups": [...], "table_prefix": ...}}`) and reads a `DatasetBundleResponse`: the anchors table
(no SQL: the user built it), one attributes table a key, each with its SQL, and the dataset table with
its SQL. The server answers with SQL that names each attribute and the anchors table it reads, so a test
sees what the builder was asked for.

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
DATASET_SQL_ROUTE = "/api/v1/datasets/sql"
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
        if path not in (ATTRIBUTES_ROUTE, DATASET_SQL_ROUTE):
            return 404, {"detail": "Not Found"}
        if headers.get("Authorization") not in {f"Bearer {token}" for token in [self.token, *self.issued_tokens]}:
            return 401, {"detail": "Invalid token"}
        if path == DATASET_SQL_ROUTE:
            return self.dataset_sql(body)
        if body.get("service") != self.service:
            return 404, {"detail": f"Service {body.get('service')!r} not found"}
        (key, identifiers), = body["attribute_keys"].items()
        values = self.prospects.get(identifiers[0], {})
        data = {name: [values.get(name)] for name in self.attributes}
        data.update({name: [value] for name, value in values.items()})  # extra attributes too
        data[key] = identifiers
        return 200, data

    def dataset_sql(self, body: dict[str, Any]) -> tuple[int, Any]:
        """The dataset builder's SQL bundle for user-supplied anchors, as Signals answers it (shape only)."""
        anchors, attributes = body.get("anchors") or {}, body.get("attributes") or {}
        if anchors.get("mode") != "user_supplied" or not attributes.get("attribute_groups"):
            return 422, {"detail": "expected user_supplied anchors and at least one attribute group"}
        source = anchors["source"]
        where = {"database": source.get("database"), "schema": source.get("schema")}
        anchors_table = ".".join(part for part in (source.get("database"), source.get("schema"), source["table"]) if part)
        prefix = attributes.get("table_prefix") or "signals_attributes"
        keys: dict[str, list[str]] = {}
        key_objects: dict[str, dict[str, Any]] = {}
        for group in attributes["attribute_groups"]:
            key = group["attribute_key"]["name"]
            key_objects[key] = {"blobl_path": None, **group["attribute_key"]}  # Signals' answer always has it
            keys.setdefault(key, []).extend(attribute["name"] for attribute in group["attributes"])
        tables = [{**where, "table": f"{prefix}_{key}", "attribute_key": key_objects[key],
                   "sql": f"create or replace table {prefix}_{key} as select a.{key}, a.anchor_ts, "
                          + ", ".join(f"/* point in time */ null as {name}" for name in names)
                          + f" from {anchors_table} as a"}
                  for key, names in keys.items()]
        joins = " ".join(f"left join {t['table']} using ({t['attribute_key']['name']}, anchor_ts)" for t in tables)
        dataset = {**where, "table": "dataset", "sql": f"create or replace table dataset as select * from {anchors_table} {joins}"}
        return 200, {"anchors": {**where, "table": source["table"], "sql": None}, "attributes": tables, "dataset": dataset}

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
