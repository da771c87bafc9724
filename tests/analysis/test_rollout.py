"""Attention rollout on hand-made attention."""

import numpy as np
import pytest

from benchmarks.analysis.rollout import attention_rollout

RNG = np.random.default_rng(1)


def _random_attention(layers: int, heads: int, n: int) -> np.ndarray:
    w = RNG.random((layers, heads, n, n))
    return w / w.sum(-1, keepdims=True)


def test_rollout_of_identity_attention_is_identity():
    w = np.broadcast_to(np.eye(5), (3, 2, 5, 5)).copy()
    assert np.allclose(attention_rollout(w), np.eye(5))


def test_rollout_multiplies_the_residual_mixed_layers():
    w = _random_attention(2, 3, 4)
    mixed = [0.5 * np.eye(4) + 0.5 * w[i].mean(0) for i in range(2)]
    rollout = attention_rollout(w)
    assert rollout.shape == (2, 4, 4)
    assert np.allclose(rollout[0], mixed[0], atol=1e-6)
    assert np.allclose(rollout[1], mixed[1] @ mixed[0], atol=1e-6)
    assert np.allclose(rollout.sum(-1), 1, atol=1e-5)  # still distributions over the input tokens


def test_rollout_without_residual_is_the_product_of_head_means():
    w = _random_attention(1, 4, 3)
    assert np.allclose(attention_rollout(w, residual=0.0)[0], w[0].mean(0), atol=1e-6)
    with pytest.raises(ValueError):
        attention_rollout(w[0])
