"""The DistilBERT recipe on a tiny generated teacher and a tiny slice of data (CI-fast)."""

import random

import pytest
import torch
from transformers import AutoTokenizer, BertForSequenceClassification, DistilBertForSequenceClassification

from benchmarks.core.data import LabelledTexts
from benchmarks.distill.recipe import (
    TrainConfig,
    bucketed_batches,
    build_pocket_pair,
    collate,
    student_from_teacher,
    train,
)


def test_buckets_cover_every_sentence_once_with_little_padding():
    rng = random.Random(0)
    lengths = [rng.randint(3, 60) for _ in range(1000)]
    batches = bucketed_batches(lengths, 32, seed=0)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # random batches would pad ~1.9x here
    assert bucketed_batches(lengths, 32, seed=0) == batches


def test_collate_pads_and_masks():
    ids, mask = collate([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_student_takes_every_other_teacher_layer(tiny_pair_dirs):
    teacher = BertForSequenceClassification.from_pretrained(tiny_pair_dirs[0]).eval()
    student = student_from_teacher(teacher, layers=(1,))
    assert student.config.n_layers == 1 and student.config.dim == teacher.config.hidden_size
    assert torch.equal(
        student.distilbert.transformer.layer[0].ffn.lin1.weight, teacher.bert.encoder.layer[1].intermediate.dense.weight
    )

    # With every layer copied, the student's encoder must compute exactly the teacher's hidden states.
    full = student_from_teacher(teacher, layers=(0, 1)).eval()
    ids = torch.tensor([[2, 5, 7, 12, 3]])
    with torch.no_grad():
        t = teacher.bert(input_ids=ids).last_hidden_state
        s = full.distilbert(input_ids=ids).last_hidden_state
    torch.testing.assert_close(s, t, atol=1e-5, rtol=1e-4)


def _toy_data(n: int) -> LabelledTexts:
    rng = random.Random(0)
    texts, labels = [], []
    for _ in range(n):
        y = rng.randint(0, 1)
        word = "good great" if y else "bad awful"
        texts.append(f"the movie {word} {'!' * rng.randint(0, 3)}")
        labels.append(y)
    return LabelledTexts(tuple(texts), tuple(labels), "toy")


def test_training_learns_a_separable_toy_task(tiny_pair_dirs):
    tok = AutoTokenizer.from_pretrained(tiny_pair_dirs[0])
    model = BertForSequenceClassification.from_pretrained(tiny_pair_dirs[0])
    losses = []
    stats = train(model, tok, _toy_data(256), TrainConfig(lr=3e-3, epochs=3, batch_size=16, freeze_embeddings=False),
                  progress=lambda step, total, loss: losses.append(loss))
    assert stats["steps"] == 48 and len(losses) == 48
    assert sum(losses[-8:]) / 8 < 0.5 * sum(losses[:8]) / 8


@pytest.mark.slow
def test_build_pocket_pair_end_to_end(tiny_pair_dirs, tmp_path):
    data = _toy_data(200)
    data_dir = tmp_path / "sst2"
    data_dir.mkdir()
    for name, part in (("train.tsv", slice(0, 160)), ("dev.tsv", slice(160, 200))):
        rows = "".join(f"{t}\t{y}\n" for t, y in zip(data.texts[part], data.labels[part]))
        (data_dir / name).write_text("sentence\tlabel\n" + rows)
    cfg = TrainConfig(lr=3e-3, epochs=2, batch_size=16, freeze_embeddings=False)
    summary = build_pocket_pair(
        tmp_path / "out", data_dir, cfg, cfg, base_model=tiny_pair_dirs[0], student_layers=(0,), log=lambda _: None
    )
    assert summary["teacher"]["n"] == 40 and 0 <= summary["student"]["ci_low"] <= summary["student"]["accuracy"]
    student = DistilBertForSequenceClassification.from_pretrained(tmp_path / "out" / "student")
    assert student.config.n_layers == 1 and student.config.id2label[1] == "POSITIVE"
    card = (tmp_path / "out" / "student" / "README.md").read_text()
    assert "Accuracy (SST-2 dev" in card and "KL(teacher_T || student_T)" in card
    assert (tmp_path / "out" / "student" / "model.safetensors").is_file()
