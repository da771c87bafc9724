"""What a model selection concludes: per candidate, the constraints it fails and how it compares with the
teacher; overall, the ranking, the reasons for the first and what to relax when nothing fits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from benchmarks.analysis.candidate import Candidate
from benchmarks.analysis.constraints import Constraints
from benchmarks.analysis.stats import PairedAccuracy, SpeedupInterval

Axis = Literal["accuracy", "memory"]


@dataclass(frozen=True)
class Failure:
    constraint: str  # budget | min_acc | max_drop | max_mem | max_size
    text: str
    needed: float | None  # the limit that would admit the candidate; None: no limit would (nothing measured)


@dataclass(frozen=True)
class Verdict:
    candidate: Candidate
    failures: tuple[Failure, ...]
    vs_teacher: PairedAccuracy | None
    speedup: SpeedupInterval | None  # teacher fp32 time / this time, at the constraint cell
    pareto: bool  # on the frontier of latency against Decision.axis
    cost: float | None = None  # per million sentences at Constraints.price_per_hour; None without a price

    @property
    def fits(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Decision:
    constraints: Constraints
    ranked: tuple[Verdict, ...]  # those that fit, best first
    excluded: tuple[Verdict, ...]
    reasons: tuple[str, ...]  # why the first of `ranked` is recommended
    relax: tuple[str, ...] = field(default=())  # when nothing fits: what to relax, by how much
    axis: Axis = "accuracy"  # what the frontier sets against latency: memory where nothing has an accuracy

    @property
    def recommendation(self) -> Verdict | None:
        return self.ranked[0] if self.ranked else None

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return self.ranked + self.excluded
