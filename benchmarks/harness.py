"""Measuring models. `measure` takes one model in one precision variant through the whole checklist;
`measure_in_subprocess` runs it in a fresh Python process (so load time, the cold first call and peak
memory belong to that model alone); `run_sweep` does a pair's models x variants, reusing the cache.

Reads top to bottom: settings -> FLOPs -> inputs -> timing loop -> one model -> subprocess -> sweep.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Literal, Sequence

import torch

from benchmarks.data import LabelledTexts
from benchmarks.hardware import detect_hardware, detect_software
from benchmarks.inference import dataset_logits
from benchmarks.metrics import Latency, accuracy_with_ci
from benchmarks.models import CANONICAL_LABELS, PairSpec, load_model
from benchmarks.precision import VARIANT_INFO, apply_variant
from benchmarks.results import (
    Accuracy,
    BenchmarkConfig,
    BenchmarkResult,
    BenchmarkSettings,
    CellResult,
    MemoryUse,
    PeakResult,
    peak_key,
)
from benchmarks.settings import DATA_DIR, REPO_ROOT
from benchmarks.timing import synchronize

GRID_SENTENCES = DATA_DIR / "samples.txt"  # grid inputs only set the shape; any real text will do
EVAL_MAX_LENGTH = 128


class HarnessError(RuntimeError):
    """A measurement failed; str(error) says which model and why, in one sentence."""


def full_settings(threads: int | None = None, cell_budget_s: float = 1.0) -> BenchmarkSettings:
    """The standard grid: batch 1/8/32 x 16/64/128 tokens, >= 10 timed iterations and >= the budget per cell."""
    return BenchmarkSettings(threads=threads or torch.get_num_threads(), cell_budget_s=cell_budget_s)


def quick_settings(threads: int | None = None) -> BenchmarkSettings:
    """A seconds-long smoke run (tests, first checks): a 2 x 2 grid and 64 accuracy sentences."""
    return BenchmarkSettings(
        threads=threads or torch.get_num_threads(), batch_sizes=(1, 4), seq_lens=(8, 16), cell_budget_s=0.02,
        min_iters=10, warmup_s=0.0, eval_limit=64, eval_batch_size=32,
    )


# --- FLOPs ------------------------------------------------------------------------------------------


def model_flops(config, seq_len: int) -> float:
    """Encoder FLOPs for one sequence: 2 per weight of every encoder Linear per token, plus attention
    scores and their weighted sum (4·L·n²·d). Embeddings, softmax, norms and the head are left out (< 1 %).
    BERT-base at 128 tokens: 22.35 GFLOP; DistilBERT exactly half."""
    d = getattr(config, "hidden_size", None) or config.dim
    ff = getattr(config, "intermediate_size", None) or config.hidden_dim
    layers = getattr(config, "num_hidden_layers", None) or config.n_layers
    return 2.0 * seq_len * layers * (4 * d * d + 2 * d * ff) + 4.0 * layers * seq_len**2 * d


# --- inputs -----------------------------------------------------------------------------------------


def grid_sentences() -> list[str]:
    lines = GRID_SENTENCES.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def grid_texts(tokenizer, batch: int, seq_len: int, sentences: Sequence[str]) -> list[str]:
    """`batch` texts of at least `seq_len` tokens each (row i joins sentences from i onwards), so that
    truncating to seq_len leaves every position a real token: grid cells have no padding."""
    lengths = [len(ids) for ids in tokenizer(list(sentences), add_special_tokens=False)["input_ids"]]
    if not any(lengths):
        raise ValueError("the grid sentences tokenize to nothing")
    rows = []
    for i in range(batch):
        parts, total, j = [], 0, i
        while total < seq_len:
            parts.append(sentences[j % len(sentences)])
            total += lengths[j % len(sentences)]
            j += 1
        rows.append(" ".join(parts))
    return rows


def eval_subset(data: LabelledTexts | None, settings: BenchmarkSettings) -> LabelledTexts | None:
    """The sentences scored for accuracy under `settings` (all, or the first eval_limit)."""
    if data is None or settings.eval_limit is None or settings.eval_limit >= len(data):
        return data
    return data.head(settings.eval_limit)


def eval_fingerprint(data: LabelledTexts) -> str:
    digest = hashlib.sha256(json.dumps([data.texts, data.labels]).encode())
    return f"{len(data)}:{digest.hexdigest()[:16]}"


# --- timing loop ------------------------------------------------------------------------------------


def repeat(step: Callable[[], tuple[float, ...]], settings: BenchmarkSettings, first: bool = True) -> list[tuple[float, ...]]:
    """One cell's share of one sweep: warm up (the first sweep: >= warmup_iters and >= warmup_s; later
    ones: one call, the shape changed since), then time until >= min_iters/rounds and >= budget/rounds."""
    begin, n = time.perf_counter(), 0
    while n < (settings.warmup_iters if first else 1) or (first and time.perf_counter() - begin < settings.warmup_s):
        step()
        n += 1
    samples: list[tuple[float, ...]] = []
    begin = time.perf_counter()
    min_iters, budget = math.ceil(settings.min_iters / settings.rounds), settings.cell_budget_s / settings.rounds
    while len(samples) < min_iters or time.perf_counter() - begin < budget:
        samples.append(step())
    return samples


def _cell_step(model, tokenizer, texts: list[str], seq_len: int, device: torch.device):
    """One timed iteration: tokenizer -> device -> forward. Model-only and end-to-end come from the
    same iteration, kept apart."""

    def step() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="pt")
        inputs = {k: enc[k].to(device) for k in ("input_ids", "attention_mask")}
        synchronize(device)
        t1 = time.perf_counter()
        model(**inputs)
        synchronize(device)  # CUDA runs asynchronously: wait before reading the clock
        t2 = time.perf_counter()
        return (t2 - t1) * 1e3, (t2 - t0) * 1e3, float(inputs["attention_mask"].sum())

    return step


# --- memory -----------------------------------------------------------------------------------------


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"{field} missing from /proc/self/status")


class _MemoryProbe:
    """Peak memory above a baseline. CPU: VmHWM (peak RSS), reset through /proc/self/clear_refs;
    CUDA: the caching allocator's peak counters."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device
        self.baseline_mb = self._current_mb()
        self.reset()

    def _current_mb(self) -> float:
        if self.cuda:
            return torch.cuda.memory_allocated(self.device) / 2**20
        return _proc_status_kb("VmRSS") / 1024

    def reset(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := current RSS

    def peak_mb(self) -> float:
        if self.cuda:
            return max(0.0, torch.cuda.max_memory_allocated(self.device) / 2**20 - self.baseline_mb)
        return max(0.0, _proc_status_kb("VmHWM") / 1024 - self.baseline_mb)

    def reserved_mb(self) -> float:
        return torch.cuda.max_memory_reserved(self.device) / 2**20 if self.cuda else 0.0


class _ByteCounter:
    """A write-only file that only counts: the serialized size without holding a copy in memory."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def serialized_bytes(model: torch.nn.Module) -> int:
    counter = _ByteCounter()
    torch.save(model.state_dict(), counter)
    return counter.n


# --- one model --------------------------------------------------------------------------------------


def score(model, tokenizer, labels: tuple[str, ...], data: LabelledTexts, settings: BenchmarkSettings,
          device: torch.device, max_length: int) -> Accuracy:
    """Accuracy on `data` with its Wilson interval, and the time to score it end to end (tokenizer
    included, length-sorted batches padded only to their own longest sentence)."""
    texts = list(data.texts)
    synchronize(device)
    start = time.perf_counter()
    logits = dataset_logits(model, tokenizer, texts, settings.eval_batch_size, max_length, device)
    synchronize(device)
    eval_s = time.perf_counter() - start
    positive = labels.index(CANONICAL_LABELS[1])
    predicted = [int(i == positive) for i in logits.argmax(dim=-1).tolist()]
    correct = sum(p == g for p, g in zip(predicted, data.labels))
    ci = accuracy_with_ci(correct, len(texts))
    real_tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"])
    return Accuracy(data.source, correct, len(texts), ci.low, ci.high, eval_s, real_tokens,
                    "".join(map(str, predicted)), "".join(map(str, data.labels)))


def measure(config: BenchmarkConfig, eval_data: LabelledTexts | None = None,
            on_step: Callable[[int, int], None] | None = None) -> BenchmarkResult:
    """Measure one model variant in this process. Run it in a fresh process (measure_in_subprocess):
    load time, the first call and peak memory are only honest there."""
    settings = config.settings
    device = torch.device(config.device)
    torch.set_num_threads(settings.threads)
    shapes = list(itertools.product(settings.batch_sizes, settings.seq_lens))
    steps = settings.rounds * len(shapes) + (eval_data is not None)
    memory = _MemoryProbe(device)

    start = time.perf_counter()
    loaded = load_model(config.spec, device, settings.attn_implementation)
    load_s = time.perf_counter() - start
    if loaded.fingerprint != config.fingerprint:
        raise HarnessError(f"{config.name} changed on disk since the run was planned; run again.")
    if max(settings.seq_lens) > loaded.max_length:
        raise ValueError(f"{config.name} accepts at most {loaded.max_length} tokens; the grid asks for {max(settings.seq_lens)}.")
    n_params = loaded.n_params  # before conversion: quantized Linear weights are no longer parameters
    start = time.perf_counter()
    model = apply_variant(loaded.model, config.variant)
    convert_s = time.perf_counter() - start
    load_peak_mb = memory.peak_mb()
    memory.reset()  # from here the peak covers the resident weights plus inference activations

    tokenizer, sentences = loaded.tokenizer, grid_sentences()
    cells: list[CellResult] = []
    with torch.inference_mode():
        first_shape = shapes[0]
        first = _cell_step(model, tokenizer, grid_texts(tokenizer, *first_shape, sentences), first_shape[1], device)
        first_call_ms = first()[0]  # the cold call: lazy allocations, kernel selection, caches
        # Sweeping the whole grid several times, rather than each cell once, spreads a burst of
        # outside load (a noisy neighbour, a frequency dip) over every cell instead of skewing a few.
        steps_of = {shape: _cell_step(model, tokenizer, grid_texts(tokenizer, *shape, sentences), shape[1], device) for shape in shapes}
        samples: dict[tuple[int, int], list[tuple[float, ...]]] = {shape: [] for shape in shapes}
        for sweep in range(settings.rounds):
            for i, shape in enumerate(shapes, start=1):
                samples[shape] += repeat(steps_of[shape], settings, first=sweep == 0)
                if on_step:
                    on_step(sweep * len(shapes) + i, steps)
        for (batch, seq_len), timed in samples.items():
            model_ms, e2e_ms, tokens = zip(*timed)
            cells.append(CellResult(batch, seq_len, int(tokens[0]), batch * model_flops(model.config, seq_len),
                                    Latency.from_values(model_ms), Latency.from_values(e2e_ms)))
    usage = MemoryUse("cuda" if memory.cuda else "rss", load_peak_mb, memory.peak_mb(), memory.reserved_mb())

    accuracy = None
    if eval_data is not None:
        accuracy = score(model, tokenizer, loaded.labels, eval_data, settings, device, min(EVAL_MAX_LENGTH, loaded.max_length))
        if on_step:
            on_step(steps, steps)
    return BenchmarkResult(
        config, detect_hardware(), detect_software(), datetime.now(timezone.utc).isoformat(timespec="seconds"),
        VARIANT_INFO[config.variant].label, load_s, convert_s, first_call_ms, first_shape, tuple(cells), usage,
        n_params, loaded.size_bytes, serialized_bytes(model), accuracy,
    )


# --- a fresh process per model ------------------------------------------------------------------------

# glibc hands blocks above 32 MB back to the OS when they are freed, so each large activation of a
# forward pass is page-faulted in again on the next call (~14 ms per 50 MB tensor on the reference
# machine; 22 % of DistilBERT's int8 time at 32x128). Keeping freed memory in the heap avoids it.
HEAP_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}


def _worker_env(keep_heap: bool) -> dict[str, str]:
    return {**os.environ, **(HEAP_ENV if keep_heap else {})}


def _failure(stderr: str, fallback: str) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    return next((l[len("error: "):] for l in reversed(lines) if l.startswith("error: ")), lines[-1] if lines else fallback)


def _eval_payload(data: LabelledTexts | None) -> dict | None:
    return None if data is None else {"texts": list(data.texts), "labels": list(data.labels), "source": data.source}


def measure_in_subprocess(config: BenchmarkConfig, eval_data: LabelledTexts | None = None,
                          on_step: Callable[[int, int], None] | None = None) -> BenchmarkResult:
    """`measure` in a fresh `python -m benchmarks.harness` process; progress comes back as JSON lines."""
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        job, out, err = Path(tmp, "job.json"), Path(tmp, "result.json"), Path(tmp, "stderr.txt")
        job.write_text(json.dumps({"config": asdict(config), "eval": _eval_payload(eval_data)}))
        with err.open("w") as err_fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.harness", str(job), str(out)],
                stdout=subprocess.PIPE, stderr=err_fh, text=True, cwd=REPO_ROOT, env=_worker_env(config.settings.keep_heap),
            )
            try:
                for line in proc.stdout:  # type: ignore[union-attr]
                    step = json.loads(line)
                    if on_step:
                        on_step(step["done"], step["total"])
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if rc != 0 or not out.is_file():
            why = _failure(err.read_text(errors="replace"), f"exit code {rc}")
            raise HarnessError(f"measuring {config.name} ({config.variant}) failed: {why}")
        return BenchmarkResult.from_dict(json.loads(out.read_text()))


def _worker(argv: list[str]) -> int:
    from benchmarks.models import ModelLoadError

    job_path, out_path = argv
    job = json.loads(Path(job_path).read_text())
    config = BenchmarkConfig.from_dict(job["config"])
    ev = job["eval"]
    data = LabelledTexts(tuple(ev["texts"]), tuple(ev["labels"]), ev["source"]) if ev else None
    report = lambda done, total: print(json.dumps({"done": done, "total": total}), flush=True)  # noqa: E731
    try:
        result = measure(config, data, report)
    except (ModelLoadError, HarnessError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(out_path).write_text(json.dumps(result.to_dict()))
    return 0


# --- a pair: models x variants, through the cache ------------------------------------------------------


@dataclass(frozen=True)
class SweepProgress:
    done: int  # models x variants finished (measured or found in the cache)
    total: int
    fraction: float  # including the part of the current model already measured
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
    """Measure each config not already in `store` (all of them with force), each in a fresh process,
    writing each result as soon as it is complete: a run killed half-way keeps every finished model."""
    hardware, software = detect_hardware(), detect_software()
    items: list[SweepItem] = []
    total = len(configs)
    for i, config in enumerate(configs):
        label = f"{config.name} · {config.variant}"
        cached = None if force else store.get(config.key(hardware, software))
        if isinstance(cached, BenchmarkResult):
            items.append(SweepItem(config, "cached", cached))
        else:
            def step(done: int, steps: int, i: int = i, label: str = label) -> None:
                if on_progress:
                    on_progress(SweepProgress(i, total, (i + done / steps) / total, f"{label}: step {done}/{steps}"))

            step(0, 1)
            data = eval_subset(eval_data, config.settings) if config.eval_set else None
            result = measure_in_subprocess(config, data, step)
            store.put(result)
            items.append(SweepItem(config, "measured", result))
        if on_progress:
            on_progress(SweepProgress(i + 1, total, (i + 1) / total, label))
    return items


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


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
