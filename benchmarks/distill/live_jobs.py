"""Live distillation jobs under the state folder: a queue any session can add to, one worker at a time per server
(an OS file lock), status and curves in one JSON file per job (replaced atomically, so every session can poll it),
and finished students, at most K, each moved into place by one rename, so a killed job leaves nothing loadable.

    <state>/live/queue/<time>-<id>.json    requests waiting, oldest first
    <state>/live/jobs/<id>.json            status + curves; <id>.cancel asks a job to stop; finished ones pruned
    <state>/live/partial/<id>/             a student being written (outside the loadable folder)
    <state>/live/students/<id>/            finished students: weights, tokenizer, live.json
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Literal

import torch

from benchmarks.core.background import (
    RunInProgress,
    RunProgress,
    is_active,
    pid_alive,
    read_progress,
    run_lock,
    start_background,
    write_progress,
)
from benchmarks.core.data import DataUnavailable, load_sst2, read_sentences
from benchmarks.core.device import detect_hardware
from benchmarks.core.models import POCKET_DIR, ModelLoadError, load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.core.persist import write_atomically
from benchmarks.core.settings import Settings
from benchmarks.distill.live import (
    Cancelled,
    DevCheck,
    DevScore,
    LiveConfig,
    StepLoss,
    distil,
    gold_labels,
    score_on_dev,
)
from benchmarks.distill.recipe import save_fp16

State = Literal["queued", "running", "finished", "failed", "cancelled", "interrupted"]
SERVER_STOPPED = "The server stopped while this job ran; nothing it made is kept."
META = "live.json"
SAVE_EVERY_S = 0.5  # status writes while training: often enough for a 2 s poll, rare enough to cost nothing


@dataclass(frozen=True)
class Job:
    id: str
    teacher: tuple[str, str]  # (source, ref) of the teacher's ModelSpec
    config: LiveConfig
    created: float
    state: State = "queued"
    pid: int = 0
    phase: str = "waiting for the running job to finish"
    updated: float = 0.0
    losses: tuple[StepLoss, ...] = ()
    checks: tuple[DevCheck, ...] = ()
    scores: tuple[DevScore, ...] = ()  # at the end: teacher, pocket student, this student
    hard_vs: str = "the teacher's labels"  # what the hard loss curve is measured against
    seconds: float = 0.0  # wall time of the whole job: loading, training, saving, the final comparison
    cpu_seconds: float = 0.0  # CPU time of the same span: on a busy machine, closer to what it costs on quiet cores
    measured_on: str = ""  # hardware, threads and load average, for the labels of every figure
    message: str = ""
    owner: str = ""  # the session that queued it (core/owners.py); empty from the command line

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def to_json(self) -> str:
        raw = asdict(self)
        raw["losses"] = [[s.step, s.kd, s.hard, s.total] for s in self.losses]  # compact: one row per step
        return json.dumps(raw)

    @classmethod
    def from_json(cls, text: str) -> "Job":
        raw = json.loads(text)
        return cls(
            **{
                **raw,
                "teacher": tuple(raw["teacher"]),
                "config": LiveConfig(**raw["config"]),
                "losses": tuple(StepLoss(*row) for row in raw["losses"]),
                "checks": tuple(DevCheck(**c) for c in raw["checks"]),
                "scores": tuple(DevScore.from_dict(s) for s in raw["scores"]),
            }
        )


@dataclass(frozen=True)
class Student:
    """A finished live student, as the sidebar offers it."""

    id: str
    folder: Path
    job: Job

    @property
    def label(self) -> str:
        done = time.strftime("%H:%M", time.localtime(self.job.updated))
        acc = next((s.accuracy for s in self.job.scores if s.name == "this student"), None)
        return f"{self.id} · {self.job.config.describe()} · done {done}" + (
            f" · dev {acc:.1%}" if acc is not None else ""
        )


class QueueFull(ValueError):
    """A session or the server has as many jobs waiting or running as allowed; str(error) is one sentence."""


@dataclass(frozen=True)
class LiveStore:
    root: Path  # <state>/live
    keep: int = 5
    max_queued: int = 2  # per session
    max_queued_server: int = 6
    keep_jobs: int = 30  # finished job records

    @classmethod
    def of(cls, settings: Settings) -> "LiveStore":
        return cls(settings.live_dir, settings.live_keep, settings.live_max_queued, settings.live_max_queued_server,
                   settings.live_keep_jobs)

    def _dir(self, name: str) -> Path:
        """For writers only: readers never create folders, so a read-only state folder still serves the page."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _list(self, name: str, pattern: str = "*") -> list[Path]:
        folder = self.root / name
        return sorted(folder.glob(pattern)) if folder.is_dir() else []

    def _job_file(self, job_id: str) -> Path:
        return self.root / "jobs" / f"{job_id}.json"

    def save(self, job: Job) -> Job:
        job = replace(job, updated=time.time())
        path = self._dir("jobs") / f"{job.id}.json"
        write_atomically(path, job.to_json())  # a poller never reads half a file
        return job

    def job(self, job_id: str) -> Job | None:
        try:
            job = Job.from_json(self._job_file(job_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError, TypeError, KeyError, ValueError):
            return None
        if job.state == "running" and not pid_alive(job.pid):
            return replace(
                job,
                state="interrupted",
                message="The job's process ended without finishing (server stopped or killed); nothing it made is "
                        "loaded.",
            )
        return job

    def jobs(self) -> list[Job]:
        """Every known job, newest first."""
        found = (self.job(p.stem) for p in self._list("jobs", "*.json"))
        return sorted((j for j in found if j is not None), key=lambda j: j.created, reverse=True)

    # --- queue ----------------------------------------------------------------------------------------

    def submit(self, teacher: ModelSpec, config: LiveConfig, owner: str = "") -> Job:
        """Queue a job for `owner` (a session id; empty from the command line, which only the server cap binds).
        Counting and adding happen under one lock, so two tabs submitting at once cannot both pass the caps."""
        import fcntl

        with open(self._dir(".") / "queue.lock", "a+") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            self._check_room(owner)
            job = self.save(Job(uuid.uuid4().hex[:8], (teacher.source, teacher.ref), config, time.time(), owner=owner))
            entry = self._dir("queue") / f"{time.time_ns()}-{job.id}.json"
            write_atomically(entry, job.id)
        return job

    def _check_room(self, owner: str) -> None:
        active = [j for j in self.jobs() if j.active]
        if owner and sum(j.owner == owner for j in active) >= self.max_queued:
            raise QueueFull(
                f"You already have {self.max_queued} distillation jobs waiting or running (KD_LIVE_MAX_QUEUED); "
                f"cancel one or wait for it to finish."
            )
        if len(active) >= self.max_queued_server:
            raise QueueFull(
                f"This server already has {len(active)} distillation jobs waiting or running "
                f"(KD_LIVE_MAX_QUEUED_SERVER); try again when one has finished."
            )

    def queued(self) -> list[Path]:
        return self._list("queue", "*.json")

    def _pop(self) -> Job | None:
        for entry in self.queued():
            try:
                job_id = entry.read_text().strip()
                entry.unlink()
            except FileNotFoundError:  # cancelled meanwhile
                continue
            job = self.job(job_id)
            if job is not None and job.state == "queued":
                return job
        return None

    def cancel(self, job_id: str) -> None:
        """A queued job is dropped; a running one stops at its next step (and keeps nothing)."""
        for entry in self.queued():
            if entry.stem.endswith(job_id):
                entry.unlink(missing_ok=True)
                job = self.job(job_id)
                if job is not None and job.state == "queued":
                    self.save(replace(job, state="cancelled", phase="cancelled before it started"))
                self.prune_jobs()
                return
        (self._dir("jobs") / f"{job_id}.cancel").touch()

    def _cancel_requested(self, job_id: str) -> bool:
        return (self.root / "jobs" / f"{job_id}.cancel").exists()

    def prune_jobs(self) -> None:
        """Keep the newest `keep_jobs` records of ended jobs; waiting and running ones are never touched."""
        ended = sorted((j for j in self.jobs() if not j.active), key=lambda j: j.updated, reverse=True)
        for old in ended[self.keep_jobs :]:
            self._job_file(old.id).unlink(missing_ok=True)
            (self.root / "jobs" / f"{old.id}.cancel").unlink(missing_ok=True)

    def _cancel_queue(self, message: str) -> None:
        """Drop every waiting request: their sessions went with the server, and nothing should run without one."""
        for entry in self.queued():
            with contextlib.suppress(FileNotFoundError):
                job_id = entry.read_text().strip()
                entry.unlink()
                job = self.job(job_id)
                if job is not None and job.state == "queued":
                    self.save(replace(job, state="cancelled", phase="cancelled before it started", message=message))

    # --- students -------------------------------------------------------------------------------------

    def students(self) -> list[Student]:
        """Finished students, newest first. Only complete folders are here: they arrive by rename."""
        found = []
        for folder in self._list("students"):
            try:
                job = Job.from_json((folder / META).read_text())
            except (OSError, json.JSONDecodeError, TypeError, KeyError, ValueError):
                continue
            found.append(Student(folder.name, folder, job))
        return sorted(found, key=lambda s: s.job.updated, reverse=True)

    def _prune(self) -> None:
        for old in self.students()[self.keep :]:
            shutil.rmtree(old.folder, ignore_errors=True)

    def _clear_partials(self) -> None:
        """Left by a killed job; only the lock holder calls this, so no live job is writing here."""
        for folder in self._list("partial"):
            shutil.rmtree(folder, ignore_errors=True)

    # --- the worker -----------------------------------------------------------------------------------

    def start_worker(self) -> int:
        """A background worker that drains the queue; one that finds another holding the lock just exits."""
        return start_background(
            ["live-distill", "--worker", "--state", str(self.root.parent)],
            self.root / "worker.json",
            self.root / "worker.log",
        )

    def worker_active(self) -> bool:
        return is_active(read_progress(self.root / "worker.json"))

    def ensure_worker(self) -> None:
        """Start a worker when something waits and none runs (also heals a request that came in as one was exiting)."""
        if self.queued() and not self.worker_active():
            self.start_worker()

    def run_worker(self, settings: Settings, log: Callable[[str], None] = lambda line: None) -> int:
        """Run queued jobs one at a time until the queue is empty; return how many ran here."""
        ran = 0
        while True:
            try:
                with run_lock(self._dir(".") / "worker.lock"):
                    self._clear_partials()
                    while (job := self._pop()) is not None:
                        self._run(job, settings, log)
                        ran += 1
            except RunInProgress:
                return ran  # the holder drains the queue, this request included
            except KeyboardInterrupt:  # SIGTERM: the server stopped (or someone stopped this worker)
                self._cancel_queue("The server stopped before this job started; queue it again.")
                raise
            if not self.queued():  # re-checked after the lock is released: a request may have come in meanwhile
                return ran

    def _run(self, job: Job, settings: Settings, log: Callable[[str], None]) -> None:
        # One core fewer than this process may use: the web server keeps one to serve the class while the job trains
        # (and on a busy machine a second OpenMP thread spins more than it computes).
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, cores - 1))
        started, cpu_started = time.monotonic(), time.process_time()
        job = self.save(
            replace(job, state="running", pid=os.getpid(), phase="loading the teacher", measured_on=_machine())
        )
        partial = self._dir("partial") / job.id
        losses: list[StepLoss] = []
        checks: list[DevCheck] = []
        last_save = 0.0

        def update(phase: str, force: bool = False) -> None:
            nonlocal job, last_save
            if force or time.monotonic() - last_save >= SAVE_EVERY_S:
                job = self.save(replace(job, phase=phase, losses=tuple(losses), checks=tuple(checks)))
                last_save = time.monotonic()

        def on_step(s: StepLoss) -> None:
            losses.append(s)
            update(f"training: step {s.step} of {job.config.steps}")

        def on_check(c: DevCheck) -> None:
            checks.append(c)
            log(f"step {c.step}: dev accuracy {c.accuracy:.1%}, agreement with the teacher {c.agreement:.1%}")
            update(f"training: step {c.step} of {job.config.steps}", force=True)

        try:
            teacher = load_model(ModelSpec(*job.teacher, "teacher"), "cpu", settings=settings)  # type: ignore[arg-type]
            sentences = read_sentences()
            labels = gold_labels(sentences) if job.config.hard_labels else None
            dev = load_sst2("validation")
            job = self.save(replace(job, phase="training", hard_vs="gold labels" if labels else "the teacher's labels"))
            student, teacher_pred = distil(
                teacher, job.config, sentences, labels, dev, on_step, on_check, lambda: self._cancel_requested(job.id)
            )
            update("saving and scoring the student", force=True)
            save_fp16(student, teacher.tokenizer, partial)
            scores = self._scores(teacher, partial, dev, teacher_pred, job.config, settings)
            job = replace(
                job,
                scores=scores,
                state="finished",
                phase="finished",
                measured_on=_machine(),
                seconds=round(time.monotonic() - started, 1),
                cpu_seconds=round(time.process_time() - cpu_started, 1),
            )
            (partial / META).write_text(job.to_json())
            os.rename(partial, self._dir("students") / job.id)  # the only step that makes it loadable
            self.save(job)
            self._prune()
            log(f"finished in {job.seconds:.0f} s: {self._dir('students') / job.id}")
        except Cancelled:
            shutil.rmtree(partial, ignore_errors=True)
            self.save(replace(job, state="cancelled", phase="cancelled", losses=tuple(losses), checks=tuple(checks)))
        except KeyboardInterrupt:
            shutil.rmtree(partial, ignore_errors=True)
            self.save(replace(job, state="interrupted", phase="stopped", message=SERVER_STOPPED, losses=tuple(losses),
                              checks=tuple(checks)))
            raise
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the job ends as "failed" with one sentence
            shutil.rmtree(partial, ignore_errors=True)
            known = isinstance(exc, (ModelLoadError, DataUnavailable, ValueError, OSError))
            message = (
                str(exc)
                if known
                else f"The job stopped on an unexpected {type(exc).__name__}; see worker.log in the state folder."
            )
            self.save(
                replace(
                    job, state="failed", phase="failed", message=message, losses=tuple(losses), checks=tuple(checks)
                )
            )
            log(f"failed: {message}")
            if not known:
                traceback.print_exc()  # into worker.log, for whoever runs the server
        finally:
            (self.root / "jobs" / f"{job.id}.cancel").unlink(missing_ok=True)
            self.prune_jobs()

    @staticmethod
    def _scores(
        teacher, folder: Path, dev, teacher_pred, config: LiveConfig, settings: Settings
    ) -> tuple[DevScore, ...]:
        """Teacher, the bundled pocket student and this student (as stored, fp16 -> fp32), timed in this one process."""
        models = [("teacher", teacher)]
        if "pocket" in settings.allowed_sources and (POCKET_DIR / "student" / "config.json").is_file():
            models.append(
                ("pocket student", load_model(ModelSpec("pocket", "student", "student"), "cpu", settings=settings))
            )
        models.append(
            (
                "this student",
                load_model(ModelSpec("local", str(folder), "student"), "cpu", settings=_with_root(settings, folder)),
            )
        )
        return tuple(
            score_on_dev(
                name,
                m.model,
                m.tokenizer,
                dev,
                m.labels,
                teacher_pred,
                min(config.max_length, m.max_length),
            )
            for name, m in models
        )


def _machine() -> str:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    threads = torch.get_num_threads()
    return f"{detect_hardware().label('cpu')} · {threads} torch threads · load average {load} (1 / 5 / 15 min)"


def _with_root(settings: Settings, folder: Path) -> Settings:
    """The partial folder is deliberately outside the loadable roots (and a classroom server may allow only the pocket
    source); only the job itself reads it back."""
    return replace(
        settings,
        model_roots=(*settings.model_roots, folder.resolve()),
        allowed_sources=(*settings.allowed_sources, "local"),
    )


def write_worker_progress(path: Path, state: str, message: str = "") -> None:
    now = time.time()
    write_progress(
        path,
        RunProgress(
            os.getpid(),
            "python -m benchmarks live-distill --worker",
            now,
            now,
            0.0,
            0,
            0,
            "live distillation worker",
            state,
            message,
        ),
    )  # type: ignore[arg-type]
