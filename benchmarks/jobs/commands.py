"""The job layer's commands: `join` (this machine joins a Ray cluster as a benchmark machine), `jobs` (the queue),
`run --on` (a run sent to the cluster's machines) and the hidden workers `job-drain` and `job-run`."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

from benchmarks.core.settings import Settings, load_settings
from benchmarks.store.database import Database
from benchmarks.store.jobs import JobBoard, JobRecord

WAIT_POLL_S = 1.0


def _settings(args: argparse.Namespace) -> Settings:
    from dataclasses import replace

    settings = load_settings()
    return replace(settings, database_url=args.db) if getattr(args, "db", None) else settings


def _drain(args: argparse.Namespace) -> int:
    from benchmarks.jobs.work import drain

    settings = _settings(args)
    drain(JobBoard(Database(settings.results_db)), args.kind, settings, log=lambda line: print(line, flush=True))
    return 0


def _run_one(args: argparse.Namespace) -> int:
    from benchmarks.jobs.work import run_one

    settings = _settings(args)
    return run_one(JobBoard(Database(settings.results_db)), args.job, settings)


def machine_key(threads: int) -> tuple[str, str]:
    """(identity, label) of this machine at `threads` threads, as results name it (machines.Machine)."""
    from benchmarks.core.device import detect_hardware, resolve_device
    from benchmarks.harness.machines import Machine

    machine = Machine.of(detect_hardware(), str(resolve_device("auto")), threads)
    return machine.key, machine.label


def _join(args: argparse.Namespace) -> int:
    """ray start with this machine's hardware identity as a custom resource, and its label in the results database."""
    import os

    from benchmarks.jobs import cluster

    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray is None:
        raise ValueError(f"Ray is not installed: {cluster.CLUSTER_EXTRA}.")
    if not args.head and not args.address:
        raise ValueError("join needs --address host:port of the cluster's head (or --head to start one here).")
    cpus = args.num_cpus or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    key, label = machine_key(cpus)
    cluster.register(Database(_settings(args).results_db), key, label)
    resources = json.dumps({cluster.RESOURCE_PREFIX + key: 1})
    command = [ray, "start", f"--num-cpus={cpus}", f"--resources={resources}", "--disable-usage-stats"]
    command += (["--head", f"--port={args.port}", "--include-dashboard=false"] if args.head
                else [f"--address={args.address}"])
    if args.node_ip_address:
        command.append(f"--node-ip-address={args.node_ip_address}")
    command += args.ray_args[1:] if args.ray_args[:1] == ["--"] else args.ray_args
    print(f"joining as {label} (identity {key})", flush=True)
    return subprocess.run(command).returncode


def _describe(job: JobRecord) -> str:
    from benchmarks.jobs.kinds import TITLES
    from benchmarks.jobs.service import request_summary

    where = job.machine or job.target or "any machine"
    progress = f" · {job.position} of {job.total}: {job.current}" if job.state == "running" and job.total else ""
    ended = f" · {job.message}" if job.message and not job.active else ""
    title = TITLES.get(job.kind, job.kind)
    return f"{job.id}  {job.state:<8} {title} · {request_summary(job)} · {where}{progress}{ended}"


def _jobs(args: argparse.Namespace) -> int:
    from benchmarks.jobs.service import Jobs

    jobs = Jobs(_settings(args))
    if args.stop:
        job = jobs.stop(args.stop)
        print(_describe(job) if job else f"no job {args.stop}")
        return 0 if job else 2
    found = jobs.jobs(limit=args.limit)
    for job in found:
        print(_describe(job))
    if not found:
        print("no jobs")
    return 0


def run_on(args: argparse.Namespace, request) -> int:
    """`run --on <machine>|all`: one benchmark job per machine on the cluster; --wait follows them to the end."""
    from benchmarks.jobs.service import Jobs

    settings = _settings(args)
    if not settings.ray_address:
        raise ValueError("--on sends a run to a Ray cluster: set KD_RAY_ADDRESS to its head (host:port).")
    jobs = Jobs(settings)
    machines = [m for m in jobs.machines() if m.alive]
    chosen = machines if args.on == "all" else [m for m in machines if args.on in (m.key, m.label)] or [
        m for m in machines if args.on.lower() in m.label.lower()]
    if not chosen or (args.on != "all" and len(chosen) > 1):
        names = "; ".join(m.label for m in machines) or "none"
        raise ValueError(f"--on {args.on}: name one connected machine or 'all' (connected: {names}).")
    started = []
    for machine in chosen:
        job, _ = jobs.submit("benchmark", request.to_json(), on=machine.key)
        started.append(job.id)
        print(f"job {job.id}: {machine.label}", flush=True)
    if not args.wait:
        return 0
    while True:
        current = [jobs.get(i) for i in started]
        if all(j is not None and not j.active for j in current):
            break
        time.sleep(WAIT_POLL_S)
    for job in current:
        print(_describe(job))
    return 0 if all(j.state == "finished" for j in current) else 1


def add_commands(sub, db: argparse.ArgumentParser) -> None:
    jn = sub.add_parser("join", parents=[db], help="join a Ray cluster as a benchmark machine (its hardware identity "
                                                   "becomes a Ray resource)")
    jn.add_argument("--address", help="the head's host:port (ray start --address)")
    jn.add_argument("--head", action="store_true", help="start the cluster's head here instead")
    jn.add_argument("--port", type=int, default=6379, help="the head's port (with --head; default 6379)")
    jn.add_argument("--num-cpus", type=int, help="CPUs this node offers (default: all); the thread count of its runs")
    jn.add_argument("--node-ip-address", help="the address other nodes reach this one at")
    jn.add_argument("ray_args", nargs=argparse.REMAINDER, help="after --: more `ray start` options (ports, temp dir)")
    jn.set_defaults(func=_join)

    jb = sub.add_parser("jobs", parents=[db], help="the job queue: benchmark runs, head importance, live distillation")
    jb.add_argument("--limit", type=int, default=20)
    jb.add_argument("--stop", metavar="ID", help="stop this job (wherever it runs)")
    jb.set_defaults(func=_jobs)

    dr = sub.add_parser("job-drain", parents=[db], help=argparse.SUPPRESS)
    dr.add_argument("kind")
    dr.set_defaults(func=_drain)
    one = sub.add_parser("job-run", parents=[db], help=argparse.SUPPRESS)
    one.add_argument("job")
    one.set_defaults(func=_run_one)
