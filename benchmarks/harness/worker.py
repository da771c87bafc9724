"""The worker protocol, both ends: each measurement runs in a fresh process (`python -m benchmarks.harness.worker`),
so a model's load time, cold first call and peak memory are its own, and the allocator settings are the run's.

A model worker reads its job (a BenchmarkConfig and the sentences to score) from a JSON file, prints one JSON
line per step ({"done": i, "total": n}) and then waits for a line on stdin before the next step; its result goes
to a JSON file. The parent (`measure_in_turns`) lets the teacher's and the student's workers of one variant take
turns, one grid cell at a time, so a slow minute on a shared machine lands on both models alike instead of on
whichever ran during it (on the 2-vCPU reference VM, back-to-back runs of the same model drift by 10-40 % between
minutes). A peak worker measures one matmul peak and prints it as one JSON line. Errors: "error: <sentence>" on
stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from benchmarks.core.data import LabelledTexts
from benchmarks.core.persist import from_raw
from benchmarks.core.settings import REPO_ROOT
from benchmarks.harness.measure import HarnessError, eval_subset, measure
from benchmarks.harness.results import BenchmarkConfig, BenchmarkResult, PeakResult

# glibc hands blocks above 32 MB back to the OS when they are freed, so each large activation of a
# forward pass is page-faulted in again on the next call (~14 ms per 50 MB tensor on the reference
# machine; 22 % of DistilBERT's int8 time at 32x128). Keeping freed memory in the heap avoids it.
HEAP_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}
GO = "go\n"  # what a waiting worker reads on stdin to run its next step
_MODULE = "benchmarks.harness.worker"


def _worker_env(keep_heap: bool) -> dict[str, str]:
    return {**os.environ, **(HEAP_ENV if keep_heap else {})}


def _failure(stderr: str, fallback: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else fallback
    return next((line[len("error: "):] for line in reversed(lines) if line.startswith("error: ")), last)


# --- the parent's side ------------------------------------------------------------------------------


class _Worker:
    """One model variant measured in its own process, one step per `advance`."""

    def __init__(self, config: BenchmarkConfig, eval_data: LabelledTexts | None, folder: Path,
                 on_step: Callable[[int, int], None]):
        self.config, self.on_step = config, on_step
        self.job, self.out, self.err = folder / "job.json", folder / "result.json", folder / "stderr.txt"
        payload = None if eval_data is None else {
            "texts": list(eval_data.texts), "labels": list(eval_data.labels), "source": eval_data.source,
        }
        self.job.write_text(json.dumps({"config": asdict(config), "eval": payload}))
        self.proc: subprocess.Popen | None = None
        self.result: BenchmarkResult | None = None

    def advance(self) -> bool:
        """Run the next step (the first call starts the process: import, load, first cell). True once
        the result is in."""
        if self.proc is None:
            with self.err.open("w") as err_fh:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", _MODULE, "model", str(self.job), str(self.out)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_fh, text=True, cwd=REPO_ROOT,
                    env=_worker_env(self.config.settings.keep_heap),
                )
        else:
            try:
                self.proc.stdin.write(GO)  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass  # it died while waiting (killed, out of memory): its exit code below says so
        for line in self.proc.stdout:  # type: ignore[union-attr]
            if not line.startswith("{"):
                continue  # something a library printed
            step = json.loads(line)
            self.on_step(step["done"], step["total"])
            if step["done"] < step["total"]:
                return False  # the worker now waits for its next turn
        rc = self.proc.wait()
        if rc != 0 or not self.out.is_file():
            why = _failure(self.err.read_text(errors="replace"), f"exit code {rc}")
            raise HarnessError(f"measuring {self.config.name} ({self.config.setup}) failed: {why}")
        self.result = from_raw(BenchmarkResult, json.loads(self.out.read_text()))
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def measure_in_turns(configs: Sequence[BenchmarkConfig], eval_data: LabelledTexts | None = None,
                     on_step: Callable[[int, int, int], None] | None = None) -> Iterator[tuple[int, BenchmarkResult]]:
    """Measure each config in its own worker, the workers taking turns step by step; yields (index into
    configs, result) as each finishes, all with one run id. on_step(index, done, total) reports each step."""
    run_id = uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        workers = []
        for i, config in enumerate(configs):
            folder = Path(tmp, str(i))
            folder.mkdir()
            report = (lambda done, total, i=i: on_step(i, done, total)) if on_step else (lambda done, total: None)
            data = eval_subset(eval_data, config.settings) if config.eval_set else None
            workers.append(_Worker(config, data, folder, report))
        waiting = list(enumerate(workers))
        try:
            while waiting:
                for i, worker in list(waiting):
                    if worker.advance():
                        waiting.remove((i, worker))
                        yield i, replace(worker.result, run_id=run_id)  # type: ignore[type-var]
        finally:
            for worker in workers:
                worker.stop()


def measure_peak_in_subprocess(dtype: str, device: str, threads: int) -> PeakResult:
    """The matmul peak in a fresh process with the models' allocator settings (HEAP_ENV)."""
    proc = subprocess.run([sys.executable, "-m", _MODULE, "peak", dtype, device, str(threads)], capture_output=True,
                          text=True, cwd=REPO_ROOT, env=_worker_env(True), check=False)
    if proc.returncode != 0:
        why = _failure(proc.stderr, f"exit code {proc.returncode}")
        raise HarnessError(f"measuring the {dtype} matmul peak failed: {why}")
    return from_raw(PeakResult, json.loads(proc.stdout.splitlines()[-1]))


# --- the worker's side ------------------------------------------------------------------------------


def _model(job_path: Path, out_path: Path) -> None:
    job = json.loads(job_path.read_text())
    config = from_raw(BenchmarkConfig, job["config"])
    ev = job["eval"]
    data = LabelledTexts(tuple(ev["texts"]), tuple(ev["labels"]), ev["source"]) if ev else None

    def report(done: int, total: int) -> None:
        print(json.dumps({"done": done, "total": total}), flush=True)
        if done < total and not sys.stdin.readline():
            raise SystemExit(3)  # stdin closed: the parent is gone

    out_path.write_text(json.dumps(measure(config, data, report).to_dict()))


def _peak(dtype: str, device: str, threads: int) -> None:
    from benchmarks.harness.peak import measure_matmul_peak

    print(json.dumps(measure_matmul_peak(dtype, device, threads).to_dict()))


def main(argv: list[str] | None = None) -> int:
    from benchmarks.core.models import ModelLoadError

    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}", description="One measurement in this process.")
    sub = parser.add_subparsers(dest="kind", required=True)
    model = sub.add_parser("model", help="measure the job in JOB, writing the result to OUT, one step per stdin line")
    model.add_argument("job", type=Path)
    model.add_argument("out", type=Path)
    peak = sub.add_parser("peak", help="measure one matmul peak and print it as JSON")
    peak.add_argument("dtype")
    peak.add_argument("device")
    peak.add_argument("threads", type=int)
    args = parser.parse_args(argv)
    try:
        if args.kind == "model":
            _model(args.job, args.out)
        else:
            _peak(args.dtype, args.device, args.threads)
    except (ModelLoadError, HarnessError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
