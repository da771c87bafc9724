"""The harness end to end on the tiny generated pair: sane rows, the cache reused, teacher and student
taking turns, the CLI, and a run killed half-way. Each model is measured in a fresh process, so these
take seconds, not milliseconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import cli
from benchmarks.core.data import LabelledTexts
from benchmarks.core.models import load_model
from benchmarks.core.pairs import custom_pair
from benchmarks.harness.measure import quick_settings
from benchmarks.harness.store import ResultStore
from benchmarks.harness.sweep import plan, run_sweep
from benchmarks.harness.worker import measure_in_turns
from tests.conftest import REPO

pytestmark = pytest.mark.slow
SENTENCES = [("a good movie !", 1), ("a bad movie .", 0), ("great !", 1), ("awful .", 0)] * 4


@pytest.fixture
def dev_dir(tmp_path) -> Path:
    """A tiny labelled dev set in SST-2's TSV format."""
    folder = tmp_path / "sst2"
    folder.mkdir()
    (folder / "dev.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in SENTENCES))
    return folder


def _pair(dirs):
    return custom_pair(str(dirs[0]), str(dirs[1]))


def test_a_quick_sweep_gives_sane_rows_and_is_reused(allow_tmp_models, tmp_path):
    pair = _pair(allow_tmp_models)
    fingerprints = {
        role: load_model(spec, "cpu").fingerprint
        for role, spec in (("teacher", pair.teacher), ("student", pair.student))
    }
    data = LabelledTexts(tuple(t for t, _ in SENTENCES), tuple(y for _, y in SENTENCES), "tiny dev")
    configs = plan(pair, fingerprints, "cpu", ("fp32", "int8-dynamic"), quick_settings(threads=1), data)
    store = ResultStore(tmp_path / "results.sqlite")
    seen = []

    items = run_sweep(configs, store, data, on_progress=seen.append)
    assert [i.status for i in items] == ["measured"] * 4
    assert seen[-1].done == seen[-1].total == 4 and all(0 <= p.fraction <= 1 for p in seen)
    for item in items:
        r = item.result
        assert len(r.cells) == 4 and r.first_call_ms > 0 and r.load_s > 0
        for cell in r.cells:
            for lat in (cell.model, cell.e2e):
                assert 0 < lat.p50 <= lat.p90 <= lat.p99
            assert cell.e2e.p50 >= cell.model.p50  # the tokenizer is extra work
            assert len(cell.sweep_p50s) == configs[0].settings.rounds  # one model-only p50 per sweep of the grid
            assert min(cell.sweep_p50s) <= cell.model.p50 <= max(cell.sweep_p50s)
            assert cell.real_tokens <= cell.batch * cell.seq_len
        assert r.memory.method == "rss" and r.memory.run_peak_mb > 0
        assert r.n_params > 0 and r.disk_bytes > 0
        assert r.accuracy is not None and r.accuracy.n == len(SENTENCES)
    int8 = next(i.result for i in items if i.config.variant == "int8-dynamic" and i.config.role == "teacher")
    fp32 = next(i.result for i in items if i.config.variant == "fp32" and i.config.role == "teacher")
    assert int8.variant_bytes < fp32.variant_bytes  # quantized Linear weights take a quarter of the space

    again = run_sweep(configs, store, data)
    assert [i.status for i in again] == ["cached"] * 4
    assert [i.result.key for i in again] == [i.result.key for i in items]
    forced = run_sweep(configs[:1], store, data, force=True)
    assert forced[0].status == "measured" and len(store.records("model")) == 4  # replaced, not added


def test_teacher_and_student_take_turns_cell_by_cell(allow_tmp_models):
    pair = _pair(allow_tmp_models)
    fingerprints = {
        role: load_model(spec, "cpu").fingerprint
        for role, spec in (("teacher", pair.teacher), ("student", pair.student))
    }
    configs = plan(pair, fingerprints, "cpu", ("fp32",), quick_settings(threads=1), None)
    turns: list[tuple[int, int]] = []
    finished = list(measure_in_turns(configs, None, lambda i, done, total: turns.append((i, done))))
    assert [i for i, _ in finished] == [0, 1] and [r.config.role for _, r in finished] == ["teacher", "student"]
    steps = len(turns) // 2  # rounds x cells each, and never two steps of one model in a row
    assert steps == 3 * 4 and turns == [(i, done) for done in range(1, steps + 1) for i in (0, 1)]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)


def test_cli_run_list_export_import(allow_tmp_models, tmp_path, dev_dir):
    teacher, student = map(str, allow_tmp_models)
    db, other = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    run = _cli("run", "--quick", "--teacher", teacher, "--student", student, "--variants", "fp32", "--threads", "1",
               "--db", str(db), "--data", str(dev_dir))
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("measured") == 2 and "student speed-up, fp32" in run.stdout
    assert _cli("run", "--quick", "--teacher", teacher, "--student", student, "--variants", "fp32", "--threads", "1",
                "--db", str(db), "--data", str(dev_dir)).stdout.count("cached") == 2

    key = _pair(allow_tmp_models).key  # the cache also holds the shipped reference rows it was seeded with
    listed = _cli("list", "--db", str(db), "--pair", key)
    assert listed.returncode == 0 and listed.stdout.count("· measured ·") == 2
    exported = _cli("export", str(tmp_path / "x.json"), "--db", str(db), "--pair", key)
    assert exported.returncode == 0 and "(2 model results" in exported.stdout  # plus this machine's matmul peaks
    imported = _cli("import", str(tmp_path / "x.json"), "--db", str(other))
    assert imported.returncode == 0 and "added" in imported.stdout
    assert len(ResultStore(other).records("model", key)) == 2


@pytest.mark.parametrize("args, words", [
    (["run", "--variants", "fp16", "--device", "cpu"], "fp16 is measured on GPUs only"),
    (["run", "--variants", "fp64"], "unknown variant"),
    (["run", "--teacher", "x"], "--teacher and --student go together"),
    (["run", "--device", "tpu"], "device"),
    (["import", "no-such-file.json"], "no-such-file.json"),
    (["vs-pipeline", "--pair", "hub"], "no stored hub results"),
])
def test_cli_bad_input_is_one_line_not_a_traceback(tmp_path, capsys, args, words):
    code = cli.main([*args, "--db", str(tmp_path / "c.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


