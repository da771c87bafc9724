"""Micro-batching: requests for one model that arrive together, from any session, share one padded forward pass.

A request waits at most WINDOW_S for company, so a lone visitor pays at most that much extra and a class of
thirty pays one pass per burst instead of thirty. The queue is bounded: when MAX_QUEUE requests already wait,
the next is refused with BUSY_MESSAGE at once instead of joining a queue that grows without limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, Sequence, TypeVar

WINDOW_S = 0.025  # how long the first request of a batch waits for others (KD_BATCH_WINDOW_MS)
MAX_BATCH = 32  # requests in one forward pass
MAX_QUEUE = 64  # requests waiting for one model; more are refused as busy
RECENT_S = 2.0  # "the load at that moment": requests over this many seconds
MAX_ANSWERING = 16  # Compares in progress in one server process; more are refused as busy (KD_MAX_ANSWERING)
BUSY_MESSAGE = (
    "The server is busy: {waiting} requests are already waiting for this model. Try again in a few seconds."
)
# Same opening as BUSY_MESSAGE, so the load generator counts both refusals as "busy".
BUSY_ANSWERING = "The server is busy: {waiting} answers are already in progress. Try again in a few seconds."

R = TypeVar("R")


class Busy(RuntimeError):
    """The model's queue is full; str(error) is the sentence to show."""


@dataclass(frozen=True)
class Batched(Generic[R]):
    """One request's answer, with the conditions it was computed under."""

    result: R
    batch: int  # requests in the forward pass that answered this one
    waited_ms: float  # queueing before the pass began


@dataclass
class _Item:
    text: str
    queued: float
    future: Future


class MicroBatcher(Generic[R]):
    """Batches texts for one model. `run(texts)` returns one result per text, in order; it runs on the batcher's
    own thread, one batch at a time."""

    def __init__(self, run: Callable[[Sequence[str]], Sequence[R]], window_s: float = WINDOW_S,
                 max_batch: int = MAX_BATCH, max_queue: int = MAX_QUEUE, name: str = "batcher"):
        self._run, self.window_s, self.max_batch, self.max_queue = run, window_s, max_batch, max_queue
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def submit(self, text: str) -> Future:
        """Queue one text; the future holds a Batched result. Raises Busy when the queue is full."""
        with self._cond:
            if len(self._queue) >= self.max_queue:
                raise Busy(BUSY_MESSAGE.format(waiting=len(self._queue)))
            item = _Item(text, time.perf_counter(), Future())
            self._queue.append(item)
            self._cond.notify()
        return item.future

    def __call__(self, text: str, timeout: float | None = None) -> Batched[R]:
        return self.submit(text).result(timeout)

    def _take(self) -> list[_Item]:
        with self._cond:
            while not self._queue:
                self._cond.wait()
            # Wait for company, but never past the first request's window, and stop early once the batch is full.
            deadline = self._queue[0].queued + self.window_s
            while len(self._queue) < self.max_batch and (left := deadline - time.perf_counter()) > 0:
                self._cond.wait(left)
            return [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]

    def _loop(self) -> None:
        while True:
            items = self._take()
            started = time.perf_counter()
            try:
                results = self._run([i.text for i in items])
            except BaseException as exc:  # every waiting caller gets the error, and the batcher lives on
                for item in items:
                    item.future.set_exception(exc)
                continue
            for item, result in zip(items, results):
                item.future.set_result(Batched(result, len(items), (started - item.queued) * 1e3))


class Admission:
    """Bounds the Compares in progress in a process, however far each has got. The model queues alone do not bound
    the wait: when the page scripts themselves saturate the interpreter, requests pile up before they ever reach a
    queue, so a server asked for more than it can answer would otherwise slow every answer without limit."""

    def __init__(self, limit: int = MAX_ANSWERING) -> None:
        self.limit = limit
        self._in_progress = 0
        self._lock = threading.Lock()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Holds one place for the enclosed answer; raises Busy at once when every place is taken."""
        with self._lock:
            if self._in_progress >= self.limit:
                raise Busy(BUSY_ANSWERING.format(waiting=self._in_progress))
            self._in_progress += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_progress -= 1


class Traffic:
    """Requests a server process received over the last RECENT_S seconds: the load at this moment, for labels and
    for deciding whether the machine is idle enough to time repeats."""

    def __init__(self) -> None:
        self._seen: deque[float] = deque()
        self._lock = threading.Lock()

    def note(self) -> int:
        """Count one request; return the load including it."""
        with self._lock:
            self._seen.append(time.monotonic())
            return self._recent()

    def recent(self) -> int:
        with self._lock:
            return self._recent()

    def _recent(self) -> int:
        now = time.monotonic()
        while self._seen and now - self._seen[0] > RECENT_S:
            self._seen.popleft()
        return len(self._seen)
