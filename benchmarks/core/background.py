"""Processes behind the job layer (benchmarks/jobs): one measuring run per machine (a file lock the OS releases when
its holder dies), liveness of a process id, and starting a detached worker that ends with the process that started
it (stopping the dashboard stops its workers; a killed dashboard leaves none behind)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

from filelock import FileLock, Timeout

from benchmarks.core.settings import REPO_ROOT

PARENT_ENV = "KD_STOP_WITH_PARENT"  # the pid of the process that started a worker: the worker ends when it does
STOP_GRACE_S = 5.0  # a worker gets this long to record that it stopped before it is killed
_started: set[int] = set()  # process groups this process started (each led by its worker's pid)


class RunInProgress(RuntimeError):
    """Another benchmark run holds the machine: timings taken side by side would both be wrong."""


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (exited, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): existence is all we know


@contextlib.contextmanager
def run_lock(path: Path, what: str = "Another benchmark run") -> Iterator[None]:
    """Exclusive, non-blocking, released by the OS if the holder dies (no stale locks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunInProgress(
            f"{what} is measuring on this machine; timings taken side by side would both be wrong. Wait for it to "
            "finish."
        ) from None
    try:
        yield
    finally:
        lock.release()


def lock_holder(path: Path) -> str | None:
    """Whether a run_lock at `path` is held now ("another process") or not (None). Probed by taking the lock for an
    instant, so a lock left by a dead process never counts."""
    if not path.exists():
        return None  # nothing ever ran here
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return "another process"
    except OSError:
        return None
    lock.release()
    return None


def spawn(args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start `python -m benchmarks <args>` detached from the caller, in its own process group (so a stop ends it and
    its measuring subprocesses together), stopped when this process exits. Returns its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks", *args],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {}), PARENT_ENV: str(os.getpid())},
        )
    _started.add(proc.pid)
    # Reap it when it ends, so a finished worker is not left behind as a zombie of the dashboard process.
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc.pid


def stop_group(pid: int) -> None:
    """SIGTERM a worker's process group (it ends like Ctrl-C: cleanly)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def stop_started(grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM every worker this process started (each one's whole group), wait up to `grace_s` for them to record
    that they stopped, then SIGKILL what is left. Runs at exit, so stopping the dashboard stops its workers."""
    alive = [pid for pid in _started if pid_alive(pid)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    until = time.monotonic() + grace_s
    while alive and time.monotonic() < until:
        time.sleep(0.05)
        alive = [pid for pid in alive if pid_alive(pid)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


atexit.register(stop_started)


def follow_parent(poll_s: float = 0.5) -> None:
    """In a worker started by spawn(): SIGTERM this process once the process that started it is gone, so a killed
    dashboard leaves no worker behind (re-parented to PID 1, it would go on for hours)."""
    raw = os.environ.get(PARENT_ENV, "")
    if not raw.isdigit():
        return
    parent = int(raw)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="follow parent", daemon=True).start()
