"""The baseline a newcomer would write: `transformers.pipeline("text-classification")` with default
settings over SST-2 dev, against the harness's stored scoring time for the same weights.

The harness scores in length-sorted batches padded to their own longest sentence, in its fastest
precision; the pipeline feeds sentences one at a time in fp32. Both include tokenization.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import pipeline

from benchmarks.analysis.metrics import accuracy_with_ci
from benchmarks.core.data import LabelledTexts
from benchmarks.core.device import synchronize
from benchmarks.core.inference import score_texts
from benchmarks.core.models import LoadedModel
from benchmarks.harness.results import BenchmarkResult


@dataclass(frozen=True)
class PipelineScore:
    correct: int
    n: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.n


def pipeline_score(loaded: LoadedModel, data: LabelledTexts) -> PipelineScore:
    """Score `data` with a default text-classification pipeline on `loaded`'s fp32 model."""
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
    scored = score_texts(classify, data.texts, loaded.labels, batch_size=len(data))
    return PipelineScore(scored.correct(data.labels), len(data), scored.seconds)


def fastest_scoring(results: list[BenchmarkResult], role: str, tolerance_pp: float = 0.5) -> BenchmarkResult | None:
    """The stored runtime x precision of `role` that scored the dev set fastest while staying within
    `tolerance_pp` points of eager fp32's accuracy (a faster but less accurate setup is no win)."""
    scored = [r for r in results if r.config.role == role and r.accuracy is not None]
    fp32 = next((r.accuracy.value for r in scored if r.config.setup == "fp32"), None)
    if fp32 is not None:
        scored = [r for r in scored if (fp32 - r.accuracy.value) * 100 <= tolerance_pp]
    return min(scored, key=lambda r: r.accuracy.eval_s, default=None)


def comparison_lines(
    role: str, baseline: PipelineScore, fastest: BenchmarkResult, fp32: BenchmarkResult | None
) -> list[str]:
    acc = fastest.accuracy
    ci = accuracy_with_ci(baseline.correct, baseline.n)
    lines = [
        f"{role}: pipeline (fp32, batch 1, defaults) {baseline.seconds:.2f} s, acc {baseline.accuracy:.2%} "
        f"[{ci.low:.2%}, {ci.high:.2%}]",
        f"{role}: harness {fastest.config.setup} (length-sorted, dynamic padding, batch "
        f"{fastest.config.settings.eval_batch_size}) "
        f"{acc.eval_s:.2f} s, acc {acc.value:.2%} -> {baseline.seconds / acc.eval_s:.2f}x faster",
    ]
    if fp32 is not None and fp32.accuracy is not None:
        lines.append(f"{role}: accuracy change vs eager fp32: {(acc.value - fp32.accuracy.value) * 100:+.2f} pp")
    return lines

