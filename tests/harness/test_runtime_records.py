"""The runtime dimension in records, sweeps and comparisons, without measuring anything: old records read as eager
under their old keys, keys differ by runtime, agreement with eager fp32, vs-pipeline's pick, a failing runtime
reported, and the library and the dashboard working with the optional runtimes missing."""

import json
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import pytest

from benchmarks.harness import sweep
from benchmarks.harness.comparison import flips_vs_eager_fp32
from benchmarks.harness.measure import HarnessError
from benchmarks.harness.pipeline_baseline import fastest_scoring
from benchmarks.harness.results import record_from_dict
from benchmarks.harness.selection import latest
from benchmarks.harness.speedups import speedups
from tests import benchmark_fakes as fake
from tests.conftest import REPO

BEFORE_RUNTIMES = ("cpu-amd-epyc-avx512-2cores.json", "cpu-intel-xeon-amx-2threads.json", "gpu-nvidia-h100-80gb.json")


@pytest.mark.parametrize("path", [REPO / "data" / "reference" / name for name in BEFORE_RUNTIMES], ids=lambda p: p.name)
def test_records_written_before_runtimes_read_back_as_eager_under_their_old_keys(path):
    for entry in json.loads(path.read_text())["records"]:
        raw = entry["record"]
        if raw["kind"] != "model":
            continue
        assert "runtime" not in raw["config"]
        record = record_from_dict(raw)
        assert record.config.runtime == "eager" and record.config.setup == record.config.variant
        assert record.export_s == 0 and record.artefact_bytes == 0
        assert record_from_dict(json.loads(json.dumps(record.to_dict()))).key == record.key  # written anew: same key


def test_the_shipped_runtime_comparison_reads_back_with_its_runtimes_and_one_off_costs():
    from benchmarks.harness.results import BenchmarkResult
    from benchmarks.harness.store import read_export

    results = [r for r in read_export(REPO / "data" / "reference" / "cpu-amd-epyc-avx2-1thread-runtimes.json")
               if isinstance(r, BenchmarkResult)]
    assert {r.config.setup for r in results} == {
        "fp32", "int8-dynamic", "compile fp32", "onnxruntime fp32", "onnxruntime int8-dynamic", "openvino fp32",
        "openvino int8-static"}
    assert all(r.export_s > 0 for r in results if r.config.runtime != "eager")
    assert {r.config.settings.threads for r in results} == {1} and len(flips_vs_eager_fp32(results)) == 12


def test_cache_keys_differ_by_runtime_and_eager_keys_ignore_the_new_fields():
    eager, ort = fake.result(), fake.result(runtime="onnxruntime")
    assert eager.key != ort.key and ort.config.setup == "onnxruntime fp32" and eager.config.setup == "fp32"
    assert replace(ort, config=replace(ort.config, runtime_version="2.0")).key != ort.key
    assert replace(eager, config=replace(eager.config, runtime_version="x")).key == eager.key


def test_a_record_names_an_existing_runtime():
    with pytest.raises(ValueError, match="unknown runtime 'tensorflow'"):
        fake.config(runtime="tensorflow")


def test_each_runtime_is_its_own_series_and_flips_are_counted_against_eager_fp32():
    eager = fake.pair_results()
    ort = [replace(r, accuracy=replace(r.accuracy, predictions="0" * 8 + r.accuracy.predictions[8:]))
           for r in fake.pair_results(runtime="onnxruntime", variant="int8-dynamic")]
    results = latest(eager + ort)
    assert len(results) == 4 and [r.config.runtime for r in results] == ["eager", "eager", "onnxruntime", "onnxruntime"]
    assert {s.setup for s in speedups(results)} == {"fp32", "onnxruntime int8-dynamic"}
    flips = flips_vs_eager_fp32(results)
    assert set(flips) == {r.key for r in ort}
    assert flips[ort[0].key].value == pytest.approx(8 / 872) and flips[ort[0].key].low > 0


