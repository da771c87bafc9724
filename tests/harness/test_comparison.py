"""Comparisons drawn from stored results: speed-ups against the FLOPs ceiling, drift between sweeps
and repeated cells."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import cli
from benchmarks.core.persist import from_raw
from benchmarks.harness.comparison import flips_vs_eager_fp32, headline
from benchmarks.harness.machines import choice_labels, default_machine, machines
from benchmarks.harness.results import BenchmarkResult
from benchmarks.harness.selection import grid, latest
from benchmarks.harness.speedups import drift, repeats, speedups, typical_drift
from benchmarks.harness.tables import summary_rows
from tests.benchmark_fakes import HARDWARE, SETTINGS, pair_results, result


def test_speedup_is_teacher_over_student_p50_with_the_flops_ceiling():
    ups = speedups(pair_results())
    assert len(ups) == 9 and {u.variant for u in ups} == {"fp32"}
    for u in ups:
        assert u.ratio == pytest.approx(1.8) and u.ceiling == pytest.approx(2.0)


def test_sweep_ratios_pair_the_two_models_sweep_by_sweep():
    teacher = result("teacher", sweeps=(1.1, 1.2, 0.95), run_id="r1")  # the host slowed the teacher's turns twice
    student = result("student", speed=1.8, sweeps=(1.0, 1.0, 1.0), run_id="r1")
    for u in speedups([teacher, student]):
        assert u.sweep_ratios == pytest.approx((1.98, 2.16, 1.71))
        assert u.sweep_range == pytest.approx((1.71, 2.16))
        assert u.ratio == pytest.approx(1.98)  # the median sweep, not the 1.8 of the whole-run p50s
    e2e = speedups([teacher, student], timing="e2e")  # sweeps keep model-only p50s
    assert all(u.sweep_range is None and u.ratio == pytest.approx(1.8) for u in e2e)
    unpaired = result("student", speed=1.8)  # an older record: no sweeps
    assert all(u.sweep_ratios == () and u.sweep_range is None for u in speedups([teacher, unpaired]))
    # Sweeps pair up only when the two took turns in one run: another run's, or an unknown one's, are unpaired.
    for other in ("r2", ""):
        later = dataclasses.replace(student, run_id=other)
        assert all(u.sweep_ratios == () and u.ratio == pytest.approx(1.8) for u in speedups([teacher, later]))


def test_drift_reports_the_typical_and_the_worst_spread_between_sweeps():
    r = result("student", sweeps=(1.0, 1.04, 0.98))
    r = dataclasses.replace(r, cells=(dataclasses.replace(r.cells[0], sweep_p50s=(1.0, 1.2, 1.1)), *r.cells[1:]))
    (d,) = drift([r])
    assert d.series == "student · fp32"
    assert d.median == pytest.approx(1.04 / 0.98 - 1)
    assert d.worst == pytest.approx(0.2) and d.worst_cell == (r.cells[0].batch, r.cells[0].seq_len)
    assert drift([result("teacher")]) == []  # nothing to say about records without sweeps


def test_sweep_p50s_survive_a_round_trip_and_older_records_read_without_them():
    r = result("teacher", sweeps=(1.0, 1.1, 0.9))
    back = from_raw(BenchmarkResult, r.to_dict())
    assert back == r and isinstance(back.cells[0].sweep_p50s, tuple)
    old = r.to_dict()
    for cell in old["cells"]:
        del cell["sweep_p50s"]
    assert all(c.sweep_p50s == () for c in from_raw(BenchmarkResult, old).cells)


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


def test_the_headline_sets_teacher_and_student_of_one_variant_side_by_side():
    h = headline(pair_results(), "fp32", 32, 128)
    assert h.speedup.ratio == pytest.approx(1.8) and (h.speedup.batch, h.speedup.seq_len) == (32, 128)
    assert h.size_ratio == pytest.approx(1.0)
    assert h.accuracy_gap_pp == pytest.approx((770 - 780) / 872 * 100)
    # the fakes: all 10 discordant sentences go the teacher's way
    assert not h.paired.within_noise and h.paired.n == 872
    assert h.agreement.rate.n == 872
    assert headline(pair_results(), "int8-dynamic", 32, 128) is None  # no such variant
    assert headline([result("teacher")], "fp32", 32, 128) is None  # the student is missing
    assert headline([h.teacher, dataclasses.replace(h.student, accuracy=None)], "fp32", 32, 128).paired is None


def test_typical_drift_is_the_middle_model_and_the_worst_spread():
    steady = result("teacher", sweeps=(1.0, 1.01, 1.0))
    shaky = result("student", sweeps=(1.0, 1.3, 1.0))
    typical, worst = typical_drift([steady, shaky])
    assert typical == pytest.approx(0.3) and worst.series == "student · fp32"  # upper middle of two
    assert typical_drift([result("teacher")]) is None


def test_summary_rows_carry_the_p50_of_the_chosen_cell_and_the_grid_is_the_union():
    rows = summary_rows(pair_results(), (8, 64), "e2e")
    assert [r["p50_ms"] for r in rows] == [r.cell(8, 64).e2e.p50 for r in pair_results()]
    assert all(r["p50_ms"] is None for r in summary_rows(pair_results()))
    assert grid(pair_results()) == ([1, 8, 32], [16, 64, 128])


def test_thread_counts_never_share_a_table_and_the_page_opens_on_the_best_covered():
    one = dataclasses.replace(SETTINGS, threads=1)
    at_two = pair_results()
    at_one = [result("teacher", settings=one), result("student", speed=3.0, settings=one),
              result("student", "int8-dynamic", speed=5.0, settings=one)]
    kept = latest([*at_two, *at_one])
    assert len(kept) == 5  # the teacher at 1 thread does not replace the teacher at 2
    options = machines(kept)
    assert [m.threads for m in options] == [1, 2] and options[0].label.startswith("1 thread on CPU: ")
    assert options[1].key == f"{HARDWARE.fingerprint}:cpu:2"
    assert default_machine(kept, HARDWARE, "cpu").threads == 1  # three results against two
    on_one = [r for r in kept if r.config.settings.threads == 1]
    (speedup,) = {round(s.ratio, 6) for s in speedups(on_one) if s.variant == "fp32"}
    assert speedup == 3.0  # a 1-thread student against the 1-thread teacher, never the 2-thread one
    # Predictions do not depend on threads: eager fp32 at 2 threads is the flip reference at 1 thread too.
    int8 = next(r for r in kept if r.config.variant == "int8-dynamic")
    assert int8.key in flips_vs_eager_fp32([*at_two, int8])


def test_elsewhere_the_page_opens_on_the_fullest_sweep_of_this_device_type():
    from tests.benchmark_fakes import GPU_BOX

    small = [dataclasses.replace(r, cells=r.cells[:4]) for r in pair_results(variant="int8-dynamic")] * 3
    full = pair_results(hardware=GPU_BOX.__class__(**{**GPU_BOX.__dict__, "gpu_name": ""}))
    gpu = pair_results(hardware=GPU_BOX, device="cuda")
    here = HARDWARE.__class__(**{**HARDWARE.__dict__, "cpu_model": "Another CPU"})
    chosen = default_machine([*small, *full, *gpu], here, "cpu")
    assert chosen.device_type == "cpu" and chosen.fingerprint == full[0].hardware.fingerprint
    (on_gpu,) = machines(gpu)
    assert on_gpu.label.startswith("GPU: ") and on_gpu.label.endswith("· 2 threads on the host")


def test_select_labels_lead_with_what_tells_machines_apart():
    from tests.benchmark_fakes import GPU_BOX

    avx512 = HARDWARE.__class__(**{**HARDWARE.__dict__, "torch_cpu_capability": "AVX512"})
    twin = HARDWARE.__class__(**{**HARDWARE.__dict__, "isa": ("avx2",)})  # reads as HARDWARE: same model, ISA, cores
    options = machines([*pair_results(), *pair_results(hardware=avx512), *pair_results(hardware=twin),
                        *pair_results(hardware=GPU_BOX, device="cuda")])
    labels = choice_labels(options, (HARDWARE.fingerprint, "cpu"))
    assert len(set(labels.values())) == 4  # no two alike
    by_fingerprint = {m.fingerprint: labels[m] for m in options}
    assert by_fingerprint[avx512.fingerprint] == "CPU AVX512 · 2 threads · Test CPU, 2 cores"
    assert by_fingerprint[HARDWARE.fingerprint].startswith("This machine: CPU AVX2 · 2 threads")
    # Two machines with one short label are told apart by their hardware fingerprints.
    assert by_fingerprint[HARDWARE.fingerprint].endswith(f"hardware {HARDWARE.fingerprint[:6]}")
    assert by_fingerprint[twin.fingerprint].endswith(f"hardware {twin.fingerprint[:6]}")
    assert by_fingerprint[GPU_BOX.fingerprint] == "GPU NVIDIA H100 · 2 threads on the host"
