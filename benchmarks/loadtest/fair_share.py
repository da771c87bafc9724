"""Fair share under load (issue 28, class 5): p95 of Compare for other sessions before, and while, one visitor
scores the largest upload the server allows.

    python -m benchmarks.loadtest.fair_share --sessions 10 --before 60 --during 120

Starts the real app on a free localhost port (pocket pair, a fresh state folder), has `--sessions` wire sessions
(benchmarks/loadtest/wire.py) press Compare every PERIOD ± JITTER s, and after `--before` seconds has one headless
Chromium visitor upload KD_MAX_UPLOAD_ROWS labelled sentences on the Distillation page and press Score. Prints the
Compare p50/p95 of each phase and their ratio. Loopback only, bounded in sessions and time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.core.data import sample_sentences
from benchmarks.core.settings import Settings
from benchmarks.loadtest.browser import CHROMIUM, CHROMIUM_ARGS
from benchmarks.loadtest.server import free_port, start_server, wait_healthy
from benchmarks.loadtest.wire import Session

MAX_SESSIONS, MAX_SECONDS = 30, 600
PERIOD, JITTER = 5.0, 1.0


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


def _compare_loop(url: str, n: int, stop: threading.Event, out: list[tuple[float, float, str | None]]) -> None:
    rng, sentences = random.Random(n), sample_sentences()
    session = Session(url, "pair=pocket", timeout=300)
    try:
        session.run()
        time.sleep(rng.uniform(0, PERIOD))
        i = 0
        while not stop.is_set():
            text = f"{rng.choice(sentences)} ({n}.{i})"
            reply = session.run({"Text": text, "Compare": True})
            out.append((time.monotonic(), reply.seconds, reply.problem))
            i += 1
            stop.wait(max(0.0, PERIOD + rng.uniform(-JITTER, JITTER) - reply.seconds))
    finally:
        session.close()


def _upload_and_score(url: str, rows: int) -> None:
    from playwright.sync_api import sync_playwright

    body = "sentence\tlabel\n" + "".join(f"a fine and long enough movie review number {i}\t{i % 2}\n"
                                         for i in range(rows))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/distillation?pair=pocket", wait_until="networkidle")
        page.locator("input[type=file]").wait_for(state="attached", timeout=180_000)
        page.locator("input[type=file]").set_input_files(
            files=[{"name": "largest.tsv", "mimeType": "text/plain", "buffer": body.encode()}])
        page.get_by_role("button", name=f"Score the {rows:,} sentences with both models").click(timeout=180_000)
        _upload_and_score.page = page  # kept open: the scoring is its script run
        _hold.wait()
        # How far the scoring got: its progress line, or the results once it finished.
        lines = page.inner_text("body").splitlines()
        _upload_and_score.progress = next((line for line in lines if " of " in line and "sentences" in line),
                                          "finished" if any("Agreement" in line for line in lines) else "unknown")
        browser.close()


_hold = threading.Event()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtest.fair_share",
                                     description=__doc__.split("\n")[1])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--before", type=float, default=60)
    parser.add_argument("--during", type=float, default=120)
    parser.add_argument("--rows", type=int, default=Settings.max_upload_rows)
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS or args.before + args.during > MAX_SECONDS:
        parser.error(f"at most {MAX_SESSIONS} sessions and {MAX_SECONDS} s in all")
    state = Path(tempfile.mkdtemp(prefix="kd-fair-share-"))
    port = free_port()
    server = start_server(port, state / "server.log", {**os.environ, "KD_STATE_DIR": str(state / "state")})
    url = f"http://127.0.0.1:{port}"
    out: list[tuple[float, float, str | None]] = []
    stop = threading.Event()
    try:
        wait_healthy(url, 120)
        warm = Session(url, "pair=pocket", timeout=300)
        warm.run()
        warm.run({"Text": "A warm-up sentence.", "Compare": True})
        warm.close()
        threads = [threading.Thread(target=_compare_loop, args=(url, n, stop, out), daemon=True)
                   for n in range(args.sessions)]
        for t in threads:
            t.start()
        started = time.monotonic()
        time.sleep(args.before)
        uploader = threading.Thread(target=_upload_and_score, args=(url, args.rows), daemon=True)
        uploader.start()
        # The scoring starts with the click, after the browser opened the page and uploaded: the phase starts then.
        while not hasattr(_upload_and_score, "page") and uploader.is_alive():
            time.sleep(0.2)
        clicked = time.monotonic()
        time.sleep(args.during)
        stop.set()
        _hold.set()
        for t in [*threads, uploader]:
            t.join(60)
    finally:
        stop.set(), _hold.set()
        server.terminate()
        server.wait(30)
    before = [s for t, s, e in out if e is None and started + PERIOD < t <= clicked]
    during = [s for t, s, e in out if e is None and t > clicked]
    errors = [e for _, _, e in out if e]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.sessions} sessions, Compare every {PERIOD:g} ± {JITTER:g} s, pocket pair, {cpus} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the end; one visitor scores {args.rows:,} uploaded sentences")
    for name, values in (("before", before), ("during", during)):
        print(f"{name:>6}: {len(values)} answers, p50 {_p(values, 50):.2f} s, p95 {_p(values, 95):.2f} s")
    print(f"the upload's scoring after {args.during:g} s: {getattr(_upload_and_score, 'progress', 'not started')}")
    print(f"p95 during / before: {_p(during, 95) / _p(before, 95):.2f}×; errors: {len(errors)}"
          + (f" (first: {errors[0]})" if errors else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
