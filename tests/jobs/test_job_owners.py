"""Jobs have owners and bounds (issue 28, class 6): a session queues only a few live-distillation jobs and the server
only a few in all; only the session that started a job, or a presenter holding KD_ADMIN_TOKEN, may cancel or stop
it (live distillation, benchmark runs, head importance); finished job records are pruned oldest first."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.core.owners import may_control
from benchmarks.core.pairs import ModelSpec
from benchmarks.distill.live import LiveConfig
from benchmarks.jobs import here
from benchmarks.jobs.kinds import LiveRequest
from benchmarks.jobs.service import Jobs
from benchmarks.store.database import Database
from benchmarks.store.jobs import JobBoard
from tests.conftest import REPO

APP = str(REPO / "dashboard" / "app.py")
TEACHER = ModelSpec("pocket", "teacher", "teacher")
CONFIG = LiveConfig(layers=1, steps=10, eval_every=10)


@pytest.fixture
def state(monkeypatch, tmp_path):
    from dashboard import resources

    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KD_ADMIN_TOKEN", raising=False)
    resources.settings.clear()
    yield tmp_path / "state"
    monkeypatch.undo()
    resources.settings.clear()


def test_only_the_owner_or_the_admin_token_controls_a_job():
    assert may_control("tab-a", "tab-a")
    assert not may_control("tab-a", "tab-b")
    assert not may_control("", "")  # a command-line job: no session owns it
    assert not may_control("tab-a", "tab-b", token="guess")  # no admin token set: no token works
    assert not may_control("tab-a", "tab-b", token="", admin_token="")
    assert not may_control("tab-a", "tab-b", token="wrong", admin_token="s3cret")
    assert may_control("tab-a", "tab-b", token="s3cret", admin_token="s3cret")
    assert may_control("", "tab-b", token="s3cret", admin_token="s3cret")


# The queue caps and the pruning of ended jobs are the job layer's: tests/jobs/test_jobs.py, on sqlite and PostgreSQL.


def _running_job(state, owner: str, pid: int) -> str:
    """A benchmark job row as a worker on this machine (process `pid`) keeps it while measuring."""
    board = _board(state)
    job, _ = board.submit("benchmark", "{}", "hw", "local", owner=owner)
    board.claim(job.id, "CPU: this one")
    board.update(job.id, pid=pid, fraction=0.2, done=1, total=4, current="teacher fp32")
    return job.id


def _board(state) -> JobBoard:
    return JobBoard(Database(state / "results.sqlite"))


def _sleeper() -> subprocess.Popen:
    """A stand-in for a job's worker: its own process group, as the job layer starts one."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)


def _benchmarks_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["pair"] = "pocket"
    at.run()
    return at.switch_page("views/benchmarks.py").run()


@pytest.mark.parametrize("token", ["", "s3cret"])
def test_another_sessions_benchmark_run_has_no_stop_button_without_the_token(state, monkeypatch, token):
    from dashboard import resources

    if token:
        monkeypatch.setenv("KD_ADMIN_TOKEN", token)
        resources.settings.clear()
    run = _sleeper()
    try:
        job = _running_job(state, "another-tab", run.pid)
        at = _benchmarks_page()
        assert not at.exception
        assert not [b for b in at.button if b.key == f"bench_stop_{job}"]
        assert any("Started by another session" in c.value for c in at.caption)
        boxes = [t for t in at.text_input if t.key == "admin_token_bench"]
        assert len(boxes) == (1 if token else 0)  # the token box only where a token is set
        if token:
            boxes[0].input("wrong").run()
            assert not [b for b in at.button if b.key == f"bench_stop_{job}"]
            at.text_input(key="admin_token_bench").input(token).run()
            at.button(key=f"bench_stop_{job}").click().run()  # the presenter may stop it
            assert _board(state).get(job).cancel  # the worker reads it with its next heartbeat
    finally:
        run.kill()
        run.wait()


def test_the_session_that_started_a_run_sees_its_stop_button(state, monkeypatch):
    from dashboard.sections import job_control

    monkeypatch.setattr(job_control, "session_id", lambda: "this-tab")
    run = _sleeper()
    try:
        job = _running_job(state, "this-tab", run.pid)
        at = _benchmarks_page()
        assert [b for b in at.button if b.key == f"bench_stop_{job}"]
        assert not any("Started by another session" in c.value for c in at.caption)
    finally:
        run.kill()
        run.wait()


def test_live_jobs_show_cancel_only_to_their_session(state, monkeypatch):
    from dashboard import resources

    monkeypatch.setenv("KD_ADMIN_TOKEN", "s3cret")
    resources.settings.clear()
    request = LiveRequest((TEACHER.source, TEACHER.ref), asdict(CONFIG))
    theirs, _ = _board(state).submit("live", request.to_json(), here.fingerprint(), "local", owner="another-tab")
    # No worker may pick the job up in this test.
    monkeypatch.setattr(Jobs, "ensure_worker", lambda self, kind: None)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["pair"] = "pocket"
    at.run()
    at.switch_page("views/distillation.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.key == f"live_stop_{theirs.id}"]
    assert any("Queued (1 of 1)" in c.value for c in at.caption)
    at.text_input(key="admin_token_live").input("s3cret").run()
    at.button(key=f"live_stop_{theirs.id}").click().run()
    assert _board(state).get(theirs.id).state == "stopped"
