"""Teacher against student on the same sentences: the headline, how often they agree and who is right, and how
often a runtime or precision flips an answer. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from benchmarks.analysis.metrics import Agreement, Proportion, agreement
from benchmarks.analysis.stats import Answers, PairedAccuracy, flips_vs_reference, paired
from benchmarks.core.vocabulary import ROLES
from benchmarks.harness.results import BenchmarkResult
from benchmarks.harness.selection import by_role, series_name
from benchmarks.harness.speedups import Speedup, speedups


def pair_agreement(results: Iterable[BenchmarkResult]) -> dict[str, Agreement]:
    """Teacher-student agreement per variant, where both scored the same sentences."""
    out = {}
    for variant, roles in by_role(results).items():
        t, s = roles.get("teacher"), roles.get("student")
        if t and s and t.accuracy and s.accuracy and t.accuracy.labels == s.accuracy.labels:
            out[variant] = agreement([int(c) for c in t.accuracy.predictions], [int(c) for c in s.accuracy.predictions],
                                     [int(c) for c in t.accuracy.labels])
    return out


def agreement_rows(results: Iterable[BenchmarkResult]) -> list[dict]:
    """Per variant, how often teacher and student give the same label, and who is right when they do not."""
    return [
        {"variant": v, "agreement": f"{a.rate.value:.1%} [{a.rate.low:.1%}, {a.rate.high:.1%}]",
         "both right": a.both_right, "teacher only right": a.teacher_only, "student only right": a.student_only,
         "both wrong": a.both_wrong, "McNemar p (exact)": f"{paired(a).p_value:.3g}"}
        for v, a in pair_agreement(results).items()
    ]


@dataclass(frozen=True)
class Headline:
    """Teacher and student of one variant side by side: the page's four headline numbers."""

    teacher: BenchmarkResult
    student: BenchmarkResult
    speedup: Speedup | None  # at the chosen cell; None when a model lacks it
    agreement: Agreement | None

    @property
    def size_ratio(self) -> float:
        return self.student.variant_bytes / self.teacher.variant_bytes

    @property
    def accuracy_gap_pp(self) -> float | None:
        """Student minus teacher accuracy in percentage points; None without accuracy (random weights)."""
        t, s = self.teacher.accuracy, self.student.accuracy
        return (s.value - t.value) * 100 if t and s else None

    @property
    def paired(self) -> PairedAccuracy | None:
        """The student against the teacher on the same sentences (exact McNemar): only a paired test may call the
        gap noise, never overlapping intervals."""
        return paired(self.agreement) if self.agreement else None


def headline(results: Iterable[BenchmarkResult], variant: str, batch: int, seq_len: int) -> Headline | None:
    """The headline of `variant` (a setup: runtime and precision) at batch x seq_len; None unless both models of it
    are there."""
    chosen = [r for r in results if r.config.setup == variant]
    roles = {r.config.role: r for r in chosen}
    if set(roles) != set(ROLES):
        return None
    speedup = next((x for x in speedups(chosen) if (x.batch, x.seq_len) == (batch, seq_len)), None)
    return Headline(roles["teacher"], roles["student"], speedup, pair_agreement(chosen).get(variant))


def flips_vs_eager_fp32(results: Iterable[BenchmarkResult]) -> dict[str, Proportion]:
    """Per result key: the share of sentences whose predicted label differs from the same model's eager fp32
    prediction (Wilson interval), where both scored the same sentences. Eager fp32 itself is left out."""

    def model_on(r: BenchmarkResult) -> tuple:  # predictions do not depend on the thread count
        return r.config.pair, r.config.role, r.hardware.fingerprint, r.device

    found = flips_vs_reference(
        Answers(r.key, model_on(r), r.config.setup == "fp32", [int(c) for c in r.accuracy.predictions],
                [int(c) for c in r.accuracy.labels])
        for r in results
        if r.accuracy is not None
    )
    return {f.candidate: f.rate for f in found}


def flip_rows(results: Sequence[BenchmarkResult]) -> list[dict]:
    """One row per result with a flip rate against its eager fp32 run (flips_vs_eager_fp32), for a table."""
    flips = flips_vs_eager_fp32(results)
    return [{"model · runtime precision": series_name(r), "flipped": f"{f.value * f.n:.0f} of {f.n}",
             "flip rate [95 %]": f"{f.value:.2%} [{f.low:.2%}, {f.high:.2%}]"}
            for r in results if (f := flips.get(r.key)) is not None]
