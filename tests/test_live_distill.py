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
from benchmarks.jobs import here
from benchmarks.jobs.kinds import LiveRequest, live_job_of
from benchmarks.jobs.work import drain
from benchmarks.store.database import Database
from benchmarks.store.jobs import JobBoard
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


def _queue(settings, steps: int = 10, eval_every: int = 10, teacher: str = "") -> str:
    """A live job of this machine in the job layer's queue, as the page queues it; returns its id."""
    from dataclasses import asdict

    request = LiveRequest(("local", teacher), asdict(LiveConfig(layers=1, steps=steps, eval_every=eval_every)))
    return _board(settings).submit("live", request.to_json(), here.fingerprint(), "local")[0].id


def _board(settings) -> JobBoard:
    return JobBoard(Database(settings.results_db))


def _live(settings, job_id: str):
    return live_job_of(_board(settings).get(job_id))


@pytest.mark.slow
def test_queue_runs_jobs_in_order_cancel_drops_one_and_only_k_students_stay(tmp_path, allow_tmp_models):
    settings = replace(_settings(tmp_path), live_keep=1)
    first, second, third = (_queue(settings, teacher=str(allow_tmp_models[0])) for _ in range(3))
    _board(settings).cancel(second)
    assert drain(_board(settings), "live", settings) == 2
    assert [_board(settings).get(j).state for j in (first, second, third)] == ["finished", "stopped", "finished"]
    kept = LiveStore.of(settings).students()
    assert [s.id for s in kept] == [third]  # keep=1: the older student was removed
    assert [s.name for s in kept[0].job.scores] == ["teacher", "this student"]
    assert [s.name for s in _live(settings, third).scores] == ["teacher", "this student"]  # the page reads the row
    student = load_model(
        ModelSpec("local", str(kept[0].folder), "student"), settings=settings
    )  # loadable as a custom student
    assert student.n_layers == 1
    assert not list((settings.live_dir / "partial").iterdir())


def test_cancelling_a_running_job_keeps_nothing(tmp_path, allow_tmp_models):
    settings = _settings(tmp_path)
    job = _queue(settings, steps=2000, eval_every=500, teacher=str(allow_tmp_models[0]))
    worker = threading.Thread(target=drain, args=(_board(settings), "live", settings))
    worker.start()
    _until(lambda: len(_live(settings, job).losses) > 3)
    _board(settings).cancel(job)
    worker.join(60)
    assert _board(settings).get(job).state == "stopped"
    assert LiveStore.of(settings).students() == [] and not list((settings.live_dir / "partial").iterdir())


@pytest.mark.slow
def test_a_killed_worker_leaves_no_loadable_student(tmp_path, allow_tmp_models):
    settings = _settings(tmp_path)
    job = _queue(settings, steps=2000, eval_every=500, teacher=str(allow_tmp_models[0]))
    env = {
        **os.environ,
        "KD_STATE_DIR": str(tmp_path),
        "KD_ALLOWED_SOURCES": "local",
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "job-drain", "live"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until(lambda: len(_live(settings, job).losses) > 3, 120)
        # A half-written student, as if the kill had come while saving: it must never be offered or accepted.
        partial = settings.live_dir / "partial" / job
        partial.mkdir(parents=True)
        (partial / "config.json").write_text("{}")
        (partial / "model.safetensors").write_bytes(b"half")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    stopped = _board(settings).get(job)
    assert stopped.state == "stopped" and "its process ended without finishing" in stopped.message
    assert LiveStore.of(settings).students() == []
    with pytest.raises(ModelLoadError, match="not a model folder this server can load"):
        check_local_folder(partial, settings)
    # The next worker clears what the killed one left.
    _queue(settings, teacher=str(allow_tmp_models[0]))
    assert drain(_board(settings), "live", settings) == 1
    assert not partial.exists() and len(LiveStore.of(settings).students()) == 1


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
