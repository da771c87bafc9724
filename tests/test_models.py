import json
import time

import pytest
import torch

from benchmarks.core import hub
from benchmarks.core.models import (
    PICKLE_NOTE,
    ModelLoadError,
    canonical_labels,
    check_local_folder,
    load_model,
    load_pair,
)
from benchmarks.core.pairs import BUILTIN_PAIRS, ModelSpec, custom_pair
from tests.conftest import needs_pocket, save_code_running_pickle


def test_local_folder_loads_with_labels_mapped(allow_tmp_models):
    teacher_dir, student_dir = allow_tmp_models
    teacher = load_model(ModelSpec("local", str(teacher_dir), "teacher"))
    student = load_model(ModelSpec("local", str(student_dir), "student"))
    assert teacher.labels == ("NEGATIVE", "POSITIVE") == student.labels
    assert "LABEL_1 → POSITIVE" in teacher.label_note
    assert teacher.n_layers == 2 and student.n_layers == 1 and teacher.n_heads == 4
    assert not teacher.model.training
    assert len(teacher.fingerprint) == 16 and teacher.size_bytes > 0


@pytest.mark.parametrize(
    "id2label, expected",
    [
        ({0: "LABEL_0", 1: "LABEL_1"}, ("NEGATIVE", "POSITIVE")),
        ({0: "NEGATIVE", 1: "POSITIVE"}, ("NEGATIVE", "POSITIVE")),
        ({0: "positive", 1: "negative"}, ("POSITIVE", "NEGATIVE")),
        ({0: "neg", 1: "pos"}, ("NEGATIVE", "POSITIVE")),
    ],
)
def test_label_mapping(id2label, expected):
    assert canonical_labels(id2label)[0] == expected


@pytest.mark.parametrize(
    "id2label", [{0: "A", 1: "B"}, {0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"}, {0: "POSITIVE", 1: "POSITIVE"}]
)
def test_unmappable_labels_are_refused(id2label):
    with pytest.raises(ModelLoadError):
        canonical_labels(id2label)


def test_unreachable_hub_fails_fast_with_one_sentence(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")  # unresolvable: the probe must give up quickly
    hub._cache.clear()
    start = time.monotonic()
    with pytest.raises(ModelLoadError) as err:
        load_model(ModelSpec("hub", "someone/not-cached-model", "teacher"))
    assert time.monotonic() - start < 2.0
    assert "unreachable" in str(err.value) and "\n" not in str(err.value)


def test_offline_flag_is_respected_without_probing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_probe", lambda *a: pytest.fail("probed despite HF_HUB_OFFLINE"))
    assert hub.hub_reachable() is False


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "a b", "x" * 300, "owner/name/extra"])
def test_invalid_hub_ids(bad_id):
    with pytest.raises(ModelLoadError):
        load_model(ModelSpec("hub", bad_id, "teacher"))


def test_folder_policy(allow_tmp_models, tmp_path, monkeypatch):
    teacher_dir, _ = allow_tmp_models
    assert check_local_folder(teacher_dir) == teacher_dir.resolve()
    # Outside the roots, missing, or named with '..': one answer, so a visitor learns nothing about the disk.
    answers = set()
    for path in (f"{teacher_dir}/../teacher", "/etc", "/no/such/folder", f"{teacher_dir.parent}/missing"):
        with pytest.raises(ModelLoadError) as refused:
            check_local_folder(path)
        answers.add(str(refused.value))
    assert len(answers) == 1 and "KD_MODEL_ROOTS" in answers.pop()


def test_pickle_weights_load_only_through_weights_only_and_remote_code_is_refused(
    allow_tmp_models, tmp_path, monkeypatch
):
    teacher_dir, _ = allow_tmp_models
    reference = load_model(ModelSpec("local", str(teacher_dir), "teacher"))
    assert reference.weights_note == ""
    monkeypatch.setenv("KD_MODEL_ROOTS", str(tmp_path))
    pickled, evil = tmp_path / "pickled", tmp_path / "evil"
    for folder in (pickled, evil):
        folder.mkdir()
        for f in teacher_dir.iterdir():
            if f.suffix != ".safetensors":
                (folder / f.name).write_bytes(f.read_bytes())
    torch.save(reference.model.state_dict(), pickled / "pytorch_model.bin")
    loaded = load_model(ModelSpec("local", str(pickled), "teacher"))
    assert loaded.weights_note == PICKLE_NOTE
    assert torch.equal(loaded.model.classifier.weight, reference.model.classifier.weight)

    marker = tmp_path / "code-ran"
    save_code_running_pickle(evil / "pytorch_model.bin", marker)
    with pytest.raises(ModelLoadError, match="weights_only loader refused") as err:
        load_model(ModelSpec("local", str(evil), "teacher"))
    assert not marker.exists() and "\n" not in str(err.value)

    remote = tmp_path / "remote"
    remote.mkdir()
    for f in teacher_dir.iterdir():
        (remote / f.name).write_bytes(f.read_bytes())
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "evil.Model"}
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="its own code"):
        load_model(ModelSpec("local", str(remote), "teacher"))


