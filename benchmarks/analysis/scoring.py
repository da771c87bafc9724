"""Teacher and student scores over a labelled set, computed once per pair and data set and cached on disk,
plus the views built on them (calibration bins, ranked disagreements). One sentence's soft targets: soft_targets.py."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from benchmarks.analysis.metrics import Agreement, Calibration, Proportion, accuracy_with_ci, agreement, calibration
from benchmarks.core.data import LabelledTexts
from benchmarks.core.device import detect_hardware, load_average
from benchmarks.core.figures import Conditions, Throughput
from benchmarks.core.inference import score_texts, tokenized
from benchmarks.core.models import LoadedModel, LoadedPair
from benchmarks.core.persist import from_raw, write_atomically
from benchmarks.core.settings import DATA_DIR
from benchmarks.core.vocabulary import CANONICAL_LABELS, Role

log = logging.getLogger(__name__)
FORMAT_VERSION = 1  # bump when the cached JSON layout changes: old files then miss instead of misparsing
BATCH_SIZE = 64
EAGER_SETUP = "PyTorch eager · fp32"
MAX_LENGTH = 128  # SST-2 dev's longest sentence is ~66 tokens; longer uploaded texts are truncated
SHIPPED_DIR = DATA_DIR / "precomputed" / "scores"  # read-only: the bundled pair's SST-2 dev scores

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is running)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class ModelScores:
    name: str
    fingerprint: str
    logits: tuple[tuple[float, ...], ...]  # one row per sentence, canonical label order
    seconds: float  # wall time of the scoring pass: tokenization + forward passes, all batches

    @property
    def probs(self) -> np.ndarray:
        return _softmax(np.asarray(self.logits, dtype=float))

    @property
    def predictions(self) -> np.ndarray:
        return np.asarray(self.logits, dtype=float).argmax(axis=1)


@dataclass(frozen=True)
class ScoringRun:
    """Where and how the scores (and so the throughput figures) were measured."""

    device: str
    hardware: str
    threads: int
    torch_version: str
    batch_size: int
    max_length: int
    computed_at: str  # ISO 8601, UTC
    load_average: float | None = None  # the host's 1-minute load average after the pass; None in older files
    setup: str = EAGER_SETUP  # where each model ran (files from before this field ran eagerly)

    def describe(self) -> str:
        load = f", host load average {self.load_average:.1f}" if self.load_average is not None else ""
        return (
            f"{self.device} ({self.hardware}; {self.threads} torch threads{load}), torch {self.torch_version}, "
            f"{self.setup}, "
            f"batch {self.batch_size}, length-sorted, truncated at {self.max_length} tokens; measured "
            f"{self.computed_at}"
        )

    @property
    def conditions(self) -> Conditions:
        return Conditions(self.batch_size, self.threads, tokenizer=True, load_average=self.load_average,
                          setup=self.setup)


@dataclass(frozen=True)
class DatasetScores:
    data_hash: str  # LabelledTexts.fingerprint of the scored set
    gold: tuple[int, ...]
    teacher: ModelScores
    student: ModelScores
    run: ScoringRun

    def __post_init__(self) -> None:
        if not len(self.gold) == len(self.teacher.logits) == len(self.student.logits):
            raise ValueError("gold labels and scores differ in length")

    def accuracy(self, role: Role) -> Proportion:
        model = self.teacher if role == "teacher" else self.student
        return accuracy_with_ci(int((model.predictions == np.asarray(self.gold)).sum()), len(self.gold))

    def agreement(self) -> Agreement:
        return agreement(self.teacher.predictions, self.student.predictions, self.gold)

    def throughput(self, role: Role) -> Throughput:
        """The scoring pass (one, not repeated) as a throughput: tokenizer included, length-sorted batches."""
        model = self.teacher if role == "teacher" else self.student
        return Throughput(len(model.logits), model.seconds, self.run.conditions)

    def calibration(self, n_bins: int = 10) -> tuple[Calibration, Calibration]:
        return calibration(self.teacher.probs, self.gold, n_bins), calibration(self.student.probs, self.gold, n_bins)


def _key(pair: LoadedPair, data_id: str, max_length: int) -> str:
    parts = [pair.teacher.fingerprint, pair.student.fingerprint, data_id, str(max_length), str(FORMAT_VERSION)]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:24]


def cache_key(pair: LoadedPair, data: LabelledTexts, max_length: int = MAX_LENGTH) -> str:
    return _key(pair, data.fingerprint, max_length)


def _legacy_key(pair: LoadedPair, data: LabelledTexts, max_length: int) -> str:
    # Files stored before the data set fingerprint had one home were keyed by this other encoding.
    legacy_id = hashlib.sha256(json.dumps([data.texts, data.labels], ensure_ascii=False).encode("utf-8")).hexdigest()[
        :16
    ]
    return _key(pair, legacy_id, max_length)


def _cache_file(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / f"{key}.json"


def _read(path: Path) -> DatasetScores | None:
    try:
        return from_raw(DatasetScores, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def cached_scores(
    pair: LoadedPair, data: LabelledTexts, cache_dir: Path, max_length: int = MAX_LENGTH
) -> DatasetScores | None:
    """The stored scores for this pair and data set, or None (also for an unreadable or stale file). Then the shipped
    precomputed ones (data/precomputed/scores, built by `python -m benchmarks score`): the key is made of the weights'
    and the data's fingerprints, so a shipped file serves only what it was computed from. A file stored under the old
    key is read and re-stored under the current one, so no earlier scoring is lost."""
    path = _cache_file(cache_dir, cache_key(pair, data, max_length))
    found = _read(path) or _read(_cache_file(SHIPPED_DIR, cache_key(pair, data, max_length)))
    if found is None:
        found = _read(_cache_file(cache_dir, _legacy_key(pair, data, max_length)))
        if found is not None:
            _store(path, found)
    return found


def _store(path: Path, scores: DatasetScores, keep: int | None = None) -> None:
    try:
        write_atomically(path, json.dumps(asdict(scores)))
        if keep is not None:
            prune(path.parent, keep)
    except OSError as exc:  # a read-only state folder: the scores still serve this caller, they are just not kept
        log.warning("dataset scores not stored in %s: %s", path.parent, exc)


def _score_model(
    loaded: LoadedModel, texts: Sequence[str], max_length: int, report: Callable[[int], None]
) -> ModelScores:
    classify = tokenized(loaded.model, loaded.tokenizer, min(max_length, loaded.max_length))
    scored = score_texts(classify, texts, loaded.labels, BATCH_SIZE, lock=loaded.lock, progress=report)
    rows = tuple(tuple(float(x) for x in row) for row in scored.logits.tolist())
    return ModelScores(loaded.spec.display_name, loaded.fingerprint, rows, scored.seconds)


def score_pair(
    pair: LoadedPair,
    data: LabelledTexts,
    cache_dir: Path,
    progress: Progress | None = None,
    max_length: int = MAX_LENGTH,
    keep: int | None = None,
    setup: str = EAGER_SETUP,
) -> DatasetScores:
    """Scores of both models on `data`, from the cache when present; else computed (teacher, then student,
    in the same process and settings) and stored, so nothing is computed twice. With `keep`, at most that
    many score files stay in `cache_dir` (KD_MAX_SCORE_FILES): every distinct upload adds one. `setup` says where the
    models in `pair` run; the cache is keyed by weights and data alone, since the caller passes only setups that
    give eager fp32's answers (harness/fastest.py)."""
    if len(data) == 0:
        raise ValueError("the data set is empty")
    found = cached_scores(pair, data, cache_dir, max_length)
    if found is not None:
        return found
    n = len(data)

    def reporter(offset: int, role: str) -> Callable[[int], None]:
        def report(done: int) -> None:
            if progress is not None:
                progress(min(1.0, (offset + done) / (2 * n)), f"{role}: {done:,} of {n:,} sentences")

        return report

    teacher = _score_model(pair.teacher, data.texts, max_length, reporter(0, "Teacher"))
    student = _score_model(pair.student, data.texts, max_length, reporter(n, "Student"))
    device = pair.teacher.device
    run = ScoringRun(
        str(device),
        detect_hardware().label(str(device)),
        torch.get_num_threads(),
        torch.__version__,
        BATCH_SIZE,
        max_length,
        datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        load_average(),
        setup,
    )
    scores = DatasetScores(data.fingerprint, tuple(data.labels), teacher, student, run)
    _store(_cache_file(cache_dir, cache_key(pair, data, max_length)), scores, keep)
    return scores


