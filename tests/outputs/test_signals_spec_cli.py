"""Issue 23's "Must work" spec (tests/fixtures/signals_spec.json, as given): preset none, signals
timing, two lifetime counters and a 7-day one, through the CLI's dataset, signals and train commands
on the demo DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import snowplow_signals as sp

from prospect_core.cli import main
from prospect_core.events.demo_data import write_demo_db

SPEC_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "signals_spec.json"
# column order is window by window (short before lifetime), attribute order within a window
INPUTS = ["num_form_moves_l7d", "num_page_views", "num_pricing_views"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("signals_spec") / "demo.duckdb"
    write_demo_db(db, n_users=300, seed=3)
    return db


def test_dataset_has_exactly_the_three_inputs_and_counts_reach_the_whole_history(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "set.parquet"
    assert main(["dataset", "--source", f"duckdb:{demo}", "--spec", str(SPEC_FILE), "--out", str(out)]) == 0
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["event_id", "domain_userid", "derived_tstamp", "event_name", *INPUTS,
                                   "target_had_submit_form_next1h"]
    assert (frame["num_pricing_views"] <= frame["num_page_views"]).all()
    # lifetime counters never fall along a prospect's timeline
    ordered = frame.sort_values(["domain_userid", "derived_tstamp", "event_id"])
    assert (ordered.groupby("domain_userid")["num_page_views"].diff().dropna() >= 0).all()


def test_signals_definitions_have_lifetime_without_a_period_and_map_each_input(tmp_path: Path) -> None:
    out = tmp_path / "signals.json"
    assert main(["signals", "--spec", str(SPEC_FILE), "--out", str(out), "--owner", "me@example.com"]) == 0
    document = json.loads(out.read_text())
    group = sp.StreamAttributeGroup.model_validate(document["attribute_group"])
    periods = {attribute.name: attribute.period for attribute in group.attributes}
    assert periods == {"num_page_views": None, "num_pricing_views": None, "num_form_moves_l7d": dt.timedelta(days=7)}
    assert [(row["input"], row["attribute"]) for row in document["model_inputs"]] == [(name, name) for name in INPUTS]


def test_train_reads_exactly_the_three_inputs(demo: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.joblib"
    assert main(["train", "--source", f"duckdb:{demo}", "--spec", str(SPEC_FILE), "--out", str(model), "--no-track",
                 "--n-estimators", "10", "--owner", "me@example.com"]) == 0
    card = json.loads(model.with_name("model.joblib.card.json").read_text())
    assert [column["name"] for column in card["input_columns"]] == INPUTS
