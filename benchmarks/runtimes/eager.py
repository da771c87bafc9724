"""Eager PyTorch: the model as loaded (its precision already applied by the caller), called as it is."""

from __future__ import annotations

import torch

from benchmarks.runtimes.base import LogitsOnly, Prepared, RuntimeModel


def prepare(model: torch.nn.Module, dtype: str, device: torch.device) -> Prepared:
    return Prepared(RuntimeModel(model.config, LogitsOnly(model), device=device), dtype, 0.0, 0.0, 0, False)
