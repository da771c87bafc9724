"""Background jobs as rows of the results database: a kind, a request (JSON), a target machine, a state, progress and
a heartbeat. Every dashboard process and every machine reads the same rows, so any of them shows the queue, and a Stop
pressed anywhere reaches the worker (it reads its row's cancel flag with each heartbeat).

A running job whose worker is gone (its process ended on this host, or its heartbeat stopped: a node that died) is
settled as "stopped" when read, with where it stopped; what it had finished stays in the store."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import sqlalchemy as sa

from benchmarks.core.background import pid_alive
from benchmarks.store.database import Database
from benchmarks.store.schema import job_files
from benchmarks.store.schema import jobs as table

State = Literal["queued", "running", "finished", "failed", "stopped"]
ACTIVE = ("queued", "running")
STALE_S = 45.0  # no heartbeat for this long: the worker's machine is gone
HOST = socket.gethostname()


class QueueFull(ValueError):
    """A session or the server has as many jobs waiting or running as allowed; str(error) is one sentence."""


@dataclass(frozen=True)
class Caps:
    """Bounds on a kind's waiting and running jobs, per owner (a session) and in all, and how to name them."""

    per_owner: int
    total: int
    what: str = "jobs"
    per_owner_setting: str = ""
    total_setting: str = ""


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    request: str
    target: str
    backend: str
    owner: str
    state: State
    created: float
    started: float | None
    updated: float
    host: str = ""
    pid: int = 0
    machine: str = ""
    done: int = 0
    total: int = 0
    fraction: float = 0.0
    current: str = ""
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    cancel: bool = False

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def position(self) -> int:
        """Which step is under way, counting from 1."""
        return min(self.done + 1, self.total)

    def minutes(self, now: float | None = None) -> float:
        """Minutes since the job started (or was queued)."""
        return ((time.time() if now is None else now) - (self.started or self.created)) / 60

    def where_stopped(self) -> str:
        at = f"at {self.current}" if self.current else "before its first step"
        count = f" ({self.done} of {self.total} done)" if self.total else ""
        return f"{at}{count}"

    @classmethod
    def of_row(cls, row: sa.Row) -> "JobRecord":
        raw = dict(row._mapping)
        raw["detail"] = json.loads(raw["detail"] or "{}")
        raw["cancel"] = bool(raw["cancel"])
        return cls(**raw)


def _check_room(caps: Caps, owner: str, active: list[JobRecord]) -> None:
    if owner and sum(j.owner == owner for j in active) >= caps.per_owner:
        named = f" ({caps.per_owner_setting})" if caps.per_owner_setting else ""
        raise QueueFull(f"You already have {caps.per_owner} {caps.what} waiting or running{named}; cancel one or wait "
                        "for it to finish.")
    if len(active) >= caps.total:
        named = f" ({caps.total_setting})" if caps.total_setting else ""
        raise QueueFull(f"This server already has {len(active)} {caps.what} waiting or running{named}; try again "
                        "when one has finished.")


