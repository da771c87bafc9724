"""The distillation objective against figures worked out by hand (Hinton et al., 2015)."""

import math

import pytest
import torch

from benchmarks.analysis.losses import cosine_hidden_loss, hard_loss, kd_loss, soften

# Teacher logits (0, ln 3) give probabilities (1/4, 3/4); student logits (0, 0) give (1/2, 1/2).
TEACHER = torch.tensor([[0.0, math.log(3)]])
STUDENT = torch.tensor([[0.0, 0.0]])


def _kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def test_soften_at_t1_is_the_softmax_and_higher_t_flattens():
    assert soften(TEACHER, 1.0)[0].tolist() == pytest.approx([0.25, 0.75])
    # At T = 2 the logits halve: (0, ln sqrt 3) -> (1 / (1 + sqrt 3), sqrt 3 / (1 + sqrt 3)).
    r3 = math.sqrt(3)
    assert soften(TEACHER, 2.0)[0].tolist() == pytest.approx([1 / (1 + r3), r3 / (1 + r3)])
    with pytest.raises(ValueError):
        soften(TEACHER, 0.0)


def test_kd_loss_is_kl_at_t_times_t_squared():
    assert float(kd_loss(STUDENT, TEACHER, 1.0)) == pytest.approx(_kl([0.25, 0.75], [0.5, 0.5]), abs=1e-6)  # 0.130812
    r3 = math.sqrt(3)
    expected_t2 = 4 * _kl([1 / (1 + r3), r3 / (1 + r3)], [0.5, 0.5])  # 4 x 0.036341 = 0.145363
    assert float(kd_loss(STUDENT, TEACHER, 2.0)) == pytest.approx(expected_t2, abs=1e-6)
    assert float(kd_loss(STUDENT, TEACHER, 2.0)) == pytest.approx(0.145363, abs=1e-5)


def test_kd_loss_is_a_batch_mean_and_zero_when_student_matches():
    both = kd_loss(torch.cat([STUDENT, TEACHER]), torch.cat([TEACHER, TEACHER]), 2.0)
    assert float(both) == pytest.approx(float(kd_loss(STUDENT, TEACHER, 2.0)) / 2, abs=1e-6)
    assert float(kd_loss(TEACHER, TEACHER, 5.0)) == pytest.approx(0.0, abs=1e-5)  # float32 noise x T²


def test_hard_loss_is_minus_log_probability_of_the_gold_label():
    assert float(hard_loss(TEACHER, torch.tensor([1]))) == pytest.approx(-math.log(0.75))
    assert float(hard_loss(STUDENT, torch.tensor([0]))) == pytest.approx(math.log(2))


def test_cosine_hidden_loss_counts_only_real_tokens():
    teacher = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    student = torch.tensor([[[2.0, 0.0], [5.0, 0.0]]])  # token 0 parallel (cos 1), token 1 orthogonal (cos 0)
    assert float(cosine_hidden_loss(student, teacher, torch.tensor([[1, 0]]))) == pytest.approx(0.0)
    assert float(cosine_hidden_loss(student, teacher, torch.tensor([[1, 1]]))) == pytest.approx(0.5)
