"""Paired statistics for comparing two models measured on the same sentences or in the same run.

Two models scored on the same sentences are not independent samples, so overlapping 95 % intervals of their
accuracies say little: the right test conditions on the sentences where they differ (McNemar), and the
difference gets an interval built for paired data (Newcombe 1998, method 10). Speed-ups get a bootstrap
interval over the sweep-by-sweep ratios of one run (the two models took turns, so host drift cancels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Hashable, Iterable, Sequence

import numpy as np
from scipy.stats import binomtest, bootstrap

from benchmarks.analysis.metrics import Agreement, Proportion, accuracy_with_ci

ALPHA = 0.05


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each discordant sentence is a fair coin."""
    if only_first < 0 or only_second < 0:
        raise ValueError("discordant counts cannot be negative")
    discordant = only_first + only_second
    return 1.0 if discordant == 0 else float(binomtest(only_first, discordant, 0.5).pvalue)


def newcombe_paired_interval(both: int, only_first: int, only_second: int, neither: int,
                             confidence: float = 1 - ALPHA) -> tuple[float, float]:
    """Interval for p_first - p_second of two paired proportions: Newcombe's square-and-add (method 10), which
    combines each proportion's Wilson interval with their correlation (phi, continuity-corrected as in the paper).
    Unlike the Wald interval it keeps its width when few pairs are discordant."""
    n = both + only_first + only_second + neither
    if min(both, only_first, only_second, neither) < 0 or n == 0:
        raise ValueError("need non-negative counts and at least one pair")
    first, second = (
        accuracy_with_ci(both + only_first, n, confidence),
        accuracy_with_ci(both + only_second, n, confidence),
    )
    margins = (both + only_first) * (only_second + neither) * (both + only_second) * (only_first + neither)
    cross = both * neither - only_first * only_second
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    else:
        phi = (cross - n / 2 if cross > n / 2 else cross) / math.sqrt(margins)
    d = first.value - second.value
    lower = math.sqrt((first.value - first.low) ** 2 + (second.high - second.value) ** 2
                      - 2 * phi * (first.value - first.low) * (second.high - second.value))
    upper = math.sqrt((second.value - second.low) ** 2 + (first.high - first.value) ** 2
                      - 2 * phi * (second.value - second.low) * (first.high - first.value))
    return d - lower, d + upper


@dataclass(frozen=True)
class PairedAccuracy:
    """A candidate's accuracy against a baseline's on the same sentences."""

    n: int
    both_right: int
    only_baseline: int  # baseline right, candidate wrong
    only_candidate: int  # candidate right, baseline wrong
    both_wrong: int
    difference: float  # candidate accuracy - baseline accuracy
    low: float  # 95 % paired interval of the difference (Newcombe)
    high: float
    p_value: float  # exact McNemar, two-sided

    @property
    def within_noise(self) -> bool:
        return self.p_value >= ALPHA

    def describe(self, baseline: str = "the baseline") -> str:
        """One sentence: the difference, its interval, the test and the verdict."""
        verdict = ("within noise: the test cannot tell them apart" if self.within_noise
                   else "a real difference at the 5 % level")
        return (f"{self.difference * 100:+.1f} pp [{self.low * 100:+.1f}, {self.high * 100:+.1f}] against {baseline}; "
                f"exact McNemar p = {self.p_value:.3g} on {self.only_candidate} vs {self.only_baseline} discordant "
                f"sentences "
                f"of {self.n:,}: {verdict}.")


def paired(agree: Agreement) -> PairedAccuracy:
    """The student against the teacher (the baseline) from their agreement table."""
    return paired_from_counts(agree.both_right, agree.teacher_only, agree.student_only, agree.both_wrong)


def paired_from_counts(both_right: int, only_baseline: int, only_candidate: int, both_wrong: int) -> PairedAccuracy:
    """Paired comparison from the 2 x 2 table of who is right (e.g. metrics.Agreement, teacher as baseline)."""
    n = both_right + only_baseline + only_candidate + both_wrong
    low, high = newcombe_paired_interval(both_right, only_candidate, only_baseline, both_wrong)
    return PairedAccuracy(
        n,
        both_right,
        only_baseline,
        only_candidate,
        both_wrong,
        (only_candidate - only_baseline) / n,
        low,
        high,
        mcnemar_exact(only_candidate, only_baseline),
    )


