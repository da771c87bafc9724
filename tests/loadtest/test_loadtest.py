"""The load script: its pure parts, and a short real run (2 browser sessions, 15 s) on the tiny pair."""

from __future__ import annotations

import asyncio
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from benchmarks.loadtest import browser as loadtest
from benchmarks.loadtest.browser import LoadReport, Request, ScriptRuns, varied, warm_moment
from benchmarks.loadtest.server import count_loads, tree_rss


def test_count_loads_reads_the_model_log_lines():
    log = (
        "2026-11-24 07:00:01 benchmarks.core.models loaded pocket:teacher (sdpa, cpu) in 1.25 s\n"
        "  Stopping...\n"
        "2026-11-24 07:00:02 benchmarks.core.models loaded pocket:student (sdpa, cpu) in 0.40 s\n"
        "2026-11-24 07:01:00 benchmarks.core.models loaded pocket:teacher (eager, cpu) in 1.10 s\n"
    )
    assert count_loads(log) == {
        "pocket:teacher (sdpa, cpu)": [1.25], "pocket:student (sdpa, cpu)": [0.4], "pocket:teacher (eager, cpu)": [1.1],
    }


def test_varied_inputs_never_repeat_within_a_session():
    rng = random.Random(0)
    texts = [varied(["same sentence"], rng, 3, i) for i in range(50)]
    assert len(set(texts)) == 50 and all(t.startswith("same sentence") for t in texts)


@pytest.mark.parametrize("url", ["http://example.com:8501", "http://10.0.0.5:8501", "http://localhost.evil.com"])
def test_only_localhost_is_targeted(url):
    with pytest.raises(SystemExit, match="localhost"):
        loadtest.check_localhost(url)


@pytest.mark.parametrize("sessions, seconds", [(0, 10), (loadtest.MAX_SESSIONS + 1, 10), (2, loadtest.MAX_SECONDS + 1)])
def test_runs_are_bounded(sessions, seconds):
    with pytest.raises(ValueError, match="sessions must be"):
        loadtest.run(sessions, seconds, url="http://127.0.0.1:1")


def test_tree_rss_counts_a_live_process_and_forgives_a_dead_one():
    assert tree_rss(os.getpid()) > 10 << 20
    assert tree_rss(2**22 + 12345) == 0


def _report(requests, loads) -> LoadReport:
    return LoadReport(
        "http://127.0.0.1:1",
        2,
        0.0,
        10.0,
        tuple(requests),
        warm_moment(requests, 2),
        ((0.0, 100 << 20), (5.0, 200 << 20), (10.0, 201 << 20)),
        loads,
        2,
    )


def test_report_excludes_warm_up_and_judges_the_run():
    requests = [
        Request(0, 0.0, 3.0, None),
        Request(1, 0.5, 4.0, None),
        Request(0, 4.6, 0.5, None),
        Request(1, 4.7, 0.7, None),
    ]
    good = _report(requests, {"pocket:teacher (sdpa, cpu)": [1.0], "pocket:student (sdpa, cpu)": [0.5]})
    assert good.warm_at == 4.5 and good.warm == [0.5, 0.7] and good.ok
    text = good.text()
    assert (
        "0 errors, 0 clicks repeated" in text
        and "p50 0.60 s" in text
        and "after warm-up 200 MB" in text
        and "verdict: OK" in text
    )
    reloaded = _report(requests, {"pocket:teacher (sdpa, cpu)": [1.0, 1.1]})
    failed = _report(
        [*requests, Request(1, 6.0, 120.0, "timed out while waiting for the script run to finish")], {"m": [1.0]}
    )
    unknown = _report(requests, None)
    assert not reloaded.ok and not failed.ok and not unknown.ok
    retried = _report([*requests, Request(1, 6.0, 16.0, None, clicks=2)], {"m": [1.0]})
    assert retried.ok and "1 clicks repeated" in retried.text()  # counted, not hidden, and not an error
    assert "1 errors" in failed.text() and "timed out" in failed.text() and "FAILED" in failed.text()


@pytest.mark.slow
@pytest.mark.browser
def test_short_load_run_has_no_errors_and_loads_each_model_once(allow_tmp_models, tmp_path):
    if not Path(loadtest.CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    teacher, student = map(str, allow_tmp_models)
    env = {**os.environ, "KD_STATE_DIR": str(tmp_path / "state")}
    # In a thread of its own: the session's sync Playwright (other browser tests) keeps an event loop
    # running on the main thread, and asyncio.run refuses to nest in it.
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(loadtest.run, 2, 15, teacher=teacher, student=student, timeout=60,
                             server_log=tmp_path / "server.log", env=env).result()
    print(report.text())
    assert not report.errors, report.text()
    assert set(report.loads) == {f"local:{teacher} (sdpa, cpu)", f"local:{student} (sdpa, cpu)"}
    assert all(len(times) == 1 for times in report.loads.values()), report.loads  # once per server process
    assert report.warm_at is not None and len(report.warm) >= 4 and report.ok
    assert report.rss and all(b > 0 for _, b in report.rss)


def test_script_runs_settle_on_the_latest_run_even_when_a_stopped_run_never_reports_its_end():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    def frame(kind: str) -> bytes:
        msg = ForwardMsg()
        if kind == "new_session":
            msg.new_session.name = "app"
        else:
            msg.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
        return msg.SerializeToString()

    async def scenario() -> bool:
        runs = ScriptRuns()
        before = runs.started
        runs._frame(frame("new_session"))  # a run, stopped by the click's rerun: its end is dropped
        runs._frame(frame("new_session"))
        waiting = asyncio.ensure_future(runs.settled_after(before))
        await asyncio.sleep(0)
        assert not waiting.done()  # the latest run is still going
        runs._frame(frame("script_finished"))
        await asyncio.wait_for(waiting, 1)
        return runs.last_ok

    with ThreadPoolExecutor(1) as pool:  # asyncio.run cannot nest in the browser tests' event loop
        assert pool.submit(asyncio.run, scenario()).result()
