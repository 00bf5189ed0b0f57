from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import duckdb
import pytest

from prospect_core.events import demo_data
from prospect_core.events.demo_data import DEFAULT_DEMO_USERS, generate_events, write_demo_db

ANCHOR = dt.date(2025, 6, 15)
N_USERS = 300
MEDIA_EVENTS = ("play", "pause", "percent_progress")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    write_demo_db(path, n_users=N_USERS, seed=0, anchor=ANCHOR)
    return path


@pytest.fixture(scope="module")
def db(demo_db: Path) -> duckdb.DuckDBPyConnection:
    with duckdb.connect(str(demo_db), read_only=True) as connection:
        yield connection


def scalar(db: duckdb.DuckDBPyConnection, sql: str) -> object:
    return db.execute(sql).fetchone()[0]


# ----- the generator ------------------------------------------------------------------------


def test_same_arguments_give_the_same_table() -> None:
    first = generate_events(n_users=N_USERS, seed=3, anchor=ANCHOR)
    second = generate_events(n_users=N_USERS, seed=3, anchor=ANCHOR)
    assert first.equals(second)
    assert not first.equals(generate_events(n_users=N_USERS, seed=4, anchor=ANCHOR))


def test_anchor_defaults_to_today() -> None:
    events = generate_events(n_users=50)
    end_of_today = dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time())
    assert max(events["derived_tstamp"].to_pylist()) < end_of_today


