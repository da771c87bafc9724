"""The team set-up with real components (issue 24): a real PostgreSQL server (tests/servers.py) and a real Ray cluster
of two nodes on this machine, each joined with `python -m benchmarks join` and so advertising its own hardware
identity. A `run --quick --on all` measures on both; both machines' results land in PostgreSQL and show on the
Benchmarks page side by side, and `list` names both machines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.core.pairs import custom_pair
from benchmarks.core.settings import load_settings
from benchmarks.distill.live import LiveConfig
from benchmarks.harness.machines import machine_of
from benchmarks.harness.store import ResultStore
from benchmarks.jobs.kinds import STUDENT_FILE, HeadsRequest, LiveRequest
from benchmarks.jobs.service import Jobs
from benchmarks.store.database import Database
from benchmarks.store.jobs import JobBoard
from tests.conftest import REPO
from tests.servers import RayCluster

pytestmark = pytest.mark.slow
APP = str(REPO / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def team(postgres, tiny_pair_dirs, tmp_path_factory):
    """(database URL, cluster, environment of a process of the team) for the tiny pair."""
    pytest.importorskip("ray")
    url = postgres.fresh_database()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "KD_MODEL_ROOTS": str(tiny_pair_dirs[0].parent)}
    cluster = RayCluster(url, env, tmp_path_factory.mktemp("team"))
    yield url, cluster, {**env, "KD_DATABASE_URL": url, "KD_RAY_ADDRESS": cluster.address}
    cluster.stop()


def _cli(env, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_a_quick_run_on_each_node_lands_in_postgresql_and_on_the_benchmarks_page(team, tiny_pair_dirs, tmp_path,
                                                                                   monkeypatch):
    url, cluster, env = team
    teacher, student = map(str, tiny_pair_dirs)
    listed = _cli(env, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("· connected ·") == 2 and "1 thread on CPU" in listed.stdout  # both joined nodes

    run = _cli(env, "run", "--quick", "--teacher", teacher, "--student", student, "--variants", "fp32", "--on", "all",
               "--wait")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("finished") == 2

    pair = custom_pair(teacher, student)
    stored = ResultStore(url).records("model", pair.key)
    machines = {machine_of(s.record) for s in stored}
    assert len(stored) == 4 and {m.threads for m in machines} == {1, 2}  # teacher + student on each node
    jobs = JobBoard(Database(url)).jobs("benchmark")
    assert {j.backend for j in jobs} == {"ray"} and all(j.state == "finished" and j.machine for j in jobs)

    for name, value in env.items():
        if name.startswith("KD_"):
            monkeypatch.setenv(name, value)
    from dashboard import resources

    resources.settings.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(pair="custom", teacher=teacher, student=student)
    at.run()
    at.switch_page("views/benchmarks.py").run()
    assert not at.exception
    shown = at.selectbox(key="bench_hw").options
    assert all(any(m.choice in option for option in shown) for m in machines), shown  # both machines, side by side
    assert at.selectbox(key="bench_on").options  # "Measure on": this machine and each connected one
    resources.settings.clear()


def test_head_importance_and_live_distillation_run_on_a_node_and_come_back(team, tiny_pair_dirs, monkeypatch):
    """Sent the way the Explain and Distillation pages send them: to any node; what they made returns through the
    database (the head scores in the job's row, the student as a file of the job)."""
    url, cluster, env = team
    for name, value in env.items():
        if name.startswith("KD_"):
            monkeypatch.setenv(name, value)
    jobs = Jobs(load_settings())
    teacher, student = map(str, tiny_pair_dirs)
    heads = HeadsRequest(custom_pair(teacher, student), sentences=8).to_json()
    live = LiveRequest(("local", teacher), asdict(LiveConfig(layers=1, steps=10, eval_every=10))).to_json()
    ids = [jobs.submit("heads", heads, owner="tab")[0].id, jobs.submit("live", live, owner="tab")[0].id]
    deadline = time.monotonic() + 400
    while any((job := jobs.get(i)) is None or job.active for i in ids):
        assert time.monotonic() < deadline, [jobs.get(i) for i in ids]
        time.sleep(0.5)
    ended = [jobs.get(i) for i in ids]
    assert all(j.backend == "ray" and j.state == "finished" and j.machine for j in ended), ended
    assert ended[0].detail["cache_name"] and "gold_probability" in ended[0].detail["result"]
    assert len(jobs.board.get_file(ids[1], STUDENT_FILE) or b"") > 1000  # the distilled student, packed
