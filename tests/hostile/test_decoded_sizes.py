"""Issue 21, findings 5 and 9: size caps count what is really decoded; a table computes nothing when read.

A real dictionary-bomb Parquet file (a few kB that decode to 200 MB of page_url), real CSV and gzip
files, the real loader and CLI in a fresh Python (its peak RSS from getrusage), real DuckDB files and
the real app.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prospect_core import studio
from prospect_core.cli import main
from prospect_core.infra.errors import SourceError
from prospect_core.events.events_files import load_events_file
from prospect_core.infra.limits import EventsFileLimits
from prospect_core.events.warehouse import DuckDBWarehouse
from tests.conftest import EVENTS_COLUMNS, write_events_db
from tests.hostile.test_uploads import HEADER, ONE, app, csv_rows, messages, upload  # noqa: F401 (app: a fixture)

ROOT = Path(__file__).resolve().parents[2]
T0 = np.datetime64("2025-04-01T10:00:00", "us")


def dictionary_bomb(path: Path, megabytes: int, *, value_chars: int = 2_000) -> Path:
    """A Parquet file of a few kB whose page_url is one `value_chars` URL repeated to `megabytes` MB.

    Dictionary-encoded, its footer declares the pages it stores (indices that run-length encode to
    almost nothing), not the text they decode to.
    """
    rows = megabytes * 1_000_000 // value_chars

    def repeated(value: str) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array([value]))

    table = pa.table({"event_id": repeated("e1"), "derived_tstamp": pa.array(np.full(rows, T0)),
                      "domain_userid": repeated("u1"), "domain_sessionid": repeated("s1"),
                      "event_name": repeated("page_view"), "app_id": repeated("website"),
                      "page_url": repeated("https://example.com/" + "x" * (value_chars - 20))})
    pq.write_table(table, path, use_dictionary=True, compression="zstd", store_schema=False)
    return path


def run_measured(code: str, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run `code` in a fresh Python from the checkout; what it printed and its figures (the last line, JSON).

    `code` ends by printing a dict; `grown_mb` is how far the peak RSS rose past the imports.
    """
    prelude = ("import json, resource, sys, time\n"
               "from prospect_core.cli import main\nfrom prospect_core.events import events_files\n"
               "def peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
               "imported = peak_mb()\nstarted = time.perf_counter()\n")
    finish = "\nprint(json.dumps({'grown_mb': peak_mb() - imported, 'seconds': time.perf_counter() - started}))\n"
    done = subprocess.run([sys.executable, "-c", prelude + code + finish], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    return done, json.loads(done.stdout.strip().splitlines()[-1])


# ----- finding 5: a Parquet dictionary bomb ----------------------------------------------------------


def test_the_footer_of_a_dictionary_bomb_declares_a_fraction_of_what_it_decodes_to(tmp_path):
    path = dictionary_bomb(tmp_path / "bomb.parquet", 200)
    declared = sum(column["total_uncompressed_size"] for group in pq.ParquetFile(path).metadata.to_dict()["row_groups"]
                   for column in group["columns"])
    assert path.stat().st_size < 100_000 and declared < 1_000_000  # what the old footer check went by


def test_a_dictionary_bomb_is_refused_by_the_loader_at_the_bound_with_bounded_memory(tmp_path):
    path = dictionary_bomb(tmp_path / "bomb.parquet", 200)
    done, figures = run_measured(
        "from prospect_core.infra.errors import SourceError\nfrom prospect_core.infra.limits import EventsFileLimits\n"
        "try:\n"
        f"    events_files.load_events_file({str(path)!r}, cache_dir={str(tmp_path / 'cache')!r}, "
        "limits=EventsFileLimits(megabytes=5))\n"
        "except SourceError as error:\n    print(error)\n"
    )
    assert done.stdout.startswith(
        "bomb.parquet is larger than 5 MB once decompressed, the limit for an events file on this server "
        "(PROSPECT_MAX_EVENTS_FILE_MB or `max_events_file_mb` in secrets)"), done.stdout
    # Before: loaded whole, 200 MB of page_url decoded, ~700 MB more at the peak and 7-11 s.
    assert figures["grown_mb"] < 60 and figures["seconds"] < 5, figures
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_the_cli_refuses_a_dictionary_bomb_in_one_line_with_bounded_memory(tmp_path):
    path = dictionary_bomb(tmp_path / "bomb.parquet", 200)
    out = tmp_path / "set.parquet"
    done, figures = run_measured(
        f"status = main(['dataset', '--source', 'events:{path}', '--out', {str(out)!r}])\nprint(status)\n",
        PROSPECT_MAX_EVENTS_FILE_MB="5", PROSPECT_CACHE_DIR=str(tmp_path / "cache"),
    )
    assert done.stderr.strip().splitlines() == [
        "error: bomb.parquet is larger than 5 MB once decompressed, the limit for an events file on this server "
        "(PROSPECT_MAX_EVENTS_FILE_MB or `max_events_file_mb` in secrets); export fewer days or apps, or ask "
        "whoever runs the server to raise it"]
    assert done.stdout.splitlines()[0] == "2" and not out.exists()
    assert figures["grown_mb"] < 60 and figures["seconds"] < 5, figures


def test_a_bomb_in_a_nested_context_column_is_counted_decoded_too(tmp_path):
    rows = 20_000
    element = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["iglu:" + "y" * 2_000]))
    contexts = pa.ListArray.from_arrays(pa.array(np.arange(rows + 1, dtype=np.int32)),
                                        pa.StructArray.from_arrays([element], names=["schema"]))
    plain = {name: pa.array([value] * rows) for name, value in
             [("event_id", "e1"), ("domain_userid", "u1"), ("domain_sessionid", "s1"), ("event_name", "page_view"),
              ("app_id", "website")]}
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({**plain, "derived_tstamp": pa.array(np.full(rows, T0)),
                             "contexts_nl_basjes_yauaa_context_1": contexts}), path, store_schema=False)
    with pytest.raises(SourceError, match=r"nested\.parquet is larger than 20 MB once decompressed"):
        load_events_file(path, cache_dir=tmp_path / "cache", limits=EventsFileLimits(megabytes=20))
    assert load_events_file(path, cache_dir=tmp_path / "cache", limits=EventsFileLimits(megabytes=60)).rows == rows


