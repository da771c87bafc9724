"""The one polling panel for background jobs (benchmark runs, head importance, live distillation): it reruns every 2 s
while a job of its kind is waiting or running, slowly otherwise, so a job started by any session, any dashboard
process or the command line shows up here, and the page redraws when one ends. Also a job's progress bar, where it
runs, and its Stop button (for the session that started it, or a presenter)."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from benchmarks.jobs.cluster import ClusterUnavailable
from benchmarks.store.database import StoreUnavailable
from benchmarks.store.jobs import JobRecord
from dashboard import resources, safe
from dashboard.sections import job_control

FAST_S, SLOW_S = 2.0, 15.0
# The database or the cluster out of reach, or a state folder this server cannot write: one sentence on the page.
UNAVAILABLE = (StoreUnavailable, ClusterUnavailable, OSError)


def kind_jobs(kind: str) -> list[JobRecord]:
    """The newest jobs of a kind; none (and one sentence on the page) when the database cannot be reached."""
    try:
        return resources.jobs().jobs(kind, limit=20)
    except UNAVAILABLE as exc:
        st.warning(f"Background jobs are unavailable: {safe.message(exc)}")
        return []


def watch(kind: str, body: Callable[[list[JobRecord]], None], changed: Callable[[], object] = lambda: None,
          slow: float | None = SLOW_S) -> None:
    """Run `body` with the kind's jobs in a fragment that polls them; the whole page reruns when a job starts or ends,
    or when `changed()` (e.g. the results cache's version) returns something new."""
    was_active = any(j.active for j in kind_jobs(kind))
    seen = changed()

    @st.fragment(run_every=FAST_S if was_active else slow)
    def panel() -> None:
        jobs = kind_jobs(kind)
        if any(j.active for j in jobs) != was_active or changed() != seen:
            st.rerun()
        try:
            body(jobs)
        except UNAVAILABLE as exc:
            st.warning(f"Background jobs are unavailable: {safe.message(exc)}")

    panel()


def progress(job: JobRecord, doing: str, key: str) -> None:
    """A running job: its bar, the machine it runs on, and Stop."""
    if job.state == "queued":
        st.progress(0.0, text=f"Waiting for a worker ({safe.text(job.current)})")
    else:
        step = f" {job.position} of {job.total}" if job.total else ""
        left = (f", about {job.minutes() * (1 - job.fraction) / job.fraction:.0f} min left"
                if 0.02 < job.fraction < 1 else "")
        st.progress(min(1.0, job.fraction), text=f"{doing}{step}: {safe.text(job.current)} · "
                                                 f"{job.minutes():.1f} min so far{left}")
    where = f" on {safe.text(job.machine)}" if job.machine else ""
    st.caption(f"A background job{where}: this page and other sessions stay usable, and it goes on when the tab "
               "closes.")
    stop_button(job, key)


def stop_button(job: JobRecord, key: str, label: str = "Stop", where=st) -> None:
    """Only for the session that started the job, or a presenter with the admin token (checked again on the click)."""
    if not job_control.may_control(job.owner):
        job_control.not_yours(key)
    elif where.button(label, key=f"{key}_stop_{job.id}"):
        if job_control.may_control(job.owner):
            resources.jobs().stop(job.id)
        st.rerun()


def ended(job: JobRecord | None, what: str) -> None:
    """Why the last job of a kind did not finish, in one sentence."""
    if job is not None and job.state in ("failed", "stopped"):
        st.warning(f"The last {what} did not finish: {safe.message(job.message)}")
