"""Hostile model folders against the real server (issue 28, class 1): while a visitor makes the server load a
folder whose index or tokenizer config names a FIFO, a device or a file outside KD_MODEL_ROOTS, the health endpoint
answers every probe within 1 s, the page says what is wrong in one sentence with no
absolute path, and SIGTERM still stops the server within 10 s."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from benchmarks.loadtest.server import free_port, start_server, wait_healthy
from tests.core.test_vetting import _index, _outside_weights, _tokenizer_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (folder name, how to spoil a copy of the tiny teacher, words of the refusal)
FOLDERS = [
    ("fifo-shard", lambda f, out: _index(f, "shards/model-00001-of-00001.safetensors", fifo=True),
     "not a regular file"),
    ("outside-shard", lambda f, out: _index(f, str(_outside_weights(f, out))), "outside the model folder"),
    ("fifo-vocab", lambda f, out: (os.mkfifo(f / "spm.model"), _tokenizer_config(f, vocab_file="spm.model")),
     "not a regular file"),
    ("device-shard", lambda f, out: ((f / "zero.safetensors").symlink_to("/dev/zero"),
                                     _index(f, "zero.safetensors", move=False)), "leads outside"),
]


class HealthProbe:
    """Asks /_stcore/health every 0.2 s on its own thread; keeps each answer's latency (None: no answer in 1 s)."""

    def __init__(self, url: str):
        self.url, self.latencies, self._stop = url, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1).read() == b"ok"
                self.latencies.append(time.monotonic() - started if ok else None)
            except OSError:
                self.latencies.append(None)
            time.sleep(0.2)

    def slow(self) -> list[float | None]:
        """The probes not answered within 1 s (None: no answer at all)."""
        return [x for x in self.latencies if x is None or x >= 1.0]

    def __enter__(self) -> "HealthProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def hostile_root(tiny_pair_dirs, tmp_path) -> Path:
    root, outside = tmp_path / "models", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    shutil.copytree(tiny_pair_dirs[1], root / "student")
    for name, spoil, _ in FOLDERS:
        shutil.copytree(tiny_pair_dirs[0], root / name)
        spoil(root / name, outside)
    return root


def test_hostile_folders_never_silence_the_health_check(chromium, hostile_root, tmp_path):
    port = free_port()
    env = {**os.environ, "KD_STATE_DIR": str(tmp_path / "state"), "KD_MODEL_ROOTS": str(hostile_root)}
    server = start_server(port, tmp_path / "server.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 90)
        page = chromium.new_page()
        # A fresh server imports torch and transformers on its first visit; that start-up is not what is tested.
        student = hostile_root / "student"
        warm = {"pair": "custom", "teacher": str(student), "student": str(student)}
        page.goto(f"{url}/distillation?{urlencode(warm)}")
        page.get_by_text("Soft targets", exact=False).first.wait_for(timeout=180_000)
        teacher_box = page.get_by_label("Teacher (Hub id or folder)")
        for name, _, words in FOLDERS:
            with HealthProbe(url) as probe:  # typed into the open page: the load is the only new work
                teacher_box.fill(str(hostile_root / name))
                teacher_box.press("Enter")
                refusal = page.locator('[data-testid="stAlertContentError"]', has_text=words).filter(has_text=name)
                refusal.first.wait_for(timeout=60_000)
                time.sleep(2.0)  # and a moment after the refusal
            shown = refusal.first.inner_text()
            assert str(tmp_path) not in shown and "/tmp" not in shown, shown
            print(name, [None if x is None else round(x, 3) for x in probe.latencies])
            assert len(probe.latencies) >= 3 and not probe.slow(), (name, probe.latencies)
        page.close()
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        assert time.monotonic() - started < 10
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
