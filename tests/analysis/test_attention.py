"""benchmarks.analysis.attention: extraction from eager models, per-head summaries, teacher/student alignment."""

import math

import numpy as np
import pytest
import torch

from benchmarks.analysis.attention import (
    AttentionMaps,
    aligned_layer,
    aligned_layers,
    compare_aligned,
    extract,
    extract_pair,
    head_divergence,
    js_divergence,
    summarise,
)
from benchmarks.core.data import sample_sentences
from benchmarks.core.models import LoadedPair, load_model, load_pair
from benchmarks.core.pairs import ARCHITECTURE_PAIR, POCKET_PAIR, custom_pair
from benchmarks.core.settings import Settings
from tests.conftest import needs_pocket


def _load(tiny_pair_dirs, attn: str) -> LoadedPair:
    spec = custom_pair(str(tiny_pair_dirs[0]), str(tiny_pair_dirs[1]))
    settings = Settings(model_roots=(tiny_pair_dirs[0].parent.resolve(),))
    return LoadedPair(
        spec, load_model(spec.teacher, "cpu", attn, settings), load_model(spec.student, "cpu", attn, settings)
    )


@pytest.fixture(scope="module")
def eager_pair(tiny_pair_dirs) -> LoadedPair:
    return _load(tiny_pair_dirs, "eager")


def _maps(weights: np.ndarray, special: tuple[bool, ...] | None = None) -> AttentionMaps:
    n = weights.shape[-1]
    special = special or (True,) + (False,) * (n - 2) + (True,)
    return AttentionMaps("m", tuple(f"t{i}" for i in range(n)), special, weights.astype(np.float32), n)


def test_shapes_for_both_models(eager_pair):
    maps = extract_pair(eager_pair, "the good movie !", 64)
    assert maps.teacher.weights.shape == (2, 4, 6, 6)  # 2 layers x 4 heads x ([CLS] + 4 words + [SEP])²
    assert maps.student.weights.shape == (1, 4, 6, 6)
    assert maps.same_tokens and maps.teacher.tokens == ("[CLS]", "the", "good", "movie", "!", "[SEP]")
    assert maps.teacher.special == (True, False, False, False, False, True)
    for m in (maps.teacher, maps.student):
        np.testing.assert_allclose(m.weights.sum(-1), 1.0, atol=1e-5)
        assert not m.truncated and m.full_length == 6


def test_token_cap_truncates_and_keeps_sep(eager_pair):
    maps = extract(eager_pair.teacher, " ".join(["good"] * 40), 10)
    assert len(maps.tokens) == 10 and maps.tokens[-1] == "[SEP]"
    assert maps.truncated and maps.full_length == 42


def test_sdpa_instances_are_refused(tiny_pair_dirs):
    sdpa = _load(tiny_pair_dirs, "sdpa")
    with pytest.raises(ValueError, match="eager"):
        extract(sdpa.student, "good", 64)


def test_maps_must_match_their_tokens():
    with pytest.raises(ValueError, match="does not match"):
        AttentionMaps("m", ("a", "b"), (False, False), np.ones((1, 1, 3, 3), np.float32), 2)


