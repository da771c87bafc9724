"""A stopped server stops its workers (issue 28, class 7). A process that started background runs the way the
dashboard does (core/background.start_background) is sent SIGTERM, or SIGKILL: every run it started, with its
subprocesses, ends within 10 s, and each leaves a record the next start reads as stopped. The same with the real
Streamlit server is in tests/test_hostile_server.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.core.background import read_progress
from benchmarks.core.pairs import ModelSpec
from benchmarks.distill.live import LiveConfig
from benchmarks.distill.live_jobs import SERVER_STOPPED, LiveStore
from tests.conftest import REPO, needs_pocket

pytestmark = pytest.mark.slow

# Starts runs like the dashboard, then waits; on SIGTERM it exits normally, as Streamlit does.
PARENT = """
import signal, sys, time
from pathlib import Path
from benchmarks.core.background import start_background
state, kinds = Path(sys.argv[1]), sys.argv[2].split(",")
runs = {
    "live": (["live-distill", "--worker", "--state", str(state)], state / "live" / "worker.json"),
    "heads": (["heads", "--pair", "pocket", "--sentences", "872"], state / "head-importance" / "progress.json"),
    "bench": (["run", "--pair", "pocket", "--variants", "fp32", "--db", str(state / "results.sqlite")],
              state / "benchmark-progress.json"),
}
for kind in kinds:
    args, progress = runs[kind]
    start_background(args, progress, progress.with_suffix(".log"), owner="tab-a")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("started", flush=True)
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


def _queue_long_jobs(tmp_path: Path, teacher: Path) -> tuple[LiveStore, list]:
    store = LiveStore(tmp_path / "live")
    spec = ModelSpec("local", str(teacher), "teacher")
    return store, [store.submit(spec, LiveConfig(layers=1, steps=2000, eval_every=500), "tab-a") for _ in range(2)]


def _started(parent: subprocess.Popen) -> None:
    assert parent.stdout.readline().strip() == "started"


@needs_pocket
def test_sigterm_to_the_parent_ends_every_run_within_10_s_each_recorded_as_stopped(tmp_path, tiny_pair_dirs):
    store, (running, waiting) = _queue_long_jobs(tmp_path, tiny_pair_dirs[0])
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path), "live,heads,bench"], cwd=REPO,
                              env=_env(tmp_path, tiny_pair_dirs[0].parent), stdout=subprocess.PIPE, text=True)
    try:
        _started(parent)
        files = {"bench": tmp_path / "benchmark-progress.json", "heads": tmp_path / "head-importance" /
                 "progress.json"}
        _until(lambda: len((store.job(running.id) or running).losses) > 3, 180)
        _until(lambda: all((p := read_progress(f)) and p.current != "starting" for f in files.values()), 180)
        pids = [read_progress(f).pid for f in (*files.values(), tmp_path / "live" / "worker.json")]
        assert all(group_alive(pid) for pid in pids)
        started = time.monotonic()
        parent.send_signal(signal.SIGTERM)
        _until(lambda: not any(group_alive(pid) for pid in pids), 30)
        took = time.monotonic() - started
        assert took < 10, f"the last worker ended {took:.1f} s after SIGTERM"
        print(f"SIGTERM to the last worker's exit: {took:.2f} s")
    finally:
        parent.kill()
        parent.wait(10)
    assert store.job(running.id).state == "interrupted" and store.job(running.id).message == SERVER_STOPPED
    assert store.job(waiting.id).state == "cancelled" and not store.queued()  # nothing runs without a server
    assert not list((tmp_path / "live" / "partial").iterdir())
    for f in files.values():
        record = read_progress(f)
        assert record.state == "failed" and "stopped before the end" in record.message and record.owner == "tab-a"


def test_a_killed_parent_leaves_no_live_worker_behind(tmp_path, tiny_pair_dirs):
    store, (running, _) = _queue_long_jobs(tmp_path, tiny_pair_dirs[0])
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path), "live"], cwd=REPO,
                              env=_env(tmp_path, tiny_pair_dirs[0].parent), stdout=subprocess.PIPE, text=True)
    try:
        _started(parent)
        _until(lambda: len((store.job(running.id) or running).losses) > 3, 180)
        worker = read_progress(tmp_path / "live" / "worker.json").pid
        started = time.monotonic()
        parent.kill()  # no chance to stop anything: the worker notices its parent is gone
        _until(lambda: not group_alive(worker), 30)
        assert time.monotonic() - started < 10
    finally:
        parent.kill()
        parent.wait(10)
    assert store.job(running.id).state == "interrupted"
    assert read_progress(tmp_path / "live" / "worker.json").state == "failed"
