"""The micro-batcher: requests arriving together share one call, a full queue says busy at once, errors reach
every waiting caller and the batcher lives on."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.core import batching
from benchmarks.core.batching import Admission, Busy, MicroBatcher, Traffic


def test_requests_arriving_together_share_one_pass_and_get_their_own_answers():
    calls: list[list[str]] = []

    def run(texts):
        calls.append(list(texts))
        return [t.upper() for t in texts]

    batcher = MicroBatcher(run, window_s=0.2)
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(batcher, [f"t{i}" for i in range(5)]))
    assert [a.result for a in answers] == [f"T{i}" for i in range(5)]
    assert len(calls) == 1 and all(a.batch == 5 for a in answers)
    alone = batcher("solo")  # a lone request waits at most the window
    assert alone.batch == 1 and alone.waited_ms < 1000


def test_a_full_queue_is_refused_with_the_busy_sentence():
    gate = threading.Event()
    batcher = MicroBatcher(lambda texts: (gate.wait(), list(texts))[1], window_s=0.0, max_batch=1, max_queue=2)
    first = batcher.submit("running")  # taken by the worker, which then waits on the gate
    time.sleep(0.1)
    queued = [batcher.submit("a"), batcher.submit("b")]
    with pytest.raises(Busy, match="server is busy: 2 requests"):
        batcher.submit("c")
    gate.set()
    assert first.result(5).result == "running" and [f.result(5).result for f in queued] == ["a", "b"]


def test_an_error_reaches_every_caller_and_the_next_batch_still_runs():
    def run(texts):
        if "bad" in texts:
            raise ValueError("one bad batch")
        return list(texts)

    batcher = MicroBatcher(run, window_s=0.0)
    with pytest.raises(ValueError, match="one bad batch"):
        batcher("bad")
    assert batcher("good").result == "good"


def test_traffic_counts_the_last_seconds_only(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(batching.time, "monotonic", lambda: clock[0])
    traffic = Traffic()
    assert traffic.note() == 1 and traffic.note() == 2
    clock[0] += batching.RECENT_S + 0.1
    assert traffic.recent() == 0 and traffic.note() == 1


def test_answers_in_progress_are_bounded_and_a_place_frees_when_an_answer_ends():
    gate = Admission(limit=2)
    with gate.admit(), gate.admit():
        with pytest.raises(Busy, match=r"^The server is busy: 2 answers are already in progress"):
            with gate.admit():
                pass
    with gate.admit():  # both places came back, an error included
        pass
    with pytest.raises(ValueError), gate.admit():
        raise ValueError("an answer that failed")
    with gate.admit(), gate.admit():
        pass
