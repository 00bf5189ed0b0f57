"""Background jobs: long work (a query, a fit, loading a file) in a worker thread while the page polls it.

The page can then show elapsed time, offer Cancel (a click reruns the script, whose callback cancels
the query), and a user who leaves the page finds the job still running, or its result, when they come
back. Nothing here knows what a job does: the work, its cancel and where its result goes are passed in.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from prospect_core.errors import UserError
from prospect_core.studio import keys
from prospect_core.wording import plain

_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="studio-job")


@dataclass
class Job:
    kind: str  # "build", "train" or "load": at most one of each per session
    title: str
    future: Future
    started: float
    progress: list[str]
    cancel: Callable[[], bool] | None = None
    deliver: Callable[[Any], None] | None = None  # puts the result into session state

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def start_job(kind: str, title: str, work: Callable[[Callable[[str], None]], Any],
              cancel: Callable[[], bool] | None = None, deliver: Callable[[Any], None] | None = None) -> Job:
    """Run `work` in the background as this session's one job of `kind`; a second one is refused."""
    if pending_job(kind) is not None:
        raise UserError(f"a {kind} job is already running in this session; wait for it or cancel it")
    progress: list[str] = []
    job = Job(kind, title, _EXECUTOR.submit(work, progress.append), time.perf_counter(), progress, cancel, deliver)
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
    if job is not None and job.cancel is not None:
        job.cancel()


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
        return None, error
    finally:
        if st.session_state.get(keys.job(job.kind)) is job:
            del st.session_state[keys.job(job.kind)]
    if job.deliver is not None:
        job.deliver(result)
    return result, None
