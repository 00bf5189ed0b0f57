"""Which training sets and runs the server holds in memory, for whom, and when they are let go.

Streamlit keeps a disconnected session's `st.session_state` so that a browser which reconnects finds
its work again (`server.disconnectedSessionTTL`, 120 s by default). Its store forgets a session only
lazily, when another session is saved into it, so the training sets and fitted runs of sessions long
gone stayed in memory (issue 11: 20 runs and 147 DataFrames alive with no session connected). This
registry bounds what the server holds:

- a session found disconnected has its running jobs stopped at once (a closed tab's query must not
  run on for minutes, issue 21), keeping what they were for: a session that reconnects is told;
- a session disconnected for longer than the grace period has its training set, runs and jobs
  released, and the server is asked to forget the session itself (the page's own variables, which
  its widgets' callbacks keep alive, hold the same objects); the future run store relies on that
  grace period (`limits.SESSION_GRACE`);
- the server holds at most `max_sets` training sets and `max_runs` runs in all; admitting one past a
  cap releases the oldest, whoever's it is, and that session is told so.

A connected session's objects are only ever released by its own script thread (at its next run), so
nothing is taken from under a page that is drawing it; a disconnected session runs no script, so the
sweeper clears its state directly. The registry holds no training set or run itself: only which
session holds which (`Held`), and, for a session that may disconnect, its state mapping.

Nothing here imports streamlit: the app passes in how to tell a connected session (`is_connected`)
and how to take objects out of a session's state (`release`).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, MutableMapping

LOGGER = logging.getLogger(__name__)
SET, RUN, JOBS, EVERYTHING = "training set", "run", "running jobs", "everything"


@dataclass(frozen=True)
class Held:
    """One object a session holds: its training set (number 0) or one of its runs (by run number).

    `Held(EVERYTHING)` is only ever released: all a gone session holds, its running jobs included;
    `Held(JOBS)` too: only its running jobs, stopped, when it is found disconnected.
    """

    kind: str
    number: int = 0


Release = Callable[[MutableMapping[str, Any], Iterable[Held], str], None]


@dataclass
class _Session:
    state: MutableMapping[str, Any] | None  # None when the app could not reach it (AppTest); never cleared then
    seen: float  # last time it ran a script or was found connected
    held: dict[Held, int] = field(default_factory=dict)  # -> admission order, oldest first
    pending: dict[Held, str] = field(default_factory=dict)  # released by the cap, applied at its next run
    connected: bool = True  # when last swept: its jobs are stopped once, as it is found disconnected


class SessionMemory:
    """The server-wide registry; thread-safe. One instance per server process (`studio.MEMORY`)."""

    def __init__(self, *, grace_seconds: Callable[[], float], max_sets: Callable[[], int],
                 max_runs: Callable[[], int], is_connected: Callable[[str], bool], release: Release,
                 forget: Callable[[str], None] = lambda session_id: None, after_release: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # Limits are read on each use, so an operator's change to secrets applies without a restart.
        self._grace, self._max_sets, self._max_runs = grace_seconds, max_sets, max_runs
        self._is_connected, self._release, self._clock = is_connected, release, clock
        self._forget = forget  # have the server drop a session gone past the grace period, all it holds
        self._after_release = after_release  # e.g. hand the freed memory back to the system
        self._sessions: dict[str, _Session] = {}
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None
        self._forgot_last_time = False

    def touch(self, session_id: str, state: MutableMapping[str, Any] | None, held: Iterable[Held]) -> dict[Held, str]:
        """A session's script runs: note what it holds now; return what the cap took from it since, with why.

        Called from the session's own script thread, which then takes the returned objects out of its state.
        """
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                session = self._sessions[session_id] = _Session(state, now)
            session.seen, session.state = now, state if state is not None else session.state
            session.connected = True
            taken, session.pending = session.pending, {}
            held = set(held) - set(taken)
            session.held = {item: session.held.get(item, next(self._order)) for item in sorted(held, key=_by_number)}
        self.sweep()
        return taken

    def admit(self, session_id: str, item: Held) -> None:
        """`session_id` now holds `item` (a new training set or run); release the oldest objects past a cap."""
        with self._lock:
            session = self._sessions.setdefault(session_id, _Session(None, self._clock()))
            session.held.pop(item, None)
            session.pending.pop(item, None)  # a new training set replaces one the cap was to take
            session.held[item] = next(self._order)
            evicted = self._over_cap(SET, self._max_sets()) + self._over_cap(RUN, self._max_runs())
        self._apply(evicted)

    def sweep(self) -> None:
        """Stop the jobs of sessions found disconnected; release what those gone past the grace period hold."""
        now, grace = self._clock(), self._grace()
        released: list[tuple[str, MutableMapping[str, Any] | None, list[Held], str]] = []
        stopped: list[MutableMapping[str, Any]] = []
        with self._lock:
            for session_id, session in list(self._sessions.items()):
                if self._is_connected(session_id):
                    session.seen, session.connected = now, True
                elif now - session.seen > grace:
                    del self._sessions[session_id]
                    released.append((session_id, session.state, [Held(EVERYTHING)], _gone_message(grace)))
                elif session.connected and session.state is not None:
                    session.connected = False
                    stopped.append(session.state)
        for state in stopped:
            self._release(state, [Held(JOBS)], DISCONNECTED)
        for session_id, state, items, why in released:
            if state is not None:
                self._release(state, items, why)
            self._forget(session_id)
        if released or self._forgot_last_time:
            # The server forgets a session on its own event loop, soon after this: free memory again next time.
            LOGGER.info("released the memory of %d disconnected session(s)", len(released))
            self._after_release()
        self._forgot_last_time = bool(released)

    def holdings(self) -> dict[str, list[Held]]:
        """Session id -> what it holds, oldest first (for tests and the bench)."""
        with self._lock:
            return {session_id: list(session.held) for session_id, session in self._sessions.items()}

    def start_sweeper(self, every_seconds: Callable[[], float]) -> None:
        """Sweep in the background too, so memory comes back when no session is left to run a script."""
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = threading.Thread(target=self._sweep_forever, args=(every_seconds,),
                                             name="studio-memory-sweeper", daemon=True)
            self._sweeper.start()

    def _sweep_forever(self, every_seconds: Callable[[], float]) -> None:
        while True:
            time.sleep(every_seconds())
            try:
                self.sweep()
            except Exception:  # a sweep that fails must not end the sweeping; the next one retries
                LOGGER.exception("releasing disconnected sessions' memory failed")

    def _over_cap(self, kind: str, cap: int) -> list[tuple[str, Held, str]]:
        """Take the oldest objects of `kind` past `cap` out of the index (lock held); who held them, and why."""
        live = sorted((order, session_id, item) for session_id, session in self._sessions.items()
                      for item, order in session.held.items() if item.kind == kind)
        why = _cap_message(kind, cap)
        evicted = [(session_id, item, why) for _, session_id, item in live[:max(0, len(live) - cap)]]
        for session_id, item, _ in evicted:
            del self._sessions[session_id].held[item]
        return evicted

    def _apply(self, evicted: list[tuple[str, Held, str]]) -> None:
        for session_id, item, why in evicted:
            with self._lock:
                session = self._sessions.get(session_id)
                connected = session is not None and (session.state is None or self._is_connected(session_id))
                if connected:
                    session.pending[item] = why  # its own thread takes it out at its next run
            if session is not None and not connected:
                self._release(session.state, [item], why)
                self._after_release()


def _by_number(item: Held) -> tuple[str, int]:
    return item.kind, item.number


DISCONNECTED = "Stopped when this browser tab closed or lost its connection"


def _gone_message(grace: float) -> str:
    return (f"released to free memory after this session was disconnected for more than {grace:g} s "
            "(PROSPECT_SESSION_GRACE_SECONDS)")


def _cap_message(kind: str, cap: int) -> str:
    noun = kind if cap == 1 else f"{kind}s"
    variable = "PROSPECT_MAX_LIVE_SETS" if kind == SET else "PROSPECT_MAX_LIVE_RUNS"
    return f"released to free memory: this server keeps at most {cap:,} {noun} for all sessions ({variable})"
