"""The default-pipeline baseline: the same predictions as the harness on the same weights, and the choice
of which stored variant to compare it with."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.core.data import LabelledTexts
from benchmarks.core.inference import score_texts, tokenized
from benchmarks.core.models import load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.harness.pipeline_baseline import fastest_scoring, pipeline_score
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
    score = pipeline_score(loaded, data)
    ours = score_texts(tokenized(loaded.model, loaded.tokenizer), texts, loaded.labels)
    assert score.n == 6 and score.seconds > 0
    assert score.correct == ours.correct(data.labels)