class JobBoard:
    """The jobs table of one database."""

    def __init__(self, db: Database):
        self.db = db

    # --- adding ----------------------------------------------------------------------------------------

    def submit(self, kind: str, request: str, target: str, backend: str, owner: str = "", single: bool = False,
               caps: Caps | None = None) -> tuple[JobRecord, bool]:
        """Queue a job; returns it and whether it is new. `single`: when a job of this kind for this target is already
        waiting or running, that one is returned instead (two tabs pressing Measure at once start one run). `caps`
        bound the active jobs of this kind per owner and in all; QueueFull says which one was hit.
        Checking and adding are one transaction, taken under the kind's lock, so concurrent submits cannot both pass."""
        now = time.time()
        with self.db.transaction() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"kd-jobs:{kind}"})
            active = [JobRecord.of_row(r) for r in conn.execute(
                sa.select(table).where(table.c.kind == kind, table.c.state.in_(ACTIVE)).order_by(table.c.created))]
            active = [j for j in active if self._settled(conn, j).active]
            if single:
                same = next((j for j in active if j.target == target), None)
                if same is not None:
                    return same, False
            if caps is not None:
                _check_room(caps, owner, active)
            job = JobRecord(uuid.uuid4().hex[:10], kind, request, target, backend, owner, "queued", now, None, now,
                            current="waiting for a worker")
            row = {f.name: getattr(job, f.name) for f in fields(job)}
            row["detail"] = json.dumps(job.detail)
            conn.execute(sa.insert(table).values(**row))
        return job, True

    # --- reading ---------------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        with self.db.transaction() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == job_id)).first()
            return None if row is None else self._settled(conn, JobRecord.of_row(row))

    def jobs(self, kind: str | None = None, limit: int = 50, active: bool = False) -> list[JobRecord]:
        """Newest first."""
        query = sa.select(table).order_by(table.c.created.desc()).limit(limit)
        if kind:
            query = query.where(table.c.kind == kind)
        if active:
            query = query.where(table.c.state.in_(ACTIVE))
        with self.db.reading() as conn:
            found = [JobRecord.of_row(r) for r in conn.execute(query)]
        if not any(self._gone(j) for j in found):
            return found
        with self.db.transaction() as conn:
            return [self._settled(conn, j) for j in found]

    def next_queued(self, kind: str, target: str, backend: str) -> str | None:
        with self.db.reading() as conn:
            return conn.execute(
                sa.select(table.c.id).where(table.c.kind == kind, table.c.target == target,
                                            table.c.backend == backend, table.c.state == "queued")
                .order_by(table.c.created).limit(1)).scalar()

    # --- the worker's side -------------------------------------------------------------------------------

    def claim(self, job_id: str, machine: str) -> JobRecord | None:
        """queued -> running for this process; None when another worker took it first (or it was cancelled)."""
        now = time.time()
        with self.db.transaction() as conn:
            done = conn.execute(
                sa.update(table).where(table.c.id == job_id, table.c.state == "queued")
                .values(state="running", started=now, updated=now, host=HOST, pid=os.getpid(), machine=machine,
                        current="starting")).rowcount
        return self.get(job_id) if done else None

    def update(self, job_id: str, **changes: Any) -> bool:
        """Progress, detail or a heartbeat (no changes); returns whether a stop was asked for."""
        if "detail" in changes:
            changes["detail"] = json.dumps(changes["detail"])
        with self.db.transaction() as conn:
            conn.execute(sa.update(table).where(table.c.id == job_id).values(**{"updated": time.time(), **changes}))
            return bool(conn.execute(sa.select(table.c.cancel).where(table.c.id == job_id)).scalar())

    def end(self, job_id: str, state: State, message: str, **changes: Any) -> None:
        self.update(job_id, state=state, message=message, **changes)

    # --- stopping --------------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobRecord | None:
        """A waiting job ends now; a running one is asked to stop (its worker sees it within a heartbeat)."""
        with self.db.transaction() as conn:
            conn.execute(sa.update(table).where(table.c.id == job_id, table.c.state == "queued").values(
                state="stopped", message="Cancelled before it started.", updated=time.time()))
            conn.execute(sa.update(table).where(table.c.id == job_id, table.c.state == "running").values(cancel=True))
        return self.get(job_id)

    # --- files a job leaves ---------------------------------------------------------------------------------

    def put_file(self, job_id: str, name: str, data: bytes) -> None:
        with self.db.transaction() as conn:
            self.db.upsert(conn, job_files, {"job_id": job_id, "name": name, "data": data}, True)

    def get_file(self, job_id: str, name: str) -> bytes | None:
        with self.db.reading() as conn:
            return conn.execute(sa.select(job_files.c.data).where(job_files.c.job_id == job_id,
                                                                  job_files.c.name == name)).scalar()

    def prune(self, kind: str, keep: int) -> int:
        """Keep the newest `keep` ended jobs of a kind; waiting and running ones are never touched."""
        with self.db.transaction() as conn:
            ended = conn.execute(sa.select(table.c.id).where(table.c.kind == kind, table.c.state.not_in(ACTIVE))
                                 .order_by(table.c.updated.desc()).offset(keep)).scalars().all()
            if ended:
                conn.execute(sa.delete(job_files).where(job_files.c.job_id.in_(ended)))
                conn.execute(sa.delete(table).where(table.c.id.in_(ended)))
        return len(ended)

    # --- settling jobs whose worker is gone ----------------------------------------------------------------

    @staticmethod
    def _gone(job: JobRecord, now: float | None = None) -> bool:
        if job.state != "running":
            return False
        if job.host == HOST and job.pid and not pid_alive(job.pid):
            return True
        return (time.time() if now is None else now) - job.updated > STALE_S

    def _settled(self, conn: sa.Connection, job: JobRecord) -> JobRecord:
        if not self._gone(job):
            return job
        why = ("its process ended without finishing" if job.host == HOST and not pid_alive(job.pid)
               else f"its machine ({job.host}) stopped answering")
        message = f"Stopped {job.where_stopped()}: {why}; what it finished is kept."
        conn.execute(sa.update(table).where(table.c.id == job.id, table.c.state == "running").values(
            state="stopped", message=message))
        return JobRecord(**{**job.__dict__, "state": "stopped", "message": message})
