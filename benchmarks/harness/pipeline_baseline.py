"""The baseline a newcomer would write: `transformers.pipeline("text-classification")` with default settings over
SST-2 dev, against the harness's chosen runtime × precision for the same weights, timed in one run.

The pipeline feeds sentences one at a time in fp32; the chosen setup scores in length-sorted batches padded to their
own longest sentence. Both include tokenization. They take turns, three passes each, so a machine whose speed drifts by
tens of percent over minutes slows both alike; each figure is the median of its passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from transformers import pipeline

from benchmarks.analysis.metrics import Proportion, accuracy_with_ci
from benchmarks.core.data import LabelledTexts
from benchmarks.core.device import synchronize
from benchmarks.core.figures import Conditions, Throughput, throughput
from benchmarks.core.inference import Scored, score_texts, tokenized
from benchmarks.core.models import LoadedModel
from benchmarks.harness.results import BenchmarkResult

ROUNDS = 3
Pass = Callable[[], Scored]  # one timed pass over the data set


@dataclass(frozen=True)
class TimedPasses:
    """One way of scoring the data set, timed once per round."""

    correct: int  # on the first pass (every pass answers the same)
    n: int
    seconds: tuple[float, ...]
    conditions: Conditions

    @property
    def accuracy(self) -> Proportion:
        return accuracy_with_ci(self.correct, self.n)

    @property
    def throughput(self) -> Throughput:
        return throughput(self.n, self.seconds, self.conditions)


def taking_turns(first: Pass, second: Pass, rounds: int = ROUNDS) -> tuple[list[Scored], list[Scored]]:
    """Each pass `rounds` times, alternating which goes first (a b, b a, a b, …), so a drift in the machine's speed
    during the run weighs on both alike."""
    runs: tuple[list[Scored], list[Scored]] = ([], [])
    for i in range(rounds):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            runs[side].append((first, second)[side]())
    return runs


def pipeline_pass(loaded: LoadedModel, data: LabelledTexts) -> Pass:
    """A default text-classification pipeline on `loaded`'s fp32 model, warmed up, as one timed pass."""
    device = next(loaded.model.parameters()).device
    pipe = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, device=device)
    label2id = {name: i for i, name in loaded.model.config.id2label.items()}

    def classify(texts: list[str]) -> torch.Tensor:
        # By default the pipeline answers with its top label and that label's probability; with two classes the
        # other label holds the rest. Their logs serve as logits.
        probs = torch.empty(len(texts), len(label2id))
        for row, answer in enumerate(pipe(texts)):
            probs[row] = (1 - answer["score"]) / (len(label2id) - 1)
            probs[row, label2id[answer["label"]]] = answer["score"]
        return probs.log()

    classify(list(data.texts[:1]))  # warm-up, as the harness's scoring also runs on a warm model
    synchronize(device)
    # One call over every sentence: the pipeline feeds them one at a time, as a newcomer's code would.
    return lambda: score_texts(classify, data.texts, loaded.labels, batch_size=len(data))


def setup_pass(loaded: LoadedModel, data: LabelledTexts, batch: int, max_length: int) -> Pass:
    """The harness's scoring (length-sorted batches, each padded to its own longest) on `loaded`, which answers in the
    chosen runtime and precision, warmed up, as one timed pass."""
    classify = tokenized(loaded.model, loaded.tokenizer, max_length, loaded.device)
    score_texts(classify, data.texts[:batch], loaded.labels, batch)  # warm-up
    return lambda: score_texts(classify, data.texts, loaded.labels, batch)


def race(baseline: LoadedModel, chosen: LoadedModel, data: LabelledTexts, batch: int, max_length: int, threads: int,
         rounds: int = ROUNDS) -> tuple[TimedPasses, TimedPasses]:
    """The pipeline on `baseline` (fp32) and the harness's scoring on `chosen`, taking turns in this one process."""
    runs = taking_turns(pipeline_pass(baseline, data), setup_pass(chosen, data, batch, max_length), rounds)
    conditions = (Conditions(1, threads, tokenizer=True), Conditions(batch, threads, tokenizer=True))
    pipe, setup = (TimedPasses(passes[0].correct(data.labels), len(data), tuple(p.seconds for p in passes), cond)
                   for passes, cond in zip(runs, conditions))
    return pipe, setup


def fastest_scoring(results: list[BenchmarkResult], role: str, tolerance_pp: float = 0.5) -> BenchmarkResult | None:
    """The stored runtime x precision of `role` that scored the dev set fastest while staying within
    `tolerance_pp` points of eager fp32's accuracy (a faster but less accurate setup is no win)."""
    scored = [r for r in results if r.config.role == role and r.accuracy is not None]
    fp32 = next((r.accuracy.value for r in scored if r.config.setup == "fp32"), None)
    if fp32 is not None:
        scored = [r for r in scored if (fp32 - r.accuracy.value) * 100 <= tolerance_pp]
    return min(scored, key=lambda r: r.accuracy.eval_s, default=None)


def _line(role: str, what: str, timed: TimedPasses) -> str:
    acc, speed = timed.accuracy, timed.throughput
    passes = " / ".join(f"{s:.2f}" for s in timed.seconds)
    return (f"{role}: {what} {speed.seconds:.2f} s (median of {passes} s) · {speed.describe()} · acc "
            f"{acc.value:.2%} [{acc.low:.2%}, {acc.high:.2%}]")


def comparison_lines(role: str, setup: str, baseline: TimedPasses, chosen: TimedPasses) -> list[str]:
    ratio = baseline.throughput.seconds / chosen.throughput.seconds
    change = (chosen.accuracy.value - baseline.accuracy.value) * 100
    return [
        _line(role, "pipeline (fp32, defaults)", baseline),
        _line(role, f"harness {setup}", chosen),
        f"{role}: {ratio:.2f}x faster than the pipeline in this run, accuracy {change:+.2f} pp against it (the "
        "pipeline runs eager fp32)",
    ]
