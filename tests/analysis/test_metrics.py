"""Intervals, agreement and calibration on small fixed sets worked out by hand."""

import math

import numpy as np
import pytest

from benchmarks.analysis.metrics import Latency, accuracy_with_ci, agreement, calibration


def test_wilson_interval_matches_the_textbook_value():
    p = accuracy_with_ci(8, 10)  # Wilson 95 % for 8/10: [0.4902, 0.9433]
    assert (p.value, p.n) == (0.8, 10)
    assert p.low == pytest.approx(0.4902, abs=1e-4) and p.high == pytest.approx(0.9433, abs=1e-4)
    assert accuracy_with_ci(0, 5).low == pytest.approx(0.0) and accuracy_with_ci(5, 5).high == pytest.approx(1.0)
    with pytest.raises(ValueError):
        accuracy_with_ci(1, 0)
    with pytest.raises(ValueError):
        accuracy_with_ci(6, 5)


def test_agreement_two_by_two_on_a_fixed_set():
    gold = [1, 1, 0, 0, 1, 0]
    teacher = [1, 1, 0, 1, 0, 0]  # right, right, right, wrong, wrong, right
    student = [1, 0, 0, 0, 0, 1]  # right, wrong, right, right, wrong, wrong
    a = agreement(teacher, student, gold)
    assert (a.both_right, a.teacher_only, a.student_only, a.both_wrong) == (2, 2, 1, 1)
    assert a.rate.value == pytest.approx(3 / 6)  # same label on sentences 0, 2, 4
    with pytest.raises(ValueError):
        agreement([1], [1, 0], [1])


def test_ece_on_a_fixed_set():
    # Confidences 0.95, 0.95 (one right, one wrong) in bin 0.9-1.0; 0.65, 0.65 (both right) in bin 0.6-0.7.
    probs = np.array([[0.05, 0.95], [0.05, 0.95], [0.35, 0.65], [0.65, 0.35]])
    gold = [1, 0, 1, 0]
    cal = calibration(probs, gold, n_bins=10)
    # bin 0.9-1.0: |0.5 - 0.95| = 0.45, weight 1/2; bin 0.6-0.7: |1.0 - 0.65| = 0.35, weight 1/2.
    assert cal.ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.35)
    assert cal.counts == (0, 0, 0, 0, 0, 0, 2, 0, 0, 2)
    assert cal.accuracy[6] == pytest.approx(1.0) and cal.confidence[9] == pytest.approx(0.95)
    assert math.isnan(cal.accuracy[0])
    assert cal.filled == (6, 9) and cal.centres[6] == pytest.approx(0.65) and len(cal.centres) == 10


def test_perfectly_calibrated_set_has_zero_ece():
    probs = np.array([[0.2, 0.8]] * 5)
    gold = [1, 1, 1, 1, 0]  # 80 % right at 80 % confidence
    assert calibration(probs, gold).ece == pytest.approx(0.0)


def test_latency_summary():
    lat = Latency.from_values([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (lat.p50, lat.mean, lat.n) == (3.0, 3.0, 5)
    assert lat.std == pytest.approx(math.sqrt(2.5))
    with pytest.raises(ValueError):
        Latency.from_values([])


def test_counted_accuracy_uses_evaluate_when_its_module_loads(monkeypatch):
    import sys
    import types

    from benchmarks.analysis.metrics import counted_accuracy

    class Accuracy:
        def compute(self, predictions, references):
            return {"accuracy": sum(p == r for p, r in zip(predictions, references)) / len(references)}

    monkeypatch.setitem(sys.modules, "evaluate", types.SimpleNamespace(load=lambda name: Accuracy()))
    assert counted_accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == (2, "evaluate: accuracy")


def test_counted_accuracy_counts_locally_when_the_metric_cannot_load(monkeypatch):
    import sys
    import types

    from benchmarks.analysis.metrics import counted_accuracy

    def unreachable(name):
        raise FileNotFoundError("Couldn't find a module script at accuracy/accuracy.py")

    monkeypatch.setitem(sys.modules, "evaluate", types.SimpleNamespace(load=unreachable))
    correct, how = counted_accuracy([1, 0, 1, 1], [1, 1, 1, 0])
    assert correct == 2 and how.startswith("counted locally")
