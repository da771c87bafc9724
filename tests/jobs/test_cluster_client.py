"""The dashboard is never a Ray driver (benchmarks/jobs/cluster.py): Ray calls run in one child process per dashboard
process. Ray ends a driver with os._exit a minute after its head has gone; here the child dies the same way, and the
caller gets one sentence at once, then a fresh child on the next call."""

from __future__ import annotations

import os
import time

import pytest

from benchmarks.jobs import cluster


def _pid() -> int:
    return os.getpid()


def _die() -> None:
    os._exit(1)


def _refuse() -> None:
    raise ValueError("no such node\nsecond line")


def test_a_dead_client_is_one_sentence_and_the_next_call_gets_a_fresh_one():
    first = cluster._in_client("head:6379", _pid)
    assert first != os.getpid() and cluster._in_client("head:6379", _pid) == first  # one child, kept
    started = time.monotonic()
    with pytest.raises(cluster.ClusterUnavailable, match="The Ray cluster at head:6379 did not answer"):
        cluster._in_client("head:6379", _die)
    assert time.monotonic() - started < 10  # its death is seen at once, not after the 60 s limit
    assert cluster._in_client("head:6379", _pid) not in (first, os.getpid())
    with pytest.raises(cluster.ClusterUnavailable, match="refused the request: ValueError: no such node$"):
        cluster._in_client("head:6379", _refuse)