def test_vs_pipeline_picks_the_fastest_runtime_within_half_a_point_of_eager_fp32():
    def scored(runtime, variant, eval_s, correct):
        r = fake.result("student", variant, runtime=runtime)
        acc = replace(r.accuracy, eval_s=eval_s, correct=correct, low=correct / 872 - 0.02, high=correct / 872 + 0.02)
        return replace(r, accuracy=acc)

    results = [scored("eager", "fp32", 3.0, 770), scored("onnxruntime", "fp32", 1.0, 769),
               scored("onnxruntime", "int8-dynamic", 0.5, 760), scored("eager", "int8-dynamic", 2.0, 770)]
    assert fastest_scoring(results, "student").config.setup == "onnxruntime fp32"  # int8 lost 1.1 pp: no win


def _fake_measure(fail_runtime):
    def measure_in_turns(group, data, step):
        if group[0].runtime == fail_runtime:
            raise HarnessError(f"measuring teacher ({group[0].setup}) failed: it could not prepare the model")
        yield from ((i, fake.result(c.role, runtime=c.runtime)) for i, c in enumerate(group))

    return measure_in_turns


CONFIGS = [fake.config(role, runtime=rt) for rt in ("eager", "openvino") for role in ("teacher", "student")]


def test_a_failing_optional_runtime_is_reported_and_the_run_goes_on(monkeypatch, tmp_path):
    from benchmarks.harness.store import ResultStore

    monkeypatch.setattr(sweep, "measure_in_turns", _fake_measure("openvino"))
    failures = []
    items = sweep.run_sweep(CONFIGS, ResultStore(tmp_path / "r.sqlite"), None, on_failure=failures.append)
    assert [i.config.runtime for i in items] == ["eager", "eager"]
    assert failures == ["measuring teacher (openvino fp32) failed: it could not prepare the model"]


def test_eager_failing_still_fails_the_run(monkeypatch, tmp_path):
    from benchmarks.harness.store import ResultStore

    monkeypatch.setattr(sweep, "measure_in_turns", _fake_measure("eager"))
    with pytest.raises(HarnessError):
        sweep.run_sweep(CONFIGS, ResultStore(tmp_path / "r.sqlite"), None)


def test_the_plan_skips_what_cannot_run_with_one_sentence_each(monkeypatch):
    from benchmarks.runtimes import registry

    monkeypatch.setattr(registry, "_installed", lambda module: module == "torch")
    assert sweep.runtime_skips(("eager", "onnxruntime", "compile"), ("fp32", "int8-dynamic"), "cpu") == [
        "onnxruntime fp32: ONNX Runtime is not installed (pip install '.[runtimes]').",
        "onnxruntime int8-dynamic: ONNX Runtime is not installed (pip install '.[runtimes]').",
        "compile int8-dynamic: torch.compile (inductor) does not run int8-dynamic here (it runs fp32, bf16, fp16).",
    ]
    # Default variants: only what a runtime could run but cannot here is said.
    assert sweep.runtime_skips(("eager", "compile"), ("fp32", "int8-dynamic"), "cpu", named=False) == []


BLOCK = (  # found, but fails to import, like a library that is absent or broken
    "import sys, importlib.abc, importlib.machinery\n"
    "class Absent(importlib.abc.Loader):\n"
    "    def create_module(self, spec): raise ImportError('blocked: ' + spec.name)\n"
    "    def exec_module(self, module): pass\n"
    "class Block(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('onnxruntime', 'openvino'):\n"
    "            return importlib.machinery.ModuleSpec(name, Absent())\n"
    "sys.meta_path.insert(0, Block())\n"
)


