"""Online Hub loading against a local fake of the Hub (tests/fake_hub.py): the real from_pretrained code paths
run with no network. Safetensors stay preferred, including the conversion bot's PR revision; pickle weights are
read only through torch's weights_only loader; remote code stays refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from benchmarks.core.models import PICKLE_NOTE
from benchmarks.core.settings import REPO_ROOT
from tests.conftest import make_tiny_pair
from tests.fake_hub import FakeHub, FakeRepo, PullRequest, Revision, sha

# The load runs in a child process: huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE at import.
CHILD = """
import json, os, sys, urllib.error, urllib.request
import transformers.safetensors_conversion as conversion

def conversion_service_down(*args, **kwargs):  # the Space at a hard-coded hf.space URL is never contacted
    raise ConnectionError("the safetensors conversion service is down")

conversion.spawn_conversion = conversion_service_down
from benchmarks.core.models import ModelLoadError, load_model
from benchmarks.core.pairs import ModelSpec

def load_all():
    results = {}
    for repo_id in sys.argv[2:]:
        try:
            loaded = load_model(ModelSpec("hub", repo_id, "teacher"))
            results[repo_id] = {"note": loaded.weights_note, "fingerprint": loaded.fingerprint,
                                "classifier": loaded.model.classifier.weight.sum().item()}
        except ModelLoadError as exc:
            results[repo_id] = {"error": str(exc)}
    return results

online = load_all()
try:
    urllib.request.urlopen(sys.argv[1] + "/now-offline")
except urllib.error.HTTPError:  # the fake Hub answers 404: the request is only a mark in its log
    pass
os.environ["HF_HUB_OFFLINE"] = "1"  # from here on the dashboard must use only the local cache
print(json.dumps({"online": online, "offline": load_all()}))
"""


def _pickled(state_dict: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getvalue()


def _fake_repos(tmp_path: Path) -> tuple[dict[str, FakeRepo], float]:
    teacher_dir, _ = make_tiny_pair(tmp_path)
    files = {f.name: f.read_bytes() for f in teacher_dir.iterdir() if f.is_file()}
    safetensors = files.pop("model.safetensors")
    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir)
    pickle = _pickled(model.state_dict())
    torch.manual_seed(1)  # a different model, to tell whose weights were loaded
    other = AutoModelForSequenceClassification.from_config(model.config)
    other.save_pretrained(tmp_path / "other")
    foreign = (tmp_path / "other" / "model.safetensors").read_bytes()
    config = json.loads(files["config.json"])
    remote = {
        **files,
        "config.json": json.dumps(
            {**config, "auto_map": {"AutoModelForSequenceClassification": "evil.Model"}}
        ).encode(),
        "model.safetensors": safetensors,
    }

    def repo(name: str, main: dict[str, bytes], prs: tuple[tuple[str, dict[str, bytes]], ...] = ()) -> FakeRepo:
        main_rev = Revision(sha(name), {**files, **main})
        return FakeRepo(
            main_rev,
            tuple(PullRequest(1, author, Revision(sha(name + author), {**main_rev.files, **pr})) for author, pr in prs),
        )

    repos = {
        "fake/safetensors-on-main": repo("a", {"model.safetensors": safetensors}),
        "fake/safetensors-in-pr": repo(
            "b", {"pytorch_model.bin": pickle}, (("SFconvertbot", {"model.safetensors": safetensors}),)
        ),
        "fake/bin-only": repo("c", {"pytorch_model.bin": pickle}),
        "fake/neither": repo("d", {}),
        "fake/bin-and-foreign-pr": repo(
            "e", {"pytorch_model.bin": pickle}, (("mallory", {"model.safetensors": foreign}),)
        ),
        "fake/remote-code": FakeRepo(Revision(sha("f"), remote)),
    }
    return repos, model.classifier.weight.sum().item()


@pytest.mark.slow
def test_hub_pair_loads_through_a_fake_hub(tmp_path):
    repos, classifier = _fake_repos(tmp_path)
    with FakeHub(repos) as hub:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("TRANSFORMERS_OFFLINE", "DISABLE_SAFETENSORS_CONVERSION", "HF_TOKEN")
        }
        env.update(HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0", HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1",
                   KD_STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(REPO_ROOT))
        child = subprocess.run(
            [sys.executable, "-c", CHILD, hub.url, *repos],
            check=False,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert child.returncode == 0, child.stderr[-3000:]
    got = json.loads(child.stdout.strip().splitlines()[-1])
    online, offline = got["online"], got["offline"]
    served = " ".join(hub.requests)

    # Safetensors on main: read directly, at main's commit.
    assert online["fake/safetensors-on-main"] == {"note": "", "fingerprint": sha("a"), "classifier": classifier}
    # Only the bot's PR has safetensors: transformers takes them from refs/pr/1, not main's pickle.
    assert online["fake/safetensors-in-pr"] == {"note": "", "fingerprint": sha("b"), "classifier": classifier}
    assert "GET /fake/safetensors-in-pr/resolve/refs%2Fpr%2F1/model.safetensors" in served
    assert "/fake/safetensors-in-pr/resolve/main/pytorch_model.bin" not in served
    # Only a .bin: read with weights_only, and the page is told so.
    assert online["fake/bin-only"] == {"note": PICKLE_NOTE, "fingerprint": sha("c"), "classifier": classifier}
    # Neither: one sentence naming what is missing.
    error = online["fake/neither"]["error"]
    assert "pytorch_model.bin" in error and "\n" not in error and "Traceback" not in error
    # A PR by anyone but the conversion bot is never used; remote code stays refused.
    assert (
        online["fake/bin-and-foreign-pr"]["note"] == PICKLE_NOTE
        and online["fake/bin-and-foreign-pr"]["classifier"] == classifier
    )
    assert "/fake/bin-and-foreign-pr/resolve/refs%2Fpr%2F1/" not in served
    assert "its own code" in online["fake/remote-code"]["error"]
    # Writes never reach the Hub (the conversion request goes to its own Space, patched out above).
    assert "POST" not in served

    # Offline, from what the online loads cached, without a single request.
    assert hub.requests[-1] == "GET /now-offline"
    assert offline["fake/safetensors-on-main"] == online["fake/safetensors-on-main"]
    assert offline["fake/bin-only"] == online["fake/bin-only"]
    assert "conversion pull request load only online" in offline["fake/safetensors-in-pr"]["error"]
    assert "no weights" in offline["fake/neither"]["error"]
