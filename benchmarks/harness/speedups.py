"""Student over teacher speed-ups against the FLOPs ceiling, and how far host drift and repeats move a p50.
Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Iterable, Literal

from benchmarks.core.vocabulary import DEFAULT_RUNTIME, ROLES, setup_name
from benchmarks.harness.results import BenchmarkResult, CellResult
from benchmarks.harness.selection import by_role, series_name

Timing = Literal["model", "e2e"]


@dataclass(frozen=True)
class Speedup:
    variant: str
    batch: int
    seq_len: int
    teacher_ms: float
    student_ms: float
    ceiling: float  # teacher FLOPs / student FLOPs: the most fewer layers can buy
    # The ratio within each sweep of the grid (the two models took turns in one run, seconds apart); empty when
    # the records do not keep sweeps or were not measured taking turns. Their range is how far host drift alone
    # moves the ratio.
    sweep_ratios: tuple[float, ...] = ()
    runtime: str = DEFAULT_RUNTIME

    @property
    def setup(self) -> str:
        return setup_name(self.runtime, self.variant)

    @property
    def ratio(self) -> float:
        """The median of the sweep-by-sweep ratios where kept: when one run measured both models (taking
        turns), each pairs two p50s taken seconds apart, so drift between sweeps cancels; the ratio of
        whole-run p50s can pair a slow minute of one model with a fast minute of the other."""
        return median(self.sweep_ratios) if self.sweep_ratios else self.teacher_ms / self.student_ms

    @property
    def sweep_range(self) -> tuple[float, float] | None:
        return (min(self.sweep_ratios), max(self.sweep_ratios)) if len(self.sweep_ratios) > 1 else None


def speedups(results: Iterable[BenchmarkResult], timing: Timing = "model") -> list[Speedup]:
    """Student over teacher p50 per runtime x variant and cell (results from one machine)."""
    out = []
    for roles in by_role(results).values():
        if set(ROLES) <= roles.keys():
            config = roles["teacher"].config
            turns = roles["teacher"].took_turns_with(roles["student"])
            for tc in roles["teacher"].cells:
                sc = roles["student"].cell(tc.batch, tc.seq_len)
                if sc is not None:
                    paired = turns and timing == "model" and len(tc.sweep_p50s) == len(sc.sweep_p50s)
                    ratios = tuple(t / s for t, s in zip(tc.sweep_p50s, sc.sweep_p50s)) if paired else ()
                    out.append(Speedup(config.variant, tc.batch, tc.seq_len, tc.timing(timing).p50,
                                       sc.timing(timing).p50, tc.flops / sc.flops, ratios, config.runtime))
    return out


def sweep_spread(cell: CellResult) -> float | None:
    """How far one cell's p50 moved between the sweeps of its run (slowest / fastest - 1)."""
    return max(cell.sweep_p50s) / min(cell.sweep_p50s) - 1 if len(cell.sweep_p50s) > 1 else None


@dataclass(frozen=True)
class Drift:
    """Host drift seen by one measured model: the sweep-to-sweep spread of its cells' p50s."""

    series: str
    median: float
    worst: float
    worst_cell: tuple[int, int]


def drift(results: Iterable[BenchmarkResult]) -> list[Drift]:
    """Per model, the typical and the worst sweep spread; records without sweeps are left out."""
    out = []
    for r in results:
        spreads = [(x, (c.batch, c.seq_len)) for c in r.cells if (x := sweep_spread(c)) is not None]
        if spreads:
            worst = max(spreads)
            out.append(Drift(series_name(r), median(x for x, _ in spreads), worst[0], worst[1]))
    return out


def typical_drift(results: Iterable[BenchmarkResult]) -> tuple[float, Drift] | None:
    """The typical sweep-to-sweep spread over the models (the middle one's median; the upper middle for an even
    count) and the model with the worst single spread; None when no record kept its sweeps."""
    spreads = drift(results)
    if not spreads:
        return None
    return sorted(d.median for d in spreads)[len(spreads) // 2], max(spreads, key=lambda d: d.worst)


@dataclass(frozen=True)
class Repeat:
    """One cell measured twice: how far the second p50 sits from the first."""

    batch: int
    seq_len: int
    first_ms: float
    second_ms: float

    @property
    def difference(self) -> float:
        return self.second_ms / self.first_ms - 1


def repeats(first: BenchmarkResult, second: BenchmarkResult, timing: Timing = "model") -> list[Repeat]:
    """The p50 of every cell the two measurements of one model share."""
    out = []
    for a in first.cells:
        b = second.cell(a.batch, a.seq_len)
        if b is not None:
            out.append(Repeat(a.batch, a.seq_len, a.timing(timing).p50, b.timing(timing).p50))
    return out