def test_a_parquet_file_under_the_bounds_loads_whole(tmp_path):
    path = dictionary_bomb(tmp_path / "fits.parquet", 4)  # 2,000 rows of 2 kB URLs: 4 MB decoded
    loaded = load_events_file(path, cache_dir=tmp_path / "cache", limits=EventsFileLimits(megabytes=5))
    assert loaded.rows == 2_000
    with duckdb.connect(str(loaded.database), read_only=True) as connection:
        assert connection.execute("select count(*), sum(length(page_url)) from atomic.events").fetchall() == [
            (2_000, 4_000_000)]


@pytest.mark.parametrize("compressed", [False, True])
def test_a_csv_over_the_row_bound_is_refused_after_reading_a_bound_of_rows(tmp_path, compressed):
    # 30 MB of events: the row bound stops the load long before the size bound would.
    text = "\n".join([HEADER, *csv_rows(1_000) * 300]) + "\n"
    path = tmp_path / ("many.csv.gz" if compressed else "many.csv")
    path.write_bytes(gzip.compress(text.encode(), compresslevel=1) if compressed else text.encode())
    started = time.perf_counter()
    with pytest.raises(SourceError, match=rf"{path.name} has more than 1,000 events, the limit for an events file "
                                          r"on this server \(PROSPECT_MAX_EVENTS_FILE_ROWS"):
        load_events_file(path, cache_dir=tmp_path / "cache", limits=EventsFileLimits(rows=1_000))
    assert time.perf_counter() - started < 10
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


# ----- finding 9: generated columns and defaults that call functions ----------------------------------

SETTING = "current_setting('temp_directory')"
COMPUTED = {
    "generated column": (f"generated always as ({SETTING} || event_id)",
                         "has the generated column page_url, computed by an expression each time it is read"),
    "function default": (f"default {SETTING}", "has a column page_url whose default calls current_setting()"),
}


def computed_db(path: Path, page_url: str) -> Path:
    """An events file whose page_url column is `page_url` (a generated column or a default)."""
    write_events_db(path, ONE, table="atomic.raw")
    stored = [name for name in EVENTS_COLUMNS if name != "page_url"]
    columns = ", ".join(f"{name} {EVENTS_COLUMNS[name]}" for name in stored)
    with duckdb.connect(str(path)) as connection:
        connection.execute(f"create table atomic.events ({columns}, page_url varchar {page_url})")
        connection.execute(f"insert into atomic.events ({', '.join(stored)}) select {', '.join(stored)} from atomic.raw")
        connection.execute("drop table atomic.raw")
    return path


@pytest.mark.parametrize("case", list(COMPUTED))
def test_a_table_that_computes_when_read_is_refused_by_path_with_the_reason(tmp_path, case):
    column, reason = COMPUTED[case]
    path = computed_db(tmp_path / "computed.duckdb", column)
    with pytest.raises(SourceError) as refused:
        DuckDBWarehouse(path).query("select page_url from atomic.events")
    assert str(refused.value) == (f"computed.duckdb is refused: its table atomic.events {reason}. Only plain columns "
                                  "are read: no generated columns, no defaults that call functions")


@pytest.mark.parametrize("case", list(COMPUTED))
def test_the_cli_refuses_a_computed_column_in_one_line_and_never_shows_a_server_path(tmp_path, capsys, case):
    path = computed_db(tmp_path / "computed.duckdb", COMPUTED[case][0])
    status = main(["dataset", "--source", f"duckdb:{path}", "--out", str(tmp_path / "o.parquet")])
    captured = capsys.readouterr()
    assert status == 2 and len(captured.err.strip().splitlines()) == 1
    assert COMPUTED[case][1] in captured.err and str(tmp_path) not in captured.out + captured.err


def test_an_uploaded_file_with_a_generated_column_is_refused_on_the_page(app, tmp_path):  # noqa: F811
    path = computed_db(tmp_path / "computed.duckdb", COMPUTED["generated column"][0])
    upload(app, "computed.duckdb", path.read_bytes())
    shown = messages(app)
    assert any("computed.duckdb is refused: its table atomic.events has the generated column page_url" in text
               for text in shown), shown
    page = " ".join([*shown, *(str(option) for box in app.selectbox for option in box.options)])
    assert str(studio.UPLOAD_ROOT) not in page and ".tmp" not in page


def test_plain_columns_and_constant_defaults_are_read(tmp_path):
    path = computed_db(tmp_path / "plain.duckdb", "default 'https://example.com/' || 'home'")
    assert DuckDBWarehouse(path).query("select count(*) as n from atomic.events")["n"].iloc[0] == 1
