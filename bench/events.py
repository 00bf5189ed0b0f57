"""Vectorised Snowplow-like events for benchmarks: millions of rows in seconds, deterministic per seed.

Not the demo data (that one carries a learnable signal); this one only needs the shape that makes
the training-set SQL work hard: users with sessions over weeks, millisecond timestamps with ties,
NULL ids and mediums, a mix of event names and apps, and optionally a few very heavy users.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

EVENT_NAMES = np.array(["page_view", "page_ping", "focus_form", "change_form", "submit_form", "play",
                        "link_click", "web_vitals", "application_error"])
EVENT_WEIGHTS = np.array([0.30, 0.42, 0.03, 0.03, 0.01, 0.04, 0.07, 0.07, 0.03])
APPS = np.array(["website", "hs-landing", "docs"])
MEDIUMS = np.array(["search", "social", "email", "referral"])
DEVICES = np.array(['[{"deviceClass": "Desktop"}]', '[{"deviceClass": "Phone"}]', '[{"deviceClass": "Tablet"}]'])


def generate_events(n_events: int, *, as_of: dt.date, seed: int = 0, **options) -> pd.DataFrame:
    """About `n_events` events up to the end of `as_of` (generation overshoots, then cuts at as-of)."""
    kept = len(_generate(20_000, as_of=as_of, seed=seed, **options)) / 20_000 if not options.get("heavy_users") \
        else len(_generate(n_events, as_of=as_of, seed=seed, **options)) / n_events
    return _generate(int(n_events / kept), as_of=as_of, seed=seed, **options)


def _generate(
    n_events: int,
    *,
    as_of: dt.date,
    seed: int = 0,
    heavy_users: int = 0,
    heavy_user_events: int = 4000,
    mean_events_per_user: float = 30.0,
) -> pd.DataFrame:
    """About `n_events` events; `heavy_users` users get `heavy_user_events` each on top of typical users."""
    rng = np.random.default_rng(seed)
    typical_events = max(n_events - heavy_users * heavy_user_events, 0)
    n_typical = max(int(typical_events / mean_events_per_user), 1)
    per_user = np.maximum(rng.geometric(1 / mean_events_per_user, n_typical), 1)
    per_user = np.concatenate([per_user, np.full(heavy_users, heavy_user_events)])
    n_users = len(per_user)
    user_of_event = np.repeat(np.arange(n_users), per_user)
    n = len(user_of_event)

    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    # first seen spread over the last ~70 days, so the default cohort (60 to 30 days back) has users
    first_seen_ms = (end - pd.Timedelta(days=70)).value // 1_000_000 + rng.integers(0, 70 * 86_400_000, n_users)
    # heavy users are first seen 60 to 40 days back: inside the default cohort, with all their
    # sessions (40 days) before the as-of cut, so every one of their events is a training row
    heavy_first_seen_days = 60 - 20 * np.arange(heavy_users) / max(heavy_users, 1)
    first_seen_ms[n_typical:] = (end - pd.Timedelta(days=1)).value // 1_000_000 \
        - (heavy_first_seen_days * 86_400_000).astype(np.int64) + 1
    sessions_per_user = np.maximum(1, per_user // 12)
    session_of_event = (rng.random(n) * sessions_per_user[user_of_event]).astype(np.int64)
    # sessions start within 40 days of first seen; events within 40 minutes of their session's start
    session_start_ms = first_seen_ms[user_of_event] + (session_of_event * 7919 % 40) * 86_400_000 \
        + (session_of_event * 104_729 % 86_400_000)
    session_start_ms[session_of_event == 0] = first_seen_ms[user_of_event][session_of_event == 0]
    offset_ms = rng.integers(0, 40 * 60_000, n)
    tie = rng.random(n) < 0.02
    offset_ms[tie] = 0  # events at the same millisecond as their session's first
    stamp_ms = session_start_ms + offset_ms

    names = EVENT_NAMES[rng.choice(len(EVENT_NAMES), n, p=EVENT_WEIGHTS)]
    session_key = user_of_event * 1000 + session_of_event
    session_medium = rng.integers(-3, len(MEDIUMS), session_key.max() + 1)  # negative: no medium
    refr = session_medium[session_key]
    mkt = np.where(session_key % 3 == 0, refr, -1)
    campaign = rng.integers(0, 12, n)
    codes = pd.DataFrame({"event_number": np.arange(n), "user_number": user_of_event, "session_number": session_of_event})
    # identifiers are built by DuckDB: numpy string concatenation takes minutes at 5M rows
    # a private connection: the module-level default one is shared with whatever else runs in the process
    with duckdb.connect() as connection:
        connection.register("codes", codes)
        ids = connection.sql(
            "select 'e' || event_number as event_id, 'u' || user_number as domain_userid, "
            "'s' || user_number || '_' || session_number as domain_sessionid from codes order by event_number"
        ).df()
    frame = pd.DataFrame({
        "event_id": ids["event_id"],
        "app_id": APPS[rng.choice(3, n, p=[0.7, 0.2, 0.1])],
        "event_name": names,
        "derived_tstamp": pd.to_datetime(stamp_ms, unit="ms"),
        "domain_userid": ids["domain_userid"],
        "domain_sessionid": ids["domain_sessionid"],
        "page_url": np.where(rng.random(n) < 0.15, "https://example.com/pricing", "https://example.com/blog"),
        "refr_medium": np.where(refr >= 0, MEDIUMS[np.clip(refr, 0, None)], None),
        "mkt_medium": np.where(mkt >= 0, MEDIUMS[np.clip(mkt, 0, None)], None),
        "mkt_campaign": np.where(campaign < 3, np.array(["c0", "c1", "c2", ""])[np.minimum(campaign, 3)], None),
        "contexts_nl_basjes_yauaa_context_1": np.where(rng.random(n) < 0.9, DEVICES[rng.integers(0, 3, n)], None),
        "contexts_com_snowplowanalytics_snowplow_media_player_2": np.where(names == "play", '[{"currentTime": 1}]', None),
    })
    frame.loc[rng.random(n) < 0.005, "domain_userid"] = None
    frame.loc[rng.random(n) < 0.01, "domain_sessionid"] = None
    return frame[frame["derived_tstamp"] < end].reset_index(drop=True)


def write_events_db(path: Path, frame: pd.DataFrame) -> Path:
    """A DuckDB file with `atomic.events` in the atomic layout (contexts as JSON)."""
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.register("frame", frame)
        connection.execute("create schema atomic")
        connection.execute(
            "create table atomic.events as select * replace ("
            "cast(contexts_nl_basjes_yauaa_context_1 as json) as contexts_nl_basjes_yauaa_context_1, "
            "cast(contexts_com_snowplowanalytics_snowplow_media_player_2 as json) "
            "as contexts_com_snowplowanalytics_snowplow_media_player_2) from frame"
        )
    return path
