"""Fair share of one server process between visitors: heavy work a visitor starts (scoring an uploaded file or a data
set) runs at most `slots` at a time, the rest wait in line and know their place; and answers (the Playground's
Compare) go first: heavy work pauses between its batches while any answer is being computed, so one visitor's
20,000-row upload costs the others at most a batch of waiting, not the whole pass."""

from __future__ import annotations

import contextlib
import itertools
import threading
from typing import Callable, Iterator

PAUSE_LIMIT_S = 30.0  # a heavy job yields to answers for at most this long at a time: a stream of them cannot starve it


class FairShare:
    def __init__(self, slots: int):
        self.slots = slots
        self._cond = threading.Condition()
        self._line: list[int] = []  # tickets of heavy jobs, oldest first; the first `slots` run
        self._tickets = itertools.count()
        self._answering = 0

    def place(self, ticket: int) -> int:
        """0 while the job runs, else its place among those waiting (1 = next)."""
        with self._cond:
            index = self._line.index(ticket)
            return 0 if index < self.slots else index - self.slots + 1

    @contextlib.contextmanager
    def heavy(self, waiting: Callable[[int], None] = lambda place: None) -> Iterator[None]:
        """Hold one of the slots for the block; until one is free, call `waiting(place)` whenever the place changes
        (outside the lock, so it may draw on the page)."""
        with self._cond:
            ticket = next(self._tickets)
            self._line.append(ticket)
        try:
            shown = None
            while (now := self.place(ticket)) > 0:
                if now != shown:
                    waiting(now)
                    shown = now
                with self._cond:
                    self._cond.wait(1.0)
            yield
        finally:
            with self._cond:
                self._line.remove(ticket)
                self._cond.notify_all()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Mark an answer in progress: heavy work pauses at its next batch until none is."""
        with self._cond:
            self._answering += 1
        try:
            yield
        finally:
            with self._cond:
                self._answering -= 1
                self._cond.notify_all()

    def let_answers_pass(self) -> None:
        """Called by heavy work between batches: wait while answers are being computed (at most PAUSE_LIMIT_S)."""
        with self._cond:
            self._cond.wait_for(lambda: self._answering == 0, timeout=PAUSE_LIMIT_S)
