"""harness/runner.py and worker.py: the request the CLI and the page share, the worker protocol run with
`python -m`, and cache keys that survived the move (stored results and scores still read back)."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import cli
from benchmarks.analysis import scoring
from benchmarks.core.data import LabelledTexts, load_sst2
from benchmarks.core.device import detect_hardware, detect_software
from benchmarks.core.pairs import BUILTIN_PAIRS, custom_pair
from benchmarks.core.persist import from_raw
from benchmarks.harness import runner, worker
from benchmarks.harness.results import PeakResult, record_from_dict
from tests import benchmark_fakes as fake
from tests.conftest import REPO

# Keys computed by the code before the restructure (commit 6def767) from the shipped files: a result stored then
# must be found under the same key now, or every cached measurement would silently be taken again.
OLD_KEYS = {
    "cpu-amd-epyc-avx512-2cores.json": "ba227b1c7100bc9707e7a6a6545f97304590024656aca340a300bcdfa3c77dcb",
    "cpu-intel-xeon-amx-2threads.json": "0a37e250c1a7db128074f622a5633296f1d2d362db285a9336930e47a9c3859c",
    "gpu-nvidia-h100-80gb.json": "14707fe9e37d16e0627110a1186dc1133f91a5fa434a889920ff821229c4e71f",
}


@pytest.mark.parametrize("request_", [
    runner.RunRequest(BUILTIN_PAIRS["architecture"], "cpu"),
    runner.RunRequest(BUILTIN_PAIRS["pocket"], "cpu", ("fp32", "int8-dynamic"), quick=True, threads=1, budget=0.5,
                      data="some/dir", force=True),
    runner.RunRequest(custom_pair("org/teacher", "org/student"), "auto"),
    runner.RunRequest(BUILTIN_PAIRS["architecture"], "cpu", runtimes=("eager", "onnxruntime"), batch_sizes=(32,),
                      seq_lens=(16, 128)),
], ids=["builtin", "every-flag", "custom", "runtimes-and-grid"])
def test_a_request_crosses_to_the_job_as_json_and_the_cli_builds_the_same(request_, tmp_path, monkeypatch):
    request_ = runner.RunRequest(**{**request_.__dict__, "db": str(tmp_path / "c.sqlite")})
    assert runner.RunRequest.from_json(request_.to_json()) == request_  # what a job (any machine) receives
    seen = []

    def run_pair(request, store):
        seen.append(request)
        return runner.RunReport(fake.SETTINGS, [], [])

    monkeypatch.setattr(runner, "run_pair", run_pair)
    args = ["run", "--device", request_.device, "--db", request_.db, "--budget", str(request_.budget), "--runtimes",
            ",".join(request_.runtimes)] + (["--threads", str(request_.threads)] if request_.threads else [])
    if request_.pair.key in BUILTIN_PAIRS:
        args += ["--pair", request_.pair.key]
    else:
        args += [f"--teacher={request_.pair.teacher.ref}", f"--student={request_.pair.student.ref}"]
    for flag, values in (("--variants", request_.variants), ("--batches", request_.batch_sizes),
                         ("--seq-lens", request_.seq_lens)):
        if values:
            args += [flag, ",".join(map(str, values))]
    args += (["--quick"] if request_.quick else []) + (["--force"] if request_.force else [])
    args += [f"--data={request_.data}"] if request_.data else []
    assert cli.main(args) == 0
    assert seen == [replace(request_, db=Path(request_.db))]


def test_the_preview_names_what_a_run_would_add():
    hardware, software = detect_hardware(), detect_software()
    request = runner.RunRequest(BUILTIN_PAIRS["pocket"], "cpu", ("fp32",))
    have = replace(fake.result("teacher", hardware=hardware, settings=request.settings()), software=software)
    variants, missing = runner.missing(request, [have])
    assert variants == ("fp32",) and missing == [("student", "fp32")]
    with pytest.raises(ValueError, match="--variants fp16"):
        runner.missing(runner.RunRequest(BUILTIN_PAIRS["pocket"], "cpu", ("fp16",)), [])
    # With runtimes, only what each can run here: compile has no int8, so it is never "missing".
    both = runner.RunRequest(BUILTIN_PAIRS["pocket"], "cpu", ("fp32", "int8-dynamic"), runtimes=("eager", "compile"))
    _, missing = runner.missing(both, [have])
    assert ("student", "compile fp32") in missing and not any(setup == "compile int8-dynamic" for _, setup in missing)


def test_default_variants_are_those_a_chosen_runtime_runs():
    hardware = detect_hardware()
    eager = runner.RunRequest(BUILTIN_PAIRS["pocket"], "cpu", ()).variants_on("cpu", hardware)
    assert "int8-dynamic" in eager and "int8-static" not in eager  # only OpenVINO makes static int8
    with_openvino = runner.RunRequest(BUILTIN_PAIRS["pocket"], "cpu", (), runtimes=("eager", "openvino"))
    assert "int8-static" in with_openvino.variants_on("cpu", hardware)


@pytest.mark.slow  # a fresh interpreter imports torch: ~5 s idle, 30 s on a busy 2-core machine
def test_the_peak_worker_runs_as_a_module_and_answers_in_json():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.harness.worker", "peak", "fp32", "cpu", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    peak = from_raw(PeakResult, json.loads(proc.stdout.splitlines()[-1]))
    assert peak.dtype == "fp32" and peak.threads == 1 and peak.gflops > 0


def test_a_worker_failure_is_one_sentence_on_stderr(tmp_path, capsys):
    assert worker.main(["model", str(tmp_path / "none.json"), str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("name", sorted(OLD_KEYS))
def test_records_stored_before_the_move_keep_their_keys(name):
    doc = json.loads((REPO / "data" / "reference" / name).read_text())
    assert record_from_dict(doc["records"][0]["record"]).key == OLD_KEYS[name]


def test_the_shipped_dev_set_has_the_fingerprint_the_reference_results_were_scored_on():
    doc = json.loads((REPO / "data" / "reference" / "cpu-amd-epyc-avx512-2cores.json").read_text())
    eval_sets = {e["record"]["config"]["eval_set"] for e in doc["records"] if e["record"]["kind"] == "model"}
    assert load_sst2("validation").fingerprint in eval_sets


def test_scores_stored_under_the_old_key_are_read_and_moved(tmp_path, allow_tmp_models):
    from benchmarks.core.models import load_pair

    pair = load_pair(custom_pair(*map(str, allow_tmp_models)))
    data = LabelledTexts(("a good movie", "an awful movie é"), (1, 0), "test")
    scores = scoring.score_pair(pair, data, tmp_path)
    new = tmp_path / f"{scoring.cache_key(pair, data)}.json"
    old = tmp_path / f"{scoring._legacy_key(pair, data, scoring.MAX_LENGTH)}.json"
    new.rename(old)  # as the code before the move left it
    assert scoring.cached_scores(pair, data, tmp_path) == scores
    assert new.is_file()
