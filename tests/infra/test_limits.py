"""Resource bounds: a maximum of training rows per build and a SHAP sample cap, configurable, and said
to the user when they apply. Too large a set is refused before its query runs, or sampled with a
fixed seed if the query still returns more than the bound; never loaded whole.
"""

from __future__ import annotations

import pandas as pd
import pytest

from prospect_core.modelling import explain

from prospect_core.infra import limits
from prospect_core.infra.errors import DatasetError, UserError
from prospect_core.events.warehouse import DuckDBWarehouse
from prospect_core.trainingset.wording import plain
from tests.studio.test_app import app, build, messages, small_demo_db  # noqa: F401  (fixtures)


@pytest.mark.parametrize("env, secrets, expected", [
    (None, None, 2_000_000),
    ("5000", None, 5000),
    ("1_000_000", None, 1_000_000),
    (None, {"max_training_rows": 700}, 700),
    ("900", {"max_training_rows": 700}, 900),  # the environment wins
    ("", {"max_training_rows": "800"}, 800),
])
def test_the_row_limit_comes_from_env_then_secrets_then_default(monkeypatch, env, secrets, expected):
    if env is None:
        monkeypatch.delenv("PROSPECT_MAX_TRAINING_ROWS", raising=False)
    else:
        monkeypatch.setenv("PROSPECT_MAX_TRAINING_ROWS", env)
    assert limits.max_training_rows(secrets) == expected


@pytest.mark.parametrize("value, message", [
    ("0", r"PROSPECT_SHAP_MAX_ROWS must be a whole number of rows >= 1 \(the SHAP sample cap\), got '0'"),
    ("-5", r"got '-5'"),
    ("lots", r"got 'lots'"),
    ("2.5", r"got '2.5'"),
])
def test_a_bad_bound_is_one_clear_message(monkeypatch, value, message):
    monkeypatch.setenv("PROSPECT_SHAP_MAX_ROWS", value)
    with pytest.raises(UserError, match=message):
        limits.shap_max_rows()


def test_the_shap_default_is_the_explainers_default():
    assert limits.DEFAULT_SHAP_MAX_ROWS == explain.DEFAULT_MAX_ROWS


def test_an_estimate_above_the_limit_is_refused_with_the_numbers():
    limits.check_estimate(1000, 1000)
    with pytest.raises(DatasetError, match=r"about 4,000 rows, above the limit of 1,000 rows .*not run.*sample about 25% of prospects"):
        limits.check_estimate(4000, 1000)


def test_capping_keeps_a_seeded_sample_in_order():
    frame = pd.DataFrame({"event_id": [f"e{i}" for i in range(100)]})
    same, note = limits.cap_rows(frame, 100)
    assert same is frame and note is None
    capped, note = limits.cap_rows(frame, 30)
    again, _ = limits.cap_rows(frame, 30)
    assert len(capped) == 30 and capped["event_id"].tolist() == again["event_id"].tolist()
    positions = [int(text[1:]) for text in capped["event_id"]]
    assert positions == sorted(positions)
    assert "returned 100 rows, more than the limit of 30: a fixed-seed sample of 30 rows" in note


def test_a_build_above_the_limit_is_refused_before_the_query(app, monkeypatch):
    queries: list[str] = []
    real_query = DuckDBWarehouse.query

    def spy(self, sql, params=None):
        queries.append(sql)
        return real_query(self, sql, params)

    monkeypatch.setattr(DuckDBWarehouse, "query", spy)
    monkeypatch.setenv("PROSPECT_MAX_TRAINING_ROWS", "500")
    app.number_input(key="long_days").set_value(28).run()
    kept = app.session_state["spec"]
    build(app)
    assert any("above the limit of 500 rows per build" in text for text in messages(app)), messages(app)
    assert not any("had_conversions" in sql for sql in queries)  # the training-set query never ran
    assert app.session_state["built"] is None and app.session_state["spec"] == kept


