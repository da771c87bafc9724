"""The protocol-level load generator: reading a script run's reply, the report's window and percentiles, and a short
real run (2 visitors) against the app serving the tiny pair, in a process of its own (Locust patches the stdlib)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks.core.batching import BUSY_MESSAGE
from benchmarks.loadtest.protocol import Answer, ProtocolReport, ServerUse
from benchmarks.loadtest.wire import read_reply
from tests.conftest import REPO


def _messages(*elements) -> list:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    out = []
    for kind, fill in elements:
        msg = ForwardMsg()
        fill(getattr(msg.delta.new_element, kind))
        out.append(msg)
    end = ForwardMsg()
    end.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    return [*out, end]


def _alert(body: str, error: bool):
    from streamlit.proto.Alert_pb2 import Alert

    def fill(alert):
        alert.body, alert.format = body, Alert.ERROR if error else Alert.WARNING
    return "alert", fill


def test_a_reply_yields_widget_ids_metrics_and_problems():
    def text_area(e):
        e.id, e.label = "$$ID-abc-text", "Text"

    def metric(e):
        e.label, e.body = "Label", "POSITIVE"

    def exception(e):
        e.type, e.message = "ValueError", "boom"

    clean = read_reply(_messages(("text_area", text_area), ("metric", metric), _alert("a note", False)), 0.5)
    assert clean.labels == {"Text": "$$ID-abc-text"} and clean.metrics == {"Label": "POSITIVE"}
    assert clean.problem is None and not clean.busy and clean.finished_ok
    failed = read_reply(_messages(("exception", exception), _alert("Bad thing.", True)), 0.5)
    assert failed.problem == "exception: ValueError: boom" and len(failed.errors) == 2
    busy = read_reply(_messages(_alert(BUSY_MESSAGE.format(waiting=64), False)), 0.1)
    assert busy.busy and busy.problem is None  # busy is counted apart: degrading gracefully is not an error
    unfinished = read_reply(_messages()[:-1], 0.1)
    assert unfinished.problem == "the script run did not finish successfully"


def test_the_report_counts_the_window_only_and_names_cpu_shares():
    answers = (
        Answer(0, 0.5, 0.10), Answer(1, 1.0, 0.20), Answer(0, 5.0, 0.30), Answer(1, 6.0, 0.40),
        Answer(0, 7.0, 1.0, error="timed out"), Answer(1, 8.0, 0.01, busy=True), Answer(0, 12.0, 9.0),
    )
    use = ServerUse(server_cpu_s=10.0, generator_cpu_s=0.5, rss=((0.0, 100 << 20), (10.0, 101 << 20)))
    s = ProtocolReport("http://127.0.0.1:1", 2, 10.0, 10.0, 2.0, answers, use, 2).summary()
    assert s["requests"] == 6 and s["answers"] == 4 and s["errors"] == 1 and s["busy"] == 1  # 12.0 is after
    assert s["p50_s"] == pytest.approx(0.25) and s["max_s"] == 0.40
    assert s["p95_s"] <= s["p99_s"] <= 0.40
    assert s["server_cpu_share"] == pytest.approx(0.5) and s["generator_cpu_share"] == pytest.approx(0.025)
    assert (s["rss_start_mb"], s["rss_end_mb"]) == (100, 101) and s["first_errors"] == ["timed out"]


@pytest.mark.slow
def test_a_short_protocol_run_answers_every_visitor(allow_tmp_models, tmp_path):
    teacher, student = map(str, allow_tmp_models)
    out = tmp_path / "load.json"
    env = {**os.environ, "KD_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadtest", "--sessions", "2", "--seconds", "6", "--period", "2",
         "--jitter", "0.5", "--teacher", teacher, "--student", student, "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())["summary"]
    assert summary["errors"] == 0 and summary["answers"] >= 4, summary
    assert summary["p50_s"] <= summary["p95_s"] <= summary["p99_s"] < 60
    assert summary["rss_start_mb"] > 50 and summary["rss_end_mb"] > 50
    assert 0 < summary["server_cpu_share"] and 0 <= summary["generator_cpu_share"] < 0.5
    # Nothing measured for the tiny pair on this machine: eager fp32, and every answer says so
    assert summary["answered_in"] == {
        "teacher in PyTorch eager · fp32, student in PyTorch eager · fp32": summary["answers"]}
    assert "click to answer: p50" in done.stdout and "CPU share of the machine: server" in done.stdout


def test_the_generator_refuses_other_hosts_and_unbounded_runs():
    done = subprocess.run([sys.executable, "-m", "benchmarks.loadtest", "--url", "http://10.0.0.5:8501"], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "localhost" in done.stderr
