"""The scoring-service bundle, run as shipped: real uvicorn in a subprocess, the real snowplow-signals
client against a local stand-in for Signals (tests/signals_standin.py), and prospect_core blocked in
the service's process so the bundle must stand on its own."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import pandas as pd
import pytest

from prospect_core.trainingset import features
from prospect_core.outputs.artifact import artifact_bytes, model_card, sha256_hex
from prospect_core.modelling.explain import explain_row
from prospect_core.modelling.model import ModelParams, TrainingRun, train_model
from prospect_core.outputs.service_bundle import TEMPLATE, BundleError, service_zip, write_service_folder
from prospect_core.outputs.signing import sign_card, signing_key
from tests.signals_standin import SignalsStandIn
from tests.modelling.test_model import SPEC, synthetic_training_set

SERVICE_NAME = "prospect_scoring"
HUGE = 10**400  # a float64 overflows past 308 digits
UNREAD = {"huge": HUGE, "nan": math.nan, "list": [0] * 2_000_000}  # in an attribute the model does not read
CANARY = "canary-" + secrets.token_hex(8)  # the Signals token: must never come back
COLUMNS = features.feature_columns(SPEC)
DISTINCT = {"num_sessions", "num_apps", "num_engaged_campaigns"}  # Signals keeps a unique_list
LAUNCH = """
import sys
sys.modules["prospect_core"] = None  # the bundle must not need the studio
import uvicorn
uvicorn.run("service:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    return train_model(synthetic_training_set(n_users=100), SPEC, ModelParams(n_estimators=40, max_depth=3))


@pytest.fixture(scope="module")
def exported(run: TrainingRun) -> tuple[bytes, bytes]:
    data = artifact_bytes(run.pipeline)
    card = sign_card(model_card(run, sql_snowflake="select 1", artifact_sha256=sha256_hex(data)), data, signing_key())
    return data, json.dumps(card, indent=2).encode()


def definitions() -> bytes:
    """A Signals service built with the real SDK objects, as the attributes issue exports it."""
    from snowplow_signals import Attribute, Event, Service, StreamAttributeGroup, domain_userid

    page_views = Attribute(name="num_page_views_l7d", type="int32", aggregation="counter", period=dt.timedelta(days=7),
                           events=[Event(vendor="com.snowplowanalytics.snowplow", name="page_view", version="1-0-0")],
                           default_value=0)
    group = StreamAttributeGroup(name="prospect_attributes", version=1, owner="owner@example.com",
                                 attribute_key=domain_userid, attributes=[page_views])
    service = Service(name=SERVICE_NAME, owner="owner@example.com", attribute_groups=[group])
    return json.dumps({"attribute_group": group.model_dump(mode="json", exclude_none=True, by_alias=True),
                       "service": service.model_dump(mode="json", exclude_none=True, by_alias=True)}).encode()


def signals_values(row: pd.Series) -> dict[str, Any]:
    """What Signals returns for a training row: distinct counts as unique_lists, flags as counters."""
    values: dict[str, Any] = {}
    for feature in features.FEATURES:
        column = feature.column(SPEC)
        if feature.name == "day_of_week":
            continue  # the service takes it from the request time
        value = row[column]
        if feature.name in DISTINCT:
            values[column] = [f"{feature.name}-{i}" for i in range(int(value))]
        elif feature.kind == "boolean":
            values[column] = 3 if value else 0
        elif feature.kind == "numeric":
            values[column] = int(value)
        else:
            values[column] = str(value)
    return values


class Service:
    """`uvicorn service:app` in a bundle folder, its output kept for the log assertions."""

    def __init__(self, folder: Path, env: dict[str, str], command: list[str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_path = folder / f"service-{self.port}.log"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SP_", "SIGNALS_", "PROSPECT_", "CORS_"))}
        self.process = subprocess.Popen(
            [sys.executable, *(command or ["-c", LAUNCH]), *(["--port"] if command else []), str(self.port)], cwd=folder, stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT, env={**clean, "PYTHONPATH": "", **env},
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def wait_until_up(self, seconds: float = 90) -> Service:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited ({self.process.returncode}):\n{self.log()}")
            try:
                if self.client.get("/health").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"the service did not start in {seconds} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def bundle(exported: tuple[bytes, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    write_service_folder(folder, *exported, definitions(), key=signing_key())
    return folder


@pytest.fixture(scope="module")
def standin(run: TrainingRun) -> Iterator[SignalsStandIn]:
    prospects = {f"user-{i}": signals_values(run.X_test.iloc[i]) for i in range(6)}
    prospects["user-0"]["an_attribute_the_model_ignores"] = ["x"]
    for column in ("num_sessions_l7d", "first_mkt_medium_l30d", "had_conversions_l30d", "latest_device_class"):
        prospects["user-1"][column] = None  # Signals has no value
    del prospects["user-2"]["num_page_views_l30d"]  # nor this attribute at all
    prospects["all-empty"] = {column: None for column in COLUMNS if column != "day_of_week"}  # known, no values
    prospects["bad-type"] = {**prospects["user-3"], "num_page_pings_l7d": "many"}
    # issue 21, finding 10: what a broken or hostile Signals may answer
    prospects["huge-count"] = {**prospects["user-3"], "num_page_pings_l7d": HUGE}
    prospects["nan-count"] = {**prospects["user-3"], "num_page_pings_l7d": math.nan}
    prospects["nan-flag"] = {**prospects["user-3"], "had_conversions_l7d": math.nan}
    for name, value in UNREAD.items():
        prospects[f"unread-{name}"] = {**prospects["user-4"], "an_attribute_the_model_ignores": value}
    with SignalsStandIn(token=CANARY, service=SERVICE_NAME, attributes=[c for c in COLUMNS if c != "day_of_week"],
                        prospects=prospects) as server:
        yield server


@pytest.fixture(scope="module")
def service(bundle: Path, standin: SignalsStandIn) -> Iterator[Service]:
    running = Service(bundle, {"SP_SANDBOX_URL": standin.url, "SP_SANDBOX_TOKEN": CANARY,
                               "CORS_ALLOWED_ORIGINS": "https://shop.example"})
    try:
        yield running.wait_until_up()
    finally:
        running.stop()


def expected_score(run: TrainingRun, row: dict[str, Any]) -> float:
    return float(run.pipeline.predict_proba(pd.DataFrame([row])[COLUMNS])[:, 1][0])


def training_row(run: TrainingRun, i: int) -> dict[str, Any]:
    return {column: value.item() if hasattr(value, "item") else value for column, value in run.X_test.iloc[i].items()}


# ----- scoring ------------------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(5))
def test_score_equals_predict_proba_of_the_training_row(service: Service, run: TrainingRun, i: int) -> None:
    row = training_row(run, i)
    response = service.client.post("/score", json={"attributes": row})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"signals", "scoring_attributes", "explanations", "score", "flagged"}
    assert body["signals"] is None and body["scoring_attributes"] == row
    assert body["score"] == pytest.approx(expected_score(run, row), abs=1e-9)
    assert body["flagged"] == (body["score"] >= 0.5)
    replayed = service.client.post("/score", json={"attributes": body["scoring_attributes"]}).json()
    assert replayed["score"] == body["score"]


def test_score_gives_missing_and_null_inputs_their_defaults(service: Service, run: TrainingRun) -> None:
    row = training_row(run, 7)
    sent = {k: v for k, v in row.items() if k not in ("num_sessions_l30d", "first_refr_medium_l30d")}
    sent["had_conversions_l7d"] = None
    body = service.client.post("/score", json={"attributes": sent}).json()
    filled = {**row, "num_sessions_l30d": 0, "first_refr_medium_l30d": "", "had_conversions_l7d": False}
    assert body["scoring_attributes"] == filled
    assert body["score"] == pytest.approx(expected_score(run, filled), abs=1e-9)
    # the artifact itself scores the missing values the same way
    with_none = {**row, "num_sessions_l30d": None, "first_refr_medium_l30d": None, "had_conversions_l7d": None}
    assert body["score"] == pytest.approx(expected_score(run, with_none), abs=1e-9)


@pytest.mark.parametrize("user", ["user-0", "user-1", "user-2", "user-3"])
def test_predict_reads_signals_and_equals_predict_proba(
    service: Service, standin: SignalsStandIn, run: TrainingRun, user: str
) -> None:
    i = int(user.split("-")[1])
    before = dt.datetime.now(dt.timezone.utc).isoweekday()
    response = service.client.post("/predict", json={"domain_userid": user})
    after = dt.datetime.now(dt.timezone.utc).isoweekday()
    assert response.status_code == 200, response.text
    body = response.json()
    row = training_row(run, i)
    if user == "user-1":
        row.update(num_sessions_l7d=0, first_mkt_medium_l30d="", had_conversions_l30d=False, latest_device_class="")
    if user == "user-2":
        row["num_page_views_l30d"] = 0
    assert body["scoring_attributes"]["day_of_week"] in {before, after}
    row["day_of_week"] = body["scoring_attributes"]["day_of_week"]
    assert body["scoring_attributes"] == row
    assert body["score"] == pytest.approx(expected_score(run, row), abs=1e-9)
    assert body["signals"]["domain_userid"] == user
    assert standin.requests[-1]["body"] == {"service": SERVICE_NAME, "attribute_keys": {"domain_userid": [user]},
                                            "full_attribute_names": False}


@pytest.mark.parametrize("user", ["never-seen", "all-empty"])
def test_an_unknown_prospect_is_scored_with_no_history_and_said_to_be_unknown(
    service: Service, run: TrainingRun, user: str
) -> None:
    """Issue 23: a brand-new visitor got a 422; now every input takes its default from the registry."""
    response = service.client.post("/predict", json={"domain_userid": user})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["known"] is False
    no_history = {f.column(SPEC): f.default for f in features.spec_features(SPEC)}
    no_history["day_of_week"] = body["scoring_attributes"]["day_of_week"]  # the request's weekday, as always
    assert body["scoring_attributes"] == no_history
    assert body["score"] == pytest.approx(expected_score(run, no_history), abs=1e-9)
    assert service.client.post("/predict", json={"domain_userid": "user-0"}).json()["known"] is True


def test_explain_false_gives_the_same_score_without_explanations(service: Service, run: TrainingRun) -> None:
    row = training_row(run, 3)
    explained = service.client.post("/score", json={"attributes": row}).json()
    plain = service.client.post("/score", json={"attributes": row, "explain": False}).json()
    assert plain["explanations"] is None and explained["explanations"]
    assert plain["score"] == explained["score"] and plain["flagged"] == explained["flagged"]
    predicted = service.client.post("/predict", json={"domain_userid": "user-3", "explain": False}).json()
    assert predicted["explanations"] is None and predicted["known"] is True
    assert service.client.post("/score", json={"attributes": row, "explain": "no"}).status_code == 422


def test_explanations_are_the_top_five_shap_values_and_add_up_to_the_log_odds(service: Service, run: TrainingRun) -> None:
    row = training_row(run, 4)
    body = service.client.post("/score", json={"attributes": row}).json()
    explained = body["explanations"]
    assert len(explained) == 7 and list(explained)[-2:] == ["__sum_of_others", "__base_value"]
    assert sum(explained.values()) == pytest.approx(math.log(body["score"] / (1 - body["score"])), abs=1e-5)
    shap = explain_row(run.pipeline, pd.DataFrame([row])[COLUMNS], 0)  # the studio's SHAP (shap.TreeExplainer)
    top = shap.contributions.abs().sort_values(ascending=False, kind="stable").index[:5]
    assert list(explained)[:5] == list(top)
    for name in top:
        assert explained[name] == pytest.approx(shap.contributions[name], abs=1e-5)
    assert explained["__base_value"] == pytest.approx(shap.base_value, abs=1e-5)


# ----- bad requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "payload", "named"),
    [
        ("/predict", None, "the request body"),
        ("/predict", {}, "domain_userid"),
        ("/predict", {"domain_userid": 42}, "domain_userid"),
        ("/predict", {"domain_userid": "u" * 1_000_000}, "domain_userid"),
        ("/predict", {"domain_userid": "user-0", "extra": 1}, "extra"),
        ("/predict", {"domain_userid": "bad-type"}, "Signals attribute 'num_page_pings_l7d' must be a whole number"),
        ("/predict", {"domain_userid": "huge-count"},
         "Signals attribute 'num_page_pings_l7d' must be a whole number from 0 to 1,000,000,000,000,000, got a number of 401 digits"),
        ("/predict", {"domain_userid": "nan-count"}, "Signals attribute 'num_page_pings_l7d' must be a whole number"),
        ("/predict", {"domain_userid": "nan-flag"}, "Signals attribute 'had_conversions_l7d' must be true or false, got nan"),
        ("/score", {}, "attributes"),
        ("/score", {"attributes": []}, "attributes"),
        ("/score", {"attributes": {"num_sessions_l7d": "three"}}, "attributes.num_sessions_l7d must be a whole number"),
        ("/score", {"attributes": {"num_sessions_l7d": -1}}, "attributes.num_sessions_l7d"),
        ("/score", {"attributes": {"num_sessions_l7d": 2.5}}, "attributes.num_sessions_l7d"),
        ("/score", {"attributes": {"num_sessions_l7d": HUGE}}, "attributes.num_sessions_l7d must be a whole number from 0"),
        ("/score", {"attributes": {"num_sessions_l7d": -HUGE}}, "got a number of 401 digits"),
        ("/score", {"attributes": {"had_conversions_l7d": 1}}, "attributes.had_conversions_l7d must be true or false"),
        ("/score", {"attributes": {"latest_app_id": 7}}, "attributes.latest_app_id must be a string"),
        ("/score", {"attributes": {"latest_app_id": "w" * 1_000_000}}, "got a string of 1,000,000 characters"),
        ("/score", {"attributes": {"num_sesions_l7d": 1}}, "attributes.num_sesions_l7d is not an input of this model"),
    ],
)
def test_bad_payloads_get_a_422_naming_the_field(service: Service, path: str, payload: Any, named: str) -> None:
    response = service.client.post(path, json=payload) if payload is not None else service.client.post(path)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert named in detail
    assert len(response.content) < 2_000  # the bad value is described, never echoed


@pytest.mark.parametrize("unread", UNREAD)
def test_signals_values_the_model_does_not_read_never_reach_the_response(
    service: Service, run: TrainingRun, unread: str
) -> None:
    """Issue 21, finding 10: the response was Signals' answer copied back, so NaN gave a 500 and a
    2M-item list a 4 MB response. Now `signals` holds only the attributes the model reads, as inputs."""
    response = service.client.post("/predict", json={"domain_userid": f"unread-{unread}"})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    row = body["scoring_attributes"]
    assert row == {**training_row(run, 4), "day_of_week": row["day_of_week"]}
    assert body["signals"] == {"domain_userid": f"unread-{unread}", **{c: row[c] for c in COLUMNS if c != "day_of_week"}}
    assert len(response.content) < 4_000, len(response.content)


def test_a_body_over_2_mib_or_of_unstated_length_is_refused_before_it_is_read(service: Service) -> None:
    response = service.client.post("/score", content=b"{" + b" " * (3 * 1024 * 1024) + b"}",
                                   headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    chunked = service.client.post("/score", content=iter([b'{"attributes": ', b"{}}"]),
                                  headers={"Content-Type": "application/json"})
    assert chunked.status_code == 411 and "Content-Length" in chunked.json()["detail"]


def test_slow_signals_gets_a_503_at_the_default_2_s_timeout(service: Service, standin: SignalsStandIn) -> None:
    standin.delay_seconds = 5.0
    try:
        started = time.perf_counter()
        response = service.client.post("/predict", json={"domain_userid": "user-0"})
        elapsed = time.perf_counter() - started
    finally:
        standin.delay_seconds = 0.0
    assert response.status_code == 503
    assert response.json()["detail"] == "Signals did not answer within 2 s; try again later"
    assert 2.0 <= elapsed < 2.8, elapsed
    assert service.client.post("/score", json={"attributes": {}}).status_code == 200  # scoring still answers


def test_health_model_and_cors(service: Service, run: TrainingRun, exported: tuple[bytes, bytes]) -> None:
    card = json.loads(exported[1])
    assert service.client.get("/health").json() == {"status": "ok", "model_sha256": card["artifact"]["sha256"],
                                                     "signals_configured": True}
    summary = service.client.get("/model").json()
    assert summary["target"] == card["target"] and summary["metrics"] == card["metrics"]
    assert [item["name"] for item in summary["inputs"]] == COLUMNS
    assert summary["threshold"] == 0.5 and summary["recommended_threshold"] is None
    assert summary["signals_service"] == SERVICE_NAME and summary["signals_attribute_key"] == "domain_userid"
    allowed = service.client.options("/score", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    assert allowed.headers.get("access-control-allow-origin") == "https://shop.example"
    other = service.client.options("/score", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers


# ----- a second service: Signals unreachable, CORS off, a threshold from the environment -----------------


def test_unreachable_signals_gets_a_503_within_the_timeout_and_cors_is_off_by_default(
    bundle: Path, run: TrainingRun
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket closes
    running = Service(bundle, {"SP_SANDBOX_URL": f"http://127.0.0.1:{port}", "SP_SANDBOX_TOKEN": CANARY,
                               "SIGNALS_TIMEOUT_SECONDS": "1.5", "PROSPECT_THRESHOLD": "0.01"})
    try:
        running.wait_until_up()
        started = time.perf_counter()
        response = running.client.post("/predict", json={"domain_userid": "user-0"})
        elapsed = time.perf_counter() - started
        assert response.status_code == 503 and elapsed < 1.5, (response.text, elapsed)
        assert response.json()["detail"] == "Signals could not be reached (ConnectError); try again later"
        preflight = running.client.options("/score", headers={"Origin": "https://shop.example",
                                                              "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
        body = running.client.post("/score", json={"attributes": training_row(run, 0)}).json()
        assert body["flagged"] == (body["score"] >= 0.01)
        assert running.client.get("/model").json()["threshold"] == 0.01
        assert CANARY not in response.text + running.client.get("/model").text
    finally:
        running.stop()
    assert CANARY not in running.log()


def test_a_tampered_artifact_stops_the_service_from_starting(bundle: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for path in bundle.iterdir():
        if path.suffix != ".log":
            (tampered / path.name).write_bytes(path.read_bytes())
    model = bytearray((tampered / "model.joblib").read_bytes())
    model[len(model) // 2] ^= 0x01
    (tampered / "model.joblib").write_bytes(bytes(model))
    running = Service(tampered, {})
    try:
        code = running.process.wait(timeout=120)
    finally:
        running.stop()
    assert code != 0
    log = running.log()
    assert "refusing to start: model.joblib has SHA-256" in log and "is not the one exported with this card" in log
    assert "Application startup complete" not in log


def test_no_canary_secret_in_any_response_or_log_line(service: Service, standin: SignalsStandIn) -> None:
    responses = [
        service.client.post("/predict", json={"domain_userid": "user-0"}),
        service.client.post("/predict", json={"domain_userid": "never-seen"}),
        service.client.get("/model"), service.client.get("/health"),
    ]
    as_id = service.client.post("/predict", json={"domain_userid": CANARY})  # even sent as an id, it is not logged
    body = as_id.json()
    assert body["signals"].pop("domain_userid") == CANARY  # the caller's own id comes back as its key
    assert CANARY not in json.dumps(body) and CANARY not in str(as_id.headers)
    standin.token = "another-token"  # Signals now refuses the service's token
    try:
        refused = service.client.post("/predict", json={"domain_userid": "user-0"})
    finally:
        standin.token = CANARY
    assert refused.status_code == 503 and refused.json()["detail"].startswith("Signals answered HTTP 401: check the credentials")
    assert standin.requests[-1]["headers"]["Authorization"] == f"Bearer {CANARY}"  # the SDK did send it
    for response in [*responses, refused]:
        assert CANARY not in response.text and CANARY not in str(response.headers)
    assert "Signals answered HTTP 401" in service.log()
    assert CANARY not in service.log()


# ----- the bundle itself ----------------------------------------------------------------------------


def test_the_bundle_holds_the_files_and_pins_the_cards_versions(bundle: Path, exported: tuple[bytes, bytes]) -> None:
    artifact, card_json = exported
    assert (bundle / "model.joblib").read_bytes() == artifact and (bundle / "model.card.json").read_bytes() == card_json
    assert (bundle / "service.py").read_bytes() == TEMPLATE.read_bytes()
    assert json.loads((bundle / "signals_definitions.json").read_text())["service"]["name"] == SERVICE_NAME
    libraries = json.loads(card_json)["libraries"]
    pins = (bundle / "requirements.txt").read_text().splitlines()
    for name in ("scikit-learn", "xgboost", "pandas", "numpy"):
        assert f"{name}=={libraries[name]}" in pins
    assert any(line.startswith("snowplow-signals==") for line in pins) and any(line.startswith("fastapi==") for line in pins)
    readme = (bundle / "README.md").read_text()
    for text in ("uvicorn service:app", "SP_SANDBOX_TOKEN", "SIGNALS_TIMEOUT_SECONDS", "CORS_ALLOWED_ORIGINS", "curl -s -X POST"):
        assert text in readme


def test_the_zip_holds_the_same_files_every_time(exported: tuple[bytes, bytes], bundle: Path) -> None:
    data = service_zip(*exported, key=signing_key())
    assert data == service_zip(*exported, key=signing_key())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == [f"prospect_scoring_service/{n}" for n in
                         ("model.joblib", "model.card.json", "service.py", "requirements.txt", "README.md")]
        assert archive.read("prospect_scoring_service/service.py") == (bundle / "service.py").read_bytes()


def test_cli_service_finds_the_card_next_to_the_model(exported: tuple[bytes, bytes], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    from prospect_core.cli import main

    artifact, card_json = exported
    (tmp_path / "model.joblib").write_bytes(artifact)
    (tmp_path / "model.joblib.card.json").write_bytes(card_json)
    assert main(["service", "--model", str(tmp_path / "model.joblib"), "--out", str(tmp_path / "svc")]) == 0
    assert "uvicorn service:app" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "svc").iterdir()) == [
        "README.md", "model.card.json", "model.joblib", "requirements.txt", "service.py"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no card", r"error: no model card next to model.joblib \(looked for model.joblib.card.json and model.card.json\)"),
        ("other card", r"error: no service written: the signature does not match: the joblib file changed"),
        ("not json", r"error: no service written: the model card is not JSON"),
    ],
)
def test_cli_service_refuses_a_card_that_is_not_the_models(
    exported: tuple[bytes, bytes], tmp_path: Path, capsys: pytest.CaptureFixture, setup: str, message: str
) -> None:
    import re

    from prospect_core.cli import main

    artifact, card_json = exported
    (tmp_path / "model.joblib").write_bytes(artifact)
    if setup == "other card":
        (tmp_path / "model.card.json").write_bytes(card_json.replace(sha256_hex(artifact).encode(), b"0" * 64))
    elif setup == "not json":
        (tmp_path / "model.card.json").write_bytes(b"\x80 not json")
    assert main(["service", "--model", str(tmp_path / "model.joblib"), "--out", str(tmp_path / "svc")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert not (tmp_path / "svc").exists()


# ----- issue 21, finding 4: only a model this installation signed is bundled -------------------------


def resigned(card_json: bytes, artifact: bytes, key: bytes | None, **libraries: str) -> bytes:
    """The card with `libraries` changed, signed with `key` (None: unsigned)."""
    card = json.loads(card_json)
    card.pop("signature")
    card["libraries"].update(libraries)
    return json.dumps(sign_card(card, artifact, key) if key else card).encode()


def run_cli_service(tmp_path: Path, artifact: bytes, card_json: bytes, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    from prospect_core.cli import main

    (tmp_path / "model.joblib").write_bytes(artifact)
    (tmp_path / "model.joblib.card.json").write_bytes(card_json)
    code = main(["service", "--model", str(tmp_path / "model.joblib"), "--out", str(tmp_path / "svc")])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("signer", "message"),
    [
        ("nobody", "error: no service written: the model card has no signature, so nothing proves this studio wrote the model"),
        ("another installation", "error: no service written: the model was signed by another installation"),
    ],
)
def test_cli_service_and_the_zip_refuse_a_card_this_installation_did_not_sign(
    exported: tuple[bytes, bytes], tmp_path: Path, capsys: pytest.CaptureFixture, signer: str, message: str
) -> None:
    """The service `joblib.load`s the artifact, so bundling an unsigned pickle ran its code there."""
    artifact, card_json = exported
    card = resigned(card_json, artifact, None if signer == "nobody" else secrets.token_bytes(32))
    code, err = run_cli_service(tmp_path, artifact, card, capsys)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "svc").exists()
    with pytest.raises(BundleError, match=message.removeprefix("error: ")):
        service_zip(artifact, card, key=signing_key())  # the app's download: the same check


@pytest.mark.parametrize(
    ("library", "version"),
    [
        ("xgboost", "3.2.0\n--extra-index-url https://evil.example/simple"),
        ("numpy", "--extra-index-url https://evil.example/simple"),
        ("scikit-learn", "1.5.2 ; python_version > '3'"),
        ("pandas", "2.2.0+evil"),
        ("python", "3.11\n--extra-index-url https://evil.example/simple"),  # the comment line
        ("pandas", ""),
    ],
)
def test_cli_service_refuses_a_signed_card_whose_versions_are_not_versions(
    exported: tuple[bytes, bytes], tmp_path: Path, capsys: pytest.CaptureFixture, library: str, version: str
) -> None:
    artifact, card_json = exported
    card = resigned(card_json, artifact, signing_key(), **{library: version})
    code, err = run_cli_service(tmp_path, artifact, card, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: the model card's libraries.{library} is {version!r}; expected a version number such as 1.5.2")
    assert not (tmp_path / "svc").exists()


def test_requirements_are_the_template_whatever_else_the_card_lists(
    exported: tuple[bytes, bytes], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from importlib import metadata

    artifact, card_json = exported
    card = resigned(card_json, artifact, signing_key(), **{"--extra-index-url https://evil.example/simple": "1.0"})
    assert run_cli_service(tmp_path, artifact, card, capsys)[0] == 0
    versions = json.loads(card_json)["libraries"]
    service = {name: metadata.version(name) for name in ("fastapi", "uvicorn", "snowplow-signals", "joblib")}
    assert (tmp_path / "svc" / "requirements.txt").read_text() == (
        f"# The versions that trained the model (its card), on Python {versions['python']}: the pickle needs them.\n"
        f"scikit-learn=={versions['scikit-learn']}\nxgboost=={versions['xgboost']}\n"
        f"pandas=={versions['pandas']}\nnumpy=={versions['numpy']}\n"
        "# The service, at the versions the studio ran it with.\n"
        f"fastapi=={service['fastapi']}\nuvicorn[standard]=={service['uvicorn']}\n"
        f"snowplow-signals=={service['snowplow-signals']}\njoblib=={service['joblib']}\n"
    )
    assert "evil" not in (tmp_path / "svc" / "README.md").read_text()


# ----- service.py's parts, in-process ----------------------------------------------------------------


def bundled_service_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundled_service", TEMPLATE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_compiled_preprocessor_gives_exactly_the_pipelines_matrix(run: TrainingRun, exported: tuple[bytes, bytes]) -> None:
    import joblib

    module = bundled_service_module()
    table = module.input_table(json.loads(exported[1]), None)
    scorer = module.Scorer(joblib.load(io.BytesIO(exported[0])), table)
    assert scorer.fast  # the studio's pipeline compiles; otherwise every request pays scikit-learn's ~3 ms
    rows = [module.from_payload(table, training_row(run, i)) for i in range(40)]
    rows.append(module.from_payload(table, {"latest_app_id": "never-seen", "day_of_week": 9, "num_sessions_l7d": 10**6}))
    compiled = np.vstack([scorer.matrix(row) for row in rows])
    expected = run.pipeline.named_steps["preprocessor"].transform(pd.DataFrame(rows)[COLUMNS])
    np.testing.assert_array_equal(compiled, expected)
    scores = [scorer.score(row)[0] for row in rows]
    np.testing.assert_allclose(scores, run.pipeline.predict_proba(pd.DataFrame(rows)[COLUMNS])[:, 1], rtol=0, atol=1e-9)


def test_an_explicit_input_table_in_the_definitions_renames_attributes_and_defaults(exported: tuple[bytes, bytes]) -> None:
    module = bundled_service_module()
    card = json.loads(exported[1])
    table = module.input_table(card, {"model_inputs": [
        {"input": "num_sessions_l7d", "attribute": "sessions_last_week", "default": 1},
    ]})
    wednesday = dt.datetime(2025, 5, 14, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))  # Thursday in UTC
    row = module.from_signals(table, {"sessions_last_week": ["s1", "s2"], "num_sessions_l7d": 99}, wednesday)
    assert row["num_sessions_l7d"] == 2 and row["day_of_week"] == 4
    assert module.from_signals(table, {}, wednesday)["num_sessions_l7d"] == 1
    assert module.from_signals(table, {"had_conversions_l7d": 0, "had_conversions_l30d": 2})["had_conversions_l30d"] is True


def test_api_key_mode_fetches_a_token_then_attributes_and_never_shows_the_key(
    bundle: Path, run: TrainingRun, tmp_path: Path
) -> None:
    """SP_API_URL/SP_API_KEY/SP_API_KEY_ID/SP_ORG_ID, first even when the Sandbox's are set too: the SDK's
    own token route, through an HTTPS proxy."""
    from tests.signals_standin import tls_certificate

    api_key = "canary-key-" + secrets.token_hex(8)
    certificate, key = tls_certificate(tmp_path)
    prospects = {"user-0": signals_values(run.X_test.iloc[0])}
    logs: list[str] = []
    with SignalsStandIn(token="unused-sandbox-token", service=SERVICE_NAME, attributes=[c for c in COLUMNS if c != "day_of_week"],
                        prospects=prospects, api_key=("org-1", "key-id-1", api_key), tls=(certificate, key)) as server:
        running = Service(bundle, {"SP_API_URL": server.url, "SP_API_KEY": api_key, "SP_API_KEY_ID": "key-id-1",
                                   "SP_ORG_ID": "org-1", "HTTPS_PROXY": server.url, "SSL_CERT_FILE": str(certificate),
                                   # the Sandbox's too: the Console's credentials come first
                                   "SP_SANDBOX_URL": server.url, "SP_SANDBOX_TOKEN": "unused-sandbox-token"})
        try:
            running.wait_until_up()
            response = running.client.post("/predict", json={"domain_userid": "user-0"})
            assert response.status_code == 200, response.text
            row = {**training_row(run, 0), "day_of_week": response.json()["scoring_attributes"]["day_of_week"]}
            assert response.json()["score"] == pytest.approx(expected_score(run, row), abs=1e-9)
            token_call, attributes_call = server.requests[-2:]
            assert token_call["path"] == "/api/msc/v1/organizations/org-1/credentials/v3/token"
            assert token_call["headers"]["X-API-Key"] == api_key  # the SDK, unmodified, sent the key there only
            assert attributes_call["headers"]["Authorization"] == f"Bearer {server.issued_tokens[-1]}"
            server.api_key = ("org-1", "key-id-1", "rotated")  # the console now refuses the key
            server.issued_tokens.clear()
            running.stop()  # a fresh process, so the SDK has no cached token
            logs.append(running.log())
            running = Service(bundle, {"SP_API_URL": server.url, "SP_API_KEY": api_key, "SP_API_KEY_ID": "key-id-1",
                                       "SP_ORG_ID": "org-1", "HTTPS_PROXY": server.url, "SSL_CERT_FILE": str(certificate)})
            running.wait_until_up()
            refused = running.client.post("/predict", json={"domain_userid": "user-0"})
            assert refused.status_code == 503
            assert refused.json()["detail"] == "Signals answered HTTP 401: check the credentials; try again later"
            for answer in (response, refused, running.client.get("/model"), running.client.get("/health")):
                assert api_key not in answer.text
        finally:
            running.stop()
    assert not any(api_key in log for log in [*logs, running.log()])


def test_call_examples_use_the_url_given_and_refuse_one_that_would_break_the_snippet(exported: tuple[bytes, bytes]) -> None:
    from prospect_core.outputs.service_bundle import BundleError, call_examples

    examples = call_examples(exported[1], "https://scoring.example.com/")
    assert "curl -s -X POST https://scoring.example.com/predict" in examples["curl"]
    assert 'fetch("https://scoring.example.com/predict"' in examples["javascript"]
    payload = json.loads(examples["curl"].rsplit("-d '", 1)[1].rstrip("'"))
    assert list(payload["attributes"]) == COLUMNS  # a /score body the service takes as it is
    with pytest.raises(BundleError, match="the service URL must look like https://scoring.example.com"):
        call_examples(exported[1], "http://x'; rm -rf ~")


def test_the_score_example_in_the_readme_scores(service: Service, bundle: Path) -> None:
    readme = (bundle / "README.md").read_text()
    body = readme.split("/score -H 'Content-Type: application/json' \\\n  -d '", 1)[1].split("'\n", 1)[0]
    response = service.client.post("/score", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and 0 < response.json()["score"] < 1


def test_python_service_py_starts_one_worker_a_core_or_web_concurrency(bundle: Path) -> None:
    module = bundled_service_module()
    os.environ.pop("WEB_CONCURRENCY", None)
    assert module.service_workers() == len(os.sched_getaffinity(0))
    for bad in ("0", "two", "-1"):
        os.environ["WEB_CONCURRENCY"] = bad
        try:
            with pytest.raises(module.StartupError, match=f"WEB_CONCURRENCY must be a whole number from 1 to 256, got '{bad}'"):
                module.service_workers()
        finally:
            del os.environ["WEB_CONCURRENCY"]
    running = Service(bundle, {"WEB_CONCURRENCY": "2"}, command=["service.py", "--host", "127.0.0.1"])
    try:
        running.wait_until_up()
        deadline = time.monotonic() + 60
        while running.log().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert running.log().count("Started server process") == 2, running.log()
        assert running.client.post("/score", json={"attributes": {}, "explain": False}).status_code == 200
    finally:
        running.stop()
