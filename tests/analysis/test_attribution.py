"""Integrated gradients, rank agreement and the deletion check, on the tiny generated pair."""

import dataclasses

import numpy as np
import pytest
import torch

from benchmarks.analysis.attribution import TokenAttribution, deletion_check, integrated_gradients, rank_agreement
from benchmarks.core.models import load_pair
from benchmarks.core.pairs import custom_pair


@pytest.fixture(scope="module")
def tiny(tiny_pair_dirs):
    import os

    os.environ["KD_MODEL_ROOTS"] = str(tiny_pair_dirs[0].parent)  # module scope: monkeypatch is per test
    try:
        return load_pair(custom_pair(str(tiny_pair_dirs[0]), str(tiny_pair_dirs[1])))
    finally:
        del os.environ["KD_MODEL_ROOTS"]


def _probability(loaded, ids: list[int], target: int) -> float:
    with torch.inference_mode():
        logits = loaded.model(
            input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)
        ).logits
    return float(torch.softmax(logits, -1)[0, target])


def test_integrated_gradients_are_complete_and_leave_special_tokens_at_zero(tiny):
    attr = integrated_gradients(tiny.teacher, "the good movie !", steps=100)
    assert attr.tokens == ("[CLS]", "the", "good", "movie", "!", "[SEP]") and attr.special == (
        True,
        False,
        False,
        False,
        False,
        True,
    )
    assert attr.scores[0] == 0 and attr.scores[-1] == 0  # identical to the baseline there
    pad = tiny.teacher.tokenizer.pad_token_id
    baseline = [attr.ids[0]] + [pad] * 4 + [attr.ids[-1]]

    def log_odds(ids):
        p = _probability(tiny.teacher, ids, attr.target)
        return np.log(p / (1 - p))

    change = log_odds(list(attr.ids)) - log_odds(baseline)
    assert attr.output_change == pytest.approx(change, abs=1e-4)  # what IG must add up to, checked independently
    assert attr.scores.sum() - attr.output_change == pytest.approx(attr.delta, abs=1e-4)
    assert attr.relative_delta < 0.05
    assert (
        attr.probability == pytest.approx(_probability(tiny.teacher, list(attr.ids), attr.target), abs=1e-5)
        and attr.probability >= 0.5
    )


def test_rank_agreement(tiny):
    a = integrated_gradients(tiny.teacher, "the good movie awful !", steps=20)
    b = integrated_gradients(tiny.student, "the good movie awful !", steps=20)
    assert rank_agreement(a, a).spearman == pytest.approx(1.0) and rank_agreement(a, a).top_overlap == 1.0
    flipped = dataclasses.replace(a, scores=np.array([0.0, 5, 4, 3, 2, 1, 0]))
    rising = dataclasses.replace(a, scores=np.array([0.0, 1, 2, 3, 4, 5, 0]))
    agreement = rank_agreement(flipped, rising, k=2)
    assert agreement.spearman == pytest.approx(-1.0) and agreement.top_overlap == 0.0 and agreement.words == 5
    assert -1 <= rank_agreement(a, b).spearman <= 1
    other = dataclasses.replace(b, ids=b.ids[:-1])
    with pytest.raises(ValueError, match="differently"):
        rank_agreement(a, other)


def test_deletion_check_measures_the_drop_of_the_top_tokens(tiny):
    attr = integrated_gradients(tiny.teacher, "the good movie was great .", steps=20)
    check = deletion_check(tiny.teacher, [attr], fraction=0.2, draws=3)
    words = [i for i, s in enumerate(attr.special) if not s]
    top = max(words, key=lambda i: attr.scores[i])  # 20 % of 5 words: one deleted
    kept = [t for i, t in enumerate(attr.ids) if i != top]
    assert check.top_drop == pytest.approx(attr.probability - _probability(tiny.teacher, kept, attr.target), abs=1e-5)
    assert check.sentences == 1 and check.wins in (0, 1)
    short = TokenAttribution(
        "m", (2, 5, 3), ("[CLS]", "good", "[SEP]"), (True, False, True), np.zeros(3), 0, "x", 0.5, 0.0, 0.0, 1
    )
    with pytest.raises(ValueError, match="fewer than two words"):
        deletion_check(tiny.teacher, [short])
