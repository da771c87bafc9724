import math
from dataclasses import replace

import pytest
import torch

from benchmarks.core.inference import InvalidInput, clean_text, predict, predict_pair, score_texts, tokenized
from benchmarks.core.models import LoadedPair, load_pair
from benchmarks.core.pairs import ModelSpec, PairSpec


@pytest.fixture(scope="module")
def tiny(tiny_pair_dirs) -> LoadedPair:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KD_MODEL_ROOTS", str(tiny_pair_dirs[0].parent))
        spec = PairSpec(
            "tiny",
            "tiny",
            ModelSpec("local", str(tiny_pair_dirs[0]), "teacher"),
            ModelSpec("local", str(tiny_pair_dirs[1]), "student"),
        )
        return load_pair(spec)


def test_predict_pair_returns_both_models_side_by_side(tiny):
    run = predict_pair(tiny, ["a good movie", "awful !"])
    for model_run in (run.teacher, run.student):
        assert len(model_run.predictions) == 2
        assert model_run.labels == ("NEGATIVE", "POSITIVE")
        for p in model_run.predictions:
            assert p.label in model_run.labels
            assert math.isclose(sum(p.probs), 1.0, abs_tol=1e-4)
            assert p.label == model_run.labels[max(range(2), key=lambda i: p.probs[i])]
            assert not p.truncated
        assert model_run.model_ms > 0 and model_run.tokenize_ms > 0
        assert model_run.total_ms == model_run.tokenize_ms + model_run.model_ms
    assert run.teacher.predictions[0].tokens == 5  # [CLS] a good movie [SEP]
    assert len(run.agree) == 2 and run.speedup > 0


def test_batched_equals_single(tiny):
    texts = ["good", "the movie is bad bad bad !"]
    batched = predict(tiny.teacher, texts)
    for i, text in enumerate(texts):
        single = predict(tiny.teacher, [text]).predictions[0]
        assert single.probs == pytest.approx(batched.predictions[i].probs, abs=1e-5)


def test_long_input_is_truncated_and_flagged(tiny):
    run = predict(tiny.student, ["good " * 100])
    pred = run.predictions[0]
    assert pred.truncated and pred.tokens == tiny.student.max_length == 32
    assert predict(tiny.student, ["good " * 100], max_tokens=10).predictions[0].tokens == 10


class _CountingTokenizer:
    """Wraps a tokenizer and counts its calls (the timed span of `predict` must tokenize once)."""

    def __init__(self, tokenizer):
        self.tokenizer, self.calls = tokenizer, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.tokenizer(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def test_the_with_tokenizer_time_tokenizes_once_and_still_flags_truncation(tiny):
    counting = _CountingTokenizer(tiny.student.tokenizer)
    student = replace(tiny.student, tokenizer=counting)
    run = predict(student, ["good " * 100, "good"], max_tokens=10)
    assert counting.calls == 1  # truncation is read off the one tokenization, not a second one
    assert [p.truncated for p in run.predictions] == [True, False]
    assert [p.tokens for p in run.predictions] == [10, 3]
    exact = predict(student, ["good " * 8], max_tokens=10).predictions[0]  # [CLS] + 8 + [SEP]: fits exactly
    assert exact.tokens == 10 and not exact.truncated


def test_empty_batch_is_refused(tiny):
    with pytest.raises(InvalidInput):
        predict(tiny.teacher, [])


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("fine", "fine"),
        ("nul\x00 byte\x07", "nul byte"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("emoji 😀 中文 עברית", "emoji 😀 中文 עברית"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw, 100) == expected


@pytest.mark.parametrize("raw", ["", "   \n\t", "\x00\x01"])
def test_clean_text_refuses_empty(raw):
    with pytest.raises(InvalidInput, match="empty"):
        clean_text(raw, 100)


def test_clean_text_refuses_oversize():
    with pytest.raises(InvalidInput, match="limit"):
        clean_text("x" * 101, 100)


def test_score_texts_restores_input_order_and_canonical_columns_on_any_callable():
    # A "model" whose logits are (length, -length) per row, in (POSITIVE, NEGATIVE) column order.
    def model(input_ids, attention_mask):
        n = attention_mask.sum(-1).float()
        return torch.stack([n, -n], -1)

    class Tokens:
        def __call__(self, texts, **_):
            width = max(len(t.split()) for t in texts)
            mask = torch.tensor([[1] * len(t.split()) + [0] * (width - len(t.split())) for t in texts])
            return {"input_ids": mask.clone(), "attention_mask": mask}

    texts = ["a b c", "a", "a b c d e", "a b"]
    done = []
    scored = score_texts(tokenized(model, Tokens()), texts, ("POSITIVE", "NEGATIVE"), batch_size=2,
                         progress=done.append)
    assert scored.logits.tolist() == [[-3, 3], [-1, 1], [-5, 5], [-2, 2]]  # back in input order, NEGATIVE first
    assert scored.predictions.tolist() == [1, 1, 1, 1] and scored.correct([1, 0, 1, 0]) == 2
    assert done == [2, 4] and scored.seconds > 0


def test_score_texts_on_a_prepared_runtime_equals_the_torch_model(tiny):
    from benchmarks.runtimes.base import RuntimeModel

    loaded = tiny.student
    texts = ["a good movie", "awful !", "the movie w1 w2 w3"]
    plain = score_texts(tokenized(loaded.model, loaded.tokenizer), texts, loaded.labels)
    forward = lambda ids, mask: loaded.model(input_ids=ids, attention_mask=mask).logits  # noqa: E731
    runtime = RuntimeModel(loaded.model.config, forward, loaded.device)
    through = score_texts(tokenized(runtime, loaded.tokenizer), texts, loaded.labels, lock=loaded.lock)
    assert torch.allclose(plain.logits, through.logits, atol=1e-6)
