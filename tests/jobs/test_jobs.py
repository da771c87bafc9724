"""The job layer (benchmarks/jobs, benchmarks/store/jobs.py): requests cross processes as JSON, the local backend runs
a benchmark job in a detached worker that reports into the results database, a Stop reaches it, a killed worker leaves
its finished rows and a job that says where it stopped, and two tabs pressing Measure at once start one run. The job
rows behave the same on sqlite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace

import pytest

from benchmarks.core.pairs import POCKET_PAIR, custom_pair
from benchmarks.core.settings import load_settings
from benchmarks.harness.results import BenchmarkResult
from benchmarks.harness.runner import RunRequest
from benchmarks.harness.store import ResultStore
from benchmarks.jobs.kinds import HeadsRequest, LiveRequest
from benchmarks.jobs.service import Jobs
from benchmarks.store import jobs as job_rows
from benchmarks.store.database import Database
from benchmarks.store.jobs import Caps, JobBoard, QueueFull
from tests.harness.test_harness import dev_dir  # noqa: F401 - a tiny SST-2 dev folder
from tests.harness.test_store import new_db  # noqa: F401 - the backend-parametrised database fixture


def _wait(until, timeout: float = 240, what: str = "the job"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = until()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not get there in {timeout:.0f} s")


def test_requests_cross_processes_as_json_and_come_back_equal(tmp_path):
    pair = custom_pair("--force", "./student")  # a flag-like reference stays a value: no argv on the way
    request = RunRequest(pair, "cpu", ("fp32",), True, 2, 0.5, str(tmp_path), True, None, ("eager", "onnxruntime"),
                         (1, 8), (16,))
    assert RunRequest.from_json(request.to_json()) == request
    assert RunRequest.from_json(RunRequest(POCKET_PAIR).to_json()).pair is POCKET_PAIR
    heads = HeadsRequest(pair, 100, "cpu")
    assert HeadsRequest.from_json(heads.to_json()) == heads
    live = LiveRequest(("pocket", "teacher"), {"layers": 2, "steps": 10})
    assert LiveRequest.from_json(live.to_json()) == live


def test_job_rows_queue_claim_report_cancel_and_settle_on_both_backends(new_db):  # noqa: F811
    board = JobBoard(Database(new_db()))
    job, new = board.submit("benchmark", "{}", "hw", "local", owner="tab-a", single=True)
    again, second = board.submit("benchmark", "{}", "hw", "local", owner="tab-b", single=True)
    assert new and not second and again.id == job.id  # two tabs pressing Measure: one run
    assert board.next_queued("benchmark", "hw", "local") == job.id
    claimed = board.claim(job.id, "CPU: test")
    assert claimed.state == "running" and board.claim(job.id, "CPU: test") is None  # one worker takes it
    assert board.update(job.id, fraction=0.5, done=1, total=2, current="student · fp32") is False
    assert board.cancel(job.id).state == "running" and board.update(job.id) is True  # the worker sees the Stop
    board.update(job.id, updated=time.time() - job_rows.STALE_S - 1, host="another-box", pid=1)
    stopped = board.get(job.id)  # its machine stopped answering: settled, with where it stopped
    assert stopped.state == "stopped" and "at student · fp32 (1 of 2 done)" in stopped.message
    assert "another-box" in stopped.message and board.get(job.id).state == "stopped"
    waiting, _ = board.submit("live", "{}", "hw", "local")
    assert board.cancel(waiting.id).state == "stopped"  # a waiting job ends at once


def test_queue_caps_per_session_and_per_server_and_pruning(new_db):  # noqa: F811
    board = JobBoard(Database(new_db()))
    caps = Caps(2, 3, "distillation jobs", "KD_LIVE_MAX_QUEUED", "KD_LIVE_MAX_QUEUED_SERVER")
    for _ in range(2):
        board.submit("live", "{}", "hw", "local", "tab-a", caps=caps)
    with pytest.raises(QueueFull, match=r"You already have 2 distillation jobs .*\(KD_LIVE_MAX_QUEUED\)"):
        board.submit("live", "{}", "hw", "local", "tab-a", caps=caps)
    board.submit("live", "{}", "hw", "local", "tab-b", caps=caps)
    with pytest.raises(QueueFull, match=r"This server already has 3 .*KD_LIVE_MAX_QUEUED_SERVER"):
        board.submit("live", "{}", "hw", "local", "tab-c", caps=caps)
    for job in board.jobs("live"):
        board.cancel(job.id)
    assert board.prune("live", 1) == 2 and len(board.jobs("live")) == 1


def test_concurrent_submits_from_one_tab_get_its_share_only(new_db):  # noqa: F811
    board = JobBoard(Database(new_db()))
    caps, barrier, accepted = Caps(2, 6), threading.Barrier(6), []

    def press() -> None:
        barrier.wait()
        try:
            accepted.append(board.submit("live", "{}", "hw", "local", "tab-a", caps=caps)[0].id)
        except QueueFull:
            pass

    threads = [threading.Thread(target=press) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(accepted) == 2 and len(board.jobs("live", active=True)) == 2


@pytest.fixture
def local_jobs(tmp_path, monkeypatch, allow_tmp_models, dev_dir):
    """The job layer of a fresh state folder (sqlite), and a quick run request for the tiny pair."""
    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # a killed worker's scratch folder goes where pytest cleans up
    teacher, student = map(str, allow_tmp_models)
    request = RunRequest(custom_pair(teacher, student), "cpu", ("fp32", "int8-dynamic"), quick=True, threads=1,
                         data=str(dev_dir))
    return Jobs(load_settings()), request


@pytest.mark.slow
def test_a_local_job_runs_in_a_worker_and_reports_into_the_database(local_jobs):
    jobs, request = local_jobs
    job, _ = jobs.submit("benchmark", request.to_json(), owner="tab-a")
    ended = _wait(lambda: (j := jobs.get(job.id)) is not None and not j.active and j)
    assert ended.state == "finished" and ended.message.startswith("4 results") and ended.fraction == 1.0
    assert ended.machine and ended.owner == "tab-a" and ended.total == 4
    stored = ResultStore(jobs.settings.results_db).records("model", request.pair.key)
    assert len(stored) == 4 and all(isinstance(s.record, BenchmarkResult) for s in stored)


@pytest.mark.slow
def test_a_worker_killed_mid_run_keeps_finished_rows_and_the_job_says_where_it_stopped(local_jobs):
    jobs, request = local_jobs
    job, _ = jobs.submit("benchmark", request.to_json())
    running = _wait(lambda: (j := jobs.get(job.id)) is not None and j.done >= 1 and j.state == "running" and j,
                    what="the first model")
    os.killpg(running.pid, signal.SIGKILL)  # the harshest stop: no handler runs, the measuring workers die too
    stopped = _wait(lambda: (j := jobs.get(job.id)) is not None and j.state != "running" and j, 30)
    assert stopped.state == "stopped" and "its process ended without finishing" in stopped.message
    assert f"of {running.total} done" in stopped.message and "what it finished is kept" in stopped.message
    kept = ResultStore(jobs.settings.results_db).records("model", request.pair.key)
    assert 1 <= len(kept) < 4 and all(s.record.cells for s in kept)
    rerun, _ = jobs.submit("benchmark", request.to_json())  # measures only what is missing
    assert _wait(lambda: (j := jobs.get(rerun.id)) is not None and not j.active and j).state == "finished"
    assert len(ResultStore(jobs.settings.results_db).records("model", request.pair.key)) == 4


@pytest.mark.slow
def test_stop_reaches_a_running_job_and_its_finished_rows_stay(local_jobs):
    jobs, request = local_jobs
    job, _ = jobs.submit("benchmark", replace(request, variants=("fp32", "int8-dynamic")).to_json())
    _wait(lambda: (j := jobs.get(job.id)) is not None and j.done >= 1 and j, what="the first model")
    jobs.stop(job.id)
    stopped = _wait(lambda: (j := jobs.get(job.id)) is not None and not j.active and j, 60, "the stop")
    assert stopped.state in ("stopped", "finished")  # a run may finish its last model as the stop arrives
    if stopped.state == "stopped":
        assert stopped.message.startswith("Stopped at ") and "what it finished is kept" in stopped.message


def test_without_the_cluster_extra_a_ray_address_gets_one_sentence(monkeypatch):
    import builtins

    from benchmarks.jobs import cluster

    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ModuleNotFoundError("No module named 'ray'", name="ray")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(cluster.ClusterUnavailable, match=r"Ray is not installed: pip install 'kd-dashboard\[cluster"):
        cluster.connect("127.0.0.1:6390")


def test_a_student_distilled_on_a_cluster_node_reaches_this_machines_sidebar(tmp_path, monkeypatch):
    from benchmarks.distill.live import LiveConfig
    from benchmarks.distill.live_jobs import META, Job, LiveStore
    from benchmarks.jobs.kinds import STUDENT_FILE
    from benchmarks.jobs.service import fetch_students

    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path / "dashboard"))
    jobs = Jobs(load_settings())
    job, _ = jobs.board.submit("live", LiveRequest(("pocket", "teacher"), {}).to_json(), "gpu-box", "ray")
    node = LiveStore(tmp_path / "node" / "live")  # the node's own state folder
    folder = node.root / "students" / job.id
    folder.mkdir(parents=True)
    made = Job(job.id, ("pocket", "teacher"), LiveConfig(), time.time(), state="finished")
    (folder / META).write_text(made.to_json())
    (folder / "model.safetensors").write_bytes(b"weights")
    jobs.board.put_file(job.id, STUDENT_FILE, node.pack(job.id))
    assert fetch_students(jobs) == 0  # not finished yet: nothing to fetch
    jobs.board.claim(job.id, "GPU: somewhere")
    jobs.board.end(job.id, "finished", "finished in 60 s")
    assert fetch_students(jobs) == 1 and fetch_students(jobs) == 0  # once
    [student] = LiveStore.of(jobs.settings).students()
    assert student.id == job.id and (student.folder / "model.safetensors").read_bytes() == b"weights"
