"""Live distillation as a job (benchmarks/jobs queues and runs it, one at a time per machine): the job's status and
curves (`Job`, kept as its detail in the job row, so every session can poll it), and finished students, at most K, each
moved into place by one rename, so a killed job leaves nothing loadable.

    <state>/live/partial/<id>/             a student being written (outside the loadable folder)
    <state>/live/students/<id>/            finished students: weights, tokenizer, live.json
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Literal

import torch

from benchmarks.core.data import DataUnavailable, load_sst2, read_sentences
from benchmarks.core.device import detect_hardware
from benchmarks.core.models import POCKET_DIR, ModelLoadError, load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.core.persist import from_raw
from benchmarks.core.settings import Settings
from benchmarks.distill.live import (
    Cancelled,
    DevCheck,
    DevScore,
    LiveConfig,
    StepLoss,
    StoredDevScore,
    distil,
    gold_labels,
    score_on_dev,
)
from benchmarks.distill.recipe import save_fp16

LOSS_FIELDS = ("step", "kd", "hard", "total")  # one stored row of a job's loss curve
State = Literal["queued", "running", "finished", "failed", "stopped"]
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
    scores: tuple[StoredDevScore, ...] = ()  # at the end: teacher, pocket student, this student
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
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict) -> "Job":
        rows = raw.get("losses", ())  # to_json's compact rows
        return from_raw(cls, {**raw, "losses": [dict(zip(LOSS_FIELDS, r)) if isinstance(r, list) else r for r in rows]})


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


@dataclass(frozen=True)
class LiveStore:
    root: Path  # <state>/live
    keep: int = 5

    @classmethod
    def of(cls, settings: Settings) -> "LiveStore":
        return cls(settings.live_dir, settings.live_keep)

    def _dir(self, name: str) -> Path:
        """For writers only: readers never create folders, so a read-only state folder still serves the page."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _list(self, name: str, pattern: str = "*") -> list[Path]:
        folder = self.root / name
        return sorted(folder.glob(pattern)) if folder.is_dir() else []

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

    def pack(self, job_id: str) -> bytes:
        """A finished student's folder as a gzipped tar: how it travels from a cluster node to the dashboards."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(self.root / "students" / job_id, arcname=job_id)
        return buffer.getvalue()

    def adopt(self, job_id: str, packed: bytes) -> None:
        """Unpack a student made on another machine; like a local one it becomes loadable by one rename."""
        if (self.root / "students" / job_id).is_dir():
            return
        partial = self._dir("partial") / f"adopt-{job_id}"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
            tar.extractall(partial, filter="data")  # regular files inside the folder only
        os.rename(partial / job_id, self._dir("students") / job_id)
        shutil.rmtree(partial, ignore_errors=True)
        self._prune()

    def _prune(self) -> None:
        for old in self.students()[self.keep :]:
            shutil.rmtree(old.folder, ignore_errors=True)

    def _clear_partials(self) -> None:
        """Left by a killed job; only the lock holder calls this, so no live job is writing here."""
        for folder in self._list("partial"):
            shutil.rmtree(folder, ignore_errors=True)

    # --- running one job (benchmarks/jobs calls this in the worker) ------------------------------------------

    def run(self, job: Job, settings: Settings, report: Callable[[Job], None], cancelled: Callable[[], bool],
            log: Callable[[str], None] = lambda line: None) -> Job:
        """Train, save and score one student; `report` receives the job's status as it changes (throttled by the
        caller), `cancelled` is polled at every step. Returns the ended job (finished, stopped or failed)."""
        # One core fewer than this process may use: the web server keeps one to serve the class while the job trains
        # (and on a busy machine a second OpenMP thread spins more than it computes).
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, cores - 1))
        started, cpu_started = time.monotonic(), time.process_time()

        def save(changed: Job) -> Job:
            changed = replace(changed, updated=time.time())
            report(changed)
            return changed

        self._clear_partials()  # left by a killed job: one live job runs at a time per machine, so none is writing
        job = save(replace(job, state="running", pid=os.getpid(), phase="loading the teacher", measured_on=_machine()))
        partial = self._dir("partial") / job.id
        losses: list[StepLoss] = []
        checks: list[DevCheck] = []
        last_save = 0.0

        def update(phase: str, force: bool = False) -> None:
            nonlocal job, last_save
            if force or time.monotonic() - last_save >= SAVE_EVERY_S:
                job = save(replace(job, phase=phase, losses=tuple(losses), checks=tuple(checks)))
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
            job = save(replace(job, phase="training", hard_vs="gold labels" if labels else "the teacher's labels"))
            student, teacher_pred = distil(
                teacher, job.config, sentences, labels, dev, on_step, on_check, cancelled
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
            job = save(job)
            self._prune()
            log(f"finished in {job.seconds:.0f} s: {self._dir('students') / job.id}")
            return job
        except (Cancelled, KeyboardInterrupt) as exc:  # a Stop, or the machine's worker stopping (SIGTERM)
            shutil.rmtree(partial, ignore_errors=True)
            job = save(replace(job, state="stopped", phase="stopped", losses=tuple(losses), checks=tuple(checks),
                               message="Stopped before the end; nothing it made is kept."))
            if isinstance(exc, KeyboardInterrupt):
                raise
            return job
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the job ends as "failed" with one sentence
            shutil.rmtree(partial, ignore_errors=True)
            known = isinstance(exc, (ModelLoadError, DataUnavailable, ValueError, OSError))
            message = (
                str(exc)
                if known
                else f"The job stopped on an unexpected {type(exc).__name__}; see the job log in the state folder."
            )
            log(f"failed: {message}")
            if not known:
                traceback.print_exc()  # into the worker's log, for whoever runs the server
            return save(replace(job, state="failed", phase="failed", message=message, losses=tuple(losses),
                                checks=tuple(checks)))

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
