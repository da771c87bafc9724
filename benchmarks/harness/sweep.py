"""Running a pair's measurements through the cache: each model variant in a fresh worker process
(`python -m benchmarks.harness`), so its load time, cold first call and peak memory are its own.

The teacher's and the student's workers of one variant take turns, one grid cell at a time: the
parent lets one worker run a step while the other waits on its stdin. A slow minute on a shared
machine then lands on both models alike instead of on whichever ran during it, which keeps the
student/teacher speed-up honest (on the 2-vCPU reference VM, back-to-back runs of the same model
drift by 10-40 % between minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

from benchmarks.data import LabelledTexts
from benchmarks.hardware import detect_hardware, detect_software
from benchmarks.harness import HarnessError, eval_fingerprint, eval_subset
from benchmarks.models import PairSpec
from benchmarks.results import BenchmarkConfig, BenchmarkResult, BenchmarkSettings, PeakResult, peak_key
from benchmarks.settings import REPO_ROOT

# glibc hands blocks above 32 MB back to the OS when they are freed, so each large activation of a
# forward pass is page-faulted in again on the next call (~14 ms per 50 MB tensor on the reference
# machine; 22 % of DistilBERT's int8 time at 32x128). Keeping freed memory in the heap avoids it.
HEAP_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}
GO = "go\n"  # what a waiting worker reads on stdin to run its next step


def _worker_env(keep_heap: bool) -> dict[str, str]:
    return {**os.environ, **(HEAP_ENV if keep_heap else {})}


def _failure(stderr: str, fallback: str) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    return next((l[len("error: "):] for l in reversed(lines) if l.startswith("error: ")), lines[-1] if lines else fallback)


class _Worker:
    """One model variant measured in its own process, one step per `advance`."""

    def __init__(self, config: BenchmarkConfig, eval_data: LabelledTexts | None, folder: Path,
                 on_step: Callable[[int, int], None]):
        self.config, self.on_step = config, on_step
        self.job, self.out, self.err = folder / "job.json", folder / "result.json", folder / "stderr.txt"
        payload = None if eval_data is None else {"texts": list(eval_data.texts), "labels": list(eval_data.labels), "source": eval_data.source}
        self.job.write_text(json.dumps({"config": asdict(config), "eval": payload}))
        self.proc: subprocess.Popen | None = None
        self.result: BenchmarkResult | None = None

    def advance(self) -> bool:
        """Run the next step (the first call starts the process: import, load, first cell). True once
        the result is in."""
        if self.proc is None:
            with self.err.open("w") as err_fh:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.harness", str(self.job), str(self.out)],
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
            raise HarnessError(f"measuring {self.config.name} ({self.config.variant}) failed: {why}")
        self.result = BenchmarkResult.from_dict(json.loads(self.out.read_text()))
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def measure_in_turns(configs: Sequence[BenchmarkConfig], eval_data: LabelledTexts | None = None,
                     on_step: Callable[[int, int, int], None] | None = None) -> Iterator[tuple[int, BenchmarkResult]]:
    """Measure each config in its own worker, the workers taking turns step by step; yields (index into
    configs, result) as each finishes. on_step(index, done, total) reports each step."""
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        workers = []
        for i, config in enumerate(configs):
            folder = Path(tmp, str(i))
            folder.mkdir()
            report = (lambda done, total, i=i: on_step(i, done, total)) if on_step else (lambda done, total: None)
            workers.append(_Worker(config, eval_subset(eval_data, config.settings) if config.eval_set else None, folder, report))
        waiting = list(enumerate(workers))
        try:
            while waiting:
                for i, worker in list(waiting):
                    if worker.advance():
                        waiting.remove((i, worker))
                        yield i, worker.result  # type: ignore[misc]
        finally:
            for worker in workers:
                worker.stop()


# --- a pair: models x variants, through the cache ------------------------------------------------------


@dataclass(frozen=True)
class SweepProgress:
    done: int  # models x variants finished (measured or found in the cache)
    total: int
    fraction: float  # including the part of the models under way already measured
    current: str  # what is being measured now


@dataclass(frozen=True)
class SweepItem:
    config: BenchmarkConfig
    status: Literal["cached", "measured"]
    result: BenchmarkResult


def plan(pair: PairSpec, fingerprints: dict[str, str], device: str, variants: Sequence[str],
         settings: BenchmarkSettings, eval_data: LabelledTexts | None) -> list[BenchmarkConfig]:
    """Every (variant, role) of the pair, fp32 first so the headline comparison lands early."""
    subset = eval_subset(eval_data, settings)
    eval_set = eval_fingerprint(subset) if subset is not None else ""
    return [
        BenchmarkConfig(pair.key, role, spec.source, spec.ref, fingerprints[role], variant, device, settings, eval_set)
        for variant in variants
        for role, spec in (("teacher", pair.teacher), ("student", pair.student))
    ]


def run_sweep(configs: Sequence[BenchmarkConfig], store, eval_data: LabelledTexts | None, force: bool = False,
              on_progress: Callable[[SweepProgress], None] | None = None) -> list[SweepItem]:
    """Measure each config not already in `store` (all of them with force), the configs of one variant
    taking turns, and write each result as soon as it is complete: a run killed half-way keeps every
    finished model. Items come back in the order of `configs`."""
    hardware, software = detect_hardware(), detect_software()
    total = len(configs)
    items: dict[int, SweepItem] = {}
    for i, config in enumerate(configs):
        cached = None if force else store.get(config.key(hardware, software))
        if isinstance(cached, BenchmarkResult):
            items[i] = SweepItem(config, "cached", cached)
    fractions = {i: 1.0 for i in items}

    def report(current: str) -> None:
        if on_progress:
            on_progress(SweepProgress(len(items), total, sum(fractions.values()) / total, current))

    missing = [i for i in range(total) if i not in items]
    for variant in dict.fromkeys(configs[i].variant for i in missing):
        group = [i for i in missing if configs[i].variant == variant]

        def step(k: int, done: int, steps: int, group: list[int] = group) -> None:
            config = configs[group[k]]
            fractions[group[k]] = done / steps
            report(f"{config.name} · {config.variant}: step {done}/{steps}")

        report(f"starting {' and '.join(configs[i].name for i in group)} · {variant}")
        for k, result in measure_in_turns([configs[i] for i in group], eval_data, step):
            store.put(result)
            items[group[k]] = SweepItem(configs[group[k]], "measured", result)
            fractions[group[k]] = 1.0
            report(f"{configs[group[k]].name} · {variant}")
    report("all measured")
    return [items[i] for i in range(total)]


# --- matmul peaks -------------------------------------------------------------------------------------


def measure_peak_in_subprocess(dtype: str, device: str, threads: int) -> PeakResult:
    """measure_matmul_peak in a fresh process with the models' allocator settings (HEAP_ENV)."""
    code = ("import json, sys; from benchmarks.hardware import measure_matmul_peak; "
            "print(json.dumps(measure_matmul_peak(sys.argv[1], sys.argv[2], int(sys.argv[3])).to_dict()))")
    proc = subprocess.run([sys.executable, "-c", code, dtype, device, str(threads)], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=_worker_env(True), check=False)
    if proc.returncode != 0:
        raise HarnessError(f"measuring the {dtype} matmul peak failed: {_failure(proc.stderr, f'exit code {proc.returncode}')}")
    return PeakResult.from_dict(json.loads(proc.stdout.splitlines()[-1]))


def ensure_peaks(store, device: str, dtypes: Sequence[str], threads: int, force: bool = False) -> list[PeakResult]:
    """The matmul peak per dtype for this machine, measured once and cached like everything else."""
    hardware, software = detect_hardware(), detect_software()
    peaks = []
    for dtype in dtypes:
        cached = None if force else store.get(peak_key(hardware, software, device, dtype, threads))
        if not isinstance(cached, PeakResult):
            cached = measure_peak_in_subprocess(dtype, device, threads)
            store.put(cached)
        peaks.append(cached)
    return peaks
