"""Dataset scoring on the tiny pair: canonical label order, the on-disk cache, progress and the ranking of
disagreements."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from benchmarks.analysis import scoring
from benchmarks.core.data import LabelledTexts
from benchmarks.core.models import LoadedPair, load_pair
from benchmarks.core.pairs import custom_pair
from benchmarks.core.persist import from_raw

DATA = LabelledTexts(
    ("a good movie", "bad", "the awful movie !", "great great great", "a", "movie w1 w2 w3 w4 w5 w6 w7 w8 w9"),
    (1, 0, 0, 1, 1, 0),
    "fixed",
)


@pytest.fixture(scope="module")
def tiny(tiny_pair_dirs) -> LoadedPair:
    teacher, student = tiny_pair_dirs
    with pytest.MonkeyPatch.context() as mp:  # loaded once for the module: the folder policy must admit it
        mp.setenv("KD_MODEL_ROOTS", str(teacher.parent))
        return load_pair(custom_pair(str(teacher), str(student)))


def test_scores_are_the_models_logits_in_canonical_order(tiny, tmp_path):
    scores = scoring.score_pair(tiny, DATA, tmp_path)
    direct = tiny.teacher.model(**tiny.teacher.tokenizer(list(DATA.texts), padding=True, return_tensors="pt")).logits
    canonical = direct.detach()[:, [tiny.teacher.labels.index(name) for name in ("NEGATIVE", "POSITIVE")]]
    assert np.allclose(np.asarray(scores.teacher.logits), canonical.numpy(), atol=1e-5)
    assert scores.teacher.probs.sum(axis=1) == pytest.approx(np.ones(len(DATA)))
    assert scores.gold == DATA.labels and scores.teacher.seconds > 0 and scores.throughput("student").per_second > 0
    assert scores.run.threads == torch.get_num_threads() and scores.run.batch_size == scoring.BATCH_SIZE

    # A model whose index 0 means POSITIVE gets its columns swapped back to (NEGATIVE, POSITIVE).
    flipped = dataclasses.replace(tiny.student, labels=("POSITIVE", "NEGATIVE"), fingerprint="flipped")
    swapped = scoring.score_pair(LoadedPair(tiny.spec, tiny.teacher, flipped), DATA, tmp_path)
    assert np.allclose(np.asarray(swapped.student.logits), np.asarray(scores.student.logits)[:, ::-1])


def test_cache_is_keyed_by_both_fingerprints_and_data_content(tiny, tmp_path):
    key = scoring.cache_key(tiny, DATA)
    relabelled = LabelledTexts(DATA.texts, (0,) * len(DATA), DATA.source)
    renamed = LabelledTexts(DATA.texts, DATA.labels, "another name")
    other_student = LoadedPair(tiny.spec, tiny.teacher, dataclasses.replace(tiny.student, fingerprint="other"))
    assert scoring.cache_key(tiny, renamed) == key  # content, not the file name
    assert scoring.cache_key(tiny, relabelled) != key
    assert scoring.cache_key(other_student, DATA) != key
    assert scoring.cache_key(tiny, DATA, max_length=64) != key


def test_second_call_reads_the_cache_and_computes_nothing(tiny, tmp_path, monkeypatch):
    assert scoring.cached_scores(tiny, DATA, tmp_path) is None
    first = scoring.score_pair(tiny, DATA, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"{scoring.cache_key(tiny, DATA)}.json"]  # no temp file left

    def refuse(*args, **kwargs):
        raise AssertionError("scored twice")

    monkeypatch.setattr(scoring, "score_texts", refuse)
    calls = []
    again = scoring.score_pair(tiny, DATA, tmp_path, progress=lambda f, m: calls.append(f))
    assert again == first and calls == []


def test_unreadable_cache_file_is_recomputed(tiny, tmp_path):
    path = tmp_path / f"{scoring.cache_key(tiny, DATA)}.json"
    path.write_text("{not json")
    assert scoring.cached_scores(tiny, DATA, tmp_path) is None
    scores = scoring.score_pair(tiny, DATA, tmp_path)
    assert from_raw(scoring.DatasetScores, json.loads(path.read_text())) == scores


def test_progress_rises_to_one_teacher_then_student(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(scoring, "BATCH_SIZE", 2)  # several updates per model on a six-sentence set
    seen: list[tuple[float, str]] = []
    scoring.score_pair(tiny, DATA, tmp_path, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0) and len(seen) == 6
    assert seen[0][1].startswith("Teacher: 2 of 6") and seen[-1][1] == "Student: 6 of 6 sentences"


def test_batched_scoring_equals_one_pass(tiny, tmp_path, monkeypatch):
    whole = scoring.score_pair(tiny, DATA, tmp_path / "a")
    monkeypatch.setattr(scoring, "BATCH_SIZE", 2)
    chunked = scoring.score_pair(tiny, DATA, tmp_path / "b")
    assert np.allclose(np.asarray(whole.student.logits), np.asarray(chunked.student.logits), atol=1e-5)


def test_sentence_logits_match_the_dataset_scores(tiny, tmp_path):
    scores = scoring.score_pair(tiny, DATA, tmp_path)
    teacher, student = scoring.sentence_logits(tiny, DATA.texts[2])
    assert teacher.tolist() == pytest.approx(list(scores.teacher.logits[2]), abs=1e-5)
    assert student.tolist() == pytest.approx(list(scores.student.logits[2]), abs=1e-5)


def _scores(teacher_probs, student_probs, gold) -> scoring.DatasetScores:
    def model(name, probs):
        logits = tuple(tuple(math.log(p) for p in row) for row in probs)
        return scoring.ModelScores(name, name, logits, 1.0)

    run = scoring.ScoringRun("cpu", "CPU: test", 1, "0", 64, 128, "now")
    return scoring.DatasetScores("hash", tuple(gold), model("t", teacher_probs), model("s", student_probs), run)


def test_disagreements_rank_the_most_confidently_wrong_first():
    scores = _scores(
        teacher_probs=[(0.1, 0.9), (0.3, 0.7), (0.2, 0.8), (0.6, 0.4)],
        student_probs=[(0.2, 0.8), (0.9, 0.1), (0.45, 0.55), (0.3, 0.7)],
        gold=[1, 1, 0, 1],
    )
    rows = scoring.disagreements(scores, ["agree", "student wrong 0.9", "no: agree", "teacher wrong 0.6"])
    assert [(r.index, r.wrong) for r in rows] == [(1, "student"), (3, "teacher")]
    assert rows[0].wrong_confidence == pytest.approx(0.9) and rows[0].teacher_confidence == pytest.approx(0.7)
    assert rows[1].wrong_confidence == pytest.approx(0.6) and rows[1].student_label == 1
    assert rows[0].row() == {"sentence": "student wrong 0.9", "wrong": "student", "teacher": "POSITIVE",
                             "teacher conf.": pytest.approx(0.7), "student": "NEGATIVE",
                             "student conf.": pytest.approx(0.9), "gold": "POSITIVE", "row": 2}


def test_dataset_scores_reuse_the_metrics():
    scores = _scores([(0.1, 0.9), (0.8, 0.2)], [(0.4, 0.6), (0.3, 0.7)], gold=[1, 0])
    assert scores.accuracy("teacher").value == 1.0 and scores.accuracy("student").value == 0.5
    assert scores.agreement().teacher_only == 1
    teacher_cal, _ = scores.calibration()
    assert teacher_cal.ece == pytest.approx(((1 - 0.9) + (1 - 0.8)) / 2)
    with pytest.raises(ValueError):
        scoring.DatasetScores("h", (1,), scores.teacher, scores.student, scores.run)
    rows = scoring.calibration_rows(*scores.calibration())
    assert len(rows) == 10 and rows[9]["bin"] == "0.9–1.0"
    assert [r["teacher n"] for r in rows] == list(teacher_cal.counts) and sum(r["student n"] for r in rows) == 2


def test_empty_data_set_is_refused(tiny, tmp_path):
    with pytest.raises(ValueError):
        scoring.score_pair(tiny, LabelledTexts((), (), "empty"), tmp_path)


def test_read_only_cache_folder_still_returns_scores(tiny, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    scores = scoring.score_pair(tiny, DATA, blocker / "scores")  # the folder can never be created
    assert len(scores.gold) == len(DATA) and scoring.cached_scores(tiny, DATA, blocker / "scores") is None
