"""Hostile uploads: events exports (CSV, CSV.gz, Parquet) and CSVs of prospects to score.

Each file ends in one clear `UserError` or is read as plain data; nothing else escapes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import random
import re

import pandas as pd
import pytest

from prospect_core.events.build import query_training_set
from prospect_core.infra.errors import SourceError, SpecError, UserError
from prospect_core.events.events_files import load_events_file, open_events_file
from prospect_core.trainingset.features import FEATURES
from prospect_core.modelling.scoring import SCORE_COLUMN, csv_bytes, score_csv
from tests.hostile.conftest import SPEC

HEADER = "event_id,derived_tstamp,domain_userid,domain_sessionid,event_name,app_id"
GARBAGE = random.Random(7).randbytes(4096)
FORMULA = "=cmd|' /C calc'!A0"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


EVENTS_FILE_CASES = [
    ("empty", "e.csv", b"", "is empty (0 bytes)"),
    ("header only", "h.csv", csv(), "has no events (only a header row)"),
    ("binary garbage as CSV", "g.csv", GARBAGE, "cannot read g.csv as CSV"),
    # the type comes from the first bytes, never the name: garbage is read (and refused) as CSV text
    ("binary garbage named .parquet", "g.parquet", GARBAGE, "cannot read g.parquet as CSV"),
    ("binary garbage named .gz", "g.csv.gz", GARBAGE, "cannot read g.csv.gz as CSV"),
    ("Parquet magic, then garbage", "p.csv", b"PAR1" + GARBAGE, "cannot read p.csv as PARQUET"),
    ("gzip magic, then garbage", "z.csv", b"\x1f\x8b\x08\x00" + GARBAGE, "z.csv is a damaged gzip file"),
    ("UTF-16", "u.csv", csv("a,2025-04-01 10:00:00,u,s,page_view,website").decode().encode("utf-16"), "cannot read u.csv as CSV"),
    ("a ZIP archive", "events.xlsx", b"PK\x03\x04" + GARBAGE, "events.xlsx is a ZIP archive"),
    ("missing columns", "m.csv", b"event_id,derived_tstamp\na,2025-04-01\n", "lacks required column(s) domain_userid"),
    ("unparseable timestamp", "t.csv", csv("a,not a time,u,s,page_view,website"), "has 1 value(s) that are not timestamps, e.g. 'not a time'"),
    ("injection as timestamp", "i.csv", csv("a,'; drop table atomic.events; --,u,s,page_view,website"), "that are not timestamps"),
    ("no timestamps at all", "n.csv", csv("a,,u,s,page_view,website"), "is empty in every row"),
    ("huge field", "big.csv", csv("a,2025-04-01 10:00:00,u,s," + "x" * 2_100_000 + ",website"),
     "a line is longer than 2,000,000 bytes"),
    ("context that is not JSON", "j.csv", csv("a,2025-04-01 10:00:00,u,s,page_view,website,{not json",
                                              header=HEADER + ",contexts_nl_basjes_yauaa_context_1"), "that are not JSON"),
]


@pytest.mark.parametrize("case, name, data, message", EVENTS_FILE_CASES, ids=[row[0] for row in EVENTS_FILE_CASES])
def test_hostile_events_files_are_one_clear_message(tmp_path, case, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SourceError, match=re.escape(message)):
        load_events_file(path, cache_dir=tmp_path / "cache")


def test_an_events_table_name_with_injection_is_refused_before_loading(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(csv("a,2025-04-01 10:00:00,u,s,page_view,website"))
    with pytest.raises(SpecError, match="events_table must be a table name"):
        load_events_file(path, events_table="atomic.events; drop table atomic.events; --", cache_dir=tmp_path)


def test_hostile_cells_in_an_events_export_are_plain_data(tmp_path):
    """Formula-looking cells, quotes, a semicolon delimiter, emoji and a hostile target stay data."""
    hostile = "'; drop table atomic.events; --"
    rows = [
        f'"{FORMULA}",2025-04-01 10:00:00,u1,s1,page_view,website',
        f'"+1",2025-04-01 10:01:00,u1,s1,"{hostile}",website',
        '"a""b",2025-04-01 10:02:00 -0700,u1,s1,"x,y 🙂\u200b",website',
        "c,2025-04-01T17:30:00Z,u1,s1,@SUM(1+1),website",
    ]
    path = tmp_path / "hostile.csv"
    path.write_bytes(csv(*rows))
    warehouse = open_events_file(path, cache_dir=tmp_path / "cache")
    frame = query_training_set(warehouse, SPEC.replace(target_event=hostile)).set_index("event_id")
    assert set(frame.index) == {FORMULA, "+1", 'a"b', "c"}
    assert bool(frame.loc[FORMULA, SPEC.replace(target_event=hostile).target_column])
    stored = warehouse.query("select event_name, derived_tstamp from atomic.events order by derived_tstamp")
    assert stored["event_name"].tolist() == ["page_view", hostile, "x,y 🙂\u200b", "@SUM(1+1)"]
    # offsets are converted to UTC: 10:02 -07:00 is 17:02 UTC, before 17:30 Z
    assert stored["derived_tstamp"].dt.strftime("%H:%M").tolist() == ["10:00", "10:01", "17:02", "17:30"]


def test_a_semicolon_delimited_export_is_sniffed(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_bytes(csv("a;2025-04-01 10:00:00;u;s;page_view;website", header=HEADER.replace(",", ";")))
    assert load_events_file(path, cache_dir=tmp_path / "cache").rows == 1


# ----- scoring uploads -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feature_rows(fitted_run) -> pd.DataFrame:
    return fitted_run.X_test.head(3).reset_index(drop=True).astype(str)


def with_cell(rows: pd.DataFrame, column: str, value: str) -> bytes:
    changed = rows.copy()
    changed.loc[0, column] = value
    return changed.to_csv(index=False).encode()


NUMERIC = next(f.column(SPEC) for f in FEATURES if f.kind == "numeric")
BOOLEAN = next(f.column(SPEC) for f in FEATURES if f.kind == "boolean")
CATEGORY = next(f.column(SPEC) for f in FEATURES if f.kind == "categorical")


def bad_upload_cases(rows: pd.DataFrame) -> list[tuple[str, bytes, str]]:
    return [
        ("empty", b"", "the uploaded file is empty"),
        ("blank", b"  \n\n ", "the uploaded file is empty"),
        ("binary garbage", GARBAGE, "the uploaded file is not a readable CSV|lack feature column"),
        ("gzip bytes", gzip.compress(rows.to_csv(index=False).encode()), "not a readable CSV|lack feature column"),
        ("wrong delimiter", rows.to_csv(index=False, sep=";").encode(), "the rows lack feature column(s)"),
        ("missing column", rows.drop(columns=[NUMERIC]).to_csv(index=False).encode(), f"lack feature column(s) ['{NUMERIC}']"),
        ("header only", rows.head(0).to_csv(index=False).encode(), "there are no rows to score"),
        ("formula in a count", with_cell(rows, NUMERIC, FORMULA), f"column '{NUMERIC}' must hold whole numbers >= 0"),
        ("NaN count", with_cell(rows, NUMERIC, "nan"), "must hold whole numbers >= 0 (at most 1,000,000,000,000,000), got 'nan' in row 1"),
        ("inf count", with_cell(rows, NUMERIC, "inf"), "got 'inf'"),
        ("negative count", with_cell(rows, NUMERIC, "-1"), "got '-1'"),
        ("fractional count", with_cell(rows, NUMERIC, "1.5"), "must hold whole numbers >= 0"),
        ("huge count", with_cell(rows, NUMERIC, "1e400"), "must hold whole numbers >= 0"),
        ("count beyond int64", with_cell(rows, NUMERIC, str(10**30)), "(at most 1,000,000,000,000,000), got '1000000000000000000000000000000'"),
        ("injection in a flag", with_cell(rows, BOOLEAN, "'; drop table atomic.events; --"), f"column '{BOOLEAN}' must hold true/false"),
        ("unclosed quote", rows.to_csv(index=False).encode() + b'"unclosed,1,2\n', "not a readable CSV|must hold"),
        ("10 kB in a count", with_cell(rows, NUMERIC, "9" * 10_000), "got '99999999999999999999999999999999999999999999"
         "99999999999999999999999999999999999… (10,002 characters) in row 1"),
        ("day of week 99", with_cell(rows, "day_of_week", "99"),
         "column 'day_of_week' must hold an ISO day of week from 1 (Monday) to 7 (Sunday), as in training, got '99' in row 1"),
        ("day of week 0", with_cell(rows, "day_of_week", "0"), "got '0' in row 1"),
        ("day of week 8", with_cell(rows, "day_of_week", "8"), "from 1 (Monday) to 7 (Sunday)"),
        ("columns differing by case", renamed_copy(rows, NUMERIC, NUMERIC.upper()),
         f"columns '{NUMERIC}' and '{NUMERIC.upper()}' both mean feature column '{NUMERIC}'"),
        ("columns differing by a leading space", renamed_copy(rows, NUMERIC, " " + NUMERIC),
         f"columns '{NUMERIC}' and ' {NUMERIC}' both mean feature column '{NUMERIC}' (headers are matched ignoring case"),
        ("a score column", rows.assign(score="0.5").to_csv(index=False).encode(),
         "the rows already have a column 'score', which the new scores would overwrite"),
        ("a Score column", rows.assign(**{" Score": "0.5"}).to_csv(index=False).encode(), "already have a column ' Score'"),
    ]


def renamed_copy(rows: pd.DataFrame, column: str, name: str) -> bytes:
    """The rows with a second copy of `column` under `name` (case or spacing changed)."""
    return pd.concat([rows, rows[[column]].rename(columns={column: name})], axis=1).to_csv(index=False).encode()


def test_hostile_score_uploads_are_one_clear_message(fitted_run, feature_rows):
    for case, data, message in bad_upload_cases(feature_rows):
        pattern = message if "|" in message else re.escape(message)
        with pytest.raises(UserError, match=pattern) as raised:
            score_csv(fitted_run.pipeline, data, SPEC)
        assert "\n" not in str(raised.value) and len(str(raised.value)) < 1_200, case  # user text is cut short


@pytest.mark.parametrize("value", [FORMULA, "+SUM(A1)", "-2+3", "@cmd", "🙂\u200b", "'; drop table atomic.events; --",
                                   "x" * 10_000, "\\", '"quoted"'])
def test_hostile_categories_are_scored_as_data_and_exported_inert(fitted_run, feature_rows, value):
    scored = score_csv(fitted_run.pipeline, with_cell(feature_rows, CATEGORY, value), SPEC)
    assert scored[CATEGORY].iloc[0] == value and scored[SCORE_COLUMN].between(0, 1).all()
    exported = pd.read_csv(io.BytesIO(csv_bytes(scored)), dtype=str, keep_default_na=False)
    cell = exported[CATEGORY].iloc[0]
    assert cell == ("'" + value if value[0] in "=+-@" else value)
    assert float(exported[SCORE_COLUMN].iloc[0]) == pytest.approx(scored[SCORE_COLUMN].iloc[0])


def test_a_header_named_twice_keeps_the_first_column(tmp_path):
    """DuckDB suffixes a repeated header (EVENT_ID becomes EVENT_ID_1); the first column is the event_id."""
    path = tmp_path / "twice.csv"
    path.write_bytes(csv("a,b,2025-04-01 10:00:00,u,s,page_view,website", header="event_id,EVENT_ID," + HEADER.split(",", 1)[1]))
    warehouse = open_events_file(path, cache_dir=tmp_path / "cache")
    assert warehouse.query("select event_id from atomic.events")["event_id"].tolist() == ["a"]
