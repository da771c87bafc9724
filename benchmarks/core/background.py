"""Long runs in the background (benchmarks, head importance, live distillation): one at a time per machine (a lock),
progress in a small JSON file any process can poll (the dashboard does), and starting / stopping one as a subprocess.

A run started here belongs to the session that asked (its owner, see core/owners.py) and ends with the process that
started it: that process stops every run it started when it exits (SIGTERM included), and each run also stops itself
when it finds its parent gone (SIGKILL included)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterator, Literal, Sequence

from benchmarks.core.persist import write_atomically
from benchmarks.core.settings import REPO_ROOT

State = Literal["running", "finished", "failed"]
OWNER_ENV = "KD_JOB_OWNER"  # the owner, handed to the run's own progress records
SUBJECT_ENV = "KD_RUN_SUBJECT"  # what the run is about (pair, machine), handed to its progress records the same way
PARENT_ENV = "KD_STOP_WITH_PARENT"  # the pid of the process that started the run: the run ends when it does
STOP_GRACE_S = 5.0  # a run gets this long to record that it stopped before it is killed
_started: set[int] = set()  # process groups this process started (each led by its run's pid)


class RunInProgress(RuntimeError):
    """Another benchmark run holds the machine: timings taken side by side would both be wrong."""


@dataclass(frozen=True)
class RunProgress:
    pid: int
    command: str
    started: float  # unix time
    updated: float
    fraction: float  # 0..1
    done: int  # models x variants finished
    total: int
    current: str
    state: State = "running"
    message: str = ""
    owner: str = ""  # the session that started the run; empty when started from the command line
    # What the run measures, as the page that started it names it (pair and machine): a page shows a run's failure
    # only beside its own subject. Empty when started from the command line.
    subject: str = ""

    def about(self, subject: str) -> bool:
        return bool(self.subject) and self.subject == subject

    @property
    def position(self) -> int:
        """Which model x variant is under way, counting from 1."""
        return min(self.done + 1, self.total)

    def minutes(self, now: float | None = None) -> float:
        """Minutes since the run started."""
        return ((time.time() if now is None else now) - self.started) / 60

    def advance(self, **changes) -> "RunProgress":
        return replace(self, updated=time.time(), **changes)


def write_progress(path: Path, progress: RunProgress) -> None:
    """Atomic replace: a reader never sees half a file."""
    write_atomically(path, json.dumps(asdict(progress)))


class ProgressFile:
    """One run's progress, kept in `path` for other processes to poll (nothing is written without a path)."""

    def __init__(self, path: Path | None, command: str):
        now = time.time()
        self.path = path
        self.progress = RunProgress(os.getpid(), command, now, now, 0.0, 0, 0, "starting",
                                    owner=os.environ.get(OWNER_ENV, ""), subject=os.environ.get(SUBJECT_ENV, ""))
        self._write()

    def _write(self) -> None:
        if self.path is not None:
            write_progress(self.path, self.progress)

    def update(self, fraction: float, done: int, total: int, current: str) -> None:
        self.progress = self.progress.advance(fraction=fraction, done=done, total=total, current=current)
        self._write()

    def fail(self, exc: BaseException, stopped: str = "stopped before the end (finished models are kept)") -> None:
        why = stopped if isinstance(exc, KeyboardInterrupt) else str(exc)
        self.progress = self.progress.advance(state="failed", message=why)
        self._write()

    def finish(self, message: str) -> None:
        self.progress = self.progress.advance(state="finished", fraction=1.0, message=message)
        self._write()


def read_progress(path: Path) -> RunProgress | None:
    try:
        return RunProgress(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


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


def is_active(progress: RunProgress | None) -> bool:
    return progress is not None and progress.state == "running" and pid_alive(progress.pid)


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Exclusive, non-blocking, released by the OS if the holder dies (no stale locks)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RunInProgress(
                f"Another benchmark run ({holder}) is measuring on this machine; timings taken side by side would "
                "both be wrong. Wait for it to finish."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def lock_holder(path: Path) -> str | None:
    """Who holds the run_lock at `path` now ("pid 123"), or None when nobody does. Probed by taking the lock for an
    instant: the holder's note alone could be stale."""
    import fcntl

    try:
        with open(path) as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return fh.read().strip() or "another process"
            fcntl.flock(fh, fcntl.LOCK_UN)
    except OSError:  # no lock file: nothing ever ran here
        return None
    return None


def start_background(
    args: Sequence[str], progress_path: Path, log_path: Path, owner: str = "", subject: str = ""
) -> tuple[RunProgress, bool]:
    """Start `python -m benchmarks <args> --progress <progress_path>` detached from the caller, in its own
    process group (so stop() ends it and its workers together), unless a run is already going.

    Checking for a run, starting one and writing its first progress record happen under one lock, so two
    tabs pressing the button at once start one run, and both then read the same record. Returns that
    record and whether this call started the run."""
    import fcntl

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(progress_path.with_name(progress_path.name + ".lock"), "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # held for a fork and a small write only; released on close
        running = read_progress(progress_path)
        if is_active(running):
            return running, False  # type: ignore[return-value]
        command = [sys.executable, "-m", "benchmarks", *args, "--progress", str(progress_path)]
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, OWNER_ENV: owner, SUBJECT_ENV: subject, PARENT_ENV: str(os.getpid())},
            )
        _started.add(proc.pid)
        # Reap it when it ends, so a finished run is not left behind as a zombie of the dashboard process.
        threading.Thread(target=proc.wait, daemon=True).start()
        now = time.time()
        started = RunProgress(proc.pid, " ".join(["python -m benchmarks", *args]), now, now, 0.0, 0, 0, "starting",
                              owner=owner, subject=subject)
        write_progress(progress_path, started)
        return started, True


def stop(progress: RunProgress) -> None:
    """End a running benchmark (its process group: the run and its measuring subprocess)."""
    if not is_active(progress):
        return
    try:
        os.killpg(progress.pid, signal.SIGTERM)  # started by start_background: pid leads its group
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(progress.pid, signal.SIGTERM)


def stop_started(grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM every run this process started (each one's whole group), wait up to `grace_s` for them to record that
    they stopped, then SIGKILL what is left. Runs at exit, so stopping the dashboard stops its runs."""
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
    """In a run started by start_background: SIGTERM this process once the process that started it is gone, so a
    killed dashboard leaves no run behind (re-parented to PID 1, it would go on for hours)."""
    raw = os.environ.get(PARENT_ENV, "")
    if not raw.isdigit():
        return
    parent = int(raw)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="follow parent", daemon=True).start()
