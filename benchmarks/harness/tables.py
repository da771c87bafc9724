"""Stored results as table rows: per cell, per model, and FLOP rate against the matmul peak. Pure functions,
no I/O."""

from __future__ import annotations

from typing import Iterable, Sequence

from benchmarks.core.figures import mib
from benchmarks.core.vocabulary import VARIANT_INFO
from benchmarks.harness.machines import machine_of
from benchmarks.harness.results import BenchmarkResult, PeakResult
from benchmarks.harness.selection import series_name
from benchmarks.harness.speedups import Timing, sweep_spread


def cell_rows(results: Iterable[BenchmarkResult], timing: Timing = "model") -> list[dict]:
    """One row per result x cell, for latency and throughput charts."""
    rows = []
    for r in results:
        for c in r.cells:
            lat, speed = c.timing(timing), c.throughput(timing, r.config.settings.threads)
            rows.append({
                "series": series_name(r), "role": r.config.role, "model": r.config.name, "variant": r.config.variant,
                "runtime": r.config.runtime, "setup": r.config.setup, "batch": c.batch, "seq_len": c.seq_len,
                "p50_ms": lat.p50, "p90_ms": lat.p90, "p99_ms": lat.p99,
                "std_ms": lat.std, "iterations": lat.n, "sentences_per_s": speed.per_second,
                "conditions": speed.conditions.describe(),
                "tokens_per_s": c.tokens_per_s(timing), "gflops": c.achieved_gflops, "sweep_spread": sweep_spread(c),
            })
    return rows


def summary_rows(results: Iterable[BenchmarkResult], cell: tuple[int, int] | None = None,
                 timing: Timing = "model") -> list[dict]:
    """One row per model x variant: everything that is not per cell, plus the p50 at `cell` (None without it)."""
    rows = []
    for r in results:
        acc = r.accuracy
        at = r.cell(*cell) if cell else None
        rows.append(
            {
                "series": series_name(r),
                "role": r.config.role,
                "model": r.config.name,
                "variant": r.config.variant,
                "runtime": r.config.runtime,
                "setup": r.config.setup,
                "dtype": r.dtype,
                "export_s": r.export_s,
                "artefact_mb": mib(r.artefact_bytes),
                "params_m": r.n_params / 1e6,
                "variant_mb": mib(r.variant_bytes),
                "disk_mb": mib(r.disk_bytes),
                "load_s": r.load_s,
                "convert_s": r.convert_s,
                "first_call_ms": r.first_call_ms,
                "first_call_shape": f"{r.first_call_shape[0]}×{r.first_call_shape[1]}",
                "memory": r.memory.method,
                "run_peak_mb": r.memory.run_peak_mb,
                "load_peak_mb": r.memory.load_peak_mb,
                "reserved_mb": r.memory.reserved_mb,
                "accuracy": acc.value if acc else None,
                "acc_low": acc.low if acc else None,
                "acc_high": acc.high if acc else None,
                "eval_n": acc.n if acc else None,
                "eval_sentences_per_s": r.eval_throughput.per_second if r.eval_throughput else None,
                "eval_conditions": r.eval_throughput.conditions.describe() if r.eval_throughput else None,
                "eval_tokens_per_s": acc.tokens_per_s if acc else None,
                "threads": r.config.settings.threads,
                "measured_at": r.measured_at,
                "software": r.software.label,
                "p50_ms": at.timing(timing).p50 if at else None,
            }
        )
    return rows


def utilisation_rows(
    results: Iterable[BenchmarkResult], peaks: Sequence[PeakResult], batch: int, seq_len: int
) -> list[dict]:
    """Achieved model-only FLOP rate at one cell against the peak of its own dtype and the machine's best."""
    rows = []
    for r in results:
        cell = r.cell(batch, seq_len)
        mine = [p for p in peaks if machine_of(p) == machine_of(r)]
        if cell is None or not mine:
            continue
        own = next((p for p in mine if p.dtype == VARIANT_INFO[r.config.variant].peak_dtype), None)
        best = max(mine, key=lambda p: p.gflops)
        rows.append({
            "series": series_name(r), "role": r.config.role, "model": r.config.name, "variant": r.config.variant,
            "runtime": r.config.runtime, "setup": r.config.setup, "cell": f"{batch}×{seq_len}",
            "achieved_gflops": cell.achieved_gflops,
            "peak_dtype": own.dtype if own else None,
            "dtype_peak_gflops": own.gflops if own else None,
            "of_dtype_peak": cell.achieved_gflops / own.gflops if own else None,
            "best_peak": f"{best.dtype} {best.gflops:.0f}",
            "of_best_peak": cell.achieved_gflops / best.gflops,
        })
    return rows
