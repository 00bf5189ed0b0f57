"""Sampling for large cohorts: a deterministic share of prospects in the SQL (the same in Snowflake and
DuckDB) and negative downsampling after the query; both recorded in the model card and shown in the app.

The user sample is pinned to a rule written in Python (`md5` hex of the id, first 8 digits below the
percent of 16^8), and each dialect's SQL must select exactly the users that rule selects. Snowflake's
SQL runs through fakesnow (translated onto DuckDB), which checks our text and macros, not Snowflake's
engine; Snowflake's own `md5` output is pinned with the example in its documentation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid

import numpy as np
import pandas as pd
import pytest

from prospect_core.outputs.artifact import model_card, model_card_markdown
from prospect_core.events.build import query_training_set
from prospect_core.trainingset.dataset import downsample_negatives
from prospect_core.infra.errors import SpecError
from prospect_core.modelling.model import ModelParams, train_model
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import DIALECTS, FORMULATIONS, render_template, render_training_sql
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF, event, snowflake_training_set, write_events_db
from tests.modelling.test_model import SPEC as MODEL_SPEC
from tests.modelling.test_model import synthetic_training_set

SPEC = TrainingSpec(as_of=AS_OF)


def sampled_by_rule(user_id: str, percent: int) -> bool:
    """The sampling rule, independent of any SQL engine."""
    return hashlib.md5(user_id.encode("utf-8")).hexdigest()[:8] < f"{percent * 16**8 // 100:08x}"


def user_ids(n: int, seed: int = 0) -> list[str]:
    """Snowplow-like domain_userids, plus ids that exercise quoting and UTF-8."""
    rng = np.random.default_rng(seed)
    ids = [str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)))) for _ in range(n - 2)]
    return ids + ["O'Brien", "prospect-ü-ß-東京"]


def cohort_events(ids: list[str]) -> list[dict]:
    """One page view per user, inside the default cohort window (first seen 30..60 days before as-of)."""
    start = dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=45)
    return [
        event(f"e{index:05d}", start + dt.timedelta(seconds=index), user=user, session=f"s{index}")
        for index, user in enumerate(ids)
    ]


@pytest.fixture(scope="module")
def big_cohort(tmp_path_factory) -> tuple[list[str], DuckDBWarehouse]:
    ids = user_ids(2_000)
    path = write_events_db(tmp_path_factory.mktemp("sampling") / "events.duckdb", cohort_events(ids))
    return ids, DuckDBWarehouse(path)


def sampled_users(warehouse: DuckDBWarehouse, spec: TrainingSpec, formulation: str | None = None) -> set[str]:
    return set(query_training_set(warehouse, spec, formulation=formulation)["domain_userid"])


# ----- spec ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"user_sample_percent": 0}, "user_sample_percent must be a whole number of percent from 1 to 100, got 0"),
        ({"user_sample_percent": 101}, "user_sample_percent must be a whole number of percent from 1 to 100, got 101"),
        ({"user_sample_percent": 12.5}, "user_sample_percent must be a whole number of percent from 1 to 100, got 12.5"),
        ({"user_sample_percent": True}, "user_sample_percent must be a whole number of percent from 1 to 100, got True"),
        ({"max_negatives_per_positive": 0}, "max_negatives_per_positive must be a whole number of negative rows "
         "from 1 to 1000, or None to keep every negative, got 0"),
        ({"max_negatives_per_positive": 1001}, "from 1 to 1000, or None to keep every negative, got 1001"),
        ({"max_negatives_per_positive": "3"}, "from 1 to 1000, or None to keep every negative, got '3'"),
    ],
)
def test_bad_sampling_settings_say_what_was_expected(changes, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        SPEC.replace(**changes)


def test_sampling_is_off_by_default_and_round_trips():
    assert (SPEC.user_sample_percent, SPEC.max_negatives_per_positive) == (100, None)
    assert not SPEC.is_sampled and SPEC.sampling_description is None
    spec = SPEC.replace(user_sample_percent=20, max_negatives_per_positive=5)
    assert TrainingSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.is_sampled
    assert "20% of the cohort's prospects" in spec.sampling_description
    assert "at most 5 negative rows per positive" in spec.sampling_description
    assert "Rates and metrics are on sampled data" in spec.sampling_description


# ----- user sample in the SQL ------------------------------------------------------------------------


def test_the_rule_matches_snowflakes_documented_md5():
    # https://docs.snowflake.com/sql-reference/functions/md5: md5('Snowflake') is lower-case hex.
    assert hashlib.md5(b"Snowflake").hexdigest() == "edf1439075a83a447fb8b630ddc9c8de"


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_100_percent_renders_no_filter(dialect, formulation):
    default = render_training_sql(SPEC, dialect, formulation=formulation, inline=True).text
    assert "md5" not in default
    assert render_training_sql(SPEC.replace(user_sample_percent=100), dialect, formulation=formulation,
                               inline=True).text == default
    sampled = render_training_sql(SPEC.replace(user_sample_percent=10), dialect, formulation=formulation,
                                  inline=True).text
    text_type = "string" if dialect == "databricks" else "varchar"
    assert f"substr(md5(cast(domain_userid as {text_type})), 1, 8) < '19999999'" in sampled
    bound = render_training_sql(SPEC.replace(user_sample_percent=10), dialect, formulation=formulation).text
    assert "%" not in re.sub(r"%\(\w+\)s", "", bound)  # the connector formats the text with Python's %


@pytest.mark.parametrize("dialect", DIALECTS)
def test_preflight_counts_the_sampled_cohort(dialect):
    text = render_template("preflight.sql", SPEC.replace(user_sample_percent=30), dialect, inline=True).text
    assert text.count("md5(") == 1


def test_sampled_users_are_the_rules_deterministic_subset(big_cohort):
    ids, warehouse = big_cohort
    everyone = sampled_users(warehouse, SPEC)
    assert everyone == set(ids)
    assert sampled_users(warehouse, SPEC.replace(user_sample_percent=100)) == everyone

    quarter = sampled_users(warehouse, SPEC.replace(user_sample_percent=25))
    assert quarter == {user for user in ids if sampled_by_rule(user, 25)}
    assert quarter == sampled_users(warehouse, SPEC.replace(user_sample_percent=25))  # the same on every run
    assert 0.21 < len(quarter) / len(ids) < 0.29  # 25% ± 4 standard deviations on 2,000 users
    tenth = sampled_users(warehouse, SPEC.replace(user_sample_percent=10))
    assert tenth < quarter  # samples nest
    assert 0.07 < len(tenth) / len(ids) < 0.13


def test_sampled_rows_are_the_unsampled_rows_of_the_sampled_users(tmp_path):
    from tests.trainingset.test_oracle import generate_events

    warehouse = DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", generate_events(seed=4, n_users=60)))
    full = query_training_set(warehouse, SPEC)
    sampled = query_training_set(warehouse, SPEC.replace(user_sample_percent=50))
    assert 0 < len(sampled) < len(full)
    expected = full[full["domain_userid"].map(lambda user: sampled_by_rule(user, 50))]
    key = ["event_id"]
    pd.testing.assert_frame_equal(
        sampled.sort_values(key).reset_index(drop=True), expected.sort_values(key).reset_index(drop=True)
    )


def snowflake_users(rows: list[dict], spec: TrainingSpec, formulation: str | None) -> set[str]:
    """The Snowflake rendering run through fakesnow on `rows`: the users in the training set."""
    return set(snowflake_training_set(rows, spec, formulation)["domain_userid"])


@pytest.mark.parametrize("formulation", [None, "seed"])
def test_snowflake_and_duckdb_sample_the_same_users(tmp_path, formulation):
    ids = user_ids(400, seed=1)
    rows = cohort_events(ids)
    spec = SPEC.replace(user_sample_percent=30)
    duckdb_users = sampled_users(DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", rows)), spec, formulation)
    assert duckdb_users == {user for user in ids if sampled_by_rule(user, 30)}
    assert 60 < len(duckdb_users) < 180
    assert snowflake_users(rows, spec, formulation) == duckdb_users


# ----- negative downsampling -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def training_set() -> pd.DataFrame:
    return synthetic_training_set(n_users=120)


@pytest.mark.parametrize("ratio", [1, 2, 3])
def test_downsampling_keeps_every_positive_and_the_ratio(training_set, ratio):
    spec = MODEL_SPEC.replace(max_negatives_per_positive=ratio)
    target = spec.target_column
    positives = int(training_set[target].sum())
    assert 0 < positives * 3 < len(training_set) - positives  # the fixture has negatives to drop
    kept = downsample_negatives(training_set, spec)
    assert int(kept[target].sum()) == positives
    assert set(training_set.loc[training_set[target], "event_id"]) <= set(kept["event_id"])
    assert int((~kept[target]).sum()) == positives * ratio
    assert set(kept["event_id"]) <= set(training_set["event_id"])
    pd.testing.assert_frame_equal(  # rows kept unchanged and in their order
        kept, training_set[training_set["event_id"].isin(kept["event_id"])].reset_index(drop=True)
    )


def test_downsampling_is_deterministic_whatever_the_row_order(training_set):
    spec = MODEL_SPEC.replace(max_negatives_per_positive=2)
    kept = downsample_negatives(training_set, spec)
    shuffled = training_set.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert set(downsample_negatives(shuffled, spec)["event_id"]) == set(kept["event_id"])
    pd.testing.assert_frame_equal(downsample_negatives(kept, spec), kept)  # applying it again changes nothing


def test_downsampling_leaves_the_set_alone_when_there_is_nothing_to_drop(training_set):
    target = MODEL_SPEC.target_column
    assert downsample_negatives(training_set, MODEL_SPEC) is training_set  # off
    generous = MODEL_SPEC.replace(max_negatives_per_positive=1000)
    pd.testing.assert_frame_equal(downsample_negatives(training_set, generous), training_set)
    no_positive = training_set.assign(**{target: False})
    one_class = downsample_negatives(no_positive, MODEL_SPEC.replace(max_negatives_per_positive=1))
    assert len(one_class) == len(training_set)  # reported as one-class, not emptied


def test_build_training_set_applies_the_spec_downsampling(tmp_path):
    from tests.trainingset.test_oracle import generate_events

    warehouse = DuckDBWarehouse(write_events_db(tmp_path / "e.duckdb", generate_events(seed=5, n_users=60)))
    full = query_training_set(warehouse, SPEC)
    spec = SPEC.replace(max_negatives_per_positive=1)
    positives = int(full[SPEC.target_column].sum())
    assert 0 < positives < len(full) - positives
    kept = query_training_set(warehouse, spec)
    assert int(kept[SPEC.target_column].sum()) == positives and len(kept) == 2 * positives


# ----- model card, CLI -------------------------------------------------------------------------------


def test_model_card_records_the_sampling(training_set):
    spec = MODEL_SPEC.replace(user_sample_percent=40, max_negatives_per_positive=2)
    frame = downsample_negatives(training_set, spec)
    run = train_model(frame, spec, ModelParams(n_estimators=10), split="by_user")
    card = model_card(run, sql_snowflake=render_training_sql(spec, "snowflake", inline=True).text,
                      artifact_sha256="ab" * 32)
    json.dumps(card)
    sampling = card["sampling"]
    assert sampling["sampled"] is True
    assert (sampling["user_sample_percent"], sampling["max_negatives_per_positive"]) == (40, 2)
    assert "Rates and metrics are on sampled data" in sampling["note"]
    assert card["spec"]["user_sample_percent"] == 40 and card["spec"]["max_negatives_per_positive"] == 2
    assert "md5(cast(domain_userid as varchar))" in card["sql"]["text"]
    text = model_card_markdown(card)
    assert "- Sampling: 40% of prospects, at most 2 negatives per positive (rates and metrics are on sampled data)" in text
    assert text.index("**Sampled data.**") < text.index("## Test metrics")


def test_model_card_says_when_nothing_is_sampled(training_set):
    run = train_model(training_set, MODEL_SPEC, ModelParams(n_estimators=10), split="by_user")
    card = model_card(run, sql_snowflake="select 1", artifact_sha256="ab" * 32)
    assert card["sampling"]["sampled"] is False
    assert card["sampling"]["note"].startswith("No sampling")
    text = model_card_markdown(card)
    assert "- Sampling: none" in text and "Sampled data" not in text


def test_cli_sql_flags(capsys):
    from prospect_core.cli import main

    assert main(["sql", "--dialect", "duckdb", "--as-of", "2025-05-14", "--user-sample-percent", "10"]) == 0
    assert "< '19999999'" in capsys.readouterr().out
    assert main(["sql", "--as-of", "2025-05-14"]) == 0
    assert "md5" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], (100, None)),
        (["--user-sample-percent", "5", "--max-negatives-per-positive", "3"], (5, 3)),
        (["--max-negatives-per-positive", "0"], (100, None)),  # 0 keeps all, as in the app
    ],
)
def test_cli_flags_set_the_spec(flags, expected):
    from prospect_core.cli import build_parser, spec_from_args

    spec = spec_from_args(build_parser().parse_args(["sql", *flags]))
    assert (spec.user_sample_percent, spec.max_negatives_per_positive) == expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--user-sample-percent", "0"], "error: user_sample_percent must be a whole number of percent from 1 to 100, got 0"),
        (["--user-sample-percent", "ten"], "error: --user-sample-percent must be a whole number, got 'ten'"),
        (["--max-negatives-per-positive", "x"], "error: --max-negatives-per-positive must be a whole number, got 'x'"),
        (["--max-negatives-per-positive", "-2"], "error: max_negatives_per_positive must be a whole number of negative rows"),
    ],
)
def test_cli_bad_sampling_flags_are_one_line(flags, message, capsys):
    from prospect_core.cli import main

    assert main(["sql", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err


def test_cli_train_downsamples_and_records_it(tmp_path, capsys, training_set):
    from prospect_core.cli import main

    dataset = tmp_path / "set.parquet"
    training_set.to_parquet(dataset, index=False)
    out = tmp_path / "model.joblib"
    code = main(["train", "--dataset", str(dataset), "--out", str(out), "--n-estimators", "8",
                 "--as-of", "2025-05-14", "--max-negatives-per-positive", "1"])
    assert code == 0, capsys.readouterr().err
    card = json.loads((tmp_path / "model.joblib.card.json").read_text())
    positives = int(training_set[MODEL_SPEC.target_column].sum())
    training = card["training"]
    assert training["train_rows"] + training["test_rows"] == 2 * positives
    assert training["train_positives"] + training["test_positives"] == positives
    assert card["sampling"]["max_negatives_per_positive"] == 1 and card["sampling"]["sampled"] is True


# ----- app -------------------------------------------------------------------------------------------


def test_app_samples_and_the_evaluate_page_says_so(tmp_path, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from prospect_core.events.demo_data import write_demo_db

    path = tmp_path / "demo.duckdb"
    write_demo_db(path, n_users=600, seed=7)
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(path))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=180)
    at.run()
    at.number_input(key="user_sample_percent").set_value(50)
    at.number_input(key="max_negatives").set_value(3).run()
    problems = [element.value for element in [*at.error, *at.exception]]
    assert not problems, problems
    spec = at.session_state["spec"]
    assert (spec.user_sample_percent, spec.max_negatives_per_positive) == (50, 3)
    assert "md5(" in next(code.value for code in at.code)  # the SQL preview shows the sample

    at.button(key="build").click().run()
    assert not at.exception and not at.error, [element.value for element in [*at.error, *at.exception]]
    summary = at.session_state["built"].summary
    assert 0 < summary.positives and summary.negatives <= 3 * summary.positives
    assert any("Rates and metrics are on sampled data" in info.value for info in at.info)

    at.switch_page("screens/train.py").run()
    at.button[0].click().run()
    assert not at.exception and not at.error, [element.value for element in [*at.error, *at.exception]]
    at.switch_page("screens/evaluate.py").run()
    assert not at.exception and not at.error, [element.value for element in [*at.error, *at.exception]]
    assert any("50% of the cohort's prospects" in info.value for info in at.info), [i.value for i in at.info]

    at.switch_page("screens/data_and_target.py").run()
    assert at.number_input(key="max_negatives").value == 3  # kept for the session
    at.number_input(key="max_negatives").set_value(0).run()
    assert at.session_state["spec"].max_negatives_per_positive is None  # 0 keeps every negative


def test_normalising_a_query_result_copies_no_column_that_has_its_dtype_already():
    # At 10M events the renamed, re-indexed and consolidated copies took the build from 2.6 to 4.6 GB.
    from prospect_core.trainingset.dataset import normalize_training_set
    from tests.modelling.test_model import SPEC, synthetic_training_set

    raw = synthetic_training_set().rename(columns=str.upper)  # as Snowflake answers
    raw.index = raw.index + 1000  # a result's index need not start at 0
    frame = normalize_training_set(raw, SPEC)
    assert list(frame.index) == list(range(len(raw)))
    for column in ("NUM_PAGE_VIEWS_L7D", "HAD_CONVERSIONS_L7D", "DERIVED_TSTAMP"):
        assert np.shares_memory(frame[column.lower()].to_numpy(), raw[column].to_numpy()), column
    pd.testing.assert_frame_equal(frame, normalize_training_set(raw.copy(), SPEC))
