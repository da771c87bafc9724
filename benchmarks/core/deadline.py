"""Work that must not hold up its caller for ever: started on a daemon thread (so it never delays the
process's exit) and awaited with a deadline. A thread cannot be killed, so a call past its deadline is
abandoned, not stopped: callers drop their handle to it and may start a fresh one."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable, TypeVar

T = TypeVar("T")


def start(fn: Callable[..., T], *args: object, name: str = "background") -> Future[T]:
    future: Future[T] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever waits; nothing is lost on this thread
            future.set_exception(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future
