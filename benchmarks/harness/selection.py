"""Which stored results a page compares: the latest per setup and machine, grouped by role, their grid, and
what this machine still lacks. Pure functions, no I/O."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from benchmarks.core.device import HardwareInfo, SoftwareInfo
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, ROLES, RUNTIMES, VARIANT_INFO, setup_name
from benchmarks.harness.machines import machine_of
from benchmarks.harness.results import BenchmarkResult, BenchmarkSettings


def latest(results: Iterable[BenchmarkResult]) -> list[BenchmarkResult]:
    """One result per (pair, role, runtime, variant, machine and threads): the largest grid, then the newest."""
    best: dict[tuple, BenchmarkResult] = {}
    for r in results:
        slot = (r.config.pair, r.config.role, r.config.setup, machine_of(r))
        if slot not in best or (len(r.cells), r.measured_at) > (len(best[slot].cells), best[slot].measured_at):
            best[slot] = r
    order = {v: i for i, v in enumerate(VARIANT_INFO)}
    runtime_order = {rt: i for i, rt in enumerate(RUNTIMES)}
    return sorted(best.values(), key=lambda r: (runtime_order[r.config.runtime], order[r.config.variant],
                                                r.config.role != "teacher"))


def series_name(r: BenchmarkResult) -> str:
    return f"{r.config.role} · {r.config.setup}"


def grid(results: Iterable[BenchmarkResult]) -> tuple[list[int], list[int]]:
    """The batch sizes and the sequence lengths that any of the results measured, ascending."""
    cells = [c for r in results for c in r.cells]
    return sorted({c.batch for c in cells}), sorted({c.seq_len for c in cells})


def by_role(results: Iterable[BenchmarkResult]) -> dict[str, dict[str, BenchmarkResult]]:
    """Per setup, its results by role (teacher, student)."""
    out: dict[str, dict[str, BenchmarkResult]] = {}
    for r in results:
        out.setdefault(r.config.setup, {})[r.config.role] = r
    return out


def missing_variants(results: Iterable[BenchmarkResult], pair: str, hardware: HardwareInfo, software: SoftwareInfo,
                     device: str, variants: Sequence[str], settings: BenchmarkSettings,
                     runtimes: Sequence[str] = (DEFAULT_RUNTIME,),
                     runs: Callable[[str, str], bool] = lambda runtime, variant: True) -> list[tuple[str, str]]:
    """(role, setup) of `pair` with no result for this machine, software and settings, among the runtime x variant
    pairs that `runs` says can run here. The run itself checks the full key (model weights included); this is the
    page's cheap preview of it."""
    have = {
        (r.config.role, r.config.setup) for r in results
        if r.config.pair == pair and r.hardware == hardware and r.software == software
        and r.config.device == device and r.config.settings == settings
    }
    setups = [setup_name(rt, v) for rt in runtimes for v in variants if runs(rt, v)]
    return [(role, s) for s in setups for role in ROLES if (role, s) not in have]
