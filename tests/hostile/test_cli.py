"""Every CLI flag with hostile values: one `error: ...` line and a non-zero exit, or the value used as data.

Runs `prospect_core.cli.main` in-process (fast); two cases run the real `python -m prospect_core`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlglot

from prospect_core.cli import main
from tests.hostile.conftest import HOSTILE_TEXTS, LONG_TEXT, SPEC, events_table_rows

REPO = Path(__file__).resolve().parents[2]
AS_OF = ["--as-of", SPEC.as_of.isoformat()]


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refusing a flag
        code = exit_.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def error_line(err: str) -> str:
    """The one error line (ours: `error: ...`; argparse's: `prog: error: ...`)."""
    lines = [line for line in err.splitlines() if line.startswith("error: ") or ": error: " in line]
    assert len(lines) == 1, err
    return lines[0]


# (case, argv for the `sql` command, expected message)
SQL_FLAG_CASES = [
    ("10 kB target", ["--target-event", LONG_TEXT], "target_event must be at most 128 characters, got 10000"),
    ("newline in target", ["--target-event", "a\nb"], "must not contain control characters"),
    ("NUL in app id", ["--app-ids", "web\x00site"], "app_ids must not contain control characters"),
    ("empty target", ["--target-event", ""], "target_event must be a non-empty event or app name"),
    ("blank target", ["--target-event", "   "], "target_event must be a non-empty event or app name"),
    ("no app ids", ["--app-ids", ","], "app_ids must list at least one app id"),
    ("target excluded", ["--target-event", "x'y", "--excluded-events", "x'y"], "is also in excluded_events"),
    ("table injection", ["--events-table", "atomic.events; drop table atomic.events; --"], "events_table must be a table name"),
    ("table quoted", ["--events-table", 'atomic."events"'], "events_table must be a table name"),
    ("table comment", ["--events-table", "atomic.events/**/"], "events_table must be a table name"),
    ("table four parts", ["--events-table", "a.b.c.d"], "events_table must be a table name"),
    ("table unicode", ["--events-table", "atomic.évents"], "events_table must be a table name"),
    ("table emoji", ["--events-table", "🙂.events"], "events_table must be a table name"),
    ("nan days", ["--cohort-first-seen-from-days", "nan"], "--cohort-first-seen-from-days must be a whole number, got 'nan'"),
    ("inf days", ["--long-window-days", "inf"], "--long-window-days must be a whole number, got 'inf'"),
    ("fractional days", ["--short-window-days", "1.5"], "--short-window-days must be a whole number, got '1.5'"),
    ("exponent days", ["--short-window-days", "1e3"], "--short-window-days must be a whole number"),
    ("injection days", ["--short-window-days", "7; drop table x"], "--short-window-days must be a whole number"),
    ("zero days", ["--cohort-first-seen-from-days", "0"], "cohort_first_seen_from_days must be a whole number of days from 1 to 3650, got 0"),
    ("negative days", ["--cohort-first-seen-to-days", "-1"], "cohort_first_seen_to_days must be a whole number of days from 0 to 3650, got -1"),
    ("huge days", ["--long-window-days", "9" * 40], "long_window_days must be a whole number of days from 1 to 3650"),
    ("empty cohort window", ["--cohort-first-seen-from-days", "30", "--cohort-first-seen-to-days", "30"], "the cohort window is empty"),
    ("inverted cohort window", ["--cohort-first-seen-from-days", "10", "--cohort-first-seen-to-days", "20"], "the cohort window is empty"),
    ("inverted history windows", ["--short-window-days", "30", "--long-window-days", "7"], "short_window_days must be shorter than long_window_days"),
    ("zero target window", ["--target-window-minutes", "0"], "target_window_minutes must be a whole number of minutes from 1 to 129600"),
    ("huge target window", ["--target-window-minutes", str(10**18)], "target_window_minutes must be a whole number of minutes"),
    ("negative count", ["--target-min-count", "-3"], "target_min_count must be a whole number of events from 1 to 10000"),
    ("far past", ["--as-of", "1900-01-01"], "as_of must be between 2000-01-01 and today"),
    ("far future", ["--as-of", "9999-12-31"], "as_of must be between 2000-01-01 and today"),
    ("year one", ["--as-of", "0001-01-01"], "as_of must be between 2000-01-01 and today"),
    ("no such day", ["--as-of", "2025-02-30"], "--as-of must be a date written YYYY-MM-DD, got '2025-02-30'"),
    ("words for a date", ["--as-of", "yesterday"], "--as-of must be a date written YYYY-MM-DD"),
    ("injection date", ["--as-of", "2025-01-01'; drop table atomic.events; --"], "--as-of must be a date written YYYY-MM-DD"),
]


@pytest.mark.parametrize("case, argv, message", SQL_FLAG_CASES, ids=[row[0] for row in SQL_FLAG_CASES])
def test_bad_spec_flags_are_one_error_line(capsys, case, argv, message):
    code, out, err = run_cli(capsys, ["sql", *AS_OF, *argv] if "--as-of" not in argv else ["sql", *argv])
    assert code == 2 and out == ""
    assert message in error_line(err)


ARGPARSE_CASES = [
    ("unknown dialect", ["sql", "--dialect", "oracle"], "invalid choice: 'oracle'"),
    ("unknown formulation", ["sql", "--formulation", "'; drop"], "invalid choice"),
    ("negative users", ["demo-data", "--users", "-5"], "argument --users: expected a whole number >= 1, got -5"),
    ("zero users", ["demo-data", "--users", "0"], "argument --users: expected a whole number >= 1, got 0"),
    ("text users", ["demo-data", "--users", "many"], "argument --users: expected a whole number, got 'many'"),
    ("absurd users", ["demo-data", "--users", "99999999999"],
     "argument --users: expected a whole number from 1 to 200,000, got 99,999,999,999"),
    ("10 kB users", ["demo-data", "--users", "9" * 10_000], "argument --users: expected a whole number, got '9999"),
    ("negative seed", ["demo-data", "--seed", "-1"], "argument --seed: expected a whole number >= 0, got -1"),
    ("nan trees", ["train", "--out", "x.joblib", "--n-estimators", "nan"], "argument --n-estimators: invalid int value"),
    ("unknown split", ["train", "--out", "x.joblib", "--split", "'; drop"], "invalid choice"),
]


@pytest.mark.parametrize("case, argv, message", ARGPARSE_CASES, ids=[row[0] for row in ARGPARSE_CASES])
def test_malformed_flags_are_refused_by_argparse(capsys, case, argv, message):
    code, out, err = run_cli(capsys, argv)
    assert code == 2 and message in error_line(err)


@pytest.mark.parametrize("name", list(HOSTILE_TEXTS))
def test_sql_command_keeps_hostile_text_as_one_literal(capsys, name):
    text = HOSTILE_TEXTS[name]
    code, out, err = run_cli(capsys, ["sql", *AS_OF, "--dialect", "duckdb", "--target-event", text,
                                      "--app-ids", f"website,{text}", "--excluded-events", ""])
    assert code == 0, err
    literals = {literal.this for literal in sqlglot.parse_one(out, read="duckdb").find_all(sqlglot.exp.Literal)
                if literal.is_string}
    assert text in literals


@pytest.mark.parametrize("name", list(HOSTILE_TEXTS))
def test_dataset_with_a_hostile_target_that_happened_has_positives(capsys, tmp_path, hostile_db, name):
    before = events_table_rows(hostile_db)
    out_file = tmp_path / "set.parquet"
    code, out, err = run_cli(capsys, ["dataset", "--source", f"duckdb:{hostile_db}", "--out", str(out_file), *AS_OF,
                                      "--target-event", HOSTILE_TEXTS[name]])
    assert code == 0, err
    frame = pd.read_parquet(out_file).set_index("event_id")
    assert bool(frame.loc["base", SPEC.replace(target_event=HOSTILE_TEXTS[name]).target_column])
    assert events_table_rows(hostile_db) == before


DATASET_CASES = [
    ("missing table", ["--events-table", "atomic.nowhere"], r"the query refers to something missing in hostile\.duckdb"),
    # the preflight, as in the app, says why before the training-set query runs
    ("cohort with no users", ["--as-of", "2001-01-01"],
     r"DuckDB file hostile\.duckdb has no events in the lookback window before the as-of date 2001-01-01"),
    ("app id nobody uses", ["--app-ids", "'; drop table atomic.events; --"], "no user was first seen in the cohort window"),
]


@pytest.mark.parametrize("case, argv, message", DATASET_CASES, ids=[row[0] for row in DATASET_CASES])
def test_dataset_failures_are_one_error_line_and_the_table_survives(capsys, tmp_path, hostile_db, case, argv, message):
    before = events_table_rows(hostile_db)
    argv = argv if "--as-of" in argv else [*AS_OF, *argv]
    code, _, err = run_cli(capsys, ["dataset", "--source", f"duckdb:{hostile_db}", "--out", str(tmp_path / "o.parquet"), *argv])
    assert code == 2
    assert re.search(message, error_line(err))
    assert not (tmp_path / "o.parquet").exists()
    assert events_table_rows(hostile_db) == before


SOURCE_CASES = [
    ("unknown kind", "mysql://'; drop", "unknown source"),
    ("missing duckdb file", "duckdb:/nonexistent/'; drop.duckdb", "DuckDB file not found"),
    ("not a duckdb file", "duckdb:{readme}", "not a DuckDB database file"),
    ("missing events file", "events:/nonexistent/x.csv", "events file not found"),
    ("text that is not an events export", "events:{readme}", "README.md lacks required column(s) event_id"),
]


@pytest.mark.parametrize("case, source, message", SOURCE_CASES, ids=[row[0] for row in SOURCE_CASES])
def test_bad_sources_are_one_error_line(capsys, tmp_path, case, source, message):
    source = source.format(readme=REPO / "README.md")
    code, _, err = run_cli(capsys, ["dataset", "--source", source, "--out", str(tmp_path / "o.parquet"), *AS_OF])
    assert code == 2 and message in error_line(err)


def test_an_output_path_that_is_a_directory_is_one_error_line(capsys, tmp_path, hostile_db):
    code, _, err = run_cli(capsys, ["dataset", "--source", f"duckdb:{hostile_db}", "--out", str(tmp_path), *AS_OF])
    assert code != 0 and "directory" in error_line(err).lower()


def test_train_refuses_hostile_datasets_and_parameters(capsys, tmp_path, hostile_db):
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(os.urandom(2048))
    model = str(tmp_path / "m.joblib")
    code, _, err = run_cli(capsys, ["train", "--dataset", str(garbage), "--out", model, *AS_OF])
    assert code == 2 and "--dataset garbage.parquet is not a Parquet training set" in error_line(err)

    wrong = tmp_path / "wrong.parquet"
    pd.DataFrame({"a": ["'; drop table atomic.events; --"]}).to_parquet(wrong)
    code, _, err = run_cli(capsys, ["train", "--dataset", str(wrong), "--out", model, *AS_OF])
    assert code == 2 and "the training set lacks column(s)" in error_line(err)

    for flag, value, message in [("--learning-rate", "nan", "learning_rate must be a number"),
                                 ("--learning-rate", "inf", "learning_rate must be a number"),
                                 ("--subsample", "-0.5", "subsample must be a number"),
                                 ("--n-estimators", "0", "n_estimators must be a whole number from 1"),
                                 ("--max-depth", "100000", "max_depth must be a whole number from 1 to 20")]:
        code, _, err = run_cli(capsys, ["train", "--source", f"duckdb:{hostile_db}", "--out", model, *AS_OF, flag, value])
        assert code == 2 and message in error_line(err), (flag, value, err)
    # a target no event has: one class, refused before fitting
    code, _, err = run_cli(capsys, ["train", "--source", f"duckdb:{hostile_db}", "--out", model, *AS_OF,
                                    "--target-event", "never_happens"])
    assert code == 2 and "has only one class" in error_line(err)
    assert not Path(model).exists()


def test_real_subprocess_runs_print_one_error_line_and_no_traceback(tmp_path, hostile_db):
    """The installed entry point, not only main(): exit codes and stderr as a shell sees them."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    refused = subprocess.run(
        [sys.executable, "-m", "prospect_core", "sql", "--events-table", "atomic.events; drop table atomic.events; --"],
        capture_output=True, text=True, cwd=REPO, env=environment, timeout=120,
    )
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: events_table must be a table name") and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    hostile = HOSTILE_TEXTS["sql injection"]
    built = subprocess.run(
        [sys.executable, "-m", "prospect_core", "dataset", "--source", f"duckdb:{hostile_db}", "--out",
         str(tmp_path / "set.parquet"), *AS_OF, "--target-event", hostile],
        capture_output=True, text=True, cwd=REPO, env=environment, timeout=120,
    )
    assert built.returncode == 0 and "Traceback" not in built.stderr, built.stderr
    assert int(re.search(r"(\d+) positive", built.stdout).group(1)) > 0, built.stdout
    assert events_table_rows(hostile_db) == len(HOSTILE_TEXTS) + 4


@pytest.mark.parametrize("text, message", [
    ('{"target_min_count": ' + "1" * 4_401 + "}",
     "error: --spec spec.json holds a number 4,401 digits long; expected numbers of at most 30 digits"),
    ("[" * 100_000, "error: --spec spec.json nests lists or objects 100,000 levels deep; expected at most 16"),
    ('{"target_window_minutes": -1e400}', "error: --spec spec.json holds '-1e400', which is not a finite number"),
    ('{"target_window_minutes": NaN}', "error: --spec spec.json holds 'NaN', which is not a finite number"),
])
def test_a_spec_file_no_parser_can_take_is_one_error_line(capsys, tmp_path, text, message):
    path = tmp_path / "spec.json"
    path.write_text(text)
    code, out, err = run_cli(capsys, ["sql", "--spec", str(path)])
    assert code == 2 and out == "" and error_line(err).startswith(message) and len(err.splitlines()) == 1
