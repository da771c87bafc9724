"""The job layer as pages and the command line use it: submit a job of a kind with its request (JSON) and a target,
list and stop jobs. Two backends: `local` (default: a drainer process per kind on this machine, one job at a time) and
`ray` (KD_RAY_ADDRESS: the machine that has the hardware runs it). Job rows live in the results database either way,
so every dashboard process sees the same queue, and a Stop pressed anywhere reaches the job."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.core.background import spawn
from benchmarks.core.settings import Settings
from benchmarks.jobs import here
from benchmarks.store.database import Database
from benchmarks.store.jobs import Caps, JobBoard, JobRecord

LOCAL = "local"


class Jobs:
    def __init__(self, settings: Settings, db: Database | None = None):
        self.settings = settings
        self.db = db or Database(settings.results_db)
        self.board = JobBoard(self.db)
        self.backend = "ray" if settings.ray_address else LOCAL

    # --- where jobs can run ------------------------------------------------------------------------------

    def machines(self):
        """The machines of the cluster (benchmarks.jobs.cluster.ClusterMachine); none without one."""
        if self.backend == LOCAL:
            return []
        from benchmarks.jobs import cluster

        return cluster.machines(self.settings.ray_address, self.db)

    # --- submitting ------------------------------------------------------------------------------------

    def submit(self, kind: str, request: str, on: str = "", owner: str = "", single: bool = False,
               caps: Caps | None = None) -> tuple[JobRecord, bool]:
        """Queue a job and start a worker for it. `on`: a cluster machine's key for a benchmark run there ("" = this
        machine locally, any node on the cluster). Returns the job and whether it is new (see JobBoard.submit)."""
        backend = LOCAL if self.backend == LOCAL or (kind == "benchmark" and not on) else "ray"
        target = here.fingerprint() if backend == LOCAL else on
        if backend == "ray" and kind == "benchmark":
            request = self._pin_threads(request, on)
        if kind == "live" and caps is None:
            caps = Caps(self.settings.live_max_queued, self.settings.live_max_queued_server, "distillation jobs",
                        "KD_LIVE_MAX_QUEUED", "KD_LIVE_MAX_QUEUED_SERVER")
        job, new = self.board.submit(kind, request, target, backend, owner, single, caps)
        if new:
            self._launch(job)
        return job, new

    def _pin_threads(self, request: str, on: str) -> str:
        """A run on a cluster machine uses the threads its identity names (all of the node's CPUs)."""
        from benchmarks.harness.runner import RunRequest

        threads = int(on.rsplit(":", 1)[1]) if on.count(":") == 2 else None
        return replace(RunRequest.from_json(request), threads=threads).to_json() if threads else request

    def _launch(self, job: JobRecord) -> None:
        if job.backend == LOCAL:
            self.ensure_worker(job.kind)
            return
        from benchmarks.jobs import cluster

        try:
            cluster.launch(self.settings.ray_address, self.target, job)
        except Exception as exc:
            self.board.end(job.id, "failed", str(exc))
            raise

    def ensure_worker(self, kind: str) -> None:
        """A local drainer for `kind` when something of this machine waits and none runs."""
        if self.board.next_queued(kind, here.fingerprint(), LOCAL) is None:
            return
        if self._lane_busy(kind):
            return  # a drainer holds it and takes the new job too
        # Through the environment, not the command line: a server URL's password stays out of `ps`.
        spawn(["job-drain", kind], self.log_path(kind), {"KD_STATE_DIR": str(self.settings.state_dir),
                                                         "KD_DATABASE_URL": self.target})

    def _lane_busy(self, kind: str) -> bool:
        """Whether a live drainer holds the kind's lane. Asked in a child process: a probe by this long-lived
        process would share its lock state with every earlier probe of the same file."""
        probe = ("import sys, filelock\ntry:\n    filelock.FileLock(sys.argv[1], timeout=0).acquire()\n"
                 "except filelock.Timeout:\n    sys.exit(3)")
        return subprocess.run([sys.executable, "-c", probe, str(self.lock_path(kind))], check=False).returncode == 3

    @property
    def target(self) -> str:
        """The database as every worker opens it: the sqlite file, or the server URL (password included)."""
        return str(self.db.path) if self.db.path is not None else self.db.url.render_as_string(hide_password=False)

    def lock_path(self, kind: str) -> Path:
        from benchmarks.jobs.work import lane_lock

        path = lane_lock(self.settings.state_dir, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, kind: str) -> Path:
        return self.settings.state_dir / "jobs" / f"{kind}.log"

    # --- reading and stopping ------------------------------------------------------------------------------

    def jobs(self, kind: str | None = None, limit: int = 50, active: bool = False) -> list[JobRecord]:
        return self.board.jobs(kind, limit, active)

    def get(self, job_id: str) -> JobRecord | None:
        return self.board.get(job_id)

    def stop(self, job_id: str) -> JobRecord | None:
        """A waiting job ends now; a running one, on any machine, stops within a heartbeat (its finished results
        stay)."""
        return self.board.cancel(job_id)


def fetch_students(jobs: Jobs) -> int:
    """Live students distilled on cluster nodes, unpacked into this machine's state folder (once each), so the
    sidebar offers them as it offers local ones. Returns how many arrived."""
    from benchmarks.distill.live_jobs import LiveStore
    from benchmarks.jobs.kinds import STUDENT_FILE

    store, arrived = LiveStore.of(jobs.settings), 0
    for job in jobs.jobs("live"):
        if job.state != "finished" or job.backend == LOCAL or (store.root / "students" / job.id).is_dir():
            continue
        packed = jobs.board.get_file(job.id, STUDENT_FILE)
        if packed is not None:
            store.adopt(job.id, packed)
            arrived += 1
    return arrived


def request_summary(job: JobRecord) -> str:
    """What a job is doing, in a few words for a queue table (its request's pair or teacher)."""
    raw = json.loads(job.request)
    if "pair" in raw:
        return raw["pair"].get("title", raw["pair"].get("key", ""))
    return " ".join(str(x) for x in raw.get("teacher", ()))
