"""Hostile model folders (benchmarks/core/vetting.py): each is refused before loading, quickly, in one sentence
with no absolute path; and paths in messages are shown relative to the project or the model root."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from benchmarks.core.models import ModelLoadError, load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.core.paths import scrub, shown
from benchmarks.core.settings import REPO_ROOT, Settings


def _config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _truncate(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        fh.truncate(size)  # takes no disk space


# (id, how to spoil a copy of the tiny teacher, words in the refusal, settings changes)
HOSTILE_FOLDERS = [
    (
        "weights-are-a-fifo",
        lambda f, out: ((f / "model.safetensors").unlink(), os.mkfifo(f / "model.safetensors")),
        "not a regular file",
        {},
    ),
    (
        "weights-link-to-dev-zero",
        lambda f, out: ((f / "model.safetensors").unlink(), (f / "model.safetensors").symlink_to("/dev/zero")),
        "leads outside",
        {},
    ),
    (
        "config-links-outside-the-roots",
        lambda f, out: (
            (f / "config.json").rename(out / "config.json"),
            (f / "config.json").symlink_to(out / "config.json"),
        ),
        "leads outside",
        {},
    ),
    ("truncated-safetensors", lambda f, out: _truncate(f), "not a complete safetensors file", {}),
    (
        "garbage-safetensors",
        lambda f, out: (f / "model.safetensors").write_bytes(os.urandom(4096)),
        "not a complete safetensors file",
        {},
    ),
    ("config-is-a-list", lambda f, out: (f / "config.json").write_text("[1, 2]"), "JSON object", {}),
    ("config-is-not-json", lambda f, out: (f / "config.json").write_text("{'layers': 2"), "not valid JSON", {}),
    ("layer-count-not-a-number", lambda f, out: _config(f, num_hidden_layers="twelve"), "whole number", {}),
    ("layer-count-fractional", lambda f, out: _config(f, num_hidden_layers=2.5), "whole number", {}),
    (
        "ten-thousand-layers",
        lambda f, out: _config(
            f, num_hidden_layers=10_000, hidden_size=768, num_attention_heads=12, intermediate_size=3072
        ),
        "KD_MAX_PARAMS_M",
        {},
    ),
    ("heads-do-not-divide-hidden", lambda f, out: _config(f, num_attention_heads=5), "not divisible", {}),
    ("huge-side-file", lambda f, out: _sparse(f / "tokenizer.json", 65_000_000), "limit for such a file", {}),
    (
        "folder-over-the-total-cap",
        lambda f, out: _sparse(f / "notes.txt", 2_000_000),
        "KD_MAX_MODEL_MB",
        {"max_model_mb": 1},
    ),
    ("labels-garbage", lambda f, out: _config(f, id2label="x"), "", {}),
    # Files named from inside the folder (issue 28): a sharded checkpoint's index, a tokenizer config's *_file entries.
    ("index-names-a-fifo-in-a-sub-folder",
     lambda f, out: _index(f, "shards/model-00001-of-00001.safetensors", fifo=True), "not a regular file", {}),
    ("index-names-an-absolute-path-outside-the-roots",
     lambda f, out: _index(f, str(_outside_weights(f, out))), "outside the model folder", {}),
    ("index-names-a-path-with-dot-dot",
     lambda f, out: _index(f, "../../outside/model.safetensors", move_to=out), "outside the model folder", {}),
    ("index-names-a-link-leaving-the-roots",
     lambda f, out: (_outside_weights(f, out), (f / "shard.safetensors").symlink_to(out / "model.safetensors"),
                     _index(f, "shard.safetensors", move=False)), "leads outside", {}),
    ("index-names-a-missing-file", lambda f, out: _index(f, "nowhere.safetensors", move=False), "not in the model",
     {}),
    ("index-is-not-an-index", lambda f, out: (f / "model.safetensors.index.json").write_text('{"weight_map": [1]}'),
     "not a weights index", {}),
    ("index-is-a-fifo", lambda f, out: os.mkfifo(f / "model.safetensors.index.json"), "not a regular file", {}),
    ("tokenizer-config-names-a-fifo",
     lambda f, out: (os.mkfifo(f / "spm.model"), _tokenizer_config(f, vocab_file="spm.model")), "not a regular file",
     {}),
    ("tokenizer-config-names-an-absolute-path",
     lambda f, out: _tokenizer_config(f, tokenizer_file="/etc/passwd"), "outside the model folder", {}),
    ("config-names-a-device-through-a-link",
     lambda f, out: ((f / "extra").symlink_to("/dev/zero"), _config(f, extra_file="extra")), "leads outside", {}),
    ("a-fifo-deep-in-a-sub-folder",
     lambda f, out: ((f / "a" / "b").mkdir(parents=True), os.mkfifo(f / "a" / "b" / "weights.bin")),
     "not a regular file", {}),
    ("a-socket-in-the-folder", lambda f, out: _socket(f / "sock"), "not a regular file", {}),
    ("a-sub-folder-linked-outside-the-roots", lambda f, out: (f / "shards").symlink_to(out), "leads outside", {}),
    ("too-many-entries", lambda f, out: [(f / f"n{i}.txt").touch() for i in range(2_001)], "more than 2,000", {}),
]


def _outside_weights(folder: Path, out: Path) -> Path:
    """Real weights outside the roots (the attack loads them past the roots and the size caps)."""
    shutil.copy(folder / "model.safetensors", out / "model.safetensors")
    return out / "model.safetensors"


def _index(folder: Path, name: str, fifo: bool = False, move: bool = True, move_to: Path | None = None) -> None:
    """Turn the folder into a 'sharded' checkpoint whose index names `name` for every tensor."""
    from safetensors import safe_open

    with safe_open(folder / "model.safetensors", "pt") as fh:
        keys = list(fh.keys())
    if move_to is not None:
        (folder / "model.safetensors").rename(move_to / "model.safetensors")
    elif move:
        (folder / "model.safetensors").unlink()
    if fifo:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(folder / name)
    index = {"metadata": {"total_size": 1}, "weight_map": dict.fromkeys(keys, name)}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


def _tokenizer_config(folder: Path, **entries) -> None:
    path = folder / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **entries}))


def _socket(path: Path) -> None:
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))  # the file stays after the socket object is gone
    sock.close()


def _load_with_deadline(folder: Path, settings: Settings, seconds: float = 30) -> BaseException | None:
    """Load in a daemon thread; fail the test (not hang it) if the load does not end in time."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            load_model(ModelSpec("local", str(folder), "teacher"), settings=settings)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"loading {folder.name} did not end within {seconds} s"
    return outcome[0]


