"""Linear CKA: its invariances on synthetic data, and layer similarity on the tiny generated pair."""

import numpy as np
import pytest

from benchmarks.analysis.similarity import cka_matrix, init_map, layer_similarity, linear_cka
from benchmarks.core.models import LoadedPair, load_pair
from benchmarks.core.pairs import custom_pair

RNG = np.random.default_rng(0)


def test_cka_of_a_representation_with_itself_is_one():
    x = RNG.normal(size=(200, 16))
    assert linear_cka(x, x) == pytest.approx(1.0)


def test_cka_ignores_orthogonal_transforms_and_isotropic_scaling():
    x, y = RNG.normal(size=(300, 12)), RNG.normal(size=(300, 8))
    y = y + x[:, :8]  # related, so the value is not trivially 0 or 1
    q, _ = np.linalg.qr(RNG.normal(size=(12, 12)))
    assert linear_cka(x, 3.5 * x @ q) == pytest.approx(1.0)
    assert linear_cka(0.2 * x @ q, y) == pytest.approx(linear_cka(x, y))
    assert 0.1 < linear_cka(x, y) < 0.99


def test_cka_is_near_zero_for_independent_features_at_large_n():
    x, y = RNG.normal(size=(20_000, 10)), RNG.normal(size=(20_000, 10))
    assert linear_cka(x, y) < 0.01  # ~ d / (n + d) for the biased estimator


def test_cka_matrix_matches_pairwise_values_and_rejects_mismatched_rows():
    xs = [RNG.normal(size=(50, 4)) for _ in range(2)]
    ys = [RNG.normal(size=(50, 6)) for _ in range(3)]
    m = cka_matrix(xs, ys)
    assert m.shape == (2, 3)
    assert m[1, 2] == pytest.approx(linear_cka(xs[1], ys[2]))
    with pytest.raises(ValueError, match="same n"):
        linear_cka(RNG.normal(size=(5, 2)), RNG.normal(size=(6, 2)))


def test_init_map_follows_the_distilbert_recipe():
    assert init_map(6, 12) == (0, 1, 3, 5, 7, 9, 11)  # student layer k started as teacher layer 2k
    assert init_map(3, 6) == (0, 1, 3, 5)  # the pocket pair: teacher layers 0, 2, 4


def test_layer_similarity_on_the_tiny_pair(allow_tmp_models):
    teacher, student = allow_tmp_models
    pair = load_pair(custom_pair(str(teacher), str(student)))
    texts = ["good movie", "the awful movie !", "a great movie ."]
    sim = layer_similarity(pair, texts)
    assert sim.cka.shape == (2, 3)  # embeddings + 1 student layer x embeddings + 2 teacher layers
    assert sim.unit == "token" and sim.rows == 4 + 6 + 6 and sim.sentences == 3  # every token incl. [CLS]/[SEP]
    assert ((sim.cka >= 0) & (sim.cka <= 1 + 1e-9)).all()
    assert sim.init_map == (0, 1)
    same = layer_similarity(LoadedPair(pair.spec, pair.teacher, pair.teacher), texts)
    assert np.diag(same.cka) == pytest.approx(np.ones(3)) and same.best_teacher() == (0, 1, 2)
