"""Paired statistics against published worked examples (Fagerland, Lydersen & Laake, "Statistical Analysis of
Contingency Tables", 2017, ch. 8 — also BMC Med Res Methodol 13:91, 2013)."""

import numpy as np
import pytest

from benchmarks.analysis.stats import (
    flip_rate,
    mcnemar_exact,
    newcombe_paired_interval,
    paired_accuracy,
    paired_from_counts,
    speedup_interval,
)
from benchmarks.harness.results import BenchmarkSettings

# Airway hyper-responsiveness before/after stem cell transplantation (Bentur et al. 2009): [[1, 1], [7, 12]]
# Complete response before/after consolidation therapy (Cavo et al. 2012): [[59, 6], [16, 80]]


def test_exact_mcnemar_matches_the_published_tables():
    assert mcnemar_exact(1, 7) == pytest.approx(0.0703, abs=5e-5)  # published: exact conditional P = 0.0703
    assert mcnemar_exact(6, 16) == pytest.approx(0.0525, abs=5e-5)  # published: 0.052
    assert mcnemar_exact(7, 1) == mcnemar_exact(1, 7)  # two-sided: symmetric
    assert mcnemar_exact(0, 0) == 1.0  # no discordant pairs: no evidence of a difference


def test_newcombe_interval_matches_the_published_table():
    low, high = newcombe_paired_interval(59, 6, 16, 80)  # p1 - p2 = (6 - 16) / 161 = -0.0621
    assert (round(low, 4), round(high, 4)) == (-0.1186, -0.0046)
    low, high = newcombe_paired_interval(5, 0, 0, 5)  # no discordant pairs: still an interval, unlike Wald's
    assert low < 0 < high


def test_paired_accuracy_orientation_and_verdict():
    baseline = [True] * 59 + [True] * 6 + [False] * 16 + [False] * 80
    candidate = [True] * 59 + [False] * 6 + [True] * 16 + [False] * 80
    p = paired_accuracy(baseline, candidate)  # the candidate is right on 16 the baseline misses, wrong on 6
    assert (p.only_candidate, p.only_baseline, p.n) == (16, 6, 161)
    assert p.difference == pytest.approx(10 / 161) and (round(p.low, 4), round(p.high, 4)) == (0.0046, 0.1186)
    assert p.within_noise and "within noise" in p.describe()  # p = 0.0525 >= 0.05
    assert paired_from_counts(59, 6, 16, 80) == p
    assert not paired_from_counts(700, 40, 10, 100).within_noise
    with pytest.raises(ValueError):
        paired_accuracy([True], [True, False])


def test_flip_rate_counts_changed_answers():
    rate, where = flip_rate([0, 1, 1, 0, 1], [0, 0, 1, 1, 1])
    assert where == (1, 3) and rate.value == pytest.approx(0.4) and rate.low < 0.4 < rate.high


def test_speedup_interval_paired_and_not():
    paired = speedup_interval([10.0, 11.0, 12.0], [5.0, 5.5, 5.0], paired=True)
    # geometric mean of 2.0, 2.0, 2.4; t(2) = 4.303 on the log ratios' standard error
    assert paired.ratio == pytest.approx((2.0 * 2.0 * 2.4) ** (1 / 3)) and paired.paired
    assert (round(paired.low, 3), round(paired.high, 3)) == (1.636, 2.760)  # by hand: exp(0.7539 ∓ 4.303 × 0.0608)
    assert not paired.within_noise and "95 % t-interval on log ratios over 3 sweeps, paired" in paired.describe()
    assert paired.interval() == "2.13× [1.64, 2.76] paired"
    unpaired = speedup_interval([10.0, 11.0, 12.0], [10.5, 10.0, 12.5], paired=False)
    assert unpaired.within_noise and not unpaired.paired and "unpaired" in unpaired.describe()  # 1.0 lies inside
    one = speedup_interval([10.0], [5.0], paired=True)
    assert one.low is None and one.ratio == pytest.approx(2.0) and "no interval: one sweep" in one.describe()
    steady = speedup_interval([10.0, 10.0], [5.0, 5.0], paired=False)  # no spread on either side: a point
    assert steady.low == steady.high == pytest.approx(2.0)
    with pytest.raises(ValueError):
        speedup_interval([10.0, 11.0], [5.0], paired=True)


def _coverage(paired: bool, sweeps: int, trials: int = 4000) -> float:
    """How often the interval holds the true speed-up, sweeps drawn as on a drifting shared host: each sweep moves
    both models together (log-normal drift, 15 %), each p50 has its own noise on top (5 %)."""
    rng = np.random.default_rng(7)
    truth, hits = 1.8, 0
    for _ in range(trials):
        drift = rng.normal(0, 0.15, sweeps)
        teacher = 100 * np.exp(drift + rng.normal(0, 0.05, sweeps))
        # Unpaired: the student's sweeps come from another run, another stretch of drift.
        student = 100 / truth * np.exp((drift if paired else rng.normal(0, 0.15, sweeps)) + rng.normal(0, 0.05, sweeps))
        sp = speedup_interval(teacher, student, paired)
        hits += sp.low <= truth <= sp.high
    return hits / trials


def test_speedup_interval_covers_at_the_default_sweep_count():
    """A "95 %" interval must hold the truth about 95 % of the time at the sweeps a run takes by default (three):
    the percentile bootstrap it replaces held it 77 % (paired) and 90 % (unpaired) of the time here."""
    sweeps = BenchmarkSettings(threads=1).rounds
    assert sweeps == 3
    assert _coverage(paired=True, sweeps=sweeps) >= 0.93
    assert _coverage(paired=False, sweeps=sweeps) >= 0.93
