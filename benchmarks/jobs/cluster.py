"""The Ray backend (KD_RAY_ADDRESS): machines that joined the cluster, and jobs sent to them as Ray tasks.

A machine joins with `python -m benchmarks join` (ray start with its hardware identity as a custom resource, and its
label in the results database). A benchmark job asks for that resource and every CPU (and GPU) of its node, so nothing
shares the machine while it times; head importance and live distillation go to any node, a GPU node first. The task
only starts `python -m benchmarks job-run <id>` on its node: the job reads its request from, and writes its progress
and results to, the shared database. Ray never retries a job: a node that dies leaves its job "stopped" (its heartbeat
ends), with what it finished kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from benchmarks.store.database import CLUSTER_EXTRA, Database
from benchmarks.store.jobs import JobRecord
from benchmarks.store.schema import meta

RESOURCE_PREFIX = "kd-hw:"
MACHINE_PREFIX = "machine:"  # meta rows: one per machine that joined, its label and when


class ClusterUnavailable(RuntimeError):
    """Ray is missing or its cluster cannot be reached: one sentence."""


@dataclass(frozen=True)
class ClusterMachine:
    key: str  # machines.Machine.key: "<hardware fingerprint>:<device type>:<threads>"
    label: str  # as the results name it
    alive: bool
    cpus: float
    gpus: float


def _ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise ClusterUnavailable(f"KD_RAY_ADDRESS is set, but Ray is not installed: {CLUSTER_EXTRA}.") from None
    return ray


def connect(address: str):
    """The ray module, connected to the cluster at `address` (once per process)."""
    ray = _ray()
    if not ray.is_initialized():
        try:
            ray.init(address=address, namespace="kd-dashboard", logging_level="WARNING", log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterUnavailable(f"The Ray cluster at {address} cannot be reached ({str(exc).splitlines()[0]}); "
                                     "jobs cannot be sent to other machines.") from None
    return ray


def register(db: Database, key: str, label: str) -> None:
    """Name a joining machine in the results database, so pages call it as its results do."""
    with db.transaction() as conn:
        db.upsert(conn, meta, {"name": MACHINE_PREFIX + key, "value": json.dumps({"label": label,
                                                                                   "joined": time.time()})}, True)


def labels(db: Database) -> dict[str, str]:
    import sqlalchemy as sa

    with db.reading() as conn:
        rows = conn.execute(sa.select(meta.c.name, meta.c.value).where(meta.c.name.startswith(MACHINE_PREFIX))).all()
    return {name[len(MACHINE_PREFIX):]: json.loads(value)["label"] for name, value in rows}


def machines(address: str, db: Database) -> list[ClusterMachine]:
    """Every node that advertises a hardware identity, alive or not, named as its results name it."""
    ray = connect(address)
    named = labels(db)
    found = []
    for node in ray.nodes():
        resources = node.get("Resources", {})
        for name in resources:
            if name.startswith(RESOURCE_PREFIX):
                key = name[len(RESOURCE_PREFIX):]
                found.append(ClusterMachine(key, named.get(key, key), bool(node.get("Alive")),
                                            resources.get("CPU", 0.0), resources.get("GPU", 0.0)))
    return sorted(found, key=lambda m: (not m.alive, m.label))


def launch(address: str, db_url: str, job: JobRecord) -> None:
    """Send a queued job to the cluster: to its target's node with all of that node's CPUs and GPUs (a benchmark), or
    to any node, a GPU first (head importance, live distillation)."""
    ray = connect(address)
    nodes = [m for m in machines(address, Database(db_url)) if m.alive]
    if job.target:
        node = next((m for m in nodes if m.key == job.target), None)
        if node is None:
            raise ClusterUnavailable(f"No machine with the identity {job.target} is connected to the cluster.")
        options = {"num_cpus": node.cpus, "num_gpus": node.gpus, "resources": {RESOURCE_PREFIX + job.target: 1}}
    else:
        options = {"num_cpus": 1, "num_gpus": 1} if any(m.gpus for m in nodes) else {"num_cpus": 1}
    # A detached actor, not a task: it outlives the process that sent it (a dashboard restarting, `run --on` without
    # --wait), holds its node's resources while the job runs, and is never restarted.
    runner = ray.remote(JobRunner).options(**options, name=f"kd-{job.kind}-{job.id}", namespace="kd-dashboard",
                                           lifetime="detached", max_restarts=0)
    runner.remote().run.remote(job.id, db_url)


class JobRunner:
    """On the node: the job in a fresh process of its own (its process group ends with a Stop), then the actor ends,
    freeing the node."""

    def run(self, job_id: str, db_url: str) -> int:
        import ray

        proc = subprocess.Popen([sys.executable, "-m", "benchmarks", "job-run", job_id],
                                env={**os.environ, "KD_DATABASE_URL": db_url}, start_new_session=True)
        try:
            return proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            raise
        finally:
            ray.actor.exit_actor()
