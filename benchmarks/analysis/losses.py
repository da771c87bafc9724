"""The distillation objective of Hinton et al. (2015) as used by DistilBERT (Sanh et al., 2019)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Softmax at temperature T: T > 1 spreads probability onto the non-argmax classes."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return F.softmax(logits / temperature, dim=-1)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher_T || student_T) x T², batch mean. The T² keeps its gradient scale independent of T."""
    log_p_student = F.log_softmax(student_logits / temperature, dim=-1)
    p_teacher = soften(teacher_logits, temperature)
    return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * temperature**2


def hard_loss(student_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the gold labels."""
    return F.cross_entropy(student_logits, labels)


def cosine_hidden_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - cos between student and teacher last hidden states on real (non-pad) tokens."""
    keep = mask.bool()
    s, t = student_hidden[keep], teacher_hidden[keep]
    return F.cosine_embedding_loss(s, t, torch.ones(s.shape[0], device=s.device))
