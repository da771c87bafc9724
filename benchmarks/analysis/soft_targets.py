"""One sentence's teacher and student logits softened at a temperature: the soft targets a student learns from and
the loss terms of Hinton et al. (2015) on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from benchmarks.analysis.losses import hard_loss, kd_loss, soften


@dataclass(frozen=True)
class SoftTargets:
    temperature: float
    gold: int
    teacher: tuple[float, ...]  # probabilities at T = 1
    student: tuple[float, ...]
    teacher_soft: tuple[float, ...]  # probabilities at T
    student_soft: tuple[float, ...]
    kl: float  # KL(teacher_T || student_T)
    kd_loss: float  # kl x T²: the distillation term of Hinton et al. (2015)
    hard_loss: float  # cross-entropy of the student (T = 1) against `gold`


def soft_targets(
    teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float, gold: int
) -> SoftTargets:
    # float64: at high T the KL is ~1e-7, below float32 resolution for these sums
    t, s = teacher_logits.reshape(1, -1).double(), student_logits.reshape(1, -1).double()
    kd = float(kd_loss(s, t, temperature))

    def probs(x: torch.Tensor, temp: float) -> tuple[float, ...]:
        return tuple(float(p) for p in soften(x, temp)[0])

    return SoftTargets(
        temperature, gold, probs(t, 1.0), probs(s, 1.0), probs(t, temperature), probs(s, temperature),
        kd / temperature**2, kd, float(hard_loss(s, torch.tensor([gold]))),
    )


def temperature_curve(teacher_logits: torch.Tensor, student_logits: torch.Tensor, gold: int,
                      temperatures: Sequence[float]) -> list[SoftTargets]:
    """The soft targets and losses of one sentence at each temperature (how the T² factor levels the loss)."""
    return [soft_targets(teacher_logits, student_logits, t, gold) for t in temperatures]
