"""One measured configuration as a model selection sees it, and how often its runtime or precision changes an
answer against eager fp32."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from benchmarks.analysis.metrics import Proportion, accuracy_with_ci
from benchmarks.analysis.stats import Answers, Flips, flips_vs_reference
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, setup_name


@dataclass(frozen=True)
class Candidate:
    """One measured configuration, reduced to what a decision needs at one cell and percentile."""

    role: str
    variant: str
    model: str
    latency_ms: float | None  # None: this cell was not measured
    latency_note: str  # how the latency figure was obtained (e.g. a bound), "" when exact
    sweep_p50s: tuple[float, ...]  # model-only p50 per sweep of the cell, for the speed-up interval
    memory_mb: float
    size_mb: float
    predictions: tuple[int, ...] | None = None  # per sentence; None: no accuracy (random weights)
    labels: tuple[int, ...] | None = None
    runtime: str = DEFAULT_RUNTIME  # what runs it (vocabulary.RUNTIMES)
    runtime_label: str = "PyTorch eager (SDPA)"  # the same, as a reader knows it
    run_id: str = ""  # the run it was measured in (results.BenchmarkResult.run_id); "" = unknown
    p50_ms: float | None = None  # model-only p50 at the cell, whatever the percentile ranked on
    sentences_per_s: float | None = None  # model-only throughput at the cell (the record's own figure)

    @property
    def name(self) -> str:
        return f"{self.role} · {setup_name(self.runtime, self.variant)}"

    @property
    def is_reference(self) -> bool:
        """Eager fp32: what every other setup of the same model is compared with."""
        return self.variant == "fp32" and self.runtime == DEFAULT_RUNTIME

    @property
    def correct(self) -> tuple[bool, ...] | None:
        if self.predictions is None or self.labels is None:
            return None
        return tuple(p == g for p, g in zip(self.predictions, self.labels))

    @property
    def accuracy(self) -> Proportion | None:
        right = self.correct
        return accuracy_with_ci(sum(right), len(right)) if right else None


def precision_flips(cands: Iterable[Candidate]) -> list[Flips]:
    """For every candidate other than eager fp32 whose model also has eager fp32 predictions on the same sentences:
    how often its precision or runtime changes an answer."""
    return flips_vs_reference(
        Answers(c.name, c.role, c.is_reference, c.predictions, c.labels)
        for c in cands
        if c.predictions is not None and c.labels is not None
    )
