"""AppTest of the entry script and the Playground page (headless, no browser)."""

import os

import pytest
import torch
from safetensors.torch import load_file
from streamlit.testing.v1 import AppTest

from benchmarks.core.models import PICKLE_NOTE
from tests.conftest import REPO, needs_pocket, plain

APP = str(REPO / "dashboard" / "app.py")


def _app_on_tiny_pair(tiny_pair_dirs) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["pair"] = "custom"
    at.query_params["teacher"] = str(tiny_pair_dirs[0])
    at.query_params["student"] = str(tiny_pair_dirs[1])
    return at


def test_playground_shows_both_models_side_by_side(allow_tmp_models):
    at = _app_on_tiny_pair(allow_tmp_models).run()
    at.text_area[0].input("a good movie").run()
    assert not at.exception
    labels = [m for m in at.metric if m.label == "Label"]
    assert len(labels) == 2 and all(m.value in ("NEGATIVE", "POSITIVE") for m in labels)
    assert [s.value for s in at.subheader] == ["Teacher", "Student"]
    assert any("agree" in m.value for m in at.markdown)
    assert any(m.label.startswith("Student speed-up") for m in at.metric)
    assert any("Label mapping" in plain(c.value) and "LABEL_1 → POSITIVE" in plain(c.value) for c in at.caption)


def test_empty_input_gets_a_message_not_a_traceback(allow_tmp_models):
    at = _app_on_tiny_pair(allow_tmp_models).run()
    at.text_area[0].input("   ").run()
    at.button[0].click().run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def test_unloadable_model_gets_one_sentence(allow_tmp_models):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["pair"] = "custom"
    at.query_params["teacher"] = "nobody/does-not-exist"
    at.query_params["student"] = "nobody/does-not-exist-either"
    at.run()
    at.text_area[0].input("fine").run()
    assert not at.exception
    assert any("unreachable" in e.value or "Could not load" in e.value for e in at.error)


@needs_pocket
def test_pocket_pair_is_the_default_and_gets_clear_sentences_right():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.selectbox(key="pair_choice").value == "pocket"
    at.selectbox(key="example").select_index(1).run()
    assert not at.exception
    assert [m.value for m in at.metric if m.label == "Label"] == ["POSITIVE", "POSITIVE"]


def test_pickle_weights_are_named_under_the_prediction(allow_tmp_models, tmp_path, monkeypatch):
    teacher_dir, student_dir = allow_tmp_models
    pickled = tmp_path / "teacher-bin"
    pickled.mkdir()
    for f in teacher_dir.iterdir():
        if f.suffix != ".safetensors":
            (pickled / f.name).write_bytes(f.read_bytes())
    torch.save(load_file(teacher_dir / "model.safetensors"), pickled / "pytorch_model.bin")
    monkeypatch.setenv("KD_MODEL_ROOTS", os.pathsep.join([str(teacher_dir.parent), str(tmp_path)]))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(pair="custom", teacher=str(pickled), student=str(student_dir))
    at.run()
    at.text_area[0].input("a good movie").run()
    assert not at.exception
    assert [t.value for t in at.text] == [f"Teacher: {PICKLE_NOTE}"]


def test_each_model_picks_its_runtime_and_the_answer_names_it(allow_tmp_models, tmp_path, monkeypatch):
    from benchmarks.runtimes.registry import unavailable_reason

    if unavailable_reason("onnxruntime", "fp32", "cpu"):
        pytest.skip("onnxruntime is not installed")
    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path / "state"))  # the exported graph is cached there
    at = _app_on_tiny_pair(allow_tmp_models).run()
    assert at.selectbox(key="runtime_teacher").value == ("eager", "fp32")  # the default stays eager fp32
    at.selectbox(key="runtime_student").set_value(("onnxruntime", "int8-dynamic"))
    at.text_area[0].input("a good movie").run(timeout=120)
    assert not at.exception and not at.error
    captions = [plain(c.value) for c in at.caption]
    assert any("ran in PyTorch eager · fp32" in c for c in captions)
    assert any("ran in ONNX Runtime · int8-dynamic" in c for c in captions)
    assert any("student in ONNX Runtime · int8-dynamic" in c for c in captions)
    assert len([m for m in at.metric if m.label == "Label"]) == 2
    assert list((tmp_path / "state" / "artefacts" / "onnxruntime").iterdir())


@pytest.fixture
def fresh_state(monkeypatch, tmp_path):
    """A state folder of the test's own, and no traffic left over from earlier tests in this process; traffic counts
    for a minute, so a slow shared machine cannot age the other visitors' requests out between two reruns."""
    from benchmarks.core import batching
    from dashboard import resources

    monkeypatch.setattr(batching, "RECENT_S", 60.0)
    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path / "state"))
    resources.settings.clear()
    resources.traffic.clear()
    yield tmp_path / "state"
    resources.settings.clear()
    resources.traffic.clear()


def _caption(at) -> str:
    return next(plain(c.value) for c in at.caption if "Measured now on" in plain(c.value))


