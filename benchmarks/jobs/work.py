"""Running jobs in this process: one job (`python -m benchmarks job-run <id>`, what a Ray task starts on its node), or
the local queue of one kind on this machine (`python -m benchmarks job-drain <kind>`, one drainer per kind and machine
under a file lock, which the OS releases if it dies)."""

from __future__ import annotations

import signal
import threading
import traceback
from pathlib import Path
from typing import Callable

from benchmarks.core.background import RunInProgress, follow_parent, run_lock
from benchmarks.core.data import DataUnavailable
from benchmarks.core.models import ModelLoadError
from benchmarks.core.settings import Settings
from benchmarks.harness.measure import HarnessError
from benchmarks.jobs import here
from benchmarks.jobs.context import JobContext
from benchmarks.jobs.kinds import KINDS, _Failed
from benchmarks.store.jobs import JobBoard, JobRecord

Log = Callable[[str], None]
KNOWN = (DataUnavailable, ModelLoadError, HarnessError, RunInProgress, ValueError, OSError, _Failed)


class _Shutdown(KeyboardInterrupt):
    """SIGTERM that was not a Stop: the machine's worker itself is stopping (the dashboard exits). A KeyboardInterrupt,
    so every kind cleans up as it does on Ctrl-C."""


def _on_sigterm(ctx_holder: list[JobContext]) -> Callable:
    def handler(signum, frame) -> None:
        ctx = ctx_holder[0] if ctx_holder else None
        if ctx is not None and ctx.stop_asked:
            raise KeyboardInterrupt  # a Stop: this job ends, the drainer goes on with the next
        raise _Shutdown

    handler.kd_job_handler = True  # type: ignore[attr-defined]
    return handler


def execute(board: JobBoard, job_id: str, settings: Settings, log: Log = print,
            holder: list[JobContext] | None = None) -> JobRecord | None:
    """Claim a queued job and run it here; None when another worker claimed it first."""
    job = board.claim(job_id, here.label())
    if job is None:
        return None
    ctx = JobContext(board, job, interrupt=_own_signals())
    if holder is not None:
        holder[:] = [ctx]
    try:
        message = KINDS[job.kind](job.request, ctx, settings, log)
        board.end(job.id, "finished", message, fraction=1.0)
    except _Shutdown:
        latest = board.get(job.id) or job
        board.end(job.id, "stopped", f"Stopped {latest.where_stopped()}: its worker stopped (the dashboard or the "
                                     "machine shut down); what it finished is kept.")
        raise
    except KeyboardInterrupt:
        latest = board.get(job.id) or job
        board.end(job.id, "stopped", f"Stopped {latest.where_stopped()}; what it finished is kept.")
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the job ends as "failed" with one sentence
        from benchmarks.core.paths import scrub

        known = isinstance(exc, KNOWN)
        board.end(job.id, "failed", scrub(str(exc)) if known else
                  f"The job stopped on an unexpected {type(exc).__name__}; see the job log in the state folder.")
        if not known:
            traceback.print_exc()  # into the log, for whoever runs the machine
    finally:
        ctx.close()
    return board.get(job.id)


def lane_lock(state_dir: Path, kind: str) -> Path:
    """The file lock of a kind's drainer on this machine: held while one of its jobs runs here."""
    return state_dir / "jobs" / f"{kind}.lock"


def _own_signals() -> bool:
    """Whether this job may turn a Stop into SIGTERM: only in a worker's main thread, where the handler is ours."""
    in_main = threading.current_thread() is threading.main_thread()
    return in_main and getattr(signal.getsignal(signal.SIGTERM), "kd_job_handler", False)


def _install(holder: list[JobContext]) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm(holder))


def run_one(board: JobBoard, job_id: str, settings: Settings) -> int:
    """`job-run`: one job in this process (SIGTERM: a Stop, or the node's task being cancelled)."""
    holder: list[JobContext] = []
    _install(holder)
    try:
        ended = execute(board, job_id, settings, holder=holder)
    except _Shutdown:
        return 1
    return 0 if ended is not None and ended.state == "finished" else 1


def drain(board: JobBoard, kind: str, settings: Settings, log: Log = print) -> int:
    """`job-drain`: run this machine's queued jobs of `kind`, oldest first, until none is left; a drainer that finds
    another holding the kind's lock exits (that one takes the new job too). Returns how many ran here."""
    holder: list[JobContext] = []
    _install(holder)
    follow_parent()
    target, ran = here.fingerprint(), 0
    while True:
        try:
            with run_lock(lane_lock(settings.state_dir, kind), "Another job of this kind"):
                while (job_id := board.next_queued(kind, target, "local")) is not None:
                    if execute(board, job_id, settings, log, holder) is not None:
                        ran += 1
                    board.prune(kind, settings.live_keep_jobs)
        except RunInProgress:
            return ran
        except _Shutdown:
            _cancel_waiting(board, kind, target)
            return ran
        if board.next_queued(kind, target, "local") is None:  # a job may have come in as the lock was released
            return ran


def _cancel_waiting(board: JobBoard, kind: str, target: str) -> None:
    """The machine's worker is stopping: waiting jobs go too (their sessions went with the server)."""
    while (job_id := board.next_queued(kind, target, "local")) is not None:
        board.end(job_id, "stopped", "The server stopped before this job started; start it again.")