def test_sources_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("KD_ALLOWED_SOURCES", "pocket")
    with pytest.raises(ModelLoadError, match="switched off"):
        load_model(ModelSpec("hub", "owner/name", "teacher"))


def test_custom_pair_tells_folders_from_hub_ids(tiny_pair_dirs):
    pair = custom_pair(str(tiny_pair_dirs[0]), "owner/model")
    assert pair.teacher.source == "local" and pair.student.source == "hub"


def _refusal(ref: str) -> str:
    """What a visitor reads for `ref` typed as a teacher (the sidebar's custom pair)."""
    with pytest.raises(ModelLoadError) as refused:
        load_model(custom_pair(ref, ref).teacher)
    return str(refused.value)


def test_no_existence_oracle(allow_tmp_models, tmp_path, monkeypatch):
    """Issue 28, class 2: whether something exists outside the roots never changes the answer."""
    root = allow_tmp_models[0].parent
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var" / "scores").mkdir(parents=True)  # exists, outside the roots
    (tmp_path / "etc").mkdir()
    pairs = [
        ("var/scores", "var/nothere"),  # one slash: could be a Hub id; neither is a folder under the roots
        (f"{root}/../etc", f"{root}/../nonexistent"),
        ("var/../etc", "var/../nonexistent"),
        (str(tmp_path / "etc"), str(tmp_path / "nonexistent")),
        (f"{root}/missing", str(tmp_path / "etc")),
        ("./var/scores", "./var/nothere"),
    ]
    for there, absent in pairs:
        assert _refusal(there).replace(there, "X") == _refusal(absent).replace(absent, "X"), (there, absent)
    folder_sentences = {_refusal(ref) for pair in (pairs[1], pairs[3], pairs[4], pairs[5]) for ref in pair}
    assert len(folder_sentences) == 1 and "KD_MODEL_ROOTS" in folder_sentences.pop()


def test_live_students_are_named_relative_to_the_state_folder(allow_tmp_models, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path))
    shutil.copytree(allow_tmp_models[1], tmp_path / "live" / "students" / "abc12345")
    pair = custom_pair("live/students/abc12345", "live/students/abc12345")
    assert pair.student.source == "local" and pair.student.display_name == "abc12345"
    assert load_model(pair.student).n_layers == 1
    assert "KD_MODEL_ROOTS" in _refusal("live/students/../../etc")


@needs_pocket
def test_architecture_pair_is_real_size():
    pair = load_pair(BUILTIN_PAIRS["architecture"])
    assert pair.spec.architecture_only
    assert (pair.teacher.n_layers, pair.student.n_layers) == (12, 6)
    assert 109e6 < pair.teacher.n_params < 110e6 and 66e6 < pair.student.n_params < 67.5e6


def test_every_spelling_of_a_folder_shares_one_load(allow_tmp_models, tmp_path, monkeypatch):
    """Issue 28, class 3: eight spellings of one teacher, one load (the dashboard's cache sees canonical names)."""
    from dashboard import resources

    teacher, student = allow_tmp_models
    root = teacher.parent
    (root / "linked-teacher").symlink_to(teacher)
    monkeypatch.chdir(root.parent)
    monkeypatch.setenv("HOME", str(root.parent))
    spellings = [str(teacher), f"{teacher}/", f"{root}//teacher", f"{root}/./teacher", f"{root.name}/teacher",
                 f"./{root.name}/teacher", str(root / "linked-teacher"), f"~/{root.name}/teacher"]
    loads: list[str] = []
    real = resources.load_model
    monkeypatch.setattr(resources, "load_model", lambda spec, *a: loads.append(spec.ref) or real(spec, *a))
    resources.settings.clear()
    resources._loading.clear()
    try:
        models = {id(resources.pair(custom_pair(s, str(student))).teacher) for s in spellings}
    finally:
        (root / "linked-teacher").unlink()
        resources._loading.clear()
        resources.settings.clear()
    assert len(models) == 1 and loads == [str(teacher.resolve()), str(student.resolve())], loads
