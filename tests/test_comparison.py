"""Comparisons drawn from stored results: speed-ups against the FLOPs ceiling and repeated cells."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import cli
from benchmarks.comparison import repeats, speedups
from tests.benchmark_fakes import pair_results, result


def test_speedup_is_teacher_over_student_p50_with_the_flops_ceiling():
    ups = speedups(pair_results())
    assert len(ups) == 9 and {u.variant for u in ups} == {"fp32"}
    for u in ups:
        assert u.ratio == pytest.approx(1.8) and u.ceiling == pytest.approx(2.0)


def test_repeats_pair_cells_and_sign_the_difference():
    first = result("student")
    second = result("student", speed=0.95)  # every latency 1/0.95 longer
    cells = repeats(first, second)
    assert len(cells) == 9
    assert all(c.difference == pytest.approx(1 / 0.95 - 1) for c in cells)
    fewer = dataclasses.replace(second, cells=second.cells[:4])
    assert [(c.batch, c.seq_len) for c in repeats(first, fewer)] == [(c.batch, c.seq_len) for c in second.cells[:4]]


def test_repeat_rejects_a_tolerance_that_is_not_a_fraction(capsys):
    assert cli.main(["repeat", "--tolerance", "5"]) == 2
    err = capsys.readouterr().err
    assert "--tolerance 5" in err and "Traceback" not in err
