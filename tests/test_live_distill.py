"""Live distillation on the tiny generated pair: the loss falls, the queue runs one job at a time, cancel and a
killed worker leave nothing loadable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
import torch

from benchmarks.core.data import LabelledTexts
from benchmarks.core.models import ModelLoadError, check_local_folder, load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.core.settings import load_settings
from benchmarks.distill.live import LiveConfig, distil, teacher_layers
from benchmarks.distill.live_jobs import LiveStore
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def one_thread():
    """Hidden-32 models gain nothing from a second thread, and on a busy shared machine OpenMP's spinning threads
    made these tests ten times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


WORDS = ["good", "bad", "movie", "great", "awful", "the", "a", "!", "."]


def _settings(tmp_path):
    # The tiny teacher is a local folder; no pocket student in the comparison keeps the tests quick.
    return replace(load_settings(), state_dir=tmp_path, allowed_sources=("local",))


def _until(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_student_layers_are_every_other_teacher_layer():
    assert teacher_layers(3, 6) == (0, 2, 4)
    assert teacher_layers(2, 12) == (0, 2)
    assert teacher_layers(2, 2) == (0, 1)  # too shallow for every other layer: the first ones
    with pytest.raises(ValueError):
        teacher_layers(3, 2)


def test_config_refuses_out_of_range_values_in_one_sentence():
    with pytest.raises(ValueError, match="1, 2 or 3 layers"):
        LiveConfig(layers=4)
    with pytest.raises(ValueError, match="Steps must be between"):
        LiveConfig(steps=5)


def test_a_few_steps_of_distillation_lower_the_loss(allow_tmp_models):
    teacher = load_model(ModelSpec("local", str(allow_tmp_models[0]), "teacher"))
    rng = torch.Generator().manual_seed(0)
    sentences = [" ".join(WORDS[i] for i in torch.randint(0, len(WORDS), (6,), generator=rng)) for _ in range(128)]
    dev = LabelledTexts(tuple(sentences[:24]), tuple(i % 2 for i in range(24)), "tiny dev")
    losses, checks = [], []
    student, teacher_pred = distil(
        teacher,
        LiveConfig(layers=1, steps=60, eval_every=20, batch_size=16, lr=1e-3),
        sentences,
        None,
        dev,
        losses.append,
        checks.append,
    )
    assert student.config.n_layers == 1 and len(losses) == 60 and [c.step for c in checks] == [20, 40, 60]
    first, last = sum(s.total for s in losses[:10]) / 10, sum(s.total for s in losses[-10:]) / 10
    assert last < 0.7 * first, (first, last)
    assert all(s.total == s.kd for s in losses)  # no labels: the KD term is the whole loss
    assert checks[-1].agreement >= checks[0].agreement - 0.1


@pytest.mark.slow
def test_queue_runs_jobs_in_order_cancel_drops_one_and_only_k_students_stay(tmp_path, allow_tmp_models):
    settings = _settings(tmp_path)
    store = LiveStore(settings.live_dir, keep=1)
    teacher = ModelSpec("local", str(allow_tmp_models[0]), "teacher")
    config = LiveConfig(layers=1, steps=10, eval_every=10)
    first, second, third = (store.submit(teacher, config) for _ in range(3))
    store.cancel(second.id)
    assert store.run_worker(settings) == 2
    assert [store.job(j.id).state for j in (first, second, third)] == ["finished", "cancelled", "finished"]
    kept = store.students()
    assert [s.id for s in kept] == [third.id]  # keep=1: the older student was removed
    assert [s.name for s in kept[0].job.scores] == ["teacher", "this student"]
    student = load_model(
        ModelSpec("local", str(kept[0].folder), "student"), settings=settings
    )  # loadable as a custom student
    assert student.n_layers == 1
    assert not list((settings.live_dir / "partial").iterdir())


def test_cancelling_a_running_job_keeps_nothing(tmp_path, allow_tmp_models):
    settings = _settings(tmp_path)
    store = LiveStore(settings.live_dir)
    job = store.submit(
        ModelSpec("local", str(allow_tmp_models[0]), "teacher"), LiveConfig(layers=1, steps=2000, eval_every=500)
    )
    worker = threading.Thread(target=store.run_worker, args=(settings,))
    worker.start()
    _until(lambda: len(store.job(job.id).losses) > 3)
    store.cancel(job.id)
    worker.join(60)
    assert store.job(job.id).state == "cancelled"
    assert store.students() == [] and not list((settings.live_dir / "partial").iterdir())


@pytest.mark.slow
def test_a_killed_worker_leaves_no_loadable_student(tmp_path, allow_tmp_models):
    settings = _settings(tmp_path)
    store = LiveStore(settings.live_dir)
    job = store.submit(
        ModelSpec("local", str(allow_tmp_models[0]), "teacher"), LiveConfig(layers=1, steps=2000, eval_every=500)
    )
    env = {
        **os.environ,
        "KD_STATE_DIR": str(tmp_path),
        "KD_ALLOWED_SOURCES": "local",
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "live-distill", "--worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until(lambda: (j := store.job(job.id)) is not None and len(j.losses) > 3, 120)
        # A half-written student, as if the kill had come while saving: it must never be offered or accepted.
        partial = settings.live_dir / "partial" / job.id
        partial.mkdir(parents=True)
        (partial / "config.json").write_text("{}")
        (partial / "model.safetensors").write_bytes(b"half")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert store.job(job.id).state == "interrupted"
    assert store.students() == []
    with pytest.raises(ModelLoadError, match="not a model folder this server can load"):
        check_local_folder(partial, settings)
    # The next worker clears what the killed one left.
    store.submit(ModelSpec("local", str(allow_tmp_models[0]), "teacher"), LiveConfig(layers=1, steps=10, eval_every=10))
    assert store.run_worker(settings) == 1 and not partial.exists() and len(store.students()) == 1


def test_the_hard_label_term_joins_the_total_with_alpha_only_when_labels_exist(allow_tmp_models):
    teacher = load_model(ModelSpec("local", str(allow_tmp_models[0]), "teacher"))
    sentences = [f"{a} {b} movie" for a in WORDS for b in WORDS][:64]
    labels = [i % 2 for i in range(len(sentences))]
    dev = LabelledTexts(tuple(sentences[:8]), tuple(labels[:8]), "tiny dev")
    config = LiveConfig(layers=1, steps=10, eval_every=10, batch_size=16, hard_labels=True, alpha=0.25)
    losses = []
    distil(teacher, config, sentences, labels, dev, losses.append)
    assert all(s.total == pytest.approx(0.25 * s.kd + 0.75 * s.hard, rel=1e-5) for s in losses)
    with pytest.raises(ValueError, match="needs gold labels"):
        distil(teacher, config, sentences, None, dev)


def test_the_cli_help_states_the_live_defaults():
    import re

    from benchmarks.cli import build_parser

    parser = build_parser()
    live = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("live-distill"))
    stated = {a.dest: re.search(r"\(default ([\d.]+)\)", a.help or "") for a in live._actions}
    defaults = LiveConfig()
    for field in ("layers", "temperature", "alpha", "eval_every"):
        assert float(stated[field].group(1)) == getattr(defaults, field), field
