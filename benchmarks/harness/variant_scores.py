"""Teacher and student scores in each precision variant on a labelled set, through the dataset-scoring cache
(analysis/scoring.py): a variant is scored once per pair and data set, then read back."""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from benchmarks.analysis.scoring import EAGER_SETUP, DatasetScores, Progress, cached_scores, score_pair
from benchmarks.core.data import LabelledTexts
from benchmarks.core.models import LoadedModel, LoadedPair
from benchmarks.harness.precision import apply_variant


def _renamed(loaded: LoadedModel, variant: str) -> LoadedModel:
    # The fingerprint is the scoring cache's model key: naming the variant keeps its scores apart from fp32's.
    return loaded if variant == "fp32" else replace(loaded, fingerprint=f"{loaded.fingerprint}+{variant}")


def _converted(loaded: LoadedModel, variant: str) -> LoadedModel:
    # A private copy: the shared model serves other sessions and must never be converted in place.
    model = apply_variant(copy.deepcopy(loaded.model), variant)
    return replace(_renamed(loaded, variant), model=model, lock=threading.Lock())


def cached_variant_scores(
    pair: LoadedPair, data: LabelledTexts, variants: Sequence[str], cache_dir: Path
) -> dict[str, DatasetScores]:
    """The variants already scored on `data`; nothing is computed."""
    found = {}
    for v in variants:
        scores = cached_scores(
            LoadedPair(pair.spec, _renamed(pair.teacher, v), _renamed(pair.student, v)), data, cache_dir
        )
        if scores is not None:
            found[v] = scores
    return found


def score_variants(pair: LoadedPair, data: LabelledTexts, variants: Sequence[str], cache_dir: Path,
                   progress: Progress | None = None, fp32: tuple[LoadedPair, str] | None = None
                   ) -> dict[str, DatasetScores]:
    """Scores of both models in every variant, from the cache where present; else converted, scored and stored.
    `fp32`: the pair in the setups that score fp32 fastest with eager's answers, and those setups in words."""
    out = cached_variant_scores(pair, data, variants, cache_dir)
    todo = [v for v in variants if v not in out]
    for i, v in enumerate(todo):
        def report(fraction: float, message: str, i: int = i, v: str = v) -> None:
            if progress is not None:
                progress((i + fraction) / len(todo), f"{v}: {message}")

        if v == "fp32":
            fast, setup = fp32 or (pair, EAGER_SETUP)
            out[v] = score_pair(fast, data, cache_dir, progress=report, setup=setup)
            continue
        converted = LoadedPair(pair.spec, _converted(pair.teacher, v), _converted(pair.student, v))
        out[v] = score_pair(converted, data, cache_dir, progress=report, setup=f"PyTorch eager · {v}")
    return out
