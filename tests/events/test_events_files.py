"""Events exports (CSV, CSV.gz, Parquet) give the same training set as the same events in the demo layout."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from prospect_core.events.build import query_training_set
from prospect_core.infra.errors import SourceError
from prospect_core.events.events_files import OPTIONAL_COLUMNS, load_events_file, open_events_file
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF, write_events_db
from tests.trainingset.test_oracle import generate_events

SPEC = TrainingSpec(as_of=AS_OF)
YAUAA = "contexts_nl_basjes_yauaa_context_1"
MEDIA = "contexts_com_snowplowanalytics_snowplow_media_player_2"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("PROSPECT_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def events_db(tmp_path_factory) -> Path:
    return write_events_db(tmp_path_factory.mktemp("events") / "events.duckdb", generate_events(3, n_users=30))


@pytest.fixture(scope="module")
def expected(events_db) -> pd.DataFrame:
    return query_training_set(DuckDBWarehouse(events_db), SPEC)


def export(events_db: Path, out: Path, *, upper: bool, columns: list[str] | None = None,
           tstamp: str = "text", contexts: str = "json_text") -> Path:
    """Write the events table as a file, the way a warehouse export might look."""
    names = columns or ["event_id", "app_id", "event_name", "derived_tstamp", "domain_userid",
                        "domain_sessionid", "page_url", "refr_medium", "mkt_medium", "mkt_campaign", YAUAA, MEDIA]
    selects = []
    for name in names:
        expression = name
        if name == "derived_tstamp":
            expression = {
                "text": "strftime(derived_tstamp, '%Y-%m-%d %H:%M:%S.%g')",
                "iso_z": "strftime(derived_tstamp, '%Y-%m-%dT%H:%M:%S.%gZ')",
                "offset": "strftime(derived_tstamp - interval 7 hour, '%Y-%m-%d %H:%M:%S.%g') || ' -0700'",
                "typed": "derived_tstamp",
            }[tstamp]
        elif name == YAUAA and contexts == "nested":
            expression = f"from_json({name}, '[{{\"deviceClass\": \"VARCHAR\"}}]')"
        elif name == MEDIA and contexts == "nested":
            expression = f"from_json({name}, '[{{\"currentTime\": \"DOUBLE\"}}]')"
        elif name in (YAUAA, MEDIA):
            expression = f"cast({name} as varchar)"
        selects.append(f"{expression} as {name.upper() if upper else name}")
    options = "(format parquet)" if out.name.endswith(".parquet") else "(header, delimiter ',')"
    with duckdb.connect(str(events_db), read_only=True) as connection:
        connection.execute(f"copy (select {', '.join(selects)} from atomic.events) to '{out}' {options}")
    return out


VARIANTS = {
    "upper-case csv, text timestamps": dict(name="export.csv", upper=True),
    "lower-case csv.gz": dict(name="export.csv.gz", upper=False),
    "csv with ISO Z timestamps": dict(name="export.csv", upper=True, tstamp="iso_z"),
    "csv with -0700 offsets": dict(name="export.csv", upper=False, tstamp="offset"),
    "parquet, typed timestamps, nested contexts": dict(name="export.parquet", upper=False, tstamp="typed", contexts="nested"),
    "upper-case parquet, JSON-text contexts": dict(name="export.parquet", upper=True, tstamp="typed"),
    "parquet, text timestamps": dict(name="export.parquet", upper=True),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_export_gives_the_training_set_of_the_same_events(tmp_path, events_db, expected, variant):
    options = dict(VARIANTS[variant])
    out = export(events_db, tmp_path / options.pop("name"), **options)
    warehouse = open_events_file(out)
    assert warehouse.notices == ()
    actual = query_training_set(warehouse, SPEC)
    assert len(expected) > 100 and expected[SPEC.target_column].any()
    pd.testing.assert_frame_equal(actual, expected)


def test_only_required_columns_plus_page_url_reads_the_rest_as_null(tmp_path, events_db):
    columns = ["event_id", "derived_tstamp", "domain_userid", "domain_sessionid", "event_name", "app_id", "page_url"]
    out = export(events_db, tmp_path / "export.csv.gz", upper=True, columns=columns)
    warehouse = open_events_file(out)

    # event_vendor and event_version go unsaid: no feature is constant without them
    missing = [name for name in OPTIONAL_COLUMNS if name not in ("page_url", "event_vendor", "event_version")]
    assert len(warehouse.notices) == 1
    assert all(name in warehouse.notices[0] for name in missing) and "page_url" not in warehouse.notices[0]

    # The reference: the same events with the missing columns NULL, in the demo layout.
    with duckdb.connect(str(events_db), read_only=True) as connection:
        rows = connection.execute(f"select {', '.join(columns)} from atomic.events").fetchall()
    reference = write_events_db(tmp_path / "reference.duckdb", [dict(zip(columns, row)) for row in rows])
    pd.testing.assert_frame_equal(
        query_training_set(warehouse, SPEC), query_training_set(DuckDBWarehouse(reference), SPEC)
    )


def test_load_is_cached_and_keeps_its_notice(tmp_path, events_db, cache_dir):
    out = export(events_db, tmp_path / "export.csv", upper=True, columns=[
        "event_id", "derived_tstamp", "domain_userid", "domain_sessionid", "event_name", "app_id"])
    first = load_events_file(out)
    second = load_events_file(out)
    assert second.database == first.database and second.rows == first.rows
    assert second.missing_optional == first.missing_optional and "page_url" in second.missing_optional
    assert list(cache_dir.rglob("*.duckdb")) == [first.database]


def test_events_table_name_follows_the_caller(tmp_path, events_db, expected):
    out = export(events_db, tmp_path / "export.parquet", upper=False, tstamp="typed")
    spec = SPEC.replace(events_table="snowplow_db.atomic.events")
    warehouse = open_events_file(out, events_table=spec.events_table)
    actual = query_training_set(warehouse, spec)
    pd.testing.assert_frame_equal(actual, expected)


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


HEADER = "EVENT_ID,DERIVED_TSTAMP,DOMAIN_USERID,DOMAIN_SESSIONID,EVENT_NAME,APP_ID\n"
BAD_FILES = [
    ("no_user.csv", "EVENT_ID,DERIVED_TSTAMP,DOMAIN_SESSIONID,EVENT_NAME,APP_ID\ne1,2025-05-01 10:00:00,s1,page_view,website\n",
     r"no_user\.csv lacks required column\(s\) domain_userid"),
    ("no_header.csv", "e1,2025-05-01 10:00:00,u1,s1,page_view,website\n", r"lacks required column.*first row must be the header"),
    ("bad_time.csv", HEADER + "e1,2025-05-01 10:00:00,u1,s1,page_view,website\ne2,yesterday,u1,s1,page_view,website\n",
     r"derived_tstamp in bad_time\.csv has 1 value\(s\) that are not timestamps, e\.g\. 'yesterday'"),
    ("empty.csv", "", r"events file empty\.csv is empty"),
    ("header_only.csv.gz", HEADER, r"header_only\.csv\.gz has no events"),
    ("bad_json.csv", HEADER.strip() + ",CONTEXTS_NL_BASJES_YAUAA_CONTEXT_1\ne1,2025-05-01 10:00:00,u1,s1,page_view,website,{not json\n",
     r"contexts_nl_basjes_yauaa_context_1 in bad_json\.csv has 1 value\(s\) that are not JSON"),
    ("events.xlsx", "PK\x03\x04rest of a workbook", r"events\.xlsx is a ZIP archive \(an Excel workbook\?\), not an events export"),
]


@pytest.mark.parametrize("name, text, message", BAD_FILES, ids=[row[0] for row in BAD_FILES])
def test_bad_files_are_one_clear_error(tmp_path, name, text, message):
    path = _write(tmp_path / name, text)
    with pytest.raises(SourceError, match=message):
        open_events_file(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SourceError, match=r"events file not found: .*nowhere\.csv"):
        open_events_file(tmp_path / "nowhere.csv")


def test_typed_but_wrong_timestamp_column(tmp_path):
    path = tmp_path / "numbers.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select 'e1' as event_id, 1715000000 as derived_tstamp, 'u1' as domain_userid, 's1' as domain_sessionid, "
            f"'page_view' as event_name, 'website' as app_id) to '{path}' (format parquet)"
        )
    with pytest.raises(SourceError, match=r"derived_tstamp in numbers\.parquet has type INTEGER; expected timestamps"):
        open_events_file(path)


def test_cli_builds_a_dataset_from_an_upper_case_csv_gz_with_required_columns_and_page_url(tmp_path, events_db, capsys):
    from prospect_core.cli import main

    columns = ["event_id", "derived_tstamp", "domain_userid", "domain_sessionid", "event_name", "app_id", "page_url"]
    source = export(events_db, tmp_path / "export.csv.gz", upper=True, columns=columns)
    out = tmp_path / "x.parquet"
    status = main(["dataset", "--source", f"events:{source}", "--as-of", AS_OF.isoformat(), "--out", str(out)])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "notice: export.csv.gz has no column(s) refr_medium, mkt_medium" in captured.err
    assert f"written to {out}" in captured.out
    frame = pd.read_parquet(out)
    assert len(frame) > 100 and frame[SPEC.target_column].any()
