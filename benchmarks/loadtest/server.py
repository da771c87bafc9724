"""The app under test: `streamlit run dashboard/app.py` on a free localhost port with benchmarks' INFO lines
(model loads) in its log, its health check, its resident memory, and the model loads read back from the log.

Run as `python -m benchmarks.loadtest.server <streamlit run arguments>`: `streamlit run` plus that log handler.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

import psutil

from benchmarks.core.settings import REPO_ROOT

LOAD_LINE = re.compile(r"loaded (?P<model>.+) in (?P<seconds>[\d.]+) s\s*$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """The real dashboard on 127.0.0.1:`port`, logging model loads to `log_path`."""
    args = [
        str(REPO_ROOT / "dashboard" / "app.py"), "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    with log_path.open("w") as log:
        return subprocess.Popen([sys.executable, "-m", "benchmarks.loadtest.server", *args], cwd=REPO_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer its health check within {seconds:.0f} s")


def process_tree(pids: Iterable[int]) -> list[psutil.Process]:
    """The processes and all their children; one that has already exited is left out."""
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return procs


def tree_total(procs: Iterable[psutil.Process], read: Callable[[psutil.Process], float]) -> float:
    """`read` summed over the processes, skipping any that exited since they were listed."""
    total = 0.0
    for p in procs:
        try:
            total += read(p)
        except psutil.NoSuchProcess:
            pass
    return total


def rss_of(p: psutil.Process) -> float:
    return p.memory_info().rss


def cpu_seconds_of(p: psutil.Process) -> float:
    times = p.cpu_times()
    return times.user + times.system


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its children (a process that just exited counts 0)."""
    return int(tree_total(process_tree([pid]), rss_of))


def count_loads(log_text: str) -> dict[str, list[float]]:
    loads: dict[str, list[float]] = {}
    for line in log_text.splitlines():
        if m := LOAD_LINE.search(line):
            loads.setdefault(m["model"], []).append(float(m["seconds"]))
    return loads


def main(argv: list[str]) -> int:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logging.getLogger("benchmarks").addHandler(handler)
    logging.getLogger("benchmarks").setLevel(logging.INFO)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *argv]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
