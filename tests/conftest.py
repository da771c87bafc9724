"""Shared fixtures: tiny generated teacher/student folders, so no test touches the network."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["tests.servers"]  # the throwaway PostgreSQL server fixture

# Tests never reach the Hub: fail fast instead of retrying for ~20 s. Set before anything imports
# huggingface_hub, which reads these once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from benchmarks.loadtest.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from benchmarks.loadtest.server import free_port, start_server, wait_healthy  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
POCKET = REPO / "data" / "pocket"
SST2 = REPO / "data" / "sst2"  # the dev split ships with the product

needs_pocket = pytest.mark.skipif(
    not (POCKET / "teacher" / "model.safetensors").is_file(),
    reason="pocket pair weights not built (python -m benchmarks distill)",
)


APP = str(REPO / "dashboard" / "app.py")


def open_page(page: str, query: dict[str, str] | None = None, state: dict | None = None, timeout: float = 120):
    """A page of the app, run headless (AppTest): the query parameters first (the sidebar reads them on the first
    run), then the page (`page`: "benchmarks" for views/benchmarks.py), then session state such as a tab's choice."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query or {})
    at.run()
    at.switch_page(f"views/{page}.py")
    for key, value in (state or {}).items():
        at.session_state[key] = value
    return at.run()


@pytest.fixture
def state(monkeypatch, tmp_path):
    """A fresh state folder, as on a new machine (an empty cache, seeded from data/reference); settings are cached
    per process, so they are re-read here and again afterwards."""
    from dashboard import resources

    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path / "state"))
    resources.settings.clear()
    yield tmp_path / "state"
    monkeypatch.undo()
    resources.settings.clear()


def tiny_query(tiny_pair_dirs) -> dict[str, str]:
    """The query parameters that open a page on the tiny pair."""
    return {"pair": "custom", "teacher": str(tiny_pair_dirs[0]), "student": str(tiny_pair_dirs[1])}


def plain(shown: str) -> str:
    """Rendered text as a visitor reads it: without dashboard.safe.text()'s escapes and word joiners."""
    return re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "")


def make_tiny_pair(root: Path) -> tuple[Path, Path]:
    """A 2-layer BERT teacher and 1-layer DistilBERT student (hidden 32) with the pocket vocabulary."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    vocab = root / "vocab.txt"
    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "good",
        "bad",
        "movie",
        "great",
        "awful",
        "the",
        "a",
        "!",
        ".",
    ]
    vocab.write_text("\n".join(words + [f"w{i}" for i in range(50)]) + "\n")
    tok = BertTokenizerFast.from_pretrained(root, model_max_length=32)  # reads root/vocab.txt
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(
        BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                   max_position_embeddings=32, num_labels=2, id2label={0: "LABEL_0", 1: "LABEL_1"},
                   label2id={"LABEL_0": 0, "LABEL_1": 1})
    )
    student = DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=64, dim=32, n_layers=1, n_heads=4, hidden_dim=64, max_position_embeddings=32,
                         num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
    )
    paths = []
    for name, model in (("teacher", teacher), ("student", student)):
        folder = root / name
        model.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)
        paths.append(folder)
    return paths[0], paths[1]


class _CreatesFile:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # unpickling calls open(marker, "w"): harmless here, arbitrary code in a real attack
        return open, (str(self.marker), "w")


def save_code_running_pickle(path: Path, marker: Path) -> None:
    """A pytorch_model.bin that creates `marker` if it is ever unpickled with code execution allowed."""
    import torch

    torch.save({"classifier.weight": _CreatesFile(marker)}, path)


@pytest.fixture(scope="session")
def tiny_pair_dirs(tmp_path_factory) -> tuple[Path, Path]:
    return make_tiny_pair(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def allow_tmp_models(monkeypatch, tiny_pair_dirs):
    """Let the model-folder policy accept the tiny pair's temporary folder."""
    monkeypatch.setenv("KD_MODEL_ROOTS", str(tiny_pair_dirs[0].parent))
    return tiny_pair_dirs


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The real dashboard served by `streamlit run` on a free localhost port, for browser tests."""
    port = free_port()
    env = {**os.environ, "KD_STATE_DIR": str(tmp_path_factory.mktemp("state"))}
    proc = start_server(port, tmp_path_factory.mktemp("server") / "streamlit.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 60)
    except RuntimeError as exc:
        proc.kill()
        pytest.fail(str(exc))
    yield url
    proc.terminate()
    try:
        proc.wait(30)  # a busy shared machine can take longer than 10 s to end a session's script run
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by playwright; skipped (with the reason) where it is absent."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (apt-get install chromium); scripts/test.sh installs it as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
