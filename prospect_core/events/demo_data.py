"""Deterministic, realistic Snowplow `atomic.events` for the embedded demo database.

The demo has to exercise everything the training-set SQL cares about, so the simulation is built
around it: users first seen over the last ~70 days (so the default 60..30-day cohort is populated),
some users only on apps outside the cohort's `app_ids`, noise events the query excludes, NULL ids it
must drop, exact millisecond ties and events either side of a second boundary (to pin down `<` and
`datediff('second', ...)` semantics), and a `submit_form` target that a model can learn: a latent
per-user intent drives pricing views, form engagement and how soon users return, and the chance to
submit rises with pricing views, earlier form engagement and the acquisition campaign.

Everything is drawn from one `numpy.random.default_rng(seed)` in a fixed order and laid out with
vectorised group arithmetic (users -> sessions -> pages -> events), so the same
`(n_users, seed, anchor)` gives a byte-identical table in well under a second.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prospect_core.infra import safe_io
from prospect_core.trainingset.atomic import EVENTS_COLUMNS
from prospect_core.trainingset.spec import TABLE_NAME
from prospect_core.events.warehouse import sql_string

DEFAULT_DEMO_USERS = 4000  # ~200k events; ~1,700 users in the default 60..30-day cohort
MAX_DEMO_USERS = 200_000  # ~10M events, a few GB while generating; more would exhaust a shared machine

HISTORY_DAYS = 70  # users are first seen uniformly over this many days up to the anchor day
MAX_SESSIONS_PER_USER = 40
MAX_CONTENT_PAGES_PER_SESSION = 12
OTHER_APPS_ONLY_USER_SHARE = 0.07  # users seen only on docs/console, outside the default cohort
ANONYMOUS_EVENT_SHARE = 0.005  # events without cookies: NULL domain_userid and domain_sessionid
SESSIONLESS_EVENT_SHARE = 0.003  # events of a known user with a NULL domain_sessionid
MISSING_DEVICE_SESSION_SHARE = 0.01  # sessions whose YAUAA enrichment failed

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SESSION_TIMEOUT_MS = 30 * MINUTE_MS
PING_INTERVAL_MS = 10 * SECOND_MS

# Column names and DuckDB types, in atomic.events order (prospect_core.trainingset.atomic): the table and the DDL.
COLUMNS: tuple[tuple[str, str], ...] = tuple((column.name, column.sql_type) for column in EVENTS_COLUMNS)

# Codes double as the tie-break order: at one millisecond a page_view sorts before what it triggered.
EVENT_NAMES = (
    "page_view",
    "web_vitals",
    "page_ping",
    "play",
    "percent_progress",
    "pause",
    "focus_form",
    "change_form",
    "submit_form",
    "link_click",
    "application_error",
)
# Each name's Iglu vendor and version, as Snowplow's trackers send them (atomic event_vendor, event_version).
_SNOWPLOW = "com.snowplowanalytics.snowplow"
EVENT_IDENTITIES = (
    (_SNOWPLOW, "1-0-0"), (_SNOWPLOW, "1-0-0"), (_SNOWPLOW, "1-0-0"),
    (f"{_SNOWPLOW}.media", "1-0-0"), (f"{_SNOWPLOW}.media", "1-0-0"), (f"{_SNOWPLOW}.media", "1-0-0"),
    (_SNOWPLOW, "1-0-0"), (_SNOWPLOW, "1-0-0"), (_SNOWPLOW, "1-0-0"), (_SNOWPLOW, "1-0-1"), (_SNOWPLOW, "1-0-2"),
)
PAGE_VIEW, WEB_VITALS, PAGE_PING, PLAY, PERCENT_PROGRESS, PAUSE = range(6)
FOCUS_FORM, CHANGE_FORM, SUBMIT_FORM, LINK_CLICK, APPLICATION_ERROR = range(6, 11)
MEDIA_EVENTS = (PLAY, PERCENT_PROGRESS, PAUSE)

APPS = ("website", "hs-landing", "docs", "console")
WEBSITE, HS_LANDING, DOCS, CONSOLE = range(4)
CONTENT, PRICING, FORM = range(3)


class Page(NamedTuple):
    app: int
    url: str
    weight: float  # how often it is picked among its app's pages of the same kind
    kind: int
    video_seconds: int = 0  # pages with an embedded video emit media events


PAGES = (
    Page(WEBSITE, "https://example.com/", 30, CONTENT),
    Page(WEBSITE, "https://example.com/product", 14, CONTENT, 95),
    Page(WEBSITE, "https://example.com/product/integrations", 6, CONTENT),
    Page(WEBSITE, "https://example.com/solutions/marketing", 5, CONTENT),
    Page(WEBSITE, "https://example.com/customers", 6, CONTENT, 240),
    Page(WEBSITE, "https://example.com/blog/what-is-behavioral-data", 8, CONTENT),
    Page(WEBSITE, "https://example.com/blog/real-time-personalization", 7, CONTENT),
    Page(WEBSITE, "https://example.com/blog/data-quality-checklist", 6, CONTENT),
    Page(WEBSITE, "https://example.com/about", 3, CONTENT),
    Page(WEBSITE, "https://example.com/careers", 3, CONTENT),
    Page(WEBSITE, "https://example.com/pricing", 3, PRICING),
    Page(WEBSITE, "https://example.com/pricing/enterprise", 1, PRICING),
    Page(WEBSITE, "https://example.com/demo", 2, FORM),
    Page(WEBSITE, "https://example.com/contact", 1, FORM),
    Page(HS_LANDING, "https://go.example.com/ebook-data-quality", 5, CONTENT),
    Page(HS_LANDING, "https://go.example.com/webinar-realtime", 4, CONTENT, 1500),
    Page(HS_LANDING, "https://go.example.com/pricing-guide", 1, PRICING),
    Page(HS_LANDING, "https://go.example.com/request-demo", 1, FORM),
    Page(DOCS, "https://docs.example.com/getting-started", 5, CONTENT),
    Page(DOCS, "https://docs.example.com/tracking/javascript", 4, CONTENT),
    Page(DOCS, "https://docs.example.com/api/reference", 3, CONTENT),
    Page(CONSOLE, "https://console.example.com/pipelines", 5, CONTENT),
    Page(CONSOLE, "https://console.example.com/data-quality", 3, CONTENT),
    Page(CONSOLE, "https://console.example.com/settings/users", 1, CONTENT),
)


class Source(NamedTuple):
    refr_medium: str | None
    mkt_medium: str | None
    mkt_campaign: str | None
    first_visit_weight: float
    return_visit_weight: float
    landing_share: float  # how often the session lands on the hs-landing app instead of the website
    lift: float  # log-odds added to pricing visits, form engagement and submission


SOURCES = (
    Source(None, None, None, 20, 45, 0.0, 0.3),  # direct: returning prospects know where to go
    Source("search", None, None, 30, 20, 0.0, 0.0),
    Source("social", None, None, 12, 5, 0.0, -0.4),
    Source("unknown", None, None, 6, 4, 0.0, -0.2),
    Source("search", "cpc", "brand_search", 8, 8, 0.3, 0.9),
    Source("search", "cpc", "competitor_search", 8, 3, 0.3, 0.4),
    Source("email", "email", "product_newsletter", 4, 10, 0.3, 0.2),
    Source("email", "email", "webinar_realtime", 4, 4, 0.8, 0.5),
    Source("social", "organic", "ebook_data_quality", 8, 1, 0.8, -0.2),
)
DIRECT, ORGANIC_SEARCH = 0, 1


class Device(NamedTuple):
    device_class: str
    agent_name: str
    operating_system_name: str
    weight: float
    lift: float  # filling in a form on a phone is a chore


DEVICES = (
    Device("Desktop", "Chrome", "Windows NT", 22, 0.0),
    Device("Desktop", "Chrome", "Mac OS", 14, 0.0),
    Device("Desktop", "Edge", "Windows NT", 8, 0.0),
    Device("Desktop", "Safari", "Mac OS", 8, 0.0),
    Device("Desktop", "Firefox", "Linux", 3, 0.0),
    Device("Phone", "Chrome", "Android", 15, -0.6),
    Device("Phone", "Safari", "iOS", 20, -0.6),
    Device("Tablet", "Safari", "iOS", 6, -0.3),
    Device("Tablet", "Chrome", "Android", 2, -0.3),
)

_HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % byte for byte in range(256)), dtype=np.uint16)  # byte -> 2 hex chars


# ----- public API -------------------------------------------------------------------------------


def generate_events(
    *, n_users: int = DEFAULT_DEMO_USERS, seed: int = 0, anchor: dt.date | None = None
) -> pa.Table:
    """Simulate `n_users` prospects' events up to the end of `anchor` (default: today).

    Returns an Arrow table with the `COLUMNS` layout, JSON contexts as strings, sorted by time.
    """
    _check_n_users(n_users)
    anchor = anchor or dt.date.today()
    anchor_start_ms = (anchor - dt.date(1970, 1, 1)).days * DAY_MS
    rng = np.random.default_rng(seed)

    users = _draw_users(rng, n_users, anchor_start_ms)
    sessions = _draw_sessions(rng, users)
    pages, submits = _draw_pages(rng, users, sessions)
    form, form_busy_ms = _form_events(rng, pages, submits)
    media, media_busy_ms = _media_events(rng, pages)
    # a page lasts at least until its form is done and its video paused; pings and clicks follow from that
    pages = dataclasses.replace(pages, dwell_ms=np.maximum.reduce([pages.dwell_ms, form_busy_ms, media_busy_ms]))
    events = _concat_events([_page_events(rng, pages), _ping_events(rng, pages), form, media])
    page_start_ms, session_start_ms = _lay_out(rng, users, sessions, pages)
    return _to_table(rng, events, users, sessions, pages, page_start_ms, session_start_ms, anchor_start_ms + DAY_MS)


def write_demo_db(
    path: str | os.PathLike[str],
    *,
    n_users: int = DEFAULT_DEMO_USERS,
    seed: int = 0,
    anchor: dt.date | None = None,
    table: str = "atomic.events",
    follow_symlinks: bool = False,
) -> int:
    """Write the demo events into a new DuckDB file at `path`; return the number of events.

    Written through `safe_io.write_file`: built beside `path`, checked, and moved into place in one
    rename, so a reader (or a crash) never sees a half-written database at `path`; a `path` that is a
    device, FIFO, directory or (unless followed) symbolic link is refused before any work.
    """
    if not TABLE_NAME.fullmatch(table):
        raise ValueError(
            "table must be name, schema.name or catalog.schema.name with identifiers matching "
            f"{TABLE_NAME.pattern}, got {table!r}"
        )
    _check_n_users(n_users)
    path = safe_io.output_path(path, what="the demo database", follow_symlinks=follow_symlinks)
    events = generate_events(n_users=n_users, seed=seed, anchor=anchor)

    parts = table.split(".")
    catalog = parts[0] if len(parts) == 3 else "demo"
    quoted = ".".join(f'"{part}"' for part in parts)
    relation = ".".join(f'"{part}"' for part in parts[-2:])  # a file opened alone is a catalog named after it

    def write(building: Path) -> None:
        with duckdb.connect() as connection:
            connection.execute(f"attach {sql_string(str(building))} as \"{catalog}\"")
            connection.execute(f'use "{catalog}"')
            if len(parts) > 1:
                schema = ".".join(f'"{part}"' for part in parts[:-1])
                connection.execute(f"create schema if not exists {schema}")
            columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in COLUMNS)
            connection.execute(f"create table {quoted} ({columns})")
            connection.register("demo_events", events)
            casts = ", ".join(f'cast("{name}" as {sql_type})' for name, sql_type in COLUMNS)
            connection.execute(f"insert into {quoted} select {casts} from demo_events")

    def verify(building: Path, _: None) -> str | None:
        with duckdb.connect(str(building), read_only=True) as connection:
            rows = connection.execute(f"select count(*) from {relation}").fetchone()[0]
        return None if rows == events.num_rows else f"{rows:,} of {events.num_rows:,} events"

    safe_io.write_file(path, write, what="the demo database", verify=verify, follow_symlinks=follow_symlinks)
    return events.num_rows


# ----- simulation: users -> sessions -> pages -> events -----------------------------------------


@dataclasses.dataclass(frozen=True)
class _Users:
    first_seen_ms: np.ndarray
    intent: np.ndarray  # latent propensity to buy: drives pricing visits, forms and how soon users return
    device: np.ndarray
    first_source: np.ndarray  # acquisition source; its lift lingers over later sessions
    web: np.ndarray  # False: only ever seen on docs/console
    n_sessions: np.ndarray
    mean_gap_ms: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Sessions:
    user: np.ndarray
    first_of_user: np.ndarray  # index of the user's first session, for per-user running sums
    ordinal: np.ndarray  # 0 for the user's first session
    app: np.ndarray
    source: np.ndarray
    device: np.ndarray
    device_missing: np.ndarray
    lift: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Pages:
    session: np.ndarray
    position: np.ndarray  # 0 = landing page of the session
    url: np.ndarray
    dwell_ms: np.ndarray  # time from this page view to leaving the page


@dataclasses.dataclass(frozen=True)
class _Events:
    page: np.ndarray
    offset_ms: np.ndarray  # after the page view
    name: np.ndarray
    media_time_s: np.ndarray | None = None
    media_duration_s: np.ndarray | None = None
    media_paused: np.ndarray | None = None


def _draw_users(rng: np.random.Generator, n_users: int, anchor_start_ms: int) -> _Users:
    days_before = rng.integers(0, HISTORY_DAYS, n_users)
    time_of_day_ms = (rng.normal(14.5, 3.5, n_users) % 24 * HOUR_MS).astype(np.int64)
    intent = rng.standard_normal(n_users)
    return _Users(
        first_seen_ms=anchor_start_ms - days_before * DAY_MS + time_of_day_ms,
        intent=intent,
        device=rng.choice(len(DEVICES), n_users, p=_normalized([d.weight for d in DEVICES])),
        first_source=rng.choice(len(SOURCES), n_users, p=_normalized([s.first_visit_weight for s in SOURCES])),
        web=rng.random(n_users) >= OTHER_APPS_ONLY_USER_SHARE,
        # heavy-tailed: most users come once to three times, a few keep coming back
        n_sessions=np.minimum(rng.zipf(2.0, n_users), MAX_SESSIONS_PER_USER),
        mean_gap_ms=rng.lognormal(np.log(2.5 * DAY_MS), 0.7, n_users) * np.exp(-0.3 * intent),
    )


def _draw_sessions(rng: np.random.Generator, users: _Users) -> _Sessions:
    user, first_of_user = _expand(users.n_sessions)
    n = len(user)
    first = np.arange(n) == first_of_user
    return_source = rng.choice(len(SOURCES), n, p=_normalized([s.return_visit_weight for s in SOURCES]))
    source = np.where(first, users.first_source[user], return_source)

    landing_share = np.array([s.landing_share for s in SOURCES])
    app = np.where(rng.random(n) < landing_share[source], HS_LANDING, WEBSITE)
    side_trip = rng.random(n)
    app = np.where(~first & (side_trip < 0.06), DOCS, app)
    app = np.where(~first & (side_trip >= 0.06) & (side_trip < 0.08), CONSOLE, app)
    app = np.where(users.web[user], app, np.where(rng.random(n) < 0.6, DOCS, CONSOLE))
    # nobody arrives at the docs or the console from an ad or a newsletter
    off_site = (app == DOCS) | (app == CONSOLE)
    source = np.where(off_site, np.where(rng.random(n) < 0.5, DIRECT, ORGANIC_SEARCH), source)

    source_lift = np.array([s.lift for s in SOURCES])
    device = np.where(rng.random(n) < 0.94, users.device[user], rng.choice(len(DEVICES), n))
    return _Sessions(
        user=user,
        first_of_user=first_of_user,
        ordinal=np.arange(n) - first_of_user,
        app=app,
        source=source,
        device=device,
        device_missing=rng.random(n) < MISSING_DEVICE_SESSION_SHARE,
        lift=source_lift[source] + 0.5 * source_lift[users.first_source[user]],
    )


def _draw_pages(rng: np.random.Generator, users: _Users, sessions: _Sessions) -> tuple[_Pages, np.ndarray]:
    """Content pages for every session, then a form page closing the sessions that engage with a form.

    Returns the pages and, per session, whether it ends in a `submit_form`.
    """
    n_sessions = len(sessions.user)
    intent = users.intent[sessions.user]
    mean_pages = np.where(sessions.app == DOCS, 2.5, 1.6) * np.exp(0.2 * intent)
    n_content = np.minimum(1 + rng.poisson(mean_pages), MAX_CONTENT_PAGES_PER_SESSION)
    session, first_page = _expand(n_content)
    app = sessions.app[session]
    has_pricing = (app == WEBSITE) | (app == HS_LANDING)
    p_pricing = _sigmoid(-2.4 + 1.0 * intent[session] + 0.5 * sessions.lift[session])
    kind = np.where(has_pricing & (rng.random(len(session)) < p_pricing), PRICING, CONTENT)
    url = _choose_urls(rng, app, kind)

    pricing_now = np.bincount(session, weights=kind == PRICING, minlength=n_sessions)
    pricing_before = _running_total(pricing_now, sessions.first_of_user)
    # The target must be learnable from the as-of-event features: engaging with a form, and then
    # submitting it, mostly depends on what earlier events show (pricing views in this and earlier
    # sessions, returning visits, earlier form engagement, the campaign), only a little on latent intent.
    device_lift = np.array([d.lift for d in DEVICES])[sessions.device]
    can_engage = (sessions.app == WEBSITE) | (sessions.app == HS_LANDING)
    p_engage = _sigmoid(
        -6.1
        + 0.3 * intent
        + 0.6 * np.minimum(pricing_now, 2)
        + 1.6 * np.log1p(pricing_before)
        + 0.8 * np.log1p(sessions.ordinal)
        + 1.5 * sessions.lift
        + device_lift
    )
    engaged = can_engage & (rng.random(n_sessions) < p_engage)
    engaged_before = _running_total(engaged, sessions.first_of_user) > 0
    p_submit = _sigmoid(
        -1.0
        + 0.3 * intent
        + 0.8 * np.log1p(pricing_before + pricing_now)
        + 1.5 * engaged_before
        + sessions.lift
    )
    would_submit = engaged & (rng.random(n_sessions) < p_submit)
    # a prospect who has asked for a demo rarely asks again
    submitted_before = _running_total(would_submit, sessions.first_of_user) > 0
    submits = would_submit & (~submitted_before | (rng.random(n_sessions) < 0.15))

    form_session = np.flatnonzero(engaged)
    form_url = _choose_urls(rng, sessions.app[form_session], np.full(len(form_session), FORM))
    all_session = np.concatenate([session, form_session])
    position = np.concatenate([np.arange(len(session)) - first_page, n_content[form_session]])
    order = np.lexsort((position, all_session))
    all_kind = np.concatenate([kind, np.full(len(form_session), FORM)])
    dwell_ms = _reading_time_ms(rng, all_kind, np.concatenate([app, sessions.app[form_session]]))
    pages = _Pages(
        session=all_session[order],
        position=position[order],
        url=np.concatenate([url, form_url])[order],
        dwell_ms=dwell_ms[order],
    )
    return pages, submits


def _reading_time_ms(rng: np.random.Generator, kind: np.ndarray, app: np.ndarray) -> np.ndarray:
    median_s = np.select([kind == PRICING, app == DOCS], [45.0, 60.0], 25.0)
    seconds = rng.lognormal(np.log(median_s), 0.9)
    return np.clip(seconds * SECOND_MS, 1_500, 12 * MINUTE_MS).astype(np.int64)


def _page_events(rng: np.random.Generator, pages: _Pages) -> _Events:
    """Page views, and the web vitals, link clicks and errors that the training query filters out."""
    n = len(pages.session)
    every_page = np.arange(n)
    last_of_session = np.r_[pages.session[1:] != pages.session[:-1], True]

    vitals = rng.random(n) < 0.35
    # a third of the vitals beacons fire in the same millisecond as their page view: exact ties
    vitals_at = np.where(rng.random(n) < 0.35, 0, rng.integers(0, pages.dwell_ms))
    # leaving a page by a click: the click ends the reading time, the next page view follows 80..2500 ms later
    clicks = rng.random(n) < np.where(last_of_session, 0.08, 0.45)
    errors = rng.random(n) < 0.03
    error_at = rng.integers(0, pages.dwell_ms)
    return _concat_events(
        [
            _Events(every_page, np.zeros(n, np.int64), np.full(n, PAGE_VIEW)),
            _Events(every_page[vitals], vitals_at[vitals], np.full(vitals.sum(), WEB_VITALS)),
            _Events(every_page[clicks], pages.dwell_ms[clicks], np.full(clicks.sum(), LINK_CLICK)),
            _Events(every_page[errors], error_at[errors], np.full(errors.sum(), APPLICATION_ERROR)),
        ]
    )


def _ping_events(rng: np.random.Generator, pages: _Pages) -> _Events:
    """Heartbeats every 10 s after the first 10 s on a page; a few are sent twice in the same millisecond."""
    n_pings = np.maximum((pages.dwell_ms - 500) // PING_INTERVAL_MS, 0)
    page, first = _expand(n_pings)
    beat = np.arange(len(page)) - first + 1
    offset = beat * PING_INTERVAL_MS + rng.integers(0, 400, len(page))
    twice = np.flatnonzero(rng.random(len(page)) < 0.005)
    page, offset = np.concatenate([page, page[twice]]), np.concatenate([offset, offset[twice]])
    return _Events(page, offset, np.full(len(page), PAGE_PING))


def _form_events(rng: np.random.Generator, pages: _Pages, submits: np.ndarray) -> tuple[_Events, np.ndarray]:
    """Focus, field changes and maybe a submit on each form page.

    Returns the events and, per page, how long the visitor stays busy with the form (0 elsewhere).
    """
    form_urls = [i for i, p in enumerate(PAGES) if p.kind == FORM]
    form_page = np.flatnonzero(np.isin(pages.url, form_urls))
    submitted = submits[pages.session[form_page]]
    n = len(form_page)
    focus_at = rng.integers(3 * SECOND_MS, 20 * SECOND_MS, n)
    n_changes = np.where(submitted, 2 + rng.poisson(2.0, n), rng.poisson(1.0, n))
    change_page, first_change = _expand(n_changes)
    typing_gap = rng.integers(1_200, 9 * SECOND_MS, len(change_page))
    change_at = focus_at[change_page] + _running_total(typing_gap, first_change) + typing_gap
    typed_until = focus_at + np.bincount(change_page, weights=typing_gap, minlength=n).astype(np.int64)
    submit_at = typed_until + rng.integers(1 * SECOND_MS, 8 * SECOND_MS, n)
    busy_ms = np.zeros(len(pages.url), np.int64)
    busy_ms[form_page] = np.where(submitted, submit_at, typed_until) + rng.integers(2 * SECOND_MS, 40 * SECOND_MS, n)
    events = _concat_events(
        [
            _Events(form_page, focus_at, np.full(n, FOCUS_FORM)),
            _Events(form_page[change_page], change_at, np.full(len(change_page), CHANGE_FORM)),
            _Events(form_page[submitted], submit_at[submitted], np.full(submitted.sum(), SUBMIT_FORM)),
        ]
    )
    return events, busy_ms


def _media_events(rng: np.random.Generator, pages: _Pages) -> tuple[_Events, np.ndarray]:
    """Play, 25/50/75% progress and pause on some views of pages with a video.

    Returns the events and, per page, how long the visitor stays for the video (0 elsewhere).
    """
    video_s = np.array([p.video_seconds for p in PAGES])[pages.url]
    played = np.flatnonzero((video_s > 0) & (rng.random(len(pages.url)) < 0.35))
    duration_s = video_s[played]
    play_at = rng.integers(2 * SECOND_MS, 15 * SECOND_MS, len(played))
    watched = rng.beta(1.3, 1.8, len(played))
    watched_ms = (watched * duration_s * SECOND_MS).astype(np.int64)
    busy_ms = np.zeros(len(pages.url), np.int64)
    busy_ms[played] = play_at + watched_ms + rng.integers(SECOND_MS, 20 * SECOND_MS, len(played))

    parts = [_media(played, play_at, PLAY, np.zeros(len(played)), duration_s, paused=False)]
    for mark in (0.25, 0.5, 0.75):
        reached = watched >= mark
        mark_s = mark * duration_s[reached]
        mark_at = play_at[reached] + (mark_s * SECOND_MS).astype(np.int64)
        parts.append(_media(played[reached], mark_at, PERCENT_PROGRESS, mark_s, duration_s[reached], paused=False))
    parts.append(_media(played, play_at + watched_ms, PAUSE, watched_ms / SECOND_MS, duration_s, paused=True))
    return _concat_events(parts), busy_ms


def _media(
    page: np.ndarray, offset_ms: np.ndarray, name: int, time_s: np.ndarray, duration_s: np.ndarray, *, paused: bool
) -> _Events:
    n = len(page)
    return _Events(page, offset_ms, np.full(n, name), time_s, duration_s, np.full(n, paused))


def _lay_out(
    rng: np.random.Generator, users: _Users, sessions: _Sessions, pages: _Pages
) -> tuple[np.ndarray, np.ndarray]:
    """Place pages within sessions and sessions on the calendar, once every page's length is known.

    A session's next page view follows the previous page's end by 80..2500 ms; the user's next
    session starts more than the 30-minute timeout after the previous one ended.
    """
    step_ms = pages.dwell_ms + rng.integers(80, 2_500, len(pages.dwell_ms))
    first_page = np.flatnonzero(pages.position == 0)[pages.session]
    page_start_ms = _running_total(step_ms, first_page)
    session_ms = np.bincount(pages.session, weights=step_ms, minlength=len(sessions.user)).astype(np.int64)
    gap_ms = SESSION_TIMEOUT_MS + rng.exponential(users.mean_gap_ms[sessions.user]).astype(np.int64)
    session_start_ms = users.first_seen_ms[sessions.user] + _running_total(session_ms + gap_ms, sessions.first_of_user)
    return page_start_ms, session_start_ms


def _to_table(
    rng: np.random.Generator,
    events: _Events,
    users: _Users,
    sessions: _Sessions,
    pages: _Pages,
    page_start_ms: np.ndarray,
    session_start_ms: np.ndarray,
    end_ms: int,
) -> pa.Table:
    """Absolute times, the anchor-day cut, time order, NULL noise, ids and the string/JSON columns."""
    session = pages.session[events.page]
    tstamp_ms = session_start_ms[session] + page_start_ms[events.page] + events.offset_ms
    user = sessions.user[session]
    # keep what happened by the end of the anchor day; sort by time, then user, then event order
    kept = np.flatnonzero(tstamp_ms < end_ms)
    order = kept[np.lexsort((events.name[kept], user[kept], tstamp_ms[kept]))]
    tstamp_ms, session, user = tstamp_ms[order], session[order], user[order]
    page, name = events.page[order], events.name[order]
    n = len(order)

    anonymous = (rng.random(n) < ANONYMOUS_EVENT_SHARE) & (name != SUBMIT_FORM)
    sessionless = anonymous | ((rng.random(n) < SESSIONLESS_EVENT_SHARE) & (name != SUBMIT_FORM))
    # referrer and campaign belong to page views: the landing one carries the session's, later ones are internal
    page_view = name == PAGE_VIEW
    landing = page_view & (pages.position[page] == 0)
    source = np.where(landing, sessions.source[session], len(SOURCES))
    media = np.isin(name, MEDIA_EVENTS)

    columns = {
        "event_id": _uuids(rng, n),
        "app_id": _take(APPS, sessions.app[session]),
        "event_name": _take(EVENT_NAMES, name),
        "event_vendor": _take([vendor for vendor, _ in EVENT_IDENTITIES], name),
        "event_version": _take([version for _, version in EVENT_IDENTITIES], name),
        "derived_tstamp": pa.array(tstamp_ms, pa.timestamp("ms")),
        "domain_userid": pc.take(_uuids(rng, len(users.intent)), pa.array(user, mask=anonymous)),
        "domain_sessionid": pc.take(_uuids(rng, len(sessions.user)), pa.array(session, mask=sessionless)),
        "page_url": _take([p.url for p in PAGES], pages.url[page]),
        "refr_medium": _take([s.refr_medium for s in SOURCES] + ["internal"], source, null=~page_view),
        "mkt_medium": _take([s.mkt_medium for s in SOURCES] + [None], source, null=~landing),
        "mkt_campaign": _take([s.mkt_campaign for s in SOURCES] + [None], source, null=~landing),
        "contexts_nl_basjes_yauaa_context_1": _take(
            [_yauaa_json(d) for d in DEVICES],
            sessions.device[session],
            null=anonymous | sessions.device_missing[session],
        ),
        "contexts_com_snowplowanalytics_snowplow_media_player_2": _media_json(
            events.media_time_s[order], events.media_duration_s[order], events.media_paused[order], null=~media
        ),
    }
    return pa.table({name: columns[name] for name, _ in COLUMNS})


# ----- helpers ----------------------------------------------------------------------------------


def _check_n_users(n_users: object) -> None:
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or not 1 <= n_users <= MAX_DEMO_USERS:
        raise ValueError(f"n_users must be a whole number from 1 to {MAX_DEMO_USERS:,}, got {n_users!r}")


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per child: its parent's index and the index of the parent's first child."""
    parent = np.repeat(np.arange(len(counts)), counts)
    first_child = np.repeat(np.cumsum(counts) - counts, counts)
    return parent, first_child


