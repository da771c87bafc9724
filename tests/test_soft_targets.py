"""One sentence's soft targets and loss terms, against hand-computed values."""

import math

import pytest
import torch

from benchmarks.analysis.soft_targets import soft_targets, temperature_curve


def test_soft_targets_against_a_hand_computed_case():
    teacher, student = torch.tensor([0.0, math.log(3)]), torch.tensor([0.0, 0.0])
    soft = soft_targets(teacher, student, 2.0, gold=1)
    r3 = math.sqrt(3)
    assert soft.teacher == pytest.approx((0.25, 0.75)) and soft.student == pytest.approx((0.5, 0.5))
    assert soft.teacher_soft == pytest.approx((1 / (1 + r3), r3 / (1 + r3)))
    assert soft.kl == pytest.approx(0.036341, abs=1e-5) and soft.kd_loss == pytest.approx(4 * soft.kl)
    assert soft.hard_loss == pytest.approx(math.log(2))


def test_the_temperature_curve_is_soft_targets_at_each_t():
    t, s = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])
    curve = temperature_curve(t, s, 0, [1.0, 4.0])
    assert [c.temperature for c in curve] == [1.0, 4.0]
    assert curve[1] == soft_targets(t, s, 4.0, 0)
    assert curve[1].kl < curve[0].kl  # softer distributions lie closer
