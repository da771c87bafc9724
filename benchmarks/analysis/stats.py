"""Paired statistics for comparing two models measured on the same sentences or in the same run.

Two models scored on the same sentences are not independent samples, so overlapping 95 % intervals of their
accuracies say little: the right test conditions on the sentences where they differ (McNemar), and the
difference gets an interval built for paired data (Newcombe 1998, method 10). Speed-ups get a t-interval on log
ratios: over the sweep-by-sweep ratios of one run where the two models took turns (host drift cancels), Welch's
over each side's sweeps otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

import numpy as np
from scipy.stats import binomtest
from scipy.stats import t as t_dist

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
    """Baseline time / candidate time with a 95 % t-interval on the log scale; `paired` when the two took turns in
    one run, sweep by sweep."""

    ratio: float  # geometric mean of the sweep ratios (paired), or ratio of the sides' geometric means (unpaired)
    low: float | None  # None with fewer than two sweeps a side (nothing to estimate the spread from)
    high: float | None
    sweeps: int
    paired: bool

    @property
    def within_noise(self) -> bool:
        return self.low is not None and self.high is not None and self.low <= 1.0 <= self.high

    @property
    def pairing(self) -> str:
        return "paired" if self.paired else "unpaired"

    def interval(self) -> str:
        """"2.01× [1.87, 2.16] paired": the figure for a table cell, its method said once beside the table."""
        if self.low is None or self.high is None:
            return f"{self.ratio:.2f}× (no interval: {'one sweep' if self.sweeps == 1 else 'no sweeps kept'})"
        return f"{self.ratio:.2f}× [{self.low:.2f}, {self.high:.2f}] {self.pairing}"

    def describe(self) -> str:
        if self.low is None or self.high is None:
            return self.interval()
        how = ("paired: both took turns in one run" if self.paired
               else "unpaired: the two were not measured taking turns in one run")
        return f"{self.interval()} ({INTERVAL_METHOD} over {self.sweeps} sweeps, {how})"


INTERVAL_METHOD = "95 % t-interval on log ratios"


def speedup_interval(baseline_ms: Sequence[float], candidate_ms: Sequence[float], paired: bool,
                     confidence: float = 1 - ALPHA) -> SpeedupInterval:
    """Speed-up of the candidate over the baseline from the per-sweep p50s of one cell, with an interval that
    holds its coverage at three sweeps (a percentile bootstrap of three values returns their min and max, which
    covers about 75 % of the time).

    Timing noise is multiplicative, so the work is on log times. Paired (both measured in one run, taking turns):
    a t-interval of the mean per-sweep log ratio, so drift shared by a sweep cancels. Otherwise Welch's interval
    of the difference of the two mean log times. Exponentiated back, each is an interval for the ratio."""
    base, cand = np.asarray(baseline_ms, dtype=float), np.asarray(candidate_ms, dtype=float)
    if base.size == 0 or cand.size == 0 or (base <= 0).any() or (cand <= 0).any():
        raise ValueError("need positive timings of both models")
    if paired and base.size != cand.size:
        raise ValueError("paired sweeps must be of equal number")
    lb, lc = np.log(base), np.log(cand)
    if paired:
        d = lb - lc
        point, n = float(d.mean()), int(d.size)
        if n < 2:
            return SpeedupInterval(math.exp(point), None, None, n, True)
        se, df = float(d.std(ddof=1)) / math.sqrt(n), n - 1.0
    else:
        point, n = float(lb.mean() - lc.mean()), int(min(lb.size, lc.size))
        if n < 2:
            return SpeedupInterval(math.exp(point), None, None, n, False)
        vb, vc = lb.var(ddof=1) / lb.size, lc.var(ddof=1) / lc.size
        se = math.sqrt(vb + vc)
        # Welch-Satterthwaite degrees of freedom; both sides constant leaves no spread to scale.
        df = (vb + vc) ** 2 / (vb**2 / (lb.size - 1) + vc**2 / (lc.size - 1)) if se > 0 else 1.0
    half = float(t_dist.ppf(0.5 + confidence / 2, df)) * se
    return SpeedupInterval(math.exp(point), math.exp(point - half), math.exp(point + half), n, paired)