def _running_total(values: np.ndarray, group_first: np.ndarray) -> np.ndarray:
    """Sum of the earlier values in each row's group (rows grouped contiguously, `group_first` = group's first row)."""
    before = np.cumsum(values) - values
    return before - before[group_first]


def _choose_urls(rng: np.random.Generator, app: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Index into `PAGES` of a page of the given app and kind, picked by the pages' weights."""
    url = np.full(len(app), -1)
    for a in range(len(APPS)):
        for k in (CONTENT, PRICING, FORM):
            rows = np.flatnonzero((app == a) & (kind == k))
            candidates = [i for i, p in enumerate(PAGES) if p.app == a and p.kind == k]
            if len(rows):
                url[rows] = rng.choice(candidates, len(rows), p=_normalized([PAGES[i].weight for i in candidates]))
    return url


def _concat_events(parts: list[_Events]) -> _Events:
    """Stack event parts; media columns are NaN/False on the non-media rows."""

    def column(field: str, fill: object) -> np.ndarray:
        values = [getattr(p, field) for p in parts]
        return np.concatenate([v if v is not None else np.full(len(p.page), fill) for v, p in zip(values, parts)])

    return _Events(
        page=column("page", 0),
        offset_ms=column("offset_ms", 0).astype(np.int64),
        name=column("name", 0),
        media_time_s=column("media_time_s", np.nan),
        media_duration_s=column("media_duration_s", np.nan),
        media_paused=column("media_paused", False),
    )


def _take(values: list[str | None] | tuple[str, ...], codes: np.ndarray, *, null: np.ndarray | None = None) -> pa.Array:
    """Strings by code; NULL where `null` is set or the looked-up value is None."""
    return pc.take(pa.array(values, pa.string()), pa.array(codes, mask=null))


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """Version-4 UUID strings drawn from `rng`, so ids are as reproducible as the rest of the data."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hex_chars = _HEX_PAIRS[raw].view(np.uint8)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    # 8-4-4-4-12 hex digits; the columns in between keep their dash
    text[:, 0:8], text[:, 9:13], text[:, 14:18] = hex_chars[:, 0:8], hex_chars[:, 8:12], hex_chars[:, 12:16]
    text[:, 19:23], text[:, 24:36] = hex_chars[:, 16:20], hex_chars[:, 20:32]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))


def _yauaa_json(device: Device) -> str:
    context = {
        "deviceClass": device.device_class,
        "agentName": device.agent_name,
        "operatingSystemName": device.operating_system_name,
    }
    return json.dumps([context], separators=(",", ":"))


def _media_json(time_s: np.ndarray, duration_s: np.ndarray, paused: np.ndarray, *, null: np.ndarray) -> pa.Array:
    """`[{"currentTime":12.3,"duration":95,"paused":false}]` per media row, built column-wise by Arrow."""
    current = pc.cast(pa.array(np.round(time_s, 1), mask=null), pa.string())
    duration = pc.cast(pa.array(np.nan_to_num(duration_s).astype(np.int64), mask=null), pa.string())
    paused_text = pc.if_else(pa.array(paused), "true", "false")
    pieces = ['[{"currentTime":', current, ',"duration":', duration, ',"paused":', paused_text, "}]"]
    return pc.binary_join_element_wise(*pieces, "")


def _normalized(weights: list[float]) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    return weights / weights.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
