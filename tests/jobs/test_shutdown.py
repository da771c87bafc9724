"""A stopped server stops its workers (issue 28, class 7). A process that started jobs the way the dashboard does (the
job layer's local backend) is sent SIGTERM, or SIGKILL: every worker it started, with its subprocesses, ends within
10 s, and each job's row says it stopped. The same with the real
Streamlit server is in tests/browser/test_hostile_server.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.store.database import Database
from benchmarks.store.jobs import JobBoard
from tests.conftest import REPO, needs_pocket

pytestmark = pytest.mark.slow

# Starts jobs like the dashboard (the job layer's local backend), then waits; on SIGTERM it exits normally, as
# Streamlit does. Prints the ids of the jobs, one line.
PARENT = """
import json, signal, sys, time
from dataclasses import asdict
from benchmarks.core.pairs import POCKET_PAIR, ModelSpec
from benchmarks.core.settings import load_settings
from benchmarks.distill.live import LiveConfig
from benchmarks.harness.runner import RunRequest
from benchmarks.jobs.kinds import HeadsRequest, LiveRequest
from benchmarks.jobs.service import Jobs
teacher, kinds = sys.argv[1], sys.argv[2].split(",")
jobs, ids = Jobs(load_settings()), {}
live = LiveRequest(("local", teacher), asdict(LiveConfig(layers=1, steps=2000, eval_every=500))).to_json()
requests = {"heads": HeadsRequest(POCKET_PAIR, 872).to_json(),
            "bench": RunRequest(POCKET_PAIR, "cpu", ("fp32",)).to_json()}
for kind in kinds:
    if kind == "live":
        ids["live"] = [jobs.submit("live", live, owner="tab-a")[0].id for _ in range(2)]
    else:
        ids[kind] = jobs.submit({"bench": "benchmark"}.get(kind, kind), requests[kind], owner="tab-a")[0].id
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(json.dumps(ids), flush=True)
while True:
    time.sleep(1)
"""


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies waiting to be reaped do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _until(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def _env(tmp_path: Path, tiny_dir: Path) -> dict[str, str]:
    return {**os.environ, "KD_STATE_DIR": str(tmp_path), "KD_MODEL_ROOTS": str(tiny_dir),
            "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _started(parent: subprocess.Popen) -> dict:
    return json.loads(parent.stdout.readline())


@needs_pocket
def test_sigterm_to_the_parent_ends_every_job_within_10_s_each_recorded_as_stopped(tmp_path, tiny_pair_dirs):
    board = JobBoard(Database(tmp_path / "results.sqlite"))
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tiny_pair_dirs[0]), "live,heads,bench"], cwd=REPO,
                              env=_env(tmp_path, tiny_pair_dirs[0].parent), stdout=subprocess.PIPE, text=True)
    try:
        ids = _started(parent)
        running, waiting = ids["live"]
        others = [ids["heads"], ids["bench"]]
        _until(lambda: (board.get(running).detail.get("losses") or []).__len__() > 3, 180)
        _until(lambda: all(board.get(i).state == "running" and board.get(i).current != "starting" for i in others),
               180)
        pids = [board.get(i).pid for i in (running, *others)]
        assert all(group_alive(pid) for pid in pids)
        # The tiny pair's live job may already be done by now, its queued successor running: judge each job by
        # where it stood when the signal went out.
        before = {i: board.get(i).state for i in (running, waiting, *others)}
        started = time.monotonic()
        parent.send_signal(signal.SIGTERM)
        _until(lambda: not any(group_alive(pid) for pid in pids), 30)
        took = time.monotonic() - started
        assert took < 10, f"the last worker ended {took:.1f} s after SIGTERM"
        print(f"SIGTERM to the last worker's exit: {took:.2f} s")
    finally:
        parent.kill()
        parent.wait(10)
    assert "running" in before.values()
    for job_id, state in before.items():
        job = board.get(job_id)
        assert job.owner == "tab-a" and not job.active
        if state == "queued":
            assert job.state == "stopped" and "before this job started" in job.message
        elif state == "running" and (job_id not in others or job.state != "finished"):
            # a tiny benchmark or head-importance run may finish its last step as the signal arrives
            assert job.state == "stopped" and "its worker stopped" in job.message
    assert not list((tmp_path / "live" / "partial").iterdir())


def test_a_killed_parent_leaves_no_live_worker_behind(tmp_path, tiny_pair_dirs):
    board = JobBoard(Database(tmp_path / "results.sqlite"))
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tiny_pair_dirs[0]), "live"], cwd=REPO,
                              env=_env(tmp_path, tiny_pair_dirs[0].parent), stdout=subprocess.PIPE, text=True)
    try:
        running, _ = _started(parent)["live"]
        _until(lambda: (board.get(running).detail.get("losses") or []).__len__() > 3, 180)
        worker = board.get(running).pid
        started = time.monotonic()
        parent.kill()  # no chance to stop anything: the worker notices its parent is gone
        _until(lambda: not group_alive(worker), 30)
        assert time.monotonic() - started < 10
    finally:
        parent.kill()
        parent.wait(10)
    assert board.get(running).state == "stopped"
