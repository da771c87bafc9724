"""The Distillation lesson's question: how much a temperature softens the teacher's answer, in bands a class can
predict."""

import math

import pytest

from benchmarks.analysis.lesson import (
    BANDS,
    LESSON_TEMPERATURES,
    band_name,
    band_of,
    lesson_temperature,
    soft_target_question,
)


def test_bands_cover_every_runner_up_probability_once():
    assert [band_name(i) for i in range(len(BANDS))] == ["under 5%", "5% to 20%", "20% to 40%", "40% to 50%"]
    assert [band_of(p) for p in (0.0, 0.049, 0.05, 0.19, 0.2, 0.39, 0.4, 0.5)] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_the_question_softens_the_teacher_by_the_temperature():
    # logits 4 and 0: p(POSITIVE) = 1 / (1 + e^-4) = 98.2 % at T = 1; at T = 4 the gap is 1, so NEGATIVE gets
    # 1 / (1 + e) = 26.9 %.
    q = soft_target_question("a fine film", [0.0, 4.0], ("NEGATIVE", "POSITIVE"), 4.0)
    assert (q.label, q.other) == ("POSITIVE", "NEGATIVE")
    assert q.p_label == pytest.approx(1 / (1 + math.exp(-4)))
    assert q.p_other_at_t == pytest.approx(1 / (1 + math.e))
    assert q.answer == 2 and band_name(q.answer) == "20% to 40%"
    assert soft_target_question("x", [0.0, 4.0], ("NEGATIVE", "POSITIVE"), 1.0).answer == 0  # T = 1 softens nothing


def test_rounds_walk_through_the_temperatures():
    assert [lesson_temperature(i) for i in range(4)] == [*LESSON_TEMPERATURES, LESSON_TEMPERATURES[0]]
    assert lesson_temperature(-1) == LESSON_TEMPERATURES[-1]  # "previous" from the first round
