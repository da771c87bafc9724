"""The load test's command line: protocol-level visitors by default (the server's figures), `--browser` for a
smoke test of the real browser path with a few headless-Chromium sessions."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.parse
from pathlib import Path

from benchmarks.loadtest import browser, protocol
from benchmarks.loadtest.server import free_port, start_server, wait_healthy


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.loadtest",
        description="Many Playground visitors against the app on this machine: click-to-answer percentiles, errors, "
                    "answers/s, server RSS and CPU share. Loopback only.")
    ap.add_argument("--sessions", type=int, default=30, help="concurrent visitors (default 30)")
    ap.add_argument("--seconds", type=float, default=180, help="measured window after a one-period ramp "
                                                               "(default 180)")
    ap.add_argument("--period", type=float, default=10, help="seconds between one visitor's Compares (default 10)")
    ap.add_argument("--jitter", type=float, default=2, help="± seconds around the period (default 2)")
    ap.add_argument("--url", help="an app already running on this machine (default: start one on a free port)")
    ap.add_argument("--teacher", help="custom pair: teacher folder or Hub id (default: the pocket pair)")
    ap.add_argument("--student", help="custom pair: student folder or Hub id")
    ap.add_argument("--timeout", type=float, default=60, help="seconds one Compare may take before it counts as an "
                                                              "error (default 60)")
    ap.add_argument("--conditions", default="", help="what else runs meanwhile, in words, for the report")
    ap.add_argument("--json", type=Path, help="write the report as JSON")
    ap.add_argument("--browser", action="store_true", help="headless Chromium sessions instead (a smoke test of "
                                                           f"the browser path; at most {browser.MAX_SESSIONS})")
    ap.add_argument("--server-log", type=Path, help="--browser: the app's log, to count model loads")
    args = ap.parse_args(argv)
    if bool(args.teacher) != bool(args.student):
        ap.error("--teacher and --student go together")
    if not 0 <= args.jitter < args.period:
        ap.error("--jitter must be at least 0 and less than --period")
    return args


def _protocol(args: argparse.Namespace) -> int:
    query = urllib.parse.urlencode({"pair": "custom", "teacher": args.teacher, "student": args.student}) \
        if args.teacher else ""
    server, log = None, Path(tempfile.mkdtemp(prefix="kd-loadtest-")) / "server.log"
    if args.url:
        url = browser.check_localhost(args.url)
        pids = protocol.listening_pids(urllib.parse.urlsplit(url).port or 80)
    else:
        url = f"http://127.0.0.1:{free_port()}"
        server = start_server(int(url.rsplit(":", 1)[1]), log, {"HF_HUB_OFFLINE": "1", **os.environ})
        pids = [server.pid]
    try:
        wait_healthy(url)
        report = protocol.run(url, args.sessions, args.seconds, pids, args.period, args.jitter, args.timeout, query,
                              args.conditions)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    print(report.text())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=1))
    return 0 if report.ok else 1


def _browser(args: argparse.Namespace) -> int:
    report = browser.run(args.sessions, args.seconds, args.url, args.server_log, args.teacher, args.student,
                         args.timeout)
    print(report.text())
    if args.json:
        from dataclasses import asdict

        args.json.write_text(json.dumps(asdict(report), indent=1))
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    try:
        return _browser(args) if args.browser else _protocol(args)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