@pytest.mark.slow  # a fresh interpreter imports torch and streamlit: ~10 s idle, more on a busy 2-core machine
def test_library_and_dashboard_work_without_the_optional_runtimes():
    code = BLOCK + (
        "import benchmarks, benchmarks.cli, benchmarks.harness.measure\n"
        "from benchmarks.runtimes.registry import unavailable_reason\n"
        "assert unavailable_reason('openvino', 'fp32', 'cpu') == \"OpenVINO is not installed (pip install "
        "'.[runtimes]').\"\n"
        "assert unavailable_reason('eager', 'fp32', 'cpu') is None\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(REPO / 'dashboard' / 'app.py')!r}, default_timeout=120).run()\n"
        "assert not at.exception, at.exception\n"
        "offered = at.selectbox(key='runtime_student').options\n"
        "assert offered and not any('ONNX' in o or 'OpenVINO' in o for o in offered), offered\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=300)


def test_export_and_import_carry_the_runtime_and_list_shows_it(tmp_path, capsys):
    from benchmarks import cli
    from benchmarks.harness.store import ResultStore

    ort = replace(fake.result(runtime="onnxruntime", variant="int8-dynamic"), export_s=3.5, artefact_bytes=1234)
    ResultStore(tmp_path / "a.sqlite").put_many([fake.result(), ort], "measured")
    assert cli.main(["export", str(tmp_path / "x.json"), "--db", str(tmp_path / "a.sqlite")]) == 0
    assert cli.main(["import", str(tmp_path / "x.json"), "--db", str(tmp_path / "b.sqlite")]) == 0
    back = {r.record.key: r.record for r in ResultStore(tmp_path / "b.sqlite").records("model")}
    assert back[ort.key] == ort and back[ort.key].config.runtime == "onnxruntime"
    capsys.readouterr()
    assert cli.main(["list", "--db", str(tmp_path / "b.sqlite"), "--pair", "pocket"]) == 0
    assert "teacher · onnxruntime int8-dynamic" in capsys.readouterr().out


def test_vs_pipeline_compares_within_one_thread_count(tmp_path, capsys, monkeypatch):
    from benchmarks import cli
    from benchmarks.core import device, models
    from benchmarks.core.figures import Conditions
    from benchmarks.harness import pipeline_baseline, setups
    from benchmarks.harness.results import BenchmarkSettings
    from benchmarks.harness.store import ResultStore

    def scored(role, threads, eval_s):
        r = fake.result(role, settings=BenchmarkSettings(threads=threads))
        return replace(r, accuracy=replace(r.accuracy, eval_s=eval_s))

    # The 2-thread results are faster, but the 1-thread ones are the better covered: two roles against one.
    ResultStore(tmp_path / "r.sqlite").put_many(
        [scored("teacher", 1, 4.0), scored("student", 1, 2.0), scored("student", 2, 1.0)], "measured")
    monkeypatch.setattr(device, "detect_hardware", lambda: fake.HARDWARE)
    monkeypatch.setattr(models, "load_model", lambda spec, where: SimpleNamespace(max_length=512))
    monkeypatch.setattr(setups, "with_runtime", lambda loaded, runtime, variant, threads: loaded)
    raced = []

    def race(baseline, chosen, data, batch, max_length, threads):
        # the stored eval time only picks the setup; both figures come from this run, taking turns
        raced.append(threads)
        timed = pipeline_baseline.TimedPasses
        return (timed(700, 872, (8.0, 8.2, 7.9), Conditions(1, threads, tokenizer=True)),
                timed(700, 872, (2.0, 2.1, 1.9), Conditions(batch, threads, tokenizer=True)))

    monkeypatch.setattr(pipeline_baseline, "race", race)
    assert cli.main(["vs-pipeline", "--db", str(tmp_path / "r.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "1 thread on " in out and "take turns in this run, 3 passes each" in out and raced == [1, 1]
    assert "8.00 s (median of 8.00 / 8.20 / 7.90 s)" in out and "4.00x faster than the pipeline in this run" in out
    assert cli.main(["vs-pipeline", "--db", str(tmp_path / "r.sqlite"), "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 threads on " in out and "teacher:" not in out and raced[-1] == 2