def test_an_idle_server_times_the_answer_and_a_busy_one_answers_with_one_pass(allow_tmp_models, fresh_state):
    from dashboard import resources

    at = _app_on_tiny_pair(allow_tmp_models).run()
    at.text_area[0].input("a good movie").run()
    assert not at.exception
    idle = _caption(at)
    assert "timed while the server was idle" in idle and "load: 1 Compare on this server" in idle
    assert "thread" in idle
    for _ in range(4):  # other visitors asking at the same moment
        resources.traffic().note()
    at.text_area[0].input("an awful movie").run()
    loaded = _caption(at)
    assert "one pass alone" in loaded and "not timed: other visitors are asking too" in loaded
    assert "load: 6 Compares" in loaded
    assert any(m.label == "Model latency (one pass)" for m in at.metric)
    next(b for b in at.button if b.label == "Time it now").click().run()
    assert "timed on request" in _caption(at) and any(m.label == "Model latency (p50)" for m in at.metric)


def test_no_timing_while_a_benchmark_holds_the_machine(allow_tmp_models, fresh_state):
    from benchmarks.core.background import run_lock

    at = _app_on_tiny_pair(allow_tmp_models).run()
    with run_lock(fresh_state / "benchmark-run.lock"):
        next(b for b in at.button if b.label == "Time it now").click()
        at.text_area[0].input("a good movie").run()
    assert not at.exception and not at.error
    assert "not timed: a benchmark run is using this machine" in _caption(at)
    assert len([m for m in at.metric if m.label == "Label"]) == 2  # still answered


def test_a_full_queue_says_busy_in_one_sentence(allow_tmp_models, fresh_state, monkeypatch):
    from benchmarks.core.batching import BUSY_MESSAGE, Busy
    from dashboard import resources

    def full(*_args, **_kwargs):
        raise Busy(BUSY_MESSAGE.format(waiting=64))

    monkeypatch.setattr(resources, "batched_answer", full)
    at = _app_on_tiny_pair(allow_tmp_models).run()
    at.text_area[0].input("a good movie").run()
    assert not at.exception and not at.error
    assert [w.value for w in at.warning] == [BUSY_MESSAGE.format(waiting=64)]


def test_a_speed_up_above_the_flops_ceiling_is_flagged_as_noise(allow_tmp_models, fresh_state, monkeypatch):
    from benchmarks.core.inference import BatchedPair, ModelRun, PairRun, Prediction
    from dashboard import resources

    def run(model: str, ms: float) -> ModelRun:
        return ModelRun(model, ("NEGATIVE", "POSITIVE"), (Prediction("POSITIVE", (0.1, 0.9), 5, False),), 0.1, ms)

    monkeypatch.setattr(resources, "batched_answer",
                        lambda *a, **k: BatchedPair(PairRun(run("t", 50.0), run("s", 1.0)), (3, 2)))
    for _ in range(3):  # busy, so the one pass is what is shown
        resources.traffic().note()
    at = _app_on_tiny_pair(allow_tmp_models).run()
    at.text_area[0].input("a good movie").run()
    assert not at.exception
    assert any(w.value.startswith("Noise: 50.00× is above the FLOPs ceiling of") for w in at.warning)
    assert "in batches of 3 (teacher) and 2 (student)" in _caption(at)


def test_answers_run_in_the_fastest_setup_measured_here_that_changes_no_answer(allow_tmp_models, fresh_state):
    from dataclasses import replace

    from benchmarks.core.device import detect_hardware
    from benchmarks.core.models import load_model
    from benchmarks.core.pairs import ModelSpec
    from benchmarks.harness.results import BenchmarkSettings
    from benchmarks.harness.store import ResultStore
    from benchmarks.runtimes.registry import unavailable_reason
    from tests.benchmark_fakes import result

    if unavailable_reason("onnxruntime", "fp32", "cpu"):
        pytest.skip("onnxruntime is not installed")
    teacher = load_model(ModelSpec("local", str(allow_tmp_models[0]), "teacher"))
    here = {"hardware": detect_hardware(), "fingerprint": teacher.fingerprint,
            "settings": BenchmarkSettings(threads=torch.get_num_threads())}
    flipped = result(variant="int8-dynamic", speed=9.0, **here)
    flipped = replace(flipped, accuracy=replace(flipped.accuracy, predictions="0" + flipped.accuracy.predictions[1:]))
    ResultStore(fresh_state / "results.sqlite").put_many([
        result(**here), result(runtime="onnxruntime", speed=2.5, **here), flipped,
    ])
    at = _app_on_tiny_pair(allow_tmp_models).run()
    assert at.selectbox(key="runtime_teacher").value == ("onnxruntime", "fp32")  # int8 was faster, but flipped one
    assert at.selectbox(key="runtime_student").value == ("eager", "fp32")  # nothing measured for the student
    assert "changes none of the 872 SST-2 dev answers" in at.selectbox(key="runtime_teacher").help
    at.text_area[0].input("a good movie").run(timeout=120)
    assert not at.exception and not at.error
    captions = [plain(c.value) for c in at.caption]
    assert any("ran in ONNX Runtime · fp32" in c for c in captions)
    assert any("teacher in ONNX Runtime · fp32, student in PyTorch eager · fp32" in c for c in captions)
