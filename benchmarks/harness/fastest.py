"""Fast by default: the setup (runtime × precision) that answers and scores unless a visitor picks another.

It is the fastest one measured on this machine (same hardware, device and thread count) for this model whose SST-2
dev answers are all the same as eager fp32's in the results store. Anything that changed even one answer is out, and
with no such measurement here the default is eager fp32 itself. Pure: the caller passes the records and says which
setups can run here now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Iterable

from benchmarks.core.vocabulary import DEFAULT_RUNTIME, RUNTIME_LABELS
from benchmarks.harness.machines import Machine, machine_of
from benchmarks.harness.results import BenchmarkResult

EAGER = (DEFAULT_RUNTIME, "fp32")
ANSWER_CELL = (1, 16)  # batch × tokens of one visitor's sentence (SST-2 sentences average 13 tokens)
SCORING_CELL = (32, 64)  # batch × tokens of a length-sorted data-set pass


@dataclass(frozen=True)
class Choice:
    runtime: str
    variant: str
    why: str  # one sentence, for the page and the CLI

    @property
    def setup(self) -> tuple[str, str]:
        return self.runtime, self.variant

    @property
    def label(self) -> str:
        return f"{RUNTIME_LABELS[self.runtime]} · {self.variant}"


def _p50(result: BenchmarkResult, cell: tuple[int, int]) -> float | None:
    found = result.cell(*cell)
    return found.model.p50 if found is not None else None


def _best_of_run(run: list[BenchmarkResult], offered: Collection[tuple[str, str]], cell: tuple[int, int]
                 ) -> tuple[BenchmarkResult, BenchmarkResult] | None:
    """(eager fp32, the fastest offered setup with its SST-2 dev answers) within one run's settings, or None."""
    base = next((r for r in run if (r.config.runtime, r.config.variant) == EAGER and r.accuracy is not None), None)
    if base is None or base.accuracy is None:
        return None
    same = [r for r in run if r.accuracy is not None and r.config.eval_set == base.config.eval_set
            and r.accuracy.predictions == base.accuracy.predictions and (r.config.runtime, r.config.variant) in offered]
    return base, min(same, key=lambda r: _p50(r, cell) or float("inf"), default=base)


def fastest_equivalent(results: Iterable[BenchmarkResult], fingerprint: str, machine: Machine,
                       offered: Collection[tuple[str, str]], cell: tuple[int, int] = ANSWER_CELL) -> Choice:
    """The fastest setup of the model `fingerprint` measured on `machine` at `cell` (model-only p50) that is in
    `offered` and gives every SST-2 dev answer eager fp32 gives; eager fp32 when none is, or nothing is measured.
    Setups are compared only with the eager fp32 of the same run settings: timings from two runs on a shared
    machine are not comparable, their ratios to eager within each run are."""
    runs: dict[object, list[BenchmarkResult]] = {}
    for r in results:
        if r.config.fingerprint == fingerprint and machine_of(r) == machine and _p50(r, cell) is not None:
            runs.setdefault(r.config.settings, []).append(r)
    pairs = [found for run in runs.values() if (found := _best_of_run(run, offered, cell)) is not None]
    if not pairs:
        return Choice(*EAGER, "eager fp32: no setup of this model was measured with SST-2 dev answers on this machine "
                              f"at {machine.label}")
    base, best = min(pairs, key=lambda p: (_p50(p[1], cell) or 0.0) / (_p50(p[0], cell) or 1.0))
    base_ms, best_ms = _p50(base, cell) or 0.0, _p50(best, cell) or 0.0
    n = base.accuracy.n if base.accuracy is not None else 0
    if best is base or best_ms >= base_ms:
        return Choice(*EAGER, f"eager fp32: nothing measured on this machine at batch {cell[0]} × {cell[1]} tokens "
                              f"was faster without changing one of the {n} SST-2 dev answers")
    return Choice(best.config.runtime, best.config.variant,
                  f"{RUNTIME_LABELS[best.config.runtime]} · {best.config.variant}: the fastest setup measured on this "
                  f"machine at batch {cell[0]} × {cell[1]} tokens ({best_ms / base_ms:.2f}× eager fp32's time in the "
                  f"same run) that changes none of the {n} SST-2 dev answers")
