"""The HTML summary: the figures it must carry, escaping of user text, and no outside resources."""

import math
import re

import pytest

from benchmarks.analysis import report, scoring
from benchmarks.analysis.metrics import Agreement, accuracy_with_ci
from benchmarks.core.figures import weights_bytes
from benchmarks.core.models import load_pair
from benchmarks.core.pairs import custom_pair

EVIL = '<script>alert("x")</script>'


def _scores() -> scoring.DatasetScores:
    # 10 sentences: teacher right on 9, student right on 8; they disagree on sentences 0, 1 and 9.
    gold = (1,) * 10
    teacher = [(0.2, 0.8)] * 9 + [(0.7, 0.3)]
    student = [(0.6, 0.4)] + [(0.1, 0.9)] * 8 + [(0.45, 0.55)]
    student[1] = (0.8, 0.2)

    def model(name, probs, seconds):
        return scoring.ModelScores(name, name, tuple(tuple(math.log(p) for p in row) for row in probs), seconds)

    run = scoring.ScoringRun(
        "cpu", "CPU: Test CPU · 2 cores / 2 threads · AVX2", 2, "2.13.0", 64, 128, "2026-01-01 00:00 UTC"
    )
    return scoring.DatasetScores("h", gold, model("t", teacher, 2.0), model("s", student, 1.0), run)


TEACHER = report.ModelFacts(EVIL, 6, 22_700_000, 90 * 2**20, "fp32")
STUDENT = report.ModelFacts("student", 3, 15_000_000, 60 * 2**20, "fp32")


def test_summary_carries_accuracy_speed_size_and_agreement():
    page = report.summary_html("pair title", "SST-2 dev", TEACHER, STUDENT, _scores())
    assert "90.0%" in page and "80.0%" in page  # both accuracies, with their intervals
    assert f"{accuracy_with_ci(9, 10).low:.1%}" in page
    assert "<b>2.00×</b>" in page and "(10 sentences/s vs 5.0 sentences/s)" in page  # 10 sentences in 1 s vs 2 s
    # the conditions beside the figure, in words, and the size in the one definition's unit
    assert ("batch 64, real sentence lengths padded to each batch&#39;s longest, tokenizer included, PyTorch eager · "
            "fp32, 2 threads") in page
    assert "22.7 M" in page and "90.0 MiB of fp32 weights" in page and "60.0 MiB of fp32 weights" in page
    assert " MB" not in page and "on disk" not in page
    assert "66%" in page  # parameter ratio
    assert "(3 disagreements" in page
    assert "<td>teacher right</td><td>7</td><td>2</td>" in page and "<td>teacher wrong</td><td>1</td><td>0</td>" in page
    assert "CPU: Test CPU" in page and "2 torch threads" in page
    assert "within noise" in page and "exact McNemar p = 1 on 1 vs 2 discordant sentences" in page


def test_user_text_is_escaped_and_the_page_is_self_contained():
    page = report.summary_html(f"pair {EVIL}", f"upload {EVIL}.tsv", TEACHER, STUDENT, _scores())
    assert "<script" not in page.lower()
    assert page.count("&lt;script&gt;") == 3
    assert not re.search(r"""(src|href)\s*=|https?://|@import""", page)


def _agree(both_right: int, teacher_only: int, student_only: int, both_wrong: int) -> Agreement:
    n = both_right + teacher_only + student_only + both_wrong
    return Agreement(accuracy_with_ci(both_right + both_wrong, n), both_right, teacher_only, student_only, both_wrong)


def test_accuracy_verdict_is_the_paired_test():
    # 89.6 % vs 87.2 % on 872 sentences: the 95 % intervals overlap, yet all 21 disagreements go the teacher's way,
    # which the paired (McNemar) test calls real (p = 2 x 0.5^21); the old overlap rule called it noise.
    teacher, student = accuracy_with_ci(781, 872), accuracy_with_ci(760, 872)
    assert teacher.low <= student.high
    verdict = report.accuracy_verdict(_agree(760, 21, 0, 91))
    assert "a real difference" in verdict and "p = 9.54e-07" in verdict and "0 vs 21 discordant" in verdict
    # 90 vs 88 right of 100 with 4 disagreements: noise
    assert "within noise" in report.accuracy_verdict(_agree(87, 3, 1, 9))


def test_model_facts_from_a_loaded_model(allow_tmp_models):
    teacher, student = allow_tmp_models
    pair = load_pair(custom_pair(str(teacher), str(student)))
    facts = report.ModelFacts.of(pair.teacher)
    assert facts.n_layers == 2 and facts.n_params == pair.teacher.n_params
    # size is the fp32 state dict, as the Benchmarks harness measures it: at least 4 bytes per parameter
    assert facts.weights_bytes == weights_bytes(pair.teacher.model) >= 4 * pair.teacher.n_params
    assert facts.precision == "fp32"
    assert facts.name == "teacher"
    with pytest.raises(AttributeError):
        facts.name = "changed"  # frozen
