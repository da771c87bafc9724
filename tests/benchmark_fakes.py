"""Synthetic benchmark records for store, CLI and page tests: valid, cheap, no model involved."""

from __future__ import annotations

from benchmarks.analysis.metrics import Latency
from benchmarks.core.device import HardwareInfo, SoftwareInfo
from benchmarks.harness.results import (
    Accuracy,
    BenchmarkConfig,
    BenchmarkResult,
    BenchmarkSettings,
    CellResult,
    MemoryUse,
    PeakResult,
)

HARDWARE = HardwareInfo("Test CPU", 2, 2, ("avx2", "fma"), "AVX2")
GPU_BOX = HardwareInfo("Big CPU", 16, 32, ("avx2", "avx512f", "amx_bf16"), "AVX512", "NVIDIA H100", 79.6, "9.0")
SOFTWARE = SoftwareInfo("3.11.7", "2.13.0+cpu", "5.23.0")
SETTINGS = BenchmarkSettings(threads=2)


def config(role: str = "teacher", variant: str = "fp32", pair: str = "pocket", fingerprint: str = "abc123",
           device: str = "cpu", settings: BenchmarkSettings = SETTINGS, runtime: str = "eager") -> BenchmarkConfig:
    return BenchmarkConfig(pair, role, "pocket", role, fingerprint, variant, device, settings, "872:feed",  # type: ignore[arg-type]
                           runtime, "" if runtime == "eager" else "1.0")


def _latency(ms: float) -> Latency:
    return Latency(ms, ms * 1.1, ms * 1.3, ms * 1.05, ms * 0.05, 10)


def result(role: str = "teacher", variant: str = "fp32", hardware: HardwareInfo = HARDWARE, speed: float = 1.0,
           sweeps: tuple[float, ...] = (), run_id: str = "", **config_kw) -> BenchmarkResult:
    """A full-grid result; `speed` divides every latency (the student at 2.0 is twice as fast); each of
    `sweeps` scales the p50 into one sweep's p50 (none: a record from before sweeps were kept); results with one
    `run_id` were measured taking turns ("" = not known, as in the shipped references)."""
    cfg = config(role, variant, **config_kw)
    cells = tuple(
        CellResult(b, s, b * s, 2e6 * b * s / (2 if role == "student" else 1), _latency(0.05 * b * s / speed),
                   _latency(0.06 * b * s / speed), tuple(0.05 * b * s / speed * f for f in sweeps))
        for b in cfg.settings.batch_sizes for s in cfg.settings.seq_lens
    )
    correct = 780 if role == "teacher" else 770
    acc = Accuracy("SST-2 dev", correct, 872, correct / 872 - 0.02, correct / 872 + 0.02, 3.0, 20_000,
                   "1" * correct + "0" * (872 - correct), "1" * 872)
    return BenchmarkResult(
        cfg,
        hardware,
        SOFTWARE,
        "2026-11-24T07:00:00+00:00",
        "float32",
        0.5,
        0.0,
        12.0,
        (1, 16),
        cells,
        MemoryUse("rss", 120.0, 100.0),
        22_000_000,
        90_000_000,
        88_000_000 if variant == "fp32" else 30_000_000,
        acc,
        run_id=run_id,
    )


def peak(
    dtype: str = "fp32", gflops: float = 45.0, hardware: HardwareInfo = HARDWARE, device: str = "cpu"
) -> PeakResult:
    return PeakResult(hardware, SOFTWARE, device, dtype, 2, 2048, gflops, gflops * 0.95, 5, "2026-11-24T07:00:00+00:00")  # type: ignore[arg-type]


def pair_results(**kw) -> list[BenchmarkResult]:
    return [result("teacher", **kw), result("student", speed=1.8, **kw)]

