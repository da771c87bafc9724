"""Measuring one model. `measure` takes one model in one precision variant through the whole
checklist; it runs in a fresh worker process (harness/worker.py), so load time, the cold first call and
peak memory belong to that model alone.

Reads top to bottom: settings -> FLOPs -> inputs -> timing loop -> memory -> one model.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import torch

from benchmarks.analysis.metrics import Latency, accuracy_with_ci
from benchmarks.core.data import LabelledTexts, sample_sentences
from benchmarks.core.device import detect_hardware, detect_software, synchronize
from benchmarks.core.dimensions import dimension
from benchmarks.core.figures import weights_bytes
from benchmarks.core.inference import score_texts, tokenized
from benchmarks.core.models import load_model
from benchmarks.harness.results import (
    Accuracy,
    BenchmarkConfig,
    BenchmarkResult,
    BenchmarkSettings,
    CellResult,
    MemoryUse,
)
from benchmarks.harness.setups import prepare_model
from benchmarks.runtimes.base import Prepared, RuntimeUnavailable

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
    d, ff, layers = (int(dimension(config, what)) for what in ("hidden", "intermediate", "layers"))
    return 2.0 * seq_len * layers * (4 * d * d + 2 * d * ff) + 4.0 * layers * seq_len**2 * d


# --- inputs -----------------------------------------------------------------------------------------


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


# --- timing loop ------------------------------------------------------------------------------------


def repeat(
    step: Callable[[], tuple[float, ...]], settings: BenchmarkSettings, first: bool = True
) -> list[tuple[float, ...]]:
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


def _cell_step(forward, tokenizer, texts: list[str], seq_len: int, device: torch.device):
    """One timed iteration: tokenizer -> device -> forward(input_ids, attention_mask). Model-only and end-to-end
    come from the same iteration, kept apart."""

    def step() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="pt")
        inputs = {k: enc[k].to(device) for k in ("input_ids", "attention_mask")}
        synchronize(device)
        t1 = time.perf_counter()
        forward(inputs["input_ids"], inputs["attention_mask"])
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


# --- one model --------------------------------------------------------------------------------------


def score(model, tokenizer, labels: tuple[str, ...], data: LabelledTexts, settings: BenchmarkSettings,
          device: torch.device, max_length: int) -> Accuracy:
    """Accuracy on `data` with its Wilson interval, and the time to score it end to end (tokenizer
    included, length-sorted batches padded only to their own longest sentence)."""
    texts = list(data.texts)
    synchronize(device)  # the timing loop's last calls are not billed to scoring
    scored = score_texts(tokenized(model, tokenizer, max_length, device), texts, labels, settings.eval_batch_size)
    predicted = scored.predictions.tolist()
    correct = scored.correct(data.labels)
    ci = accuracy_with_ci(correct, len(texts))
    real_tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"])
    return Accuracy(data.source, correct, len(texts), ci.low, ci.high, scored.seconds, real_tokens,
                    "".join(map(str, predicted)), "".join(map(str, data.labels)))


def _runtime(config: BenchmarkConfig, loaded, shapes: list[tuple[int, int]]) -> Prepared:
    """The loaded fp32 model in the config's precision and runtime; HarnessError (one sentence) when it cannot be."""
    try:
        return prepare_model(loaded, config.runtime, config.variant, config.settings.threads, shapes)
    except RuntimeUnavailable as exc:
        raise HarnessError(f"{config.name} in {config.setup}: {exc}") from None


def measure(config: BenchmarkConfig, eval_data: LabelledTexts | None = None,
            on_step: Callable[[int, int], None] | None = None) -> BenchmarkResult:
    """Measure one model variant in this process. Run it in a fresh process (harness/worker.py):
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
        raise ValueError(f"{config.name} accepts at most {loaded.max_length} tokens; the grid asks for "
                         f"{max(settings.seq_lens)}.")
    n_params = loaded.n_params  # before conversion: quantized Linear weights are no longer parameters
    start = time.perf_counter()
    prepared = _runtime(config, loaded, shapes)
    model = prepared.model
    convert_s = time.perf_counter() - start
    variant_bytes = prepared.artefact_bytes or weights_bytes(loaded.model)
    loaded = replace(loaded, model=model)  # drop the torch model where a runtime holds its own copy
    load_peak_mb = memory.peak_mb()
    memory.reset()  # from here the peak covers the resident weights plus inference activations

    tokenizer, sentences = loaded.tokenizer, sample_sentences()  # grid inputs only set the shape; any real text will do
    cells: list[CellResult] = []
    with torch.inference_mode():
        first_shape = shapes[0]
        first_texts = grid_texts(tokenizer, *first_shape, sentences)
        first = _cell_step(model.forward, tokenizer, first_texts, first_shape[1], device)
        first_call_ms = first()[0]  # the cold call: lazy allocations, kernel selection, caches
        # Sweeping the whole grid several times, rather than each cell once, spreads a burst of
        # outside load (a noisy neighbour, a frequency dip) over every cell instead of skewing a few.
        steps_of = {
            shape: _cell_step(model.forward, tokenizer, grid_texts(tokenizer, *shape, sentences), shape[1], device)
            for shape in shapes
        }
        sweeps: dict[tuple[int, int], list[list[tuple[float, ...]]]] = {shape: [] for shape in shapes}
        for sweep in range(settings.rounds):
            for i, shape in enumerate(shapes, start=1):
                sweeps[shape].append(repeat(steps_of[shape], settings, first=sweep == 0))
                if on_step:
                    on_step(sweep * len(shapes) + i, steps)
        for (batch, seq_len), per_sweep in sweeps.items():
            model_ms, e2e_ms, tokens = zip(*itertools.chain.from_iterable(per_sweep))
            sweep_p50s = tuple(float(statistics.median(t[0] for t in timed)) for timed in per_sweep)
            cells.append(CellResult(batch, seq_len, int(tokens[0]), batch * model_flops(model.config, seq_len),
                                    Latency.from_values(model_ms), Latency.from_values(e2e_ms), sweep_p50s))
    usage = MemoryUse("cuda" if memory.cuda else "rss", load_peak_mb, memory.peak_mb(), memory.reserved_mb())

    accuracy = None
    if eval_data is not None:
        accuracy = score(
            model, tokenizer, loaded.labels, eval_data, settings, device, min(EVAL_MAX_LENGTH, loaded.max_length)
        )
        if on_step:
            on_step(steps, steps)
    return BenchmarkResult(
        config, detect_hardware(), detect_software(), datetime.now(timezone.utc).isoformat(timespec="seconds"),
        prepared.dtype, load_s, convert_s, first_call_ms, first_shape, tuple(cells), usage, n_params,
        loaded.size_bytes, variant_bytes, accuracy, prepared.export_s,
        prepared.artefact_bytes,
    )
