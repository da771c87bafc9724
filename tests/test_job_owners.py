"""Jobs have owners and bounds (issue 28, class 6): a session queues only a few live-distillation jobs and the server
only a few in all; only the session that started a job, or a presenter holding KD_ADMIN_TOKEN, may cancel or stop
it (live distillation, benchmark runs, head importance); finished job records are pruned oldest first."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.core.background import RunProgress, pid_alive, write_progress
from benchmarks.core.owners import may_control
from benchmarks.core.pairs import ModelSpec
from benchmarks.distill.live import LiveConfig
from benchmarks.distill.live_jobs import LiveStore, QueueFull
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


def test_a_session_queues_at_most_its_share_and_the_server_at_most_its_cap(tmp_path):
    store = LiveStore(tmp_path / "live", max_queued=2, max_queued_server=3)
    store.submit(TEACHER, CONFIG, "tab-a")
    store.submit(TEACHER, CONFIG, "tab-a")
    with pytest.raises(QueueFull, match=r"You already have 2 distillation jobs .*KD_LIVE_MAX_QUEUED\)"):
        store.submit(TEACHER, CONFIG, "tab-a")
    store.submit(TEACHER, CONFIG, "tab-b")
    for owner in ("tab-c", ""):  # a third session, and the command line, meet the server's cap
        with pytest.raises(QueueFull, match=r"This server already has 3 .*KD_LIVE_MAX_QUEUED_SERVER"):
            store.submit(TEACHER, CONFIG, owner)
    assert len(store.queued()) == 3
    first = next(j for j in store.jobs() if j.owner == "tab-a")
    store.cancel(first.id)  # a cancelled job frees its place
    store.submit(TEACHER, CONFIG, "tab-a")


def test_one_tab_firing_many_submits_at_once_gets_its_share(tmp_path):
    store = LiveStore(tmp_path / "live", max_queued=2, max_queued_server=6)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            store.submit(TEACHER, CONFIG, "tab-a")
            outcomes.append("queued")
        except QueueFull:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(15)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["queued"] * 2 + ["refused"] * 13
    assert len(store.queued()) == 2


def test_finished_job_records_are_pruned_oldest_first_and_waiting_ones_kept(tmp_path):
    store = LiveStore(tmp_path / "live", max_queued=10, max_queued_server=10, keep_jobs=2)
    jobs = [store.submit(TEACHER, CONFIG, "tab-a") for _ in range(5)]
    waiting = jobs[4]
    for job in jobs[:4]:  # end four of them, oldest first
        store.cancel(job.id)
        time.sleep(0.01)
    left = {j.id: j.state for j in store.jobs()}
    assert left == {jobs[2].id: "cancelled", jobs[3].id: "cancelled", waiting.id: "queued"}
    assert sorted(p.stem for p in (tmp_path / "live" / "jobs").glob("*.json")) == sorted(left)


def _sleeper() -> subprocess.Popen:
    """A stand-in for a background run: its own process group, as start_background makes it."""
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
        state.mkdir(parents=True)
        now = time.time()
        write_progress(state / "benchmark-progress.json",
                       RunProgress(run.pid, "python -m benchmarks run", now, now, 0.2, 1, 4, "teacher fp32",
                                   owner="another-tab"))
        at = _benchmarks_page()
        assert not at.exception
        assert not [b for b in at.button if b.key == "bench_stop"]
        assert any("Started by another session" in c.value for c in at.caption)
        boxes = [t for t in at.text_input if t.key == "admin_token_bench"]
        assert len(boxes) == (1 if token else 0)  # the token box only where a token is set
        if token:
            boxes[0].input("wrong").run()
            assert not [b for b in at.button if b.key == "bench_stop"]
            at.text_input(key="admin_token_bench").input(token).run()
            at.button(key="bench_stop").click().run()  # the presenter may stop it
            run.wait(10)
            assert not pid_alive(run.pid)
    finally:
        run.kill()
        run.wait()


def test_the_session_that_started_a_run_sees_its_stop_button(state, monkeypatch):
    from dashboard.sections import job_control

    monkeypatch.setattr(job_control, "session_id", lambda: "this-tab")
    run = _sleeper()
    try:
        state.mkdir(parents=True)
        now = time.time()
        write_progress(state / "benchmark-progress.json",
                       RunProgress(run.pid, "python -m benchmarks run", now, now, 0.2, 1, 4, "teacher fp32",
                                   owner="this-tab"))
        at = _benchmarks_page()
        assert [b for b in at.button if b.key == "bench_stop"]
        assert not any("Started by another session" in c.value for c in at.caption)
    finally:
        run.kill()
        run.wait()


def test_live_jobs_show_cancel_only_to_their_session(state, monkeypatch):
    from dashboard import resources

    monkeypatch.setenv("KD_ADMIN_TOKEN", "s3cret")
    resources.settings.clear()
    store = LiveStore.of(resources.settings())
    theirs = store.submit(TEACHER, CONFIG, "another-tab")
    # No worker may pick the job up in this test.
    monkeypatch.setattr(LiveStore, "ensure_worker", lambda self: None)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["pair"] = "pocket"
    at.run()
    at.switch_page("views/distillation.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.key == f"live-cancel-{theirs.id}"]
    assert any("Queued (1 of 1)" in c.value for c in at.caption)
    at.text_input(key="admin_token_live").input("s3cret").run()
    at.button(key=f"live-cancel-{theirs.id}").click().run()
    assert store.job(theirs.id).state == "cancelled"
