"""Paired statistics against published worked examples (Fagerland, Lydersen & Laake, "Statistical Analysis of
Contingency Tables", 2017, ch. 8 — also BMC Med Res Methodol 13:91, 2013)."""

import pytest

from benchmarks.analysis.stats import (
    bootstrap_speedup,
    flip_rate,
    mcnemar_exact,
    newcombe_paired_interval,
    paired_accuracy,
    paired_from_counts,
)

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


def test_bootstrap_speedup_paired_and_not():
    paired = bootstrap_speedup([10.0, 11.0, 12.0], [5.0, 5.5, 5.0], paired=True)
    assert paired.ratio == pytest.approx(2.0) and paired.low <= paired.ratio <= paired.high <= 2.4 and paired.paired
    assert not paired.within_noise and "paired sweep ratios" in paired.describe()
    unpaired = bootstrap_speedup([10.0, 11.0, 12.0], [10.5, 10.0, 12.5], paired=False)
    assert unpaired.within_noise and not unpaired.paired  # overlapping timings: 1.0 lies inside
    assert bootstrap_speedup([10.0], [5.0], paired=True).low is None  # one sweep: no interval
    assert bootstrap_speedup([10.0, 11.0], [5.0, 5.5], paired=True, seed=1) == bootstrap_speedup(
        [10.0, 11.0], [5.0, 5.5], paired=True, seed=1
    )
