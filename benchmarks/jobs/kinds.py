"""The three kinds of job, each a request that crosses processes and machines as JSON and the function that does it:
a benchmark run (harness.runner.RunRequest), head importance (HeadsRequest) and live distillation (LiveRequest).
Each function reports through a JobContext and returns the one sentence the job ends with."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

from benchmarks.core.pairs import PairSpec, pair_from_dict, pair_to_dict
from benchmarks.core.settings import Settings
from benchmarks.jobs.context import JobContext

Log = Callable[[str], None]


@dataclass(frozen=True)
class HeadsRequest:
    pair: PairSpec
    sentences: int = 200
    device: str = "cpu"
    data: str | None = None  # folder with SST-2 dev.tsv; None = the default

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "pair": pair_to_dict(self.pair)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "HeadsRequest":
        raw = json.loads(text)
        return cls(**{**raw, "pair": pair_from_dict(raw["pair"])})


@dataclass(frozen=True)
class LiveRequest:
    teacher: tuple[str, str]  # (source, ref) of the teacher's ModelSpec
    config: dict  # benchmarks.distill.live.LiveConfig as a dict

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "LiveRequest":
        raw = json.loads(text)
        return cls(tuple(raw["teacher"]), raw["config"])


def run_benchmark(request_json: str, ctx: JobContext, settings: Settings, log: Log) -> str:
    from benchmarks.harness.runner import RunRequest, open_store, run_pair

    request = RunRequest.from_json(request_json)
    report = run_pair(request, open_store(request.db or settings.results_db),
                      lambda p: ctx.progress(p.fraction, p.done, p.total, p.current), log)
    for reason in report.skipped:
        log(f"not measured: {reason}")
    return f"{len(report.items)} results" + (f"; {len(report.skipped)} not measured" if report.skipped else "")


def run_heads(request_json: str, ctx: JobContext, settings: Settings, log: Log) -> str:
    from benchmarks.analysis import heads
    from benchmarks.core.data import load_sst2
    from benchmarks.core.device import resolve_device
    from benchmarks.core.models import load_pair

    request = HeadsRequest.from_json(request_json)
    if request.sentences < 1:
        raise ValueError(f"--sentences {request.sentences}: give at least 1.")
    pair = load_pair(request.pair, str(resolve_device(request.device)))  # own instances: the masks touch no one
    data = load_sst2("validation", request.data).head(request.sentences)
    result = heads.pair_head_importance(pair, data, lambda done, total, current: ctx.progress(
        done / total, done, total, current))
    path = heads.cache_file(settings.state_dir, pair.teacher.fingerprint, pair.student.fingerprint, data)
    heads.save(path, result)
    # The result rides in the job's row too: a dashboard on another machine saves it into its own cache.
    ctx.detail({"cache_name": path.name, "result": result.to_json()}, force=True)
    log(f"{pair.spec.title}: {result.data_source}, {result.machine}; saved to {path}")
    return path.name


def run_live(request_json: str, ctx: JobContext, settings: Settings, log: Log) -> str:
    from benchmarks.distill.live import LiveConfig
    from benchmarks.distill.live_jobs import Job, LiveStore

    request = LiveRequest.from_json(request_json)
    job = Job(ctx.job.id, request.teacher, LiveConfig(**request.config), ctx.job.created)

    def report(changed: Job) -> None:
        last = changed.losses[-1].step if changed.losses else 0
        ctx.board.update(ctx.job.id, detail=json.loads(changed.to_json()), current=changed.phase,
                         done=last, total=changed.config.steps, fraction=last / max(1, changed.config.steps))

    store = LiveStore.of(settings)
    ended = store.run(job, settings, report, ctx.cancelled, log)
    if ended.state == "finished" and ctx.job.backend != "local":  # made on a cluster node: travels in the database
        ctx.board.put_file(ctx.job.id, STUDENT_FILE, store.pack(ctx.job.id))
    if ended.state == "failed":
        raise _Failed(ended.message)
    if ended.state == "stopped":
        raise KeyboardInterrupt
    return f"finished in {ended.seconds:.0f} s"


STUDENT_FILE = "student.tar.gz"


class _Failed(RuntimeError):
    """A kind that already put its one-sentence failure into its detail."""


KINDS: dict[str, Callable[[str, JobContext, Settings, Log], str]] = {
    "benchmark": run_benchmark,
    "heads": run_heads,
    "live": run_live,
}
# What a job of each kind is called on a page and in the CLI.
TITLES = {"benchmark": "Benchmark run", "heads": "Head importance", "live": "Live distillation"}


def live_job_of(record) -> object | None:
    """The live-distillation status (distill.live_jobs.Job) a live job's row carries, once its worker wrote one."""
    from benchmarks.distill.live import LiveConfig
    from benchmarks.distill.live_jobs import Job

    if record.detail:
        job = Job.from_dict(record.detail)
    else:
        request = LiveRequest.from_json(record.request)
        job = Job(record.id, request.teacher, LiveConfig(**request.config), record.created)
    state = record.state if record.state != "running" or job.state == "running" else "running"
    return replace(job, state=state, message=record.message or job.message, updated=record.updated or time.time())
