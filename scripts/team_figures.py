"""The team set-up's figures for the README (issue 24), measured with real components on this machine:

1. the overhead Ray adds to a `run --quick` job against the local backend (same request, --force, submit to finish);
2. opening the Benchmarks and Decide pages over a results store of 10,000 rows, on sqlite and on PostgreSQL, against
   the same pages over today's store (the shipped reference rows only);
3. four writers x 500 cells into PostgreSQL at once: rows lost and rows duplicated.

Run: PYTHONPATH=. .venv/bin/python scripts/team_figures.py [--skip-ray]. Starts a throwaway PostgreSQL server and a
two-node Ray cluster on 127.0.0.1 (tests/servers.py) and stops both at the end. Prints one line per figure."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.core.pairs import POCKET_PAIR  # noqa: E402
from benchmarks.core.settings import load_settings  # noqa: E402
from benchmarks.harness.runner import RunRequest  # noqa: E402
from benchmarks.harness.store import ResultStore  # noqa: E402
from benchmarks.jobs.service import Jobs  # noqa: E402
from tests import benchmark_fakes as fake  # noqa: E402
from tests.harness.test_store import writers_of_the_same_cells  # noqa: E402
from tests.servers import PostgresServer, RayCluster  # noqa: E402


def _job_seconds(jobs: Jobs, request: RunRequest, on: str = "") -> float:
    started = time.perf_counter()
    job, _ = jobs.submit("benchmark", request.to_json(), on=on)
    while (current := jobs.get(job.id)) is None or current.active:
        time.sleep(0.1)
    if current.state != "finished":
        raise RuntimeError(f"job {job.id} {current.state}: {current.message}")
    return time.perf_counter() - started


def ray_overhead(url: str, state: Path, repeats: int) -> None:
    request = RunRequest(POCKET_PAIR, "cpu", ("fp32",), quick=True, threads=1, force=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cluster = RayCluster(url, env, state)
    try:
        os.environ.update(KD_DATABASE_URL=url, KD_STATE_DIR=str(state / "dashboard"))
        local = Jobs(replace(load_settings(), ray_address=""))
        ray = Jobs(replace(load_settings(), ray_address=cluster.address))
        one_cpu = next(m.key for m in ray.machines() if m.key.endswith(":1"))
        times = {"local": [], "ray": []}
        for _ in range(repeats):  # taking turns, so outside load hits both alike
            times["local"].append(_job_seconds(local, request))
            times["ray"].append(_job_seconds(ray, request, on=one_cpu))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"ray overhead on run --quick (pocket, fp32, 1 thread, --force; median of {repeats} turns): local "
              f"{med['local']:.1f} s, ray {med['ray']:.1f} s, overhead {med['ray'] - med['local']:+.1f} s "
              f"(all: local {times['local']}, ray {times['ray']})", flush=True)
    finally:
        cluster.stop()


def _fill(target, rows: int, machines: int = 10) -> None:
    """`rows` synthetic results beside the shipped ones: `machines` machines x rows / (2 x machines) pairs x
    teacher/student, the pocket pair among them (so the pocket pair gains `machines` machines)."""
    store = ResultStore(target)
    store.seed()
    batch = []
    for m in range(machines):
        hardware = replace(fake.HARDWARE, cpu_model=f"Test CPU {m}")
        for p in range(rows // (2 * machines)):
            pair = "pocket" if p == 0 else f"custom:t{p}|s{p}"
            batch += [fake.result("teacher", hardware=hardware, pair=pair),
                      fake.result("student", speed=1.8, hardware=hardware, pair=pair)]
    for start in range(0, len(batch), 1000):
        store.put_many(batch[start:start + 1000])


def _page_seconds(target: str, page: str, repeats: int = 3) -> float:
    from streamlit.testing.v1 import AppTest

    from dashboard import resources

    os.environ["KD_DATABASE_URL"] = str(target)
    times = []
    for _ in range(repeats):
        resources.settings.clear()
        resources.benchmark_store.clear()
        resources.benchmark_records.clear()
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=300)
        at.query_params["pair"] = "pocket"
        at.run()
        started = time.perf_counter()
        at.switch_page(f"views/{page}.py").run()
        times.append(time.perf_counter() - started)
        assert not at.exception, at.exception
    return statistics.median(times)


def page_times(server: PostgresServer, folder: Path) -> None:
    for backend in ("sqlite", "postgresql"):
        today = str(folder / "today.sqlite") if backend == "sqlite" else server.fresh_database()
        big = str(folder / "big.sqlite") if backend == "sqlite" else server.fresh_database()
        ResultStore(today).seed()
        _fill(big, 10_000)
        n = ResultStore(big).version()[0]
        for page in ("benchmarks", "decide"):
            base, loaded = _page_seconds(today, page), _page_seconds(big, page)
            print(f"{page} page on {backend}: {base:.2f} s over today's store, {loaded:.2f} s over {n} rows "
                  f"({loaded - base:+.2f} s; 10 machines x 500 pairs, the page's pair on 10 more machines)",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    server = PostgresServer()
    folder = Path(tempfile.mkdtemp(prefix="kd-figures-"))
    try:
        lost, duplicated = writers_of_the_same_cells(server.fresh_database(), 4, 500)
        print(f"4 writers x 500 cells into PostgreSQL at once: {lost} rows lost, {duplicated} duplicated", flush=True)
        page_times(server, folder)
        if not args.skip_ray:
            ray_overhead(server.fresh_database(), folder, args.repeats)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