def test_summaries_of_known_patterns():
    n = 5
    on_cls = np.zeros((1, 1, n, n))
    on_cls[..., 0] = 1.0  # every token looks only at [CLS]
    uniform = np.full((1, 1, n, n), 1 / n)
    s_cls, s_uniform = summarise(_maps(on_cls)), summarise(_maps(uniform))
    assert s_cls.entropy[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert s_cls.special_share[0, 0] == pytest.approx(1.0)
    assert s_cls.distance[0, 0] == pytest.approx(np.mean(range(n)))  # token i is i positions from [CLS]
    assert s_uniform.entropy[0, 0] == pytest.approx(math.log2(n))
    assert s_uniform.special_share[0, 0] == pytest.approx(2 / n)
    assert s_uniform.distance.shape == (1, 1)


@pytest.mark.parametrize(
    "n_student,n_teacher,expected",
    [(6, 12, [0, 2, 4, 6, 8, 10]), (3, 6, [0, 2, 4]), (1, 2, [0]), (2, 3, [0, 2]), (4, 4, [0, 1, 2, 3])],
)
def test_aligned_layer_is_the_distilbert_initialisation(n_student, n_teacher, expected):
    assert [aligned_layer(k, n_student, n_teacher) for k in range(n_student)] == expected
    assert aligned_layers(n_student, n_teacher) == expected  # ascending, no repeats


def test_aligned_layer_rejects_layers_outside_the_student():
    with pytest.raises(ValueError):
        aligned_layer(6, 6, 12)


def test_js_divergence_bounds():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    q = torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
    r = torch.tensor([0.7, 0.1, 0.1, 0.1], dtype=torch.float64)
    assert float(js_divergence(p, p)) == pytest.approx(0.0, abs=1e-12)
    assert float(js_divergence(p, q)) == pytest.approx(1.0)  # disjoint supports: 1 bit
    assert float(js_divergence(p, r)) == pytest.approx(float(js_divergence(r, p)))
    assert 0 < float(js_divergence(p, r)) < 1


def test_a_copied_layer_matches_its_own_heads():
    rng = np.random.default_rng(0)
    teacher = rng.random((4, 3, 6, 6)) ** 4
    teacher /= teacher.sum(-1, keepdims=True)
    student = teacher[[0, 2]]  # student layers 0, 1 = teacher layers 0, 2
    divergence = head_divergence(_maps(student), _maps(teacher))
    assert divergence.shape == (2, 3, 3)
    np.testing.assert_allclose(np.diagonal(divergence, axis1=1, axis2=2), 0.0, atol=1e-6)
    assert (divergence.argmin(axis=2) == np.arange(3)).all()


def test_different_tokens_cannot_be_compared():
    w = np.full((1, 1, 3, 3), 1 / 3)
    other = AttentionMaps("m", ("x", "y", "z"), (True, False, True), w.astype(np.float32), 3)
    with pytest.raises(ValueError, match="tokenized"):
        head_divergence(_maps(w), other)


def test_compare_aligned_on_the_tiny_pair(eager_pair):
    sentences = ["the good movie", "a bad movie !", "great"]
    comparison = compare_aligned(eager_pair, sentences, 64)
    assert comparison.layer_map == (0,) and comparison.sentences == 3 and comparison.skipped == 0
    assert comparison.divergence.shape == (1, 4, 4)
    assert ((comparison.divergence >= 0) & (comparison.divergence <= 1)).all()
    matches = comparison.best_matches()
    assert len(matches) == 4
    for m in matches:
        row = comparison.divergence[0, m.student_head]
        assert m.best_js == pytest.approx(row.min()) and m.same_index_js == pytest.approx(row[m.student_head])


def test_sample_sentences_skip_comments():
    sentences = sample_sentences()
    assert sentences and not any(s.startswith("#") for s in sentences)
    assert sample_sentences(2) == sentences[:2]


@needs_pocket
def test_pocket_pair_shapes():
    pair = load_pair(POCKET_PAIR, "cpu", "eager")
    maps = extract_pair(pair, "A gripping, beautifully acted film.", 64)
    assert maps.same_tokens
    assert maps.teacher.weights.shape[:2] == (6, 12) and maps.student.weights.shape[:2] == (3, 12)
    assert compare_aligned(pair, sample_sentences(2), 64).layer_map == (0, 2, 4)


@pytest.mark.slow
@needs_pocket
def test_architecture_pair_shapes_are_12_by_12_and_6_by_12():
    maps = extract_pair(load_pair(ARCHITECTURE_PAIR, "cpu", "eager"), "A gripping, beautifully acted film.", 16)
    n = len(maps.teacher.tokens)
    assert maps.teacher.weights.shape == (12, 12, n, n) and maps.student.weights.shape == (6, 12, n, n)


def test_the_model_view_cost_counts_every_line_it_draws():
    maps = _maps(np.full((3, 2, 5, 5), 0.2))
    assert maps.lines([0, 2]) == 2 * 2 * 5 * 5