def paired_accuracy(baseline_correct: Sequence[bool], candidate_correct: Sequence[bool]) -> PairedAccuracy:
    """Paired comparison from per-sentence correctness of both models, in the same sentence order."""
    base, cand = np.asarray(baseline_correct, dtype=bool), np.asarray(candidate_correct, dtype=bool)
    if base.shape != cand.shape or base.size == 0:
        raise ValueError("need per-sentence results of both models on the same non-empty set")
    return paired_from_counts(*(int(x.sum()) for x in (base & cand, base & ~cand, ~base & cand, ~base & ~cand)))


def flip_rate(reference: Sequence[int], other: Sequence[int]) -> tuple[Proportion, tuple[int, ...]]:
    """How often `other` predicts a different label than `reference` on the same sentences (Wilson 95 %
    interval), and where."""
    ref, oth = np.asarray(reference), np.asarray(other)
    if ref.shape != oth.shape or ref.size == 0:
        raise ValueError("need predictions of both on the same non-empty set")
    flipped = np.flatnonzero(ref != oth)
    return accuracy_with_ci(int(flipped.size), int(ref.size)), tuple(int(i) for i in flipped)


@dataclass(frozen=True)
class Answers:
    """One setup's labels on a labelled set, for flips_vs_reference."""

    name: str
    model: Hashable  # the weights (and machine) it ran: answers are compared within one model only
    is_reference: bool  # eager fp32, what every other setup of the model is compared with
    predictions: Sequence[int]
    labels: Sequence[int]  # the gold labels: two setups are compared only on the same sentences


@dataclass(frozen=True)
class Flips:
    """Where a setup (runtime x precision) changes a model's answer against the same model's reference setup."""

    candidate: str
    reference: str
    rate: Proportion  # flipped sentences / all, Wilson 95 %
    indices: tuple[int, ...]  # positions in the data set


def flips_vs_reference(answers: Iterable[Answers]) -> list[Flips]:
    """For every setup but the reference whose model has a reference on the same sentences: how often, and where,
    its answer differs from the reference's."""
    answers = list(answers)
    reference = {a.model: a for a in answers if a.is_reference}
    out = []
    for a in answers:
        ref = reference.get(a.model)
        if not a.is_reference and ref is not None and tuple(ref.labels) == tuple(a.labels):
            rate, where = flip_rate(ref.predictions, a.predictions)
            out.append(Flips(a.name, ref.name, rate, where))
    return out


@dataclass(frozen=True)
class SpeedupInterval:
    """Baseline time / candidate time with a bootstrap interval; `paired` when the two took turns in one run."""

    ratio: float
    low: float | None  # None with fewer than two sweeps: nothing to resample
    high: float | None
    sweeps: int
    paired: bool

    @property
    def within_noise(self) -> bool:
        return self.low is not None and self.high is not None and self.low <= 1.0 <= self.high

    def describe(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.ratio:.2f}× (one sweep: no interval)"
        how = "paired sweep ratios" if self.paired else "sweeps of separate runs, resampled independently"
        return f"{self.ratio:.2f}× [{self.low:.2f}, {self.high:.2f}] (bootstrap 95 % over {self.sweeps} {how})"


def bootstrap_speedup(baseline_ms: Sequence[float], candidate_ms: Sequence[float], paired: bool,
                      seed: int = 0, resamples: int = 2000) -> SpeedupInterval:
    """Speed-up of the candidate over the baseline from the per-sweep p50s of one cell.

    Paired (both measured in one run, taking turns): the median of the sweep-by-sweep ratios, resampling those
    ratios. Otherwise: ratio of the two medians, resampling each side's sweeps on its own. Percentile intervals:
    with three sweeps there are few distinct resamples, so the interval is coarse and says so by being wide."""
    base, cand = np.asarray(baseline_ms, dtype=float), np.asarray(candidate_ms, dtype=float)
    if base.size == 0 or cand.size == 0 or (base <= 0).any() or (cand <= 0).any():
        raise ValueError("need positive timings of both models")
    if paired and base.size != cand.size:
        raise ValueError("paired sweeps must be of equal number")
    rng = np.random.default_rng(seed)
    if paired:
        ratios = base / cand
        point, n = float(median(ratios)), int(ratios.size)
        if n < 2:
            return SpeedupInterval(point, None, None, n, True)
        res = bootstrap((ratios,), np.median, method="percentile", n_resamples=resamples, rng=rng)
    else:
        point, n = float(np.median(base) / np.median(cand)), int(min(base.size, cand.size))
        if n < 2:
            return SpeedupInterval(point, None, None, n, False)
        res = bootstrap((base, cand), lambda b, c, axis=-1: np.median(b, axis=axis) / np.median(c, axis=axis),
                        method="percentile", n_resamples=resamples, rng=rng)
    return SpeedupInterval(point, float(res.confidence_interval.low), float(res.confidence_interval.high), n, paired)
