"""Predict-then-reveal lessons: curated SST-2 dev sentences where teacher and student agree, disagree, or are
confidently wrong; each model's answer to one of them; and the "which one is the student?" round."""

from __future__ import annotations

import csv
import io
import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from benchmarks.core.inference import predict
from benchmarks.core.models import LoadedModel
from benchmarks.core.settings import DATA_DIR

Kind = Literal["agree", "disagree", "confidently wrong"]
KINDS: tuple[Kind, ...] = ("agree", "disagree", "confidently wrong")
ROUNDS_FILE = DATA_DIR / "lesson" / "sentences.csv"
CONFIDENT = 0.9
REPEATS = 5  # timed runs per model and sentence: the median is what the class sees


@dataclass(frozen=True)
class Round:
    kind: Kind  # how the pocket pair behaved on it when the list was made
    sentence: str
    gold: int  # SST-2 label, 1 = positive


def read_rounds(path: Path = ROUNDS_FILE) -> tuple[Round, ...]:
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    rounds = tuple(Round(r["kind"], r["sentence"], int(r["gold"])) for r in rows)  # type: ignore[arg-type]
    if not rounds or any(r.kind not in KINDS or r.gold not in (0, 1) or not r.sentence.strip() for r in rounds):
        raise ValueError(f"{path.name}: expected rows of kind ({' / '.join(KINDS)}), sentence, gold (0 or 1).")
    return rounds


def write_rounds(rounds: Sequence[Round], path: Path = ROUNDS_FILE) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "sentence", "gold"])
    writer.writerows([r.kind, r.sentence, r.gold] for r in rounds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")


def curate(
    texts: Sequence[str],
    gold: Sequence[int],
    teacher_probs: np.ndarray,
    student_probs: np.ndarray,
    per_kind: int = 6,
    words: tuple[int, int] = (6, 25),
) -> tuple[Round, ...]:
    """Pick `per_kind` readable sentences (a length a class can read aloud) of each kind, the clearest first:
    agree = both right and both at least 90 % sure, most sure first; disagree = different labels, largest gap in
    P(positive) first; confidently wrong = both wrong and both at least 90 % sure, most sure first. Interleaved
    so a lesson walks through the kinds in turn."""
    y = np.asarray(gold)
    t_pred, s_pred = teacher_probs.argmax(1), student_probs.argmax(1)
    t_conf, s_conf = teacher_probs.max(1), student_probs.max(1)
    readable = np.array([words[0] <= len(t.split()) <= words[1] for t in texts])
    sure = (t_conf >= CONFIDENT) & (s_conf >= CONFIDENT)
    chosen: dict[Kind, list[int]] = {
        "agree": _top(readable & sure & (t_pred == y) & (s_pred == y), -(t_conf + s_conf), per_kind),
        "disagree": _top(readable & (t_pred != s_pred), -np.abs(teacher_probs[:, 1] - student_probs[:, 1]), per_kind),
        "confidently wrong": _top(readable & sure & (t_pred != y) & (s_pred != y), -(t_conf + s_conf), per_kind),
    }
    return tuple(
        Round(kind, texts[chosen[kind][i]], int(y[chosen[kind][i]]))
        for i in range(per_kind)
        for kind in KINDS
        if i < len(chosen[kind])
    )


def _top(mask: np.ndarray, key: np.ndarray, n: int) -> list[int]:
    idx = np.flatnonzero(mask)
    return [int(i) for i in idx[np.argsort(key[idx], kind="stable")][:n]]


@dataclass(frozen=True)
class Answer:
    label: str
    probs: tuple[float, ...]  # in the order of `labels`
    labels: tuple[str, ...]
    latency_ms: float  # median model-only latency over REPEATS runs, after one warm-up
    layers: int


def answer(model: LoadedModel, sentence: str, max_tokens: int | None = None) -> Answer:
    predict(model, [sentence], max_tokens)  # warm-up: first calls pay for allocations
    runs = [predict(model, [sentence], max_tokens) for _ in range(REPEATS)]
    first = runs[0].predictions[0]
    return Answer(first.label, first.probs, runs[0].labels, statistics.median(r.model_ms for r in runs), model.n_layers)


def student_is_a(round_index: int, seed: int) -> bool:
    """Which anonymised answer is the student's in this round: fixed per session and round, so a rerun does not
    reshuffle it, and unguessable from the round number alone."""
    return random.Random(f"{seed}:{round_index}").random() < 0.5


@dataclass(frozen=True)
class Score:
    right: int = 0
    asked: int = 0

    def after(self, correct: bool) -> "Score":
        return Score(self.right + int(correct), self.asked + 1)

    def describe(self) -> str:
        return f"{self.right} of {self.asked}" if self.asked else "no rounds yet"


# --- the Distillation page's lesson: soft targets and temperature ---------------------------------------------------

LESSON_TEMPERATURES = (2.0, 4.0, 8.0)  # one per round, in turn: the class sees the effect grow with T
BANDS = ((0.0, 0.05), (0.05, 0.2), (0.2, 0.4), (0.4, 0.5))  # where the runner-up label's probability can fall


def band_name(index: int) -> str:
    low, high = BANDS[index]
    return f"under {high:.0%}" if low == 0 else f"{low:.0%} to {high:.0%}"


def band_of(p: float) -> int:
    """The band holding `p` (a runner-up probability, so at most 0.5)."""
    return next((i for i, (_, high) in enumerate(BANDS) if p < high), len(BANDS) - 1)


@dataclass(frozen=True)
class SoftTargetQuestion:
    """"At T = 1 the teacher gives `label` p; at T, how much will the other label get?" — the class predicts a band,
    then sees the softened distributions."""

    sentence: str
    temperature: float
    label: str  # the teacher's label
    other: str  # the runner-up: with two classes, the other one
    p_label: float  # the teacher's probability for its label at T = 1
    p_other_at_t: float  # the teacher's probability for the other label at `temperature`

    @property
    def answer(self) -> int:
        return band_of(self.p_other_at_t)


def lesson_temperature(round_index: int) -> float:
    return LESSON_TEMPERATURES[round_index % len(LESSON_TEMPERATURES)]


def soft_target_question(sentence: str, teacher_logits: Sequence[float], labels: Sequence[str],
                         temperature: float) -> SoftTargetQuestion:
    """The question for one sentence from the teacher's logits (in the order of `labels`)."""
    z = np.asarray(teacher_logits, dtype=float)

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max())
        return e / e.sum()

    at_one, at_t = softmax(z), softmax(z / temperature)
    top = int(at_one.argmax())
    other = 1 - top
    return SoftTargetQuestion(sentence, temperature, labels[top], labels[other], float(at_one[top]),
                              float(at_t[other]))