def prune(cache_dir: Path, keep: int) -> int:
    """Delete all but the `keep` newest score files, oldest first; return how many went."""
    files = sorted(Path(cache_dir).glob("*.json"), key=lambda f: f.stat().st_mtime)
    doomed = files[: max(0, len(files) - keep)]
    for f in doomed:
        f.unlink(missing_ok=True)
    return len(doomed)


def sentence_logits(pair: LoadedPair, text: str, max_length: int = MAX_LENGTH) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw logits (canonical label order, shape [2]) of teacher and student for one sentence."""
    teacher, student = (
        score_texts(tokenized(m.model, m.tokenizer, min(max_length, m.max_length)), [text], m.labels, lock=m.lock)
        for m in (pair.teacher, pair.student)
    )
    return teacher.logits[0], student.logits[0]


def calibration_rows(teacher: Calibration, student: Calibration) -> list[dict]:
    """Both models' calibration bins side by side, one row per bin (confidence and accuracy NaN where empty)."""
    edges = teacher.bin_edges
    return [
        {
            "bin": f"{edges[i]:.1f}–{edges[i + 1]:.1f}",
            "teacher n": teacher.counts[i],
            "teacher confidence": teacher.confidence[i],
            "teacher accuracy": teacher.accuracy[i],
            "student n": student.counts[i],
            "student confidence": student.confidence[i],
            "student accuracy": student.accuracy[i],
        }
        for i in range(len(edges) - 1)
    ]


