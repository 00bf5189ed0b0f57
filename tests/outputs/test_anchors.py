"""Snowplow's dataset builder as a second route: the training set's prediction points as custom anchors,
the Snowflake SQL that loads them, and the real SDK's `build_dataset_with_custom_anchors` against the
local stand-in of its route (tests/signals_standin.py). Real parts: a demo DuckDB file, the CLI, the SDK."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
import sqlglot

from prospect_core.cli import main
from prospect_core.events.build import query_training_set
from prospect_core.events.demo_data import write_demo_db
from prospect_core.events.warehouse import DuckDBWarehouse
from prospect_core.infra.errors import SpecError
from prospect_core.outputs import anchors
from prospect_core.trainingset.spec import TrainingSpec
from tests.signals_standin import DATASET_SQL_ROUTE, SignalsStandIn

TOKEN = "sandbox-" + "x" * 16
SPEC = {"target_event": "submit_form",
        "attributes": [{"name": "num_customers_views", "aggregation": "count", "events": ["page_view"],
                        "where": [{"property": "page_url", "operator": "like", "value": "%customers%"}],
                        "windows": ["short"]}]}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("anchors")
    db = folder / "demo.duckdb"
    write_demo_db(db, n_users=300, seed=3)
    spec = folder / "spec.json"
    spec.write_text(json.dumps(SPEC))
    return db, spec


@pytest.fixture()
def standin() -> Iterator[SignalsStandIn]:
    with SignalsStandIn(token=TOKEN, service="unused", attributes=[], prospects={}) as server:
        yield server


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SP_API_URL", "SP_API_KEY", "SP_API_KEY_ID", "SP_ORG_ID", "SP_SANDBOX_URL", "SP_SANDBOX_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_the_anchors_are_the_training_sets_rows(demo: tuple[Path, Path]) -> None:
    db, spec_file = demo
    spec = TrainingSpec.from_dict(SPEC)
    frame = query_training_set(DuckDBWarehouse(db), spec)
    table = pd.read_parquet(io.BytesIO(anchors.anchors_parquet(frame, spec)))
    assert list(table.columns) == ["domain_userid", "anchor_ts", "label", "event_id"]
    assert len(table) == len(frame) > 100
    assert table["domain_userid"].tolist() == frame["domain_userid"].astype(str).tolist()
    assert table["event_id"].tolist() == frame["event_id"].astype(str).tolist()
    assert (table["anchor_ts"] == pd.to_datetime(frame["derived_tstamp"])).all()
    assert table["label"].tolist() == frame[spec.target_column].astype(int).tolist()
    assert 0 < table["label"].sum() < len(table)


@pytest.mark.parametrize(("text", "message"), [
    ("a.b.c.d", "the anchors table must be TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE, got 'a.b.c.d'"),
    ("ml.anchors; drop table x", "the anchors table's table name is not accepted by Snowplow Signals: string should match pattern"),
    ('ml".anchors', "the anchors table's schema name is not accepted by Snowplow Signals"),
    ("", "the anchors table's table name is not accepted by Snowplow Signals"),
])
def test_a_table_name_the_sdk_refuses_is_named(text: str, message: str) -> None:
    with pytest.raises(SpecError, match="^" + message.replace("(", r"\(").replace(".", r"\.")):
        anchors.warehouse_table(text)


def test_the_sql_creates_and_loads_the_named_table() -> None:
    sql = anchors.anchors_sql(anchors.warehouse_table("analytics-prod.ml.prospect_anchors"))
    assert 'create or replace table "ANALYTICS-PROD"."ML"."PROSPECT_ANCHORS" (' in sql
    assert 'copy into "ANALYTICS-PROD"."ML"."PROSPECT_ANCHORS"\n    from @"ANALYTICS-PROD"."ML"."PROSPECT_ANCHORS_STAGE"' in sql
    statements = [s for s in sql.split(";") if s.strip() and not s.strip().splitlines()[-1].startswith("put ")]
    for statement in statements:
        sqlglot.parse_one(statement, read="snowflake")  # raises on anything Snowflake would not parse
    assert "match_by_column_name = case_insensitive" in sql  # the Parquet's columns by name
    assert anchors.anchors_sql(anchors.warehouse_table("anchors")).count('"ANCHORS"') == 2


def test_cli_writes_the_anchors_and_the_builders_bundle(
    demo: tuple[Path, Path], standin: SignalsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    db, spec_file = demo
    clean_env(monkeypatch)
    monkeypatch.setenv("SP_SANDBOX_URL", standin.url)
    monkeypatch.setenv("SP_SANDBOX_TOKEN", TOKEN)
    out = tmp_path / "builder"
    code = main(["signals-dataset", "--source", f"duckdb:{db}", "--spec", str(spec_file), "--out", str(out),
                 "--table", "analytics.ml.prospect_anchors", "--group-name", "prospects", "--owner", "ml@example.com"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert TOKEN not in captured.out + captured.err
    (request,) = [r for r in standin.requests if r["path"] == DATASET_SQL_ROUTE]
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["body"]["anchors"] == {"mode": "user_supplied", "has_label": True,
                                          "source": {"database": "analytics", "schema": "ml", "table": "prospect_anchors"}}
    (group,) = request["body"]["attributes"]["attribute_groups"]
    assert main(["signals", "--spec", str(spec_file), "--out", str(tmp_path / "signals.json"),
                 "--group-name", "prospects", "--owner", "ml@example.com"]) == 0
    published = json.loads((tmp_path / "signals.json").read_text())["attribute_group"]
    assert (group["name"], group["owner"]) == ("prospects", "ml@example.com")
    assert [a["name"] for a in group["attributes"]] == [a["name"] for a in published["attributes"]]
    assert "num_customers_views_l7d" in [a["name"] for a in group["attributes"]]

    files = sorted(path.name for path in out.iterdir())
    assert files == sorted(["anchors.parquet", "create_anchors.sql", "signals_attributes_domain_userid.sql",
                            "dataset.sql", "manifest.json", "README.md"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["definition"]["anchors"]["source"]["table"] == "prospect_anchors"
    assert "num_customers_views_l7d" in (out / "signals_attributes_domain_userid.sql").read_text()
    assert "from analytics.ml.prospect_anchors" in (out / "dataset.sql").read_text()
    built = pd.read_parquet(out / "anchors.parquet")
    frame = query_training_set(DuckDBWarehouse(db), TrainingSpec.from_dict(SPEC))
    assert len(built) == len(frame) and built["label"].sum() == frame[TrainingSpec.from_dict(SPEC).target_column].sum()
    assert f"{len(frame):,} anchors" in captured.out and "dataset bundle written" in captured.out


def test_cli_without_credentials_writes_the_anchors_and_says_what_to_set(
    demo: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    db, spec_file = demo
    clean_env(monkeypatch)
    out = tmp_path / "builder"
    assert main(["signals-dataset", "--source", f"duckdb:{db}", "--spec", str(spec_file), "--out", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["anchors.parquet", "create_anchors.sql"]
    assert ('"PROSPECT_SCORING_ANCHORS"' in (out / "create_anchors.sql").read_text())
    assert ("notice: Snowplow Signals is not configured: set SP_API_URL, SP_API_KEY, SP_API_KEY_ID, SP_ORG_ID "
            "(Snowplow Console), or SP_SANDBOX_URL and SP_SANDBOX_TOKEN") in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "message"), [
    (["--table", "ml.x;drop"], "error: the anchors table's table name is not accepted by Snowplow Signals"),
    (["--group-name", "my-group"], "error: the attribute group name is not accepted by Snowplow Signals"),
])
def test_cli_refuses_bad_names_in_one_line_before_building(
    demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str], message: str
) -> None:
    db, spec_file = demo
    out = tmp_path / "builder"
    assert main(["signals-dataset", "--source", f"duckdb:{db}", "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not out.exists()


def test_a_refused_token_is_one_message_without_the_token(
    demo: tuple[Path, Path], standin: SignalsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    db, spec_file = demo
    clean_env(monkeypatch)
    monkeypatch.setenv("SP_SANDBOX_URL", standin.url)
    monkeypatch.setenv("SP_SANDBOX_TOKEN", "wrong-" + TOKEN)
    assert main(["signals-dataset", "--source", f"duckdb:{db}", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.endswith("error: Snowplow Signals answered HTTP 401: check the credentials; the dataset builder's SQL was not made\n")
    assert TOKEN not in err


def test_the_template_reads_the_same_credential_variables() -> None:
    from prospect_core.outputs import signals_defaults
    from tests.outputs.test_service import bundled_service_module

    module = bundled_service_module()
    assert (module.API_VARIABLES, module.SANDBOX_VARIABLES) == (signals_defaults.API_VARIABLES, signals_defaults.SANDBOX_VARIABLES)
