"""Background jobs: long work (a query, a fit, loading a file) in a worker thread while the page polls it.

The page can then show elapsed time, offer Cancel (a click reruns the script, whose callback cancels
the query), and a user who leaves the page finds the job still running, or its result, when they come
back. Nothing here knows what a job does: the work, its cancel and where its result goes are passed in.

Every query over a user's data runs here, never in the page script (issue 21: a crafted file's query
pinned a core for minutes, past the tab's closing). A job is stopped, through its cancel, by Cancel,
by the time limit it was started with, and by its session going away (`state._release`, told by the
server's session registry within about a second of the tab closing). Builds, fits and loads are
followed by the page until they end (`follow_job`); the page's own queries (event counts, the
explorer) are `background_result`s: the page draws on without them and is drawn again when they end.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import streamlit as st

from prospect_core.infra.errors import UserError
from prospect_core.studio import keys
from prospect_core.trainingset.wording import plain

# Eight, not four: the pages' queries run here too now. Each is bounded in time and DuckDB threads.
_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="studio-job")
WAIT_SECONDS = 1.0  # a query answering within it (the demo's, a cached one) shows no progress at all
POLL_SECONDS = 1.0  # how often a page looks at its running query
RETRIES = 10  # a build stopped between two queries has nothing to interrupt yet: try again, 0.5 s apart


@dataclass
class Job:
    kind: str  # "build", "train" or "load": at most one of each per session
    title: str
    future: Future
    started: float
    progress: list[str]
    cancel: Callable[[], bool] | None = None
    deliver: Callable[[Any], None] | None = None  # puts the result into session state
    key: Hashable = None  # what it computes: a page asking for something else starts another job
    stopped: str | None = None  # why the server stopped it (time limit, session gone), said instead of its error

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def stop(self, why: str | None = None, retries: int = RETRIES) -> None:
        """Interrupt it, from any thread; `why` is what the page then says (None: its own error, as after Cancel)."""
        if self.cancel is None or self.future.done():
            return
        if why is not None and self.stopped is None:
            self.stopped = why
        with contextlib.suppress(UserError):  # nothing to cancel right now: tried again below
            self.cancel()
        if retries:
            again = threading.Timer(0.5, self.stop, args=(why, retries - 1))
            again.daemon = True
            again.start()


def start_job(kind: str, title: str, work: Callable[[Callable[[str], None]], Any],
              cancel: Callable[[], bool] | None = None, deliver: Callable[[Any], None] | None = None, *,
              key: Hashable = None, stop_after: tuple[float, str] | None = None) -> Job:
    """Run `work` in the background as this session's one job of `kind`; a second one is refused.

    `stop_after` (seconds, what the page then says): the job is stopped once it has run that long.
    """
    if pending_job(kind) is not None:
        raise UserError(f"a {kind} job is already running in this session; wait for it or cancel it")
    progress: list[str] = []
    job = Job(kind, title, _EXECUTOR.submit(work, progress.append), time.perf_counter(), progress, cancel, deliver, key)
    if stop_after is not None and cancel is not None:
        limit = threading.Timer(stop_after[0], job.stop, args=(stop_after[1],))
        limit.daemon = True
        limit.start()
        job.future.add_done_callback(lambda _: limit.cancel())
    st.session_state[keys.job(kind)] = job
    return job


def pending_job(kind: str) -> Job | None:
    """This session's running (or finished, not yet collected) job of `kind`.

    Where a page asks, it also confirms a job of that kind that finished on the previous run.
    """
    finished = st.session_state.pop(keys.finished(kind), None)
    if finished:
        st.success(finished, icon=":material/check_circle:")
    return st.session_state.get(keys.job(kind))


def _cancel(kind: str) -> None:
    job = st.session_state.get(keys.job(kind))
    if job is not None:
        job.stop()


def follow_job(job: Job, *, done: str) -> Any:
    """Show `job`'s progress until it ends; its result, or None after showing its error.

    A click or a page change while this waits stops the script at its next `st.*` call; the job keeps
    running and stays in session state, so the next visit follows it again. The result is put into
    session state (`job.deliver`) before any further `st.*` call, so it cannot be lost that way.
    """
    with st.status(f"{plain(job.title)}…", expanded=True) as status:
        if job.cancel is not None and not job.future.done():
            st.button("Cancel", key=f"cancel_{job.kind}", on_click=_cancel, args=(job.kind,), icon=":material/stop:")
        shown, second = 0, -1
        while True:
            finished = job.future.done()
            for line in job.progress[shown:]:
                st.write(plain(line))
            shown = len(job.progress)
            if finished:
                break
            if int(job.elapsed) != second:
                second = int(job.elapsed)
                status.update(label=f"{plain(job.title)}… {second} s")
            time.sleep(0.1)
        result, error = _collect(job)
        if error is not None:
            status.update(label=f"{plain(job.title)}: stopped after {job.elapsed:.1f} s", state="error", expanded=True)
            st.error(plain(error), icon=":material/error:")
            return None
        if job.deliver is not None:
            # Rerun, so everything drawn before this point (the sidebar above all) shows the result.
            st.session_state[keys.finished(job.kind)] = f"{done} in {job.elapsed:.1f} s."
            st.rerun()
        status.update(label=f"{plain(done)} in {job.elapsed:.1f} s", state="complete", expanded=False)
        return result


def _collect(job: Job) -> tuple[Any, Exception | None]:
    """Take a finished job out of session state and deliver its result; no `st.*` call in here."""
    try:
        result = job.future.result()
    except UserError as error:
        return None, UserError(job.stopped) if job.stopped else error
    finally:
        if st.session_state.get(keys.job(job.kind)) is job:
            del st.session_state[keys.job(job.kind)]
    if job.deliver is not None:
        job.deliver(result)
    return result, None


def background_result(kind: str, title: str, key: Hashable, work: Callable[[], Any], *,
                      cancel: Callable[[], bool], stop_after: tuple[float, str], show_errors: bool = True) -> Any:
    """What `work()` returns, computed in this session's job of `kind` for `key`; None until then.

    The page waits up to WAIT_SECONDS for a new job, so a quick answer shows no progress; a slower one
    shows its time and Cancel, and the page is drawn again when it ends. A job that failed or was
    stopped says why (`show_errors`) for as long as the page asks for the same `key`, and runs again
    only at Run again: a query that hit a limit would hit it again.
    """
    job = st.session_state.get(keys.job(kind))
    if job is not None and job.key != key:
        job.stop()  # asked for other settings: its answer is no longer wanted
        job = st.session_state[keys.job(kind)] = None
    if job is None:
        job = start_job(kind, title, lambda report: work(), cancel=cancel, key=key, stop_after=stop_after)
        wait([job.future], timeout=WAIT_SECONDS)
    if not job.future.done():
        _follow_query(kind)
        return None
    try:
        return job.future.result()
    except UserError as error:
        if show_errors:
            st.error(plain(job.stopped or str(error)), icon=":material/error:")
            st.button("Run again", key=f"again_{kind}", on_click=_forget, args=(kind,), icon=":material/refresh:")
        return None


def _forget(kind: str) -> None:
    st.session_state[keys.job(kind)] = None


@st.fragment(run_every=POLL_SECONDS)
def _follow_query(kind: str) -> None:
    """The running query's time and Cancel, redrawn each second; the whole page once it has ended."""
    job = st.session_state.get(keys.job(kind))
    if job is None or job.future.done():
        st.rerun()
    with st.status(f"{plain(job.title)}… {int(job.elapsed)} s", expanded=True):
        st.button("Cancel", key=f"cancel_{kind}", on_click=_cancel, args=(kind,), icon=":material/stop:")