@dataclass(frozen=True)
class Disagreement:
    index: int  # position in the data set
    text: str
    gold: int
    teacher_label: int
    teacher_confidence: float  # probability of the teacher's own label
    student_label: int
    student_confidence: float
    wrong: Role  # with two classes, exactly one of the pair is wrong

    @property
    def wrong_confidence(self) -> float:
        return self.teacher_confidence if self.wrong == "teacher" else self.student_confidence

    def row(self) -> dict:
        """The disagreement as a table row: labels by name, `row` counting from 1 as a spreadsheet does."""
        return {
            "sentence": self.text, "wrong": self.wrong,
            "teacher": CANONICAL_LABELS[self.teacher_label], "teacher conf.": self.teacher_confidence,
            "student": CANONICAL_LABELS[self.student_label], "student conf.": self.student_confidence,
            "gold": CANONICAL_LABELS[self.gold], "row": self.index + 1,
        }


def disagreements(scores: DatasetScores, texts: Sequence[str]) -> tuple[Disagreement, ...]:
    """Sentences where teacher and student disagree, the most confidently wrong first."""
    tp, sp = scores.teacher.probs, scores.student.probs
    tl, sl = tp.argmax(axis=1), sp.argmax(axis=1)
    rows = [
        Disagreement(
            int(i), texts[i], scores.gold[i], int(tl[i]), float(tp[i, tl[i]]), int(sl[i]), float(sp[i, sl[i]]),
            "teacher" if tl[i] != scores.gold[i] else "student",
        )
        for i in np.flatnonzero(tl != sl)
    ]
    return tuple(sorted(rows, key=lambda d: (-d.wrong_confidence, d.index)))
