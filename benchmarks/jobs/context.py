"""What a running job reports, from the process that runs it: progress and its kind's detail into its row, a heartbeat
every few seconds (so a dead machine is noticed), and a stop asked anywhere turned into SIGTERM for its process group
(the job and its measuring subprocesses end as they do on Ctrl-C)."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from benchmarks.store.jobs import JobBoard, JobRecord

HEARTBEAT_S = 3.0
PROGRESS_EVERY_S = 0.5  # row writes while working: often enough for a 2 s poll, rare enough to cost nothing


class JobContext:
    """`interrupt`: a Stop also sends SIGTERM (a worker process of its own); otherwise (a job run in a thread of a
    bigger process) the job only sees cancelled() turn true."""

    def __init__(self, board: JobBoard, job: JobRecord, interrupt: bool = True):
        self.board, self.job, self.interrupt = board, job, interrupt
        self.stop_asked = False  # a Stop reached this job (not a shutdown of the machine)
        self._last = 0.0
        self._ended = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"job {job.id} heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._ended.wait(HEARTBEAT_S):
            try:
                asked = self.board.update(self.job.id)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the job; the next beat retries
                continue
            if asked and not self.stop_asked:
                self.stop_asked = True
                if self.interrupt:
                    _signal_own_group()

    def progress(self, fraction: float, done: int, total: int, current: str, force: bool = False) -> None:
        if force or time.monotonic() - self._last >= PROGRESS_EVERY_S:
            self._last = time.monotonic()
            self.board.update(self.job.id, fraction=fraction, done=done, total=total, current=current)

    def detail(self, detail: dict[str, Any], current: str | None = None, force: bool = False) -> None:
        if force or time.monotonic() - self._last >= PROGRESS_EVERY_S:
            self._last = time.monotonic()
            extra = {} if current is None else {"current": current}
            self.board.update(self.job.id, detail=detail, **extra)

    def cancelled(self) -> bool:
        return self.stop_asked

    def close(self) -> None:
        self._ended.set()


def _signal_own_group() -> None:
    """SIGTERM to this job's process group when it leads one (its measuring workers go too), else to itself."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGTERM)
    else:
        os.kill(os.getpid(), signal.SIGTERM)
