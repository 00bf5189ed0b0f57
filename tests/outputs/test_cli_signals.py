"""CLI `train` writes the Signals definitions next to the model, `service` bundles them by default,
and the bundle's `/score` gives the score the studio's what-if form shows (`scoring.score_one`) for
the same inputs, custom attribute included. Real parts: the demo DuckDB file, the real SDK models,
the service under a real uvicorn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import snowplow_signals as sp

from prospect_core.cli import main
from prospect_core.events.demo_data import write_demo_db
from prospect_core.outputs.export import load_model
from prospect_core.modelling.scoring import score_one
from prospect_core.outputs.signing import signing_key
from tests.outputs.test_service import Service

ISSUE_SPEC = {"target_event": "submit_form",
              "attributes": [{"name": "num_customers_views", "aggregation": "count", "events": ["page_view"],
                              "where": [{"property": "page_url", "operator": "like", "value": "%customers%"}],
                              "windows": ["short", "long"]}]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli_signals")
    db = folder / "demo.duckdb"
    write_demo_db(db, n_users=600, seed=7)
    spec = folder / "spec.json"
    spec.write_text(json.dumps(ISSUE_SPEC))
    model = folder / "model.joblib"
    code = main(["train", "--source", f"duckdb:{db}", "--spec", str(spec), "--out", str(model), "--no-track",
                 "--n-estimators", "30", "--owner", "marketer@example.com", "--group-name", "prospects"])
    assert code == 0
    return model


def test_train_writes_the_signals_definitions_next_to_the_model(trained: Path) -> None:
    definitions = trained.with_name("model.joblib.signals.json")
    document = json.loads(definitions.read_text())
    group = sp.StreamAttributeGroup.model_validate(document["attribute_group"])
    assert (group.name, group.owner) == ("prospects", "marketer@example.com")
    names = [attribute.name for attribute in group.attributes]
    assert "num_customers_views_l7d" in names and "num_customers_views_l30d" in names
    card = json.loads(trained.with_name("model.joblib.card.json").read_text())
    inputs = [column["name"] for column in card["input_columns"]]
    assert [row["input"] for row in document["model_inputs"]] == inputs == [row["input"] for row in document["parity"]]
    parity = card["parity"]
    # fewer prospects in the cohort than a report samples: every row of the set is replayed
    rows = card["training"]["train_rows"] + card["training"]["test_rows"]
    assert parity["measured_on"].startswith(f"training set: {rows:,} rows of ") and "sample" not in parity["measured_on"]
    assert parity["rows"] == rows
    assert [row["input"] for row in parity["inputs"]] == inputs
    by_input = {row["input"]: row for row in parity["inputs"]}
    customers = by_input["num_customers_views_l30d"]
    assert customers["parity"] == "approximate" and 0 < customers["share_matching"] <= 1
    # tutorial timing: heartbeats are counted one event late on many rows, and the card says why
    pings = by_input["num_page_pings_l7d"]
    assert pings["share_matching"] < 0.9 and "strictly earlier events" in pings["mismatches"][0]["why"]
    assert sum(m["share"] for m in pings["mismatches"]) == pytest.approx(1 - pings["share_matching"])
    assert "Parity with Snowplow Signals" in trained.with_name("model.joblib.card.md").read_text()


def test_service_bundles_them_by_default_and_scores_as_the_what_if_form(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "svc"
    assert main(["service", "--model", str(trained), "--out", str(out)]) == 0
    assert (out / "signals_definitions.json").read_bytes() == trained.with_name("model.joblib.signals.json").read_bytes()

    loaded = load_model(trained.read_bytes(), trained.with_name("model.joblib.card.json").read_bytes(), signing_key())
    rows = [
        {"num_customers_views_l30d": 4, "num_customers_views_l7d": 2, "num_page_views_l30d": 12, "day_of_week": 3},
        {"num_customers_views_l30d": 0, "num_sessions_l7d": 3, "first_refr_medium_l30d": "search", "day_of_week": 6},
    ]
    service = Service(out, {}).wait_until_up()
    try:
        for sent in rows:
            body = service.client.post("/score", json={"attributes": sent}).json()
            what_if = score_one(loaded.pipeline, body["scoring_attributes"], loaded.spec)
            assert body["score"] == pytest.approx(what_if, abs=1e-9)
            assert body["scoring_attributes"]["num_customers_views_l30d"] == sent["num_customers_views_l30d"]
    finally:
        service.stop()
