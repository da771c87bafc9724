"""Attention rollout (Abnar & Zuidema 2020): how much each input token can reach each position after
several layers, following attention through the residual connections, rather than one layer's map."""

from __future__ import annotations

import numpy as np


def attention_rollout(weights: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """weights: (layers, heads, n, n) attention, rows summing to 1. Returns (layers, n, n): entry [l] is the
    rollout up to and including layer l, A_l' ... A_0' with A' = residual * I + (1 - residual) * mean over heads
    (the residual stream carries each token on; rows stay normalised)."""
    if weights.ndim != 4 or weights.shape[2] != weights.shape[3]:
        raise ValueError(f"expected attention of shape (layers, heads, n, n), got {weights.shape}")
    if not 0 <= residual < 1:
        raise ValueError(f"residual weight {residual} must lie in [0, 1)")
    n = weights.shape[-1]
    mixed = residual * np.eye(n) + (1 - residual) * weights.astype(np.float64).mean(axis=1)
    mixed /= mixed.sum(axis=-1, keepdims=True)
    rollout = np.empty_like(mixed)
    current = np.eye(n)
    for layer, step in enumerate(mixed):
        current = step @ current  # later layers act on what the earlier ones already mixed
        rollout[layer] = current
    return rollout.astype(np.float32)
