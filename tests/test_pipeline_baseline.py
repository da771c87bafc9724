"""The default-pipeline baseline: the same predictions as the harness on the same weights, the choice of which stored
variant to compare it with, and the two timed taking turns in one run."""

from __future__ import annotations

from dataclasses import replace

import torch

from benchmarks.core.data import LabelledTexts
from benchmarks.core.figures import Conditions
from benchmarks.core.inference import Scored, score_texts, tokenized
from benchmarks.core.models import load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.harness.pipeline_baseline import TimedPasses, comparison_lines, fastest_scoring, race, taking_turns
from tests import benchmark_fakes as fake


def _scored(variant: str, correct: int, eval_s: float):
    r = fake.result("student", variant)
    return replace(
        r,
        accuracy=replace(
            r.accuracy,
            correct=correct,
            eval_s=eval_s,
            low=correct / 872 - 0.03,
            high=correct / 872 + 0.03,
            predictions="1" * correct + "0" * (872 - correct),
        ),
    )


def test_the_fastest_variant_within_the_accuracy_tolerance_is_chosen():
    results = [_scored("fp32", 780, 3.0), _scored("bf16", 778, 2.0), _scored("int8-dynamic", 760, 1.0)]
    assert fastest_scoring(results, "student").config.variant == "bf16"  # int8 is faster but 2.3 pp worse
    assert fastest_scoring(results, "student", tolerance_pp=5).config.variant == "int8-dynamic"
    assert fastest_scoring(results, "teacher") is None


def test_pipeline_predictions_match_the_harness_on_the_same_model(allow_tmp_models):
    loaded = load_model(ModelSpec("local", str(allow_tmp_models[0]), "teacher"), "cpu")
    texts = ("a good movie !", "a bad movie .", "great !", "awful .", "the movie", "good good good bad")
    data = LabelledTexts(texts, (1, 0, 1, 0, 1, 1), "tiny")
    pipe, setup = race(loaded, loaded, data, batch=4, max_length=32, threads=1, rounds=3)
    ours = score_texts(tokenized(loaded.model, loaded.tokenizer), texts, loaded.labels)
    assert pipe.n == setup.n == 6 and len(pipe.seconds) == len(setup.seconds) == 3 and min(pipe.seconds) > 0
    assert pipe.correct == setup.correct == ours.correct(data.labels)  # same weights, same answers
    assert pipe.throughput.conditions == Conditions(1, 1, tokenizer=True)
    assert setup.throughput.conditions == Conditions(4, 1, tokenizer=True)


def test_both_sides_take_turns_and_the_median_pass_is_the_figure():
    order = []

    def timed(name: str, seconds: list[float]):
        def run() -> Scored:
            order.append(name)
            return Scored(torch.zeros(2, 2), seconds.pop(0))
        return run

    runs = taking_turns(timed("pipe", [9.0, 30.0, 10.0]), timed("setup", [1.0, 1.5, 0.9]), rounds=3)
    assert order == ["pipe", "setup", "setup", "pipe", "pipe", "setup"]  # who goes first alternates
    pipe = TimedPasses(5, 10, tuple(s.seconds for s in runs[0]), Conditions(1, 2, tokenizer=True))
    setup = TimedPasses(5, 10, tuple(s.seconds for s in runs[1]), Conditions(64, 2, tokenizer=True))
    assert pipe.throughput.seconds == 10.0 and setup.throughput.seconds == 1.0  # a slow outlier pass does not count
    lines = comparison_lines("student", "int8-dynamic", pipe, setup)
    assert "pipeline (fp32, defaults) 10.00 s (median of 9.00 / 30.00 / 10.00 s)" in lines[0]
    assert "1.0 sentences/s (batch 1, each sentence at its own length, tokenizer included, 2 threads)" in lines[0]
    assert "harness int8-dynamic 1.00 s" in lines[1] and "batch 64, real sentence lengths" in lines[1]
    assert lines[2].startswith("student: 10.00x faster than the pipeline in this run, accuracy +0.00 pp")
