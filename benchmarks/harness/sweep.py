"""A pair's measurements through the cache: plan every (variant, role) config, measure what the store lacks
(the configs of one variant in workers taking turns, harness/worker.py), and store each result as it lands;
the matmul peaks likewise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from benchmarks.core.data import LabelledTexts
from benchmarks.core.device import detect_hardware, detect_software
from benchmarks.core.pairs import PairSpec
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, setup_name
from benchmarks.harness.measure import HarnessError, eval_subset
from benchmarks.harness.results import BenchmarkConfig, BenchmarkResult, BenchmarkSettings, PeakResult, peak_key
from benchmarks.harness.worker import measure_in_turns, measure_peak_in_subprocess
from benchmarks.runtimes.registry import RUNTIME_INFO, library_version, unavailable_reason


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
         settings: BenchmarkSettings, eval_data: LabelledTexts | None,
         runtimes: Sequence[str] = (DEFAULT_RUNTIME,)) -> list[BenchmarkConfig]:
    """Every (runtime, variant, role) of the pair, eager fp32 first so the headline comparison and the reference
    for agreement land early. Pass only the (runtime, variant) combinations that can run (runtime_skips)."""
    subset = eval_subset(eval_data, settings)
    eval_set = subset.fingerprint if subset is not None else ""
    return [
        BenchmarkConfig(pair.key, role, spec.source, spec.ref, fingerprints[role], variant, device, settings, eval_set,
                        runtime, library_version(runtime) if runtime != DEFAULT_RUNTIME else "")
        for runtime in runtimes
        for variant in variants
        if unavailable_reason(runtime, variant, device) is None
        for role, spec in (("teacher", pair.teacher), ("student", pair.student))
    ]


def runtime_skips(runtimes: Sequence[str], variants: Sequence[str], device: str, named: bool = True) -> list[str]:
    """One sentence per (runtime, variant) that cannot run here: not installed, or not a precision it runs. named:
    the variants were asked for by name; when they were a default, a runtime's lacking one is no news and unsaid."""
    pairs = [(r, v) for r in runtimes for v in variants if named or v in RUNTIME_INFO[r].precisions]
    reasons = {(r, v): unavailable_reason(r, v, device) for r, v in pairs}
    return [f"{setup_name(r, v)}: {why}" for (r, v), why in reasons.items() if why]


def run_sweep(configs: Sequence[BenchmarkConfig], store, eval_data: LabelledTexts | None, force: bool = False,
              on_progress: Callable[[SweepProgress], None] | None = None,
              on_failure: Callable[[str], None] = print) -> list[SweepItem]:
    """Measure each config not already in `store` (all of them with force), the configs of one runtime and variant
    taking turns, and write each result as soon as it is complete: a run killed half-way keeps every
    finished model. Items come back in the order of `configs`; a non-eager runtime that fails is left out and its
    one-sentence reason goes to on_failure."""
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
    for setup in dict.fromkeys(configs[i].setup for i in missing):
        group = [i for i in missing if configs[i].setup == setup]

        def step(k: int, done: int, steps: int, group: list[int] = group) -> None:
            config = configs[group[k]]
            fractions[group[k]] = done / steps
            report(f"{config.name} · {config.setup}: step {done}/{steps}")

        report(f"starting {' and '.join(configs[i].name for i in group)} · {setup}")
        try:
            for k, result in measure_in_turns([configs[i] for i in group], eval_data, step):
                store.put(result)
                items[group[k]] = SweepItem(configs[group[k]], "measured", result)
                fractions[group[k]] = 1.0
                report(f"{configs[group[k]].name} · {setup}")
        except HarnessError as exc:
            if configs[group[0]].runtime == DEFAULT_RUNTIME:
                raise  # eager failing is the harness failing
            # An optional runtime that cannot export or run this model is a finding, not the end of the run.
            for i in group:
                fractions[i] = 1.0
            on_failure(str(exc))
    report("all measured")
    return [items[i] for i in range(total) if i in items]


# --- matmul peaks -------------------------------------------------------------------------------------


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