@pytest.mark.parametrize("spoil, words, changes", [pytest.param(s, w, c, id=i) for i, s, w, c in HOSTILE_FOLDERS])
def test_hostile_model_folder_is_refused_in_one_sentence(tiny_pair_dirs, tmp_path, spoil, words, changes):
    root, outside = tmp_path / "models", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    folder = root / "spoiled"
    shutil.copytree(tiny_pair_dirs[0], folder)
    spoil(folder, outside)
    started = time.monotonic()
    error = _load_with_deadline(folder, Settings(model_roots=(root,), **changes))
    assert isinstance(error, ModelLoadError), repr(error)
    message = str(error)
    assert words in message and time.monotonic() - started < 20
    assert "\n" not in message and len(message) < 400
    assert str(tmp_path) not in message and "/tmp" not in message, message


def test_a_sharded_checkpoint_with_shards_in_a_sub_folder_loads(tiny_pair_dirs, tmp_path):
    from transformers import AutoModelForSequenceClassification

    root = tmp_path / "models"
    folder = root / "sharded"
    shutil.copytree(tiny_pair_dirs[0], folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    model.save_pretrained(folder / "tmp", max_shard_size="20KB")
    (folder / "shards").mkdir()
    index = json.loads((folder / "tmp" / "model.safetensors.index.json").read_text())
    for shard in sorted(set(index["weight_map"].values())):
        (folder / "tmp" / shard).rename(folder / "shards" / shard)
    index["weight_map"] = {k: f"shards/{v}" for k, v in index["weight_map"].items()}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    shutil.rmtree(folder / "tmp")
    assert len(list((folder / "shards").iterdir())) > 1
    assert _load_with_deadline(folder, Settings(model_roots=(root,))) is None


def test_a_link_inside_the_roots_is_followed(tiny_pair_dirs, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(tiny_pair_dirs[0], root / "real")
    (root / "linked").mkdir()
    for f in (root / "real").iterdir():
        (root / "linked" / f.name).symlink_to(f)
    assert _load_with_deadline(root / "linked", Settings(model_roots=(root,))) is None


def test_paths_are_shown_relative_to_the_project_or_a_model_root(tmp_path):
    assert shown(REPO_ROOT / "data" / "pocket" / "teacher") == "data/pocket/teacher"
    assert shown(tmp_path / "m" / "config.json", [tmp_path]) == "m/config.json"
    assert shown("/somewhere/else/model.safetensors") == "model.safetensors"
    message = (f"Error no file named model.safetensors found in directory {REPO_ROOT}/data/x. See /etc/passwd, ~/x/y "
               "or owner/name")
    assert (
        scrub(message) == "Error no file named model.safetensors found in directory data/x. See passwd, y or owner/name"
    )
    assert scrub("'[x](https://evil.example/login)' is not valid") == "'[x](https://evil.example/login)' is not valid"