def test_a_result_above_the_limit_is_sampled_and_the_pages_say_so(app, monkeypatch):
    """The preflight underestimates; the rows over the limit are sampled with a fixed seed, and said so."""
    real_preflight = DuckDBWarehouse.preflight
    monkeypatch.setattr(DuckDBWarehouse, "preflight",
                        lambda self, spec: __import__("dataclasses").replace(real_preflight(self, spec), training_rows=10))
    monkeypatch.setenv("PROSPECT_MAX_TRAINING_ROWS", "1000")
    build(app)
    notes = [info.value for info in app.info if "more than the limit of 1,000" in info.value]
    assert notes and "fixed-seed sample of 1,000 rows" in notes[0]
    built = app.session_state["built"]
    assert built.summary.rows == len(built.frame) == 1000

    app.switch_page("screens/train.py").run()
    assert any("more than the limit of 1,000" in info.value for info in app.info)
    app.button[0].click().run()
    assert not app.exception and not app.error, messages(app)
    assert app.session_state["runs"][0].run.n_train + app.session_state["runs"][0].run.n_test == 1000


def test_the_shap_cap_applies_and_is_shown(app, monkeypatch):
    monkeypatch.setenv("PROSPECT_SHAP_MAX_ROWS", "50")
    build(app)
    app.switch_page("screens/train.py").run()
    app.button[0].click().run()
    app.switch_page("screens/explain.py").run()
    assert not app.exception and not app.error, messages(app)
    record = app.session_state["runs"][0]
    assert len(record.shap.rows) == 50 < record.run.n_test
    assert any(f"sample of 50 of the {record.run.n_test:,} test rows" in info.value and "PROSPECT_SHAP_MAX_ROWS" in info.value
               for info in app.info)


def test_a_bad_limit_in_the_app_is_an_error_not_a_crash(app, monkeypatch):
    monkeypatch.setenv("PROSPECT_MAX_TRAINING_ROWS", "many")
    build(app)
    assert not app.exception
    assert any("PROSPECT_MAX_TRAINING_ROWS must be a whole number" in text for text in messages(app)), messages(app)


def shown_as_text(cli_line: str) -> str:
    """A CLI error line as the app's error box carries it: the same words, with Markdown escaped."""
    return "error: " + plain(cli_line.removeprefix("error: "))


def test_the_cli_refuses_a_cohort_over_its_limit_with_the_apps_message(app, monkeypatch, small_demo_db, tmp_path, capsys):
    """One build path: `dataset --max-training-rows` (default: the app's limit) refuses before the query, in the app's words."""
    from prospect_core.cli import main

    monkeypatch.setenv("PROSPECT_MAX_TRAINING_ROWS", "500")
    build(app)
    in_app = next(text for text in messages(app) if "above the limit of 500 rows per build" in text)

    out = tmp_path / "set.parquet"
    spec_flags = ["--as-of", app.session_state["spec"].as_of.isoformat()]
    assert main(["dataset", "--source", f"duckdb:{small_demo_db}", "--out", str(out), *spec_flags]) == 2
    assert shown_as_text(capsys.readouterr().err.splitlines()[-1]) == f"error: {in_app}"  # the limit from the environment, as the app
    assert not out.exists()

    monkeypatch.delenv("PROSPECT_MAX_TRAINING_ROWS")
    assert main(["dataset", "--source", f"duckdb:{small_demo_db}", "--out", str(out), *spec_flags,
                 "--max-training-rows", "500"]) == 2
    assert shown_as_text(capsys.readouterr().err.splitlines()[-1]) == f"error: {in_app}"  # the same limit from the flag
    assert main(["dataset", "--source", f"duckdb:{small_demo_db}", "--out", str(out), *spec_flags]) == 0
    assert len(pd.read_parquet(out)) > 500  # the default limit (2,000,000) lets it through
