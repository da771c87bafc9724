"""Two app processes behind one address: visitors through the balancer are answered by both processes, each loads
a model once, and a live-distillation job started from one process is seen from the other (the state folder)."""

from __future__ import annotations

import asyncio
import os
import threading
import urllib.parse

import pytest

from benchmarks.jobs.kinds import live_job_of
from benchmarks.loadtest.balancer import Balancer, start_processes
from benchmarks.loadtest.server import count_loads, free_port
from benchmarks.loadtest.wire import Session
from benchmarks.store.database import Database
from benchmarks.store.jobs import JobBoard


@pytest.mark.slow
def test_two_processes_behind_one_address_share_jobs_and_load_each_model_once(allow_tmp_models, tmp_path):
    teacher, student = map(str, allow_tmp_models)
    state = tmp_path / "state"
    env = {**os.environ, "KD_STATE_DIR": str(state)}
    processes = start_processes(2, tmp_path / "logs", env)
    balancer, port = Balancer([p for p, _ in processes]), free_port()
    loop = asyncio.new_event_loop()
    ready = asyncio.Event()
    threading.Thread(target=loop.run_until_complete, args=(balancer.serve(port, ready),), daemon=True).start()
    query = urllib.parse.urlencode({"pair": "custom", "teacher": teacher, "student": student})
    try:
        asyncio.run_coroutine_threadsafe(ready.wait(), loop).result(10)
        for i in range(4):  # one address; connections alternate between the processes
            visitor = Session(f"http://127.0.0.1:{port}", query, timeout=120)
            assert visitor.run().problem is None
            reply = visitor.run({"Text": f"a good movie, take {i}", "Compare": True})
            assert reply.problem is None and reply.metrics.get("Label") in ("NEGATIVE", "POSITIVE"), reply
            visitor.close()
        assert all(n >= 2 for n in balancer.handled), balancer.handled
        for i in range(2):
            loads = count_loads((tmp_path / "logs" / f"app-{i}.log").read_text())
            assert loads and all(len(times) == 1 for times in loads.values()), loads  # once per process

        (first, _), (second, _) = processes
        starter = Session(f"http://127.0.0.1:{first}", query, timeout=120)
        starter.open("Distillation")
        started = starter.run({"Distil a student": True})
        assert started.problem is None, started
        board = JobBoard(Database(state / "results.sqlite"))
        jobs = board.jobs("live")
        assert len(jobs) == 1
        watcher = Session(f"http://127.0.0.1:{second}", query, timeout=120)
        seen = watcher.open("Distillation")
        described = live_job_of(jobs[0]).config.describe()
        assert any(described in text for text in seen.texts), seen.texts
        board.cancel(jobs[0].id)
        starter.close()
        watcher.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        for _, proc in processes:
            proc.terminate()
        for _, proc in processes:
            proc.wait(30)
