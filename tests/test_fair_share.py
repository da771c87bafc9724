"""Fair share (issue 28, class 5): heavy visitor work takes turns in a bounded number of slots, each waiting job
knows its place, and answers go first (heavy work pauses between batches while one is computed). The figures under
load, p95 of Compare for other sessions before and while one visitor scores the largest upload, come from
`python -m benchmarks.loadtest.fair_share` (README)."""

from __future__ import annotations

import threading
import time

from benchmarks.core.fair_share import FairShare


def test_heavy_jobs_take_turns_and_each_waiting_one_knows_its_place():
    share = FairShare(slots=1)
    places: dict[str, list[int]] = {"b": [], "c": []}
    order: list[str] = []
    release = {name: threading.Event() for name in "abc"}

    def job(name: str) -> None:
        with share.heavy(places[name].append if name in places else lambda place: None):
            order.append(name)
            release[name].wait(10)

    threads = {name: threading.Thread(target=job, args=(name,)) for name in "abc"}
    threads["a"].start()
    time.sleep(0.2)
    threads["b"].start()
    time.sleep(0.2)
    threads["c"].start()
    time.sleep(0.3)
    assert order == ["a"] and places == {"b": [1], "c": [2]}
    release["a"].set()
    threads["a"].join(5)
    time.sleep(1.5)
    assert order == ["a", "b"] and places["c"] == [2, 1]  # c moved up
    release["b"].set(), release["c"].set()
    for t in threads.values():
        t.join(5)
    assert order == ["a", "b", "c"]


def test_two_slots_run_two_at_once():
    share = FairShare(slots=2)
    with share.heavy(), share.heavy():
        waited: list[int] = []
        done = threading.Event()

        def third() -> None:
            with share.heavy(waited.append):
                done.set()

        t = threading.Thread(target=third)
        t.start()
        time.sleep(0.3)
        assert waited == [1] and not done.is_set()
    t.join(5)
    assert done.is_set()


def test_heavy_work_pauses_while_an_answer_is_computed():
    share = FairShare(slots=1)
    resumed = threading.Event()

    def batch_boundary() -> None:
        share.let_answers_pass()
        resumed.set()

    with share.answering():
        t = threading.Thread(target=batch_boundary)
        t.start()
        time.sleep(0.3)
        assert not resumed.is_set()
    t.join(5)
    assert resumed.is_set()
    started = time.monotonic()
    share.let_answers_pass()  # nothing being answered: no wait
    assert time.monotonic() - started < 0.1
