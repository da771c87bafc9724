"""Running text through models: side-by-side predictions, and scoring a labelled set on any runtime."""

from __future__ import annotations

import contextlib
import math
import time
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import torch

from benchmarks.core.batching import MicroBatcher
from benchmarks.core.device import synchronize
from benchmarks.core.models import LoadedModel, LoadedPair, canonical_columns


class InvalidInput(ValueError):
    """User text that cannot be classified; str(error) is the message to show."""


def clean_text(text: str, max_chars: int) -> str:
    """Normalise user text: lone surrogates replaced, control characters (NUL...) dropped, length capped."""
    if not isinstance(text, str):
        raise InvalidInput("Text must be a string.")
    if len(text) > max_chars:
        raise InvalidInput(f"The text has {len(text):,} characters; the limit is {max_chars:,} (KD_MAX_CHARS).")
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
    text = "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) != "Cc")
    if not text.strip():
        raise InvalidInput("Enter some text: the input is empty or only whitespace/control characters.")
    return text


@dataclass(frozen=True)
class Prediction:
    label: str
    probs: tuple[float, ...]  # in the order of the model's canonical labels
    tokens: int  # tokens fed to the model, after truncation, special tokens included
    truncated: bool


@dataclass(frozen=True)
class ModelRun:
    model: str
    labels: tuple[str, ...]
    predictions: tuple[Prediction, ...]
    tokenize_ms: float
    model_ms: float

    @property
    def total_ms(self) -> float:
        return self.tokenize_ms + self.model_ms


@dataclass(frozen=True)
class PairRun:
    teacher: ModelRun
    student: ModelRun

    @property
    def agree(self) -> tuple[bool, ...]:
        return tuple(t.label == s.label for t, s in zip(self.teacher.predictions, self.student.predictions))

    @property
    def speedup(self) -> float:
        """Teacher model-only time over student model-only time for this input."""
        return self.teacher.model_ms / self.student.model_ms if self.student.model_ms > 0 else math.nan


def predict(loaded: LoadedModel, texts: Sequence[str], max_tokens: int | None = None) -> ModelRun:
    """Classify `texts` in one padded batch; inputs over the token limit are truncated and flagged."""
    if not texts:
        raise InvalidInput("Nothing to classify: no texts given.")
    limit = min(loaded.max_length, max_tokens or loaded.max_length)
    # One lock per model: fast tokenizers are not safe to call from several threads at once.
    with loaded.lock, torch.inference_mode():
        start = time.perf_counter()
        encoded = loaded.tokenizer(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="pt")
        batch = {k: v.to(loaded.device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}
        synchronize(loaded.device)
        tokenized = time.perf_counter()
        logits = loaded.model(**batch).logits
        synchronize(loaded.device)
        done = time.perf_counter()
        truncated = _truncated(loaded.tokenizer, encoded, texts, limit)  # after the clock: never timed
    probs = torch.softmax(logits.float(), dim=-1).cpu()
    used = batch["attention_mask"].sum(dim=1).tolist()
    predictions = tuple(
        Prediction(loaded.labels[int(p.argmax())], tuple(round(float(x), 6) for x in p), int(n), cut)
        for p, n, cut in zip(probs, used, truncated)
    )
    return ModelRun(
        loaded.spec.display_name, loaded.labels, predictions, (tokenized - start) * 1e3, (done - tokenized) * 1e3
    )


def _truncated(tokenizer, encoded, texts: Sequence[str], limit: int) -> list[bool]:
    """Which texts lost tokens to truncation. A fast tokenizer keeps what it cut off in each encoding's
    `overflowing`, so the one tokenization already says; a slow one has to count the full lengths again."""
    if encoded.encodings is not None:
        return [bool(e.overflowing) for e in encoded.encodings]
    return [len(ids) > limit for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]]


def predict_pair(pair: LoadedPair, texts: Sequence[str], max_tokens: int | None = None) -> PairRun:
    return PairRun(predict(pair.teacher, texts, max_tokens), predict(pair.student, texts, max_tokens))


def predict_each(loaded: LoadedModel, texts: Sequence[str], max_tokens: int | None = None) -> list[ModelRun]:
    """One padded pass over `texts`, handed back as one run per text (each with the whole pass's times): what a
    micro-batcher gives each of the requests it gathered."""
    run = predict(loaded, texts, max_tokens)
    return [replace(run, predictions=(p,)) for p in run.predictions]


@dataclass(frozen=True)
class BatchedPair:
    """One text's answer from both models' micro-batchers, and what it shared its passes with."""

    run: PairRun
    batches: tuple[int, int]  # requests in the teacher's and the student's pass

    @property
    def alone(self) -> bool:
        return self.batches == (1, 1)


def predict_batched(teacher: MicroBatcher[ModelRun], student: MicroBatcher[ModelRun], text: str,
                    timeout: float | None = None) -> BatchedPair:
    """Both models' answers for `text`, each from its batcher (the two run side by side); Busy if a queue is full."""
    pending = teacher.submit(text), student.submit(text)
    t, s = (f.result(timeout) for f in pending)
    return BatchedPair(PairRun(t.result, s.result), (t.batch, s.batch))


TextClassifier = Callable[[list[str]], torch.Tensor]  # a batch of texts -> logits, one row per text


@dataclass(frozen=True)
class Scored:
    """One model's answers on a set of texts."""

    logits: torch.Tensor  # (texts, classes), float32 on the CPU, rows in input order, columns as CANONICAL_LABELS
    seconds: float  # wall time of tokenization and forward passes, all batches (waits for the lock left out)

    @property
    def predictions(self) -> torch.Tensor:
        """The canonical label index of each text: 1 = positive, as in gold labels."""
        return self.logits.argmax(-1)

    def correct(self, gold: Sequence[int]) -> int:
        return int((self.predictions == torch.as_tensor(gold)).sum())


def tokenized(model, tokenizer, max_length: int = 128, device: str | torch.device | None = None) -> TextClassifier:
    """`model` as a classifier of text batches. `model` is anything called as model(input_ids=, attention_mask=)
    that returns logits or an output holding .logits: a transformers classifier, a prepared runtime's model
    (runtimes.base.RuntimeModel), a plain function. Each batch pads only to its own longest text."""
    device = device if device is not None else getattr(model, "device", "cpu")

    def classify(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
        return getattr(out, "logits", out)

    return classify


def score_texts(
    classify: TextClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    batch_size: int = 64,
    lock: AbstractContextManager | None = None,
    progress: Callable[[int], None] | None = None,
) -> Scored:
    """Score `texts` in batches sorted by length (so padding stays short). `labels`: the canonical name of each of the
    classifier's output columns (LoadedModel.labels). `lock` is held per batch, so other callers of a shared model
    interleave with a long pass; `progress` gets the number of texts done after each batch."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    columns = canonical_columns(labels)
    logits = torch.empty(len(texts), len(columns))
    seconds = 0.0
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            with lock if lock is not None else contextlib.nullcontext():
                began = time.perf_counter()
                batch = classify([texts[i] for i in idx]).float().cpu()  # the copy waits for an asynchronous device
                seconds += time.perf_counter() - began
            logits[idx] = batch[:, columns]
            if progress is not None:
                progress(start + len(idx))
    return Scored(logits, seconds)
