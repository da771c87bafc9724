"""Statistics for honest comparisons: intervals, agreement, calibration, latency percentiles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Proportion:
    value: float
    low: float
    high: float
    n: int


def accuracy_with_ci(successes: int, n: int, confidence: float = 0.95) -> Proportion:
    """A proportion with its Wilson score interval (well-behaved near 0 and 1, unlike the normal one)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must lie in [0, n]")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Proportion(p, max(0.0, centre - half), min(1.0, centre + half), n)


def counted_accuracy(predictions: Sequence[int], references: Sequence[int]) -> tuple[int, str]:
    """How many predictions are right, and what counted them: the `evaluate` library's "accuracy" module (how GLUE
    results are usually computed) when it loads — online, or from its cache — else the same count here, offline."""
    pred, ref = np.asarray(predictions), np.asarray(references)
    try:
        import evaluate  # heavy (imports datasets): only where a whole data set is scored once

        value = evaluate.load("accuracy").compute(predictions=pred.tolist(), references=ref.tolist())["accuracy"]
        return round(value * len(ref)), "evaluate: accuracy"
    except Exception:  # no network and no cached module (the Hub is unreachable): count here
        return int((pred == ref).sum()), "counted locally (evaluate's accuracy module could not be loaded)"


@dataclass(frozen=True)
class Agreement:
    rate: Proportion
    both_right: int
    teacher_only: int  # teacher right, student wrong
    student_only: int  # student right, teacher wrong
    both_wrong: int


def agreement(teacher_pred: Sequence[int], student_pred: Sequence[int], gold: Sequence[int]) -> Agreement:
    t, s, g = (np.asarray(x) for x in (teacher_pred, student_pred, gold))
    if not (len(t) == len(s) == len(g)) or len(t) == 0:
        raise ValueError("predictions and labels must be non-empty and of equal length")
    tr, sr = t == g, s == g
    return Agreement(
        accuracy_with_ci(int((t == s).sum()), len(t)),
        int((tr & sr).sum()), int((tr & ~sr).sum()), int((~tr & sr).sum()), int((~tr & ~sr).sum()),
    )


@dataclass(frozen=True)
class Calibration:
    ece: float
    bin_edges: tuple[float, ...]
    confidence: tuple[float, ...]  # mean confidence per bin (nan where empty)
    accuracy: tuple[float, ...]  # accuracy per bin (nan where empty)
    counts: tuple[int, ...]

    @property
    def centres(self) -> tuple[float, ...]:
        return tuple((lo + hi) / 2 for lo, hi in zip(self.bin_edges[:-1], self.bin_edges[1:]))

    @property
    def filled(self) -> tuple[int, ...]:
        """Indices of the bins that hold sentences."""
        return tuple(i for i, n in enumerate(self.counts) if n)


def calibration(probs: np.ndarray, gold: Sequence[int], n_bins: int = 10) -> Calibration:
    """Expected calibration error over equal-width confidence bins (Guo et al., 2017)."""
    probs = np.asarray(probs, dtype=float)
    gold = np.asarray(gold)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == gold
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins; a confidence of exactly the lower edge 0 cannot occur for a softmax.
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    ece, mean_conf, mean_acc, counts = 0.0, [], [], []
    for b in range(n_bins):
        sel = which == b
        n = int(sel.sum())
        counts.append(n)
        if n == 0:
            mean_conf.append(math.nan)
            mean_acc.append(math.nan)
            continue
        c, a = float(conf[sel].mean()), float(correct[sel].mean())
        mean_conf.append(c)
        mean_acc.append(a)
        ece += n / len(conf) * abs(a - c)
    return Calibration(ece, tuple(edges.tolist()), tuple(mean_conf), tuple(mean_acc), tuple(counts))


@dataclass(frozen=True)
class Latency:
    """Summary of repeated timings in milliseconds."""

    p50: float
    p90: float
    p99: float
    mean: float
    std: float
    n: int
    p95: float | None = None  # None in records from before it was kept

    @classmethod
    def from_values(cls, values_ms: Sequence[float]) -> "Latency":
        if len(values_ms) == 0:
            raise ValueError("no timings")
        v = np.asarray(values_ms, dtype=float)
        p50, p90, p95, p99 = np.percentile(v, [50, 90, 95, 99])
        std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        return cls(float(p50), float(p90), float(p99), float(v.mean()), std, len(v), float(p95))
