"""Distil a small student from a loaded BERT teacher in minutes, on unlabelled text: the teacher's soft targets are
the targets (gold labels are optional). Reports the loss terms every step and SST-2 dev accuracy and agreement with
the teacher every N steps. The DistilBERT recipe itself (student init, batching, losses) is reused, not copied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Iterator, Sequence

import torch
from pydantic import BeforeValidator
from transformers import (
    BertForSequenceClassification,
    DistilBertForSequenceClassification,
    get_linear_schedule_with_warmup,
)

from benchmarks.analysis.losses import hard_loss, kd_loss
from benchmarks.analysis.metrics import accuracy_with_ci
from benchmarks.core.data import LabelledTexts, load_sst2, sst2_dir
from benchmarks.core.device import load_average
from benchmarks.core.dimensions import dimension
from benchmarks.core.figures import Conditions, Throughput, weights_bytes
from benchmarks.core.inference import Scored, score_texts, tokenized
from benchmarks.core.models import LoadedModel, canonical_columns
from benchmarks.core.persist import from_raw
from benchmarks.distill.recipe import bucketed_batches, collate, student_from_teacher

LAYER_CHOICES = (1, 2, 3)
STEPS_RANGE = (10, 2000)
T_RANGE = (1.0, 20.0)
WARMUP = 64  # sentences run before the timed pass
DEV_BATCH = 64  # sentences per forward pass when scoring dev


class Cancelled(Exception):
    """The job was asked to stop; nothing it made is kept."""


@dataclass(frozen=True)
class LiveConfig:
    layers: int = 2
    steps: int = 160  # with the other defaults: ~79 % on dev within 3 minutes on 2 cores (README, "In a classroom")
    temperature: float = 2.0
    alpha: float = 0.5  # with the hard-label term: alpha * KD + (1 - alpha) * CE; without it the loss is KD alone
    hard_labels: bool = False
    eval_every: int = 40
    batch_size: int = 32
    lr: float = 3e-4  # higher than a full run's 1e-4: a few hundred steps must move the copied layers
    max_length: int = 64  # SST-2 sentences stay under ~60 tokens
    seed: int = 0

    def __post_init__(self) -> None:
        if self.layers not in LAYER_CHOICES:
            raise ValueError(f"The student has 1, 2 or 3 layers, not {self.layers}.")
        if not STEPS_RANGE[0] <= self.steps <= STEPS_RANGE[1]:
            raise ValueError(f"Steps must be between {STEPS_RANGE[0]} and {STEPS_RANGE[1]}, not {self.steps}.")
        if not T_RANGE[0] <= self.temperature <= T_RANGE[1]:
            raise ValueError(
                f"The temperature must be between {T_RANGE[0]:g} and {T_RANGE[1]:g}, not {self.temperature:g}."
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be between 0 and 1, not {self.alpha:g}.")
        if self.eval_every < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("eval_every and batch_size must be at least 1 and lr positive.")

    def describe(self) -> str:
        loss = f"{self.alpha:g}·KD + {1 - self.alpha:g}·CE(gold)" if self.hard_labels else "KD only (no labels)"
        layers = f"{self.layers} layer{'s' if self.layers > 1 else ''}"
        return f"{layers}, {self.steps} steps, T = {self.temperature:g}, loss {loss}"


@dataclass(frozen=True)
class StepLoss:
    step: int
    kd: float
    hard: float  # cross-entropy against gold labels, or against the teacher's labels when there are none
    total: float  # what was trained on


@dataclass(frozen=True)
class DevCheck:
    step: int
    accuracy: float
    agreement: float  # share of dev sentences where student and teacher give the same label


@dataclass(frozen=True)
class DevScore:
    """One model on SST-2 dev: accuracy with its 95 % Wilson interval, agreement with the teacher, speed."""

    name: str
    layers: int
    params: int
    accuracy: float
    ci_low: float
    ci_high: float
    agreement: float
    throughput: Throughput  # one timed pass over dev after a short warm-up, length-sorted batches
    weights_bytes: int = 0  # in the precision it was scored in (fp32); 0 in jobs stored before it was kept

    @classmethod
    def from_dict(cls, raw: dict) -> "DevScore":
        return from_raw(StoredDevScore, raw)


def _with_throughput(raw: object) -> object:
    if isinstance(raw, dict) and "throughput" not in raw and "sentences_per_second" in raw:
        # Stored before the figure kept its conditions: all of dev (872), batch 64, threads not recorded.
        old = Throughput(872, 872 / raw["sentences_per_second"], Conditions(DEV_BATCH, None, tokenizer=True))
        raw = {k: v for k, v in raw.items() if k != "sentences_per_second"} | {"throughput": old}
    return raw


StoredDevScore = Annotated[DevScore, BeforeValidator(_with_throughput)]  # a score as read back, old jobs' too


def teacher_layers(n_student: int, n_teacher: int) -> tuple[int, ...]:
    """Every other teacher layer from the bottom, as DistilBERT did (student layer k <- teacher layer 2k); a teacher
    too shallow for that gives its first n layers."""
    if n_student > n_teacher:
        raise ValueError(f"A {n_student}-layer student cannot start from a {n_teacher}-layer teacher.")
    every_other = tuple(range(0, 2 * n_student, 2))
    return every_other if every_other[-1] < n_teacher else tuple(range(n_student))


def _train_tsv() -> Path | None:
    folder = sst2_dir("train")
    return folder if folder is not None and (folder / "train.tsv").is_file() else None


def labels_available() -> bool:
    """Whether gold labels for the shipped sentences are on this machine (the full train.tsv, via $SST2_DIR)."""
    return _train_tsv() is not None


def gold_labels(sentences: Sequence[str]) -> tuple[int, ...] | None:
    """Labels for `sentences` from the full SST-2 train.tsv when $SST2_DIR holds it; None when labels are not
    available."""
    folder = _train_tsv()
    if folder is None:
        return None
    train = load_sst2("train", folder)
    lookup = dict(zip(train.texts, train.labels))
    labels = [lookup.get(s) for s in sentences]
    return None if any(y is None for y in labels) else tuple(labels)  # type: ignore[misc]


def dev_scores(model: torch.nn.Module, tokenizer, dev: LabelledTexts, labels: Sequence[str], max_length: int) -> Scored:
    return score_texts(tokenized(model, tokenizer, max_length), dev.texts, labels, DEV_BATCH)


def score_on_dev(
    name: str,
    model: torch.nn.Module,
    tokenizer,
    dev: LabelledTexts,
    labels: Sequence[str],
    teacher_pred: torch.Tensor,
    max_length: int,
) -> DevScore:
    dev_scores(model, tokenizer, dev.head(WARMUP), labels, max_length)  # first calls pay for allocations
    scored = dev_scores(model, tokenizer, dev, labels, max_length)
    acc = accuracy_with_ci(scored.correct(dev.labels), len(dev))
    return DevScore(
        name,
        int(dimension(model.config, "layers")),
        sum(p.numel() for p in model.parameters()),
        acc.value,
        acc.low,
        acc.high,
        float((scored.predictions == teacher_pred).float().mean()),
        Throughput(len(dev), scored.seconds, Conditions(DEV_BATCH, torch.get_num_threads(), tokenizer=True,
                                                        load_average=load_average())),
        weights_bytes(model),
    )


def _batches(lengths: Sequence[int], batch_size: int, seed: int) -> Iterator[list[int]]:
    epoch = 0
    while True:  # as many passes over the sentences as the step count needs, reshuffled each time
        yield from bucketed_batches(lengths, batch_size, seed + epoch)
        epoch += 1


def distil(
    teacher: LoadedModel,
    config: LiveConfig,
    sentences: Sequence[str],
    labels: Sequence[int] | None,
    dev: LabelledTexts,
    on_step: Callable[[StepLoss], None] = lambda s: None,
    on_check: Callable[[DevCheck], None] = lambda c: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[DistilBertForSequenceClassification, torch.Tensor]:
    """Train a `config.layers`-layer student from `teacher`; return it (eval mode) and the teacher's dev predictions."""
    if not isinstance(teacher.model, BertForSequenceClassification):
        raise ValueError(
            f"Live distillation starts the student from a BERT teacher's layers; {teacher.spec.display_name} is a "
            f"{type(teacher.model).__name__}."
        )
    if config.hard_labels and labels is None:
        raise ValueError(
            "The hard-label term needs gold labels: set SST2_DIR to a folder holding GLUE SST-2 train.tsv."
        )
    torch.manual_seed(config.seed)
    tokenizer, columns = teacher.tokenizer, canonical_columns(teacher.labels)
    max_length = min(config.max_length, teacher.max_length)
    student = student_from_teacher(teacher.model, teacher_layers(config.layers, teacher.n_layers))
    student.config.id2label = dict(enumerate(teacher.labels))  # same columns as the teacher's copied classifier
    student.config.label2id = {name: i for i, name in enumerate(teacher.labels)}
    teacher_dev = dev_scores(teacher.model, tokenizer, dev, teacher.labels, max_length).predictions

    encoded = tokenizer(list(sentences), truncation=True, max_length=max_length)["input_ids"]
    # Gold labels as the model's output columns (the teacher's order, which the student inherits).
    gold = torch.tensor([columns[y] for y in labels]) if labels is not None else None
    targets = torch.zeros(len(encoded), student.config.num_labels)
    labelled = torch.zeros(len(encoded), dtype=torch.bool)  # the teacher labels each sentence once, when first drawn

    student.get_input_embeddings().weight.requires_grad_(False)  # half the weights, barely moved by a short run
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, max(1, config.steps // 16), config.steps)
    student.train()
    batches = _batches([len(x) for x in encoded], config.batch_size, config.seed)
    for step in range(1, config.steps + 1):
        if should_stop():
            raise Cancelled
        batch = next(batches)
        input_ids, mask = collate([encoded[i] for i in batch], tokenizer.pad_token_id)
        if not bool(labelled[batch].all()):
            with torch.inference_mode():
                targets[batch] = teacher.model(input_ids=input_ids, attention_mask=mask).logits.float()
            labelled[batch] = True
        logits = student(input_ids=input_ids, attention_mask=mask).logits
        teacher_logits = targets[batch]
        kd = kd_loss(logits, teacher_logits, config.temperature)
        hard = hard_loss(logits, gold[batch] if gold is not None else teacher_logits.argmax(-1))
        total = config.alpha * kd + (1 - config.alpha) * hard if config.hard_labels else kd
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        on_step(StepLoss(step, float(kd.detach()), float(hard.detach()), float(total.detach())))
        if step % config.eval_every == 0 or step == config.steps:
            student.eval()
            pred = dev_scores(student, tokenizer, dev, teacher.labels, max_length).predictions
            student.train()
            on_check(
                DevCheck(
                    step,
                    float((pred == torch.tensor(dev.labels)).float().mean()),
                    float((pred == teacher_dev).float().mean()),
                )
            )
    return student.eval(), teacher_dev
