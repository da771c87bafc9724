"""The committed pocket pair: loads offline, gets clear sentences right, holds its accuracy floor on SST-2 dev."""

import pytest

from benchmarks.analysis.metrics import accuracy_with_ci
from benchmarks.core.data import load_sst2
from benchmarks.core.inference import predict_pair, score_texts, tokenized
from benchmarks.core.models import load_pair
from benchmarks.core.pairs import POCKET_PAIR
from tests.conftest import POCKET, SST2, needs_pocket

pytestmark = needs_pocket

CLEAR = {
    "A wonderful, moving film with superb performances.": "POSITIVE",
    "An absolute delight from start to finish.": "POSITIVE",
    "Dull, lifeless and far too long.": "NEGATIVE",
    "The worst movie I have seen in years.": "NEGATIVE",
}


@pytest.fixture(scope="module")
def pocket():
    return load_pair(POCKET_PAIR)


def test_committed_weights_are_safetensors_within_budget():
    sizes = [f.stat().st_size for f in POCKET.glob("*/model.safetensors")]
    assert len(sizes) == 2 and sum(sizes) <= 100 * 2**20
    assert not list(POCKET.glob("*/*.bin"))
    for role in ("teacher", "student"):
        assert "Accuracy (SST-2 dev" in (POCKET / role / "README.md").read_text()


def test_shapes_follow_the_distilbert_recipe(pocket):
    assert (pocket.teacher.n_layers, pocket.student.n_layers) == (6, 3)
    assert pocket.teacher.model.config.hidden_size == pocket.student.model.config.dim == 384
    assert pocket.student.model.config.model_type == "distilbert"


def test_clear_sentences(pocket):
    run = predict_pair(pocket, list(CLEAR))
    assert [p.label for p in run.teacher.predictions] == list(CLEAR.values())
    assert [p.label for p in run.student.predictions] == list(CLEAR.values())


@pytest.mark.slow
def test_accuracy_floor_on_sst2_dev(pocket):
    dev = load_sst2("validation", SST2)
    floors = {"teacher": 0.895, "student": 0.88}
    for role, loaded in (("teacher", pocket.teacher), ("student", pocket.student)):
        scored = score_texts(tokenized(loaded.model, loaded.tokenizer), dev.texts, loaded.labels)
        acc = accuracy_with_ci(scored.correct(dev.labels), len(dev))
        assert acc.value >= floors[role], f"{role}: {acc.value:.4f} < {floors[role]}"
