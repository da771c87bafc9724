"""Head masking by forward hooks, head importance, its cache file and the `heads` CLI, on the tiny pair."""

import numpy as np
import pytest
import torch

from benchmarks.analysis import heads
from benchmarks.cli import main
from benchmarks.core.data import LabelledTexts
from benchmarks.core.models import load_pair
from benchmarks.core.pairs import custom_pair

TEXTS = ("good movie", "awful movie", "the great movie !", "a bad movie .")


def _logits(model, ids):
    with torch.inference_mode():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_a_masked_head_equals_a_head_whose_values_are_zero(allow_tmp_models, role):
    """Zeroing head h's value projection makes its context exactly 0: what the hook must reproduce."""
    loaded = load_pair(custom_pair(*map(str, allow_tmp_models)))
    model = getattr(loaded, role).model
    ids = torch.tensor([[2, 10, 5, 7, 12, 3]])
    before = _logits(model, ids)
    with heads.masked_heads(model, [(0, 1)], n_heads=4):
        masked = _logits(model, ids)
    assert torch.equal(_logits(model, ids), before)  # hooks are gone after the block
    value = (
        model.bert.encoder.layer[0].attention.self.value
        if role == "teacher"
        else model.distilbert.transformer.layer[0].attention.v_lin
    )
    with torch.no_grad():
        value.weight[8:16] = 0  # hidden 32 / 4 heads: head 1 owns rows 8..15
        value.bias[8:16] = 0
    assert torch.allclose(masked, _logits(model, ids), atol=1e-6)
    assert not torch.allclose(masked, before)
    with pytest.raises(ValueError, match="does not exist"):
        with heads.masked_heads(model, [(0, 4)], n_heads=4):
            pass


def test_only_bert_style_models_can_be_masked():
    with pytest.raises(ValueError, match="cannot be masked"):
        heads.head_outputs(torch.nn.Linear(2, 2))


def test_head_importance_and_its_cache_file(allow_tmp_models, tmp_path):
    pair = load_pair(custom_pair(*map(str, allow_tmp_models)))
    data = LabelledTexts(TEXTS, (1, 0, 1, 0), "four sentences")
    seen = []
    result = heads.head_importance(pair.student, data, lambda done, total, what: seen.append((done, total)))
    assert result.accuracy.shape == (1, 4) and 0 <= result.base_accuracy <= 1
    assert seen == [(i, 4) for i in range(4)]
    with heads.masked_heads(pair.student.model, [(0, 2)], 4):
        assert (result.accuracy[0, 2], result.gold_probability[0, 2]) == heads._scores(pair.student, data)
    assert np.allclose(result.drops, result.base_accuracy - result.accuracy)
    assert 0 < result.base_gold_probability < 1
    most, least = result.ranked(2, most=True), result.ranked(2, most=False)
    assert most[0][2] >= most[1][2] and least[0][2] <= least[1][2]

    both = heads.PairHeadImportance(
        heads.head_importance(pair.teacher, data), result, 4, "four sentences", "test box", "now"
    )
    path = heads.cache_file(tmp_path, "t1", "s1", data)
    heads.save(path, both)
    loaded = heads.stored(tmp_path, "t1", "s1", data)
    assert (
        loaded is not None
        and np.array_equal(loaded.student.accuracy, result.accuracy)
        and loaded.teacher.accuracy.shape == (2, 4)
    )
    # Keyed by what it was computed from: other sentences, or other weights, miss (and are computed anew)
    assert heads.stored(tmp_path, "t1", "s1", data.head(3)) is None
    assert heads.stored(tmp_path, "t2", "s1", data) is None
    assert np.array_equal(loaded.student.gold_probability, result.gold_probability)
    path.write_text("{not json")
    assert heads.load_cached(path) is None and heads.load_cached(tmp_path / "absent.json") is None


def test_ranking_breaks_accuracy_ties_by_the_gold_probability():
    r = heads.HeadImportance("m", 0.9, np.array([[0.8, 0.8, 0.9]]), 0.7, np.array([[0.6, 0.5, 0.72]]), 1.0)
    assert [(layer, head) for layer, head, _ in r.ranked(3, most=True)] == [(0, 1), (0, 0), (0, 2)]
    assert r.ranked(1, most=False) == [(0, 2, pytest.approx(0.0))]


def test_heads_cli_writes_the_result_and_reports_bad_input(allow_tmp_models, tmp_path, capsys):
    teacher, student = map(str, allow_tmp_models)
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(TEXTS)))
    out = tmp_path / "heads.json"
    args = [
        "heads",
        "--teacher",
        teacher,
        "--student",
        student,
        "--data",
        str(tmp_path),
        "--sentences",
        "3",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    result = heads.load_cached(out)
    assert result is not None and result.sentences == 3 and result.student.accuracy.shape == (1, 4)
    assert "most important: L" in capsys.readouterr().out
    assert main(args[:-4] + ["--sentences", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
