"""The Ray backend (KD_RAY_ADDRESS): machines that joined the cluster, and jobs sent to them as Ray tasks.

A machine joins with `python -m benchmarks join` (ray start with its hardware identity as a custom resource, and its
label in the results database). A benchmark job asks for that resource and every CPU (and GPU) of its node, so nothing
shares the machine while it times; head importance and live distillation go to any node, a GPU node first. The task
only starts `python -m benchmarks job-run <id>` on its node: the job reads its request from, and writes its progress
and results to, the shared database. Ray never retries a job: a node that dies leaves its job "stopped" (its heartbeat
ends), with what it finished kept."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

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
    named = labels(db)
    found = [ClusterMachine(key, named.get(key, key), alive, cpus, gpus)
             for key, alive, cpus, gpus in _in_client(address, _nodes, address)]
    return sorted(found, key=lambda m: (not m.alive, m.label))


def launch(address: str, db_url: str, job: JobRecord) -> None:
    """Send a queued job to the cluster: to its target's node with all of that node's CPUs and GPUs (a benchmark), or
    to any node, a GPU first (head importance, live distillation)."""
    nodes = [m for m in machines(address, Database(db_url)) if m.alive]
    if job.target:
        node = next((m for m in nodes if m.key == job.target), None)
        if node is None:
            raise ClusterUnavailable(f"No machine with the identity {job.target} is connected to the cluster.")
        options = {"num_cpus": node.cpus, "num_gpus": node.gpus, "resources": {RESOURCE_PREFIX + job.target: 1}}
    else:
        options = {"num_cpus": 1, "num_gpus": 1} if any(m.gpus for m in nodes) else {"num_cpus": 1}
    _in_client(address, _start_runner, address, options, f"kd-{job.kind}-{job.id}", job.id, db_url)


# --- the Ray client process ---------------------------------------------------------------------------------------
# Ray ends a driver process (os._exit) once the cluster's head has been gone for a minute. The dashboard must outlive
# its cluster, so it is never the driver: one spawned child per process connects, and is replaced when it dies.

CLIENT_TIMEOUT_S = 60.0
_client: tuple[multiprocessing.Process, Connection] | None = None
_client_lock = threading.Lock()  # one call at a time: the pipe carries one request and its answer


def _in_client(address: str, fn, *args):
    """fn(*args) in the client process, started on first use; its exception is raised here."""
    global _client
    with _client_lock:
        if _client is None or not _client[0].is_alive():
            ours, theirs = multiprocessing.get_context("spawn").Pipe()
            proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs,), daemon=True)
            proc.start()
            theirs.close()  # so that the child's death reads as the end of the pipe here, not as a 60 s silence
            _client = proc, ours
        proc, pipe = _client
        try:
            pipe.send((fn, args))
            if pipe.poll(CLIENT_TIMEOUT_S):
                ok, value = pipe.recv()
                if ok:
                    return value
                raise value
        except (EOFError, OSError):
            pass  # it died: Ray ended it, or it was killed
        proc.kill()
        _client = None
    raise ClusterUnavailable(f"The Ray cluster at {address} did not answer (no reply within {CLIENT_TIMEOUT_S:.0f} s, "
                             "or the connection to it ended); jobs cannot be sent to other machines.")


def _serve(pipe: Connection) -> None:
    while True:
        fn, args = pipe.recv()
        try:
            pipe.send((True, fn(*args)))
        except ClusterUnavailable as exc:
            pipe.send((False, exc))
        except Exception as exc:  # noqa: BLE001 -- Ray's own errors may not pickle; the caller gets one sentence
            pipe.send((False, ClusterUnavailable(f"The Ray cluster refused the request: {type(exc).__name__}: "
                                                 f"{(str(exc).splitlines() or [''])[0]}")))


def _nodes(address: str) -> list[tuple[str, bool, float, float]]:
    """In the client: (identity, alive, CPUs, GPUs) of each node that advertises a hardware identity."""
    found = []
    for node in connect(address).nodes():
        resources = node.get("Resources", {})
        found += [(name[len(RESOURCE_PREFIX):], bool(node.get("Alive")), resources.get("CPU", 0.0),
                   resources.get("GPU", 0.0)) for name in resources if name.startswith(RESOURCE_PREFIX)]
    return found


def _start_runner(address: str, options: dict, name: str, job_id: str, db_url: str) -> None:
    """In the client. A detached actor, not a task: it outlives the process that sent it (a dashboard restarting,
    `run --on` without --wait), holds its node's resources while the job runs, and is never restarted."""
    ray = connect(address)
    runner = ray.remote(JobRunner).options(**options, name=name, namespace="kd-dashboard", lifetime="detached",
                                           max_restarts=0)
    runner.remote().run.remote(job_id, db_url)


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