def test_default_size(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    events = generate_events(anchor=ANCHOR)
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n{DEFAULT_DEMO_USERS} demo users -> {events.num_rows} events in {seconds:.2f} s")
    assert 100_000 <= events.num_rows <= 300_000


@pytest.mark.parametrize("n_users", [0, -5, 2.5, "100", True, None, 200_001, 99_999_999_999])
def test_n_users_must_be_a_bounded_positive_integer(n_users: object) -> None:
    with pytest.raises(ValueError, match=r"n_users must be a whole number from 1 to 200,000, got "):
        generate_events(n_users=n_users)


# ----- the written database -----------------------------------------------------------------


def test_table_has_the_atomic_events_layout(db: duckdb.DuckDBPyConnection) -> None:
    described = db.execute("describe atomic.events").fetchall()
    assert [(name, column_type) for name, column_type, *_ in described] == [
        (name, sql_type.upper()) for name, sql_type in demo_data.COLUMNS
    ]


def test_write_returns_the_number_of_events(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    written = write_demo_db(path, n_users=40, anchor=ANCHOR)
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("select count(*) from atomic.events").fetchone()[0] == written > 0


def test_no_event_after_the_end_of_the_anchor_day(db: duckdb.DuckDBPyConnection) -> None:
    assert scalar(db, "select max(derived_tstamp) from atomic.events") < dt.datetime(2025, 6, 16)


def test_timestamps_have_millisecond_precision(db: duckdb.DuckDBPyConnection) -> None:
    assert scalar(db, "select count(*) from atomic.events where epoch_us(derived_tstamp) % 1000 != 0") == 0
    assert scalar(db, "select count(distinct epoch_ms(derived_tstamp) % 1000) from atomic.events") > 900


def test_one_user_has_several_events_in_the_same_millisecond(db: duckdb.DuckDBPyConnection) -> None:
    ties = db.execute(
        """
        select domain_userid, derived_tstamp, count(*) as events,
            count(distinct refr_medium) as refr_media, count(distinct mkt_medium) as mkt_media
        from atomic.events
        where domain_userid is not null
        group by all
        having count(*) > 1
        """
    ).fetchall()
    assert len(ties) > 10
    # a tie never makes "the first referrer" ambiguous
    assert all(refr_media <= 1 and mkt_media <= 1 for *_, refr_media, mkt_media in ties)


def test_some_events_straddle_a_second_boundary(db: duckdb.DuckDBPyConnection) -> None:
    straddles = scalar(
        db,
        """
        with ordered as (
            select derived_tstamp,
                lead(derived_tstamp) over (partition by domain_userid order by derived_tstamp) as next_tstamp
            from atomic.events
            where domain_userid is not null
        )
        select count(*)
        from ordered
        where next_tstamp - derived_tstamp < interval 1 second
            and date_trunc('second', next_tstamp) > date_trunc('second', derived_tstamp)
        """,
    )
    assert straddles > 10


def test_a_few_events_have_no_user_or_session(db: duckdb.DuckDBPyConnection) -> None:
    total, no_user, no_session = db.execute(
        "select count(*), count_if(domain_userid is null), count_if(domain_sessionid is null) from atomic.events"
    ).fetchone()
    assert 0 < no_user < no_session < 0.02 * total


def test_device_class_is_readable_from_the_yauaa_context(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute(
        """
        select json_extract_string(contexts_nl_basjes_yauaa_context_1, '$[0].deviceClass') as device_class, count(*)
        from atomic.events
        group by all
        """
    ).fetchall()
    counts = dict(rows)
    assert set(counts) == {"Desktop", "Phone", "Tablet", None}
    assert counts[None] < 0.05 * sum(counts.values())


def test_media_context_is_set_exactly_on_media_events(db: duckdb.DuckDBPyConnection) -> None:
    mismatched, media_events = db.execute(
        f"""
        select
            count_if((contexts_com_snowplowanalytics_snowplow_media_player_2 is not null)
                != (event_name in {MEDIA_EVENTS})),
            count_if(event_name in {MEDIA_EVENTS})
        from atomic.events
        """
    ).fetchone()
    assert mismatched == 0
    assert media_events > 0
    paused = db.execute(
        f"""
        select distinct json_extract(contexts_com_snowplowanalytics_snowplow_media_player_2, '$[0].paused')::boolean
        from atomic.events
        where event_name in {MEDIA_EVENTS}
        """
    ).fetchall()
    assert sorted(paused) == [(False,), (True,)]


def test_event_ids_are_unique_uuids(db: duckdb.DuckDBPyConnection) -> None:
    total, distinct, uuid_shaped = db.execute(
        """
        select count(*), count(distinct event_id),
            count_if(regexp_full_match(event_id, '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'))
        from atomic.events
        """
    ).fetchone()
    assert total == distinct == uuid_shaped


def test_every_event_type_occurs(db: duckdb.DuckDBPyConnection) -> None:
    names = {name for (name,) in db.execute("select distinct event_name from atomic.events").fetchall()}
    assert names == set(demo_data.EVENT_NAMES)


def test_referrer_and_campaign_only_on_page_views(db: duckdb.DuckDBPyConnection) -> None:
    assert scalar(
        db,
        """
        select count(*) from atomic.events
        where event_name != 'page_view' and coalesce(refr_medium, mkt_medium, mkt_campaign) is not null
        """,
    ) == 0
    assert scalar(db, "select count(*) from atomic.events where mkt_campaign is not null") > 0
    pricing_views = "select count(*) from atomic.events where event_name = 'page_view' and page_url like '%pricing%'"
    assert scalar(db, pricing_views) > 0


def test_the_default_cohort_has_users_and_some_users_are_outside_the_cohort_apps(
    db: duckdb.DuckDBPyConnection,
) -> None:
    first_seen_days = dict(
        db.execute(
            """
            with first_seen as (
                select domain_userid, min(derived_tstamp) as first_seen
                from atomic.events
                where domain_userid is not null and app_id in ('website', 'hs-landing')
                group by all
            )
            select first_seen between date '2025-06-15' - interval 60 day and date '2025-06-15' - interval 30 day,
                count(*)
            from first_seen
            group by all
            """
        ).fetchall()
    )
    assert first_seen_days[True] > 0.3 * N_USERS
    earliest = scalar(db, "select min(derived_tstamp) from atomic.events")
    assert earliest >= dt.datetime(2025, 6, 15) - dt.timedelta(days=70)
    only_other_apps = scalar(
        db,
        """
        select count(*) from (
            select domain_userid from atomic.events where domain_userid is not null
            group by all
            having count_if(app_id in ('website', 'hs-landing')) = 0
        )
        """,
    )
    assert only_other_apps > 0


def test_a_few_percent_of_users_submit_a_form(db: duckdb.DuckDBPyConnection) -> None:
    share = scalar(
        db,
        """
        select count(distinct domain_userid) filter (where event_name = 'submit_form')
            / count(distinct domain_userid)
        from atomic.events
        """,
    )
    assert 0.01 < share < 0.15


# ----- writing safely -----------------------------------------------------------------------


def test_write_leaves_only_the_database_behind(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    path.write_text("an older file")
    write_demo_db(path, n_users=20, anchor=ANCHOR)
    assert [p.name for p in tmp_path.iterdir()] == ["demo.duckdb"]
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("select count(*) from atomic.events").fetchone()[0] > 0


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "demo.duckdb"

    def fail_to_move(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(demo_data.os, "replace", fail_to_move)
    with pytest.raises(OSError, match="disk full"):
        write_demo_db(path, n_users=20, anchor=ANCHOR)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("table", ["events", "atomic.events", "demo.atomic.events", "Snowplow_$1.atomic.events"])
def test_table_names_with_one_to_three_parts(tmp_path: Path, table: str) -> None:
    path = tmp_path / "demo.duckdb"
    write_demo_db(path, n_users=20, anchor=ANCHOR, table=table)
    # a file's catalog is named after the file when it is opened, so read without the catalog part
    relation = table.split(".", 1)[1] if table.count(".") == 2 else table
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute(f"select count(*) from {relation}").fetchone()[0] > 0


@pytest.mark.parametrize(
    "table",
    ["", "atomic.", ".events", "1events", "atomic.events;drop table x", "atomic events", "a.b.c.d", '"atomic".events'],
)
def test_table_name_must_be_dotted_identifiers(tmp_path: Path, table: str) -> None:
    with pytest.raises(ValueError, match=r"table must be name, schema\.name or catalog\.schema\.name .*, got "):
        write_demo_db(tmp_path / "demo.duckdb", n_users=20, table=table)
    assert list(tmp_path.iterdir()) == []
