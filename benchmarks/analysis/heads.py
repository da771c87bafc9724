"""Which heads matter: accuracy on a labelled sample with each attention head masked, one at a time.

transformers 5 removed `head_mask`, so a head is masked with a forward pre-hook on its layer's attention
output projection that zeroes the head's slice of the concatenated context: the same as multiplying its
attention by 0. Hooks change the model for every caller, so run this on a model of your own (the CLI loads
fresh ones in a separate process), never on one shared with a server."""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from pydantic import PlainValidator

from benchmarks.core.data import LabelledTexts
from benchmarks.core.device import detect_hardware
from benchmarks.core.inference import score_texts, tokenized
from benchmarks.core.models import LoadedModel, LoadedPair
from benchmarks.core.persist import from_raw, write_atomically
from benchmarks.core.settings import DATA_DIR

FORMAT_VERSION = 2
SHIPPED_ROOT = DATA_DIR / "precomputed"  # read-only: results shipped for the bundled pair
# BERT/RoBERTa-style `...layer.3.attention.output.dense`, DistilBERT-style `...layer.3.attention.out_lin`.
_OUTPUT_PROJECTION = re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.(?:output\.dense|out_lin)$")

Progress = Callable[[int, int, str], None]  # (masks done, masks in all, what runs now)
# A (layers, heads) array of floats; read back from the JSON lists it is stored as.
Grid = Annotated[np.ndarray, PlainValidator(lambda raw: np.asarray(raw, dtype=float))]


def head_outputs(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Per layer, the linear map whose input is the heads' concatenated outputs."""
    found = {
        int(m.group(1)): module for name, module in model.named_modules() if (m := _OUTPUT_PROJECTION.search(name))
    }
    if not found or sorted(found) != list(range(len(found))):
        raise ValueError(
            f"{type(model).__name__} is not a BERT- or DistilBERT-style model: its attention heads cannot be masked"
        )
    return [found[i] for i in range(len(found))]


@contextlib.contextmanager
def masked_heads(model: torch.nn.Module, heads: Iterable[tuple[int, int]], n_heads: int) -> Iterator[None]:
    """Within the block, the (layer, head) pairs contribute nothing to their layer's attention output."""
    outputs = head_outputs(model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        if not (0 <= layer < len(outputs) and 0 <= head < n_heads):
            raise ValueError(f"head {layer}.{head} does not exist ({len(outputs)} layers x {n_heads} heads)")
        by_layer.setdefault(layer, []).append(head)

    def zeroing(chosen: list[int]):
        def hook(module: torch.nn.Module, args: tuple) -> tuple:
            context = args[0].clone()
            size = context.shape[-1] // n_heads
            for h in chosen:
                context[..., h * size : (h + 1) * size] = 0
            return (context, *args[1:])

        return hook

    handles = [outputs[layer].register_forward_pre_hook(zeroing(chosen)) for layer, chosen in by_layer.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class HeadImportance:
    model: str
    base_accuracy: float
    accuracy: Grid  # (layers, heads): accuracy with that one head masked
    base_gold_probability: float  # mean probability of the gold label, every head on
    gold_probability: Grid  # (layers, heads): the same with that one head masked
    seconds: float

    @property
    def drops(self) -> np.ndarray:
        """Accuracy lost (fraction; negative = masking the head helped)."""
        return self.base_accuracy - self.accuracy

    @property
    def probability_drops(self) -> np.ndarray:
        """Mean gold-label probability lost: continuous, so it orders heads whose accuracy drops tie."""
        return self.base_gold_probability - self.gold_probability

    def ranked(self, n: int = 3, most: bool = True) -> list[tuple[int, int, float]]:
        """The n heads whose masking costs the most (or least) accuracy, ties broken by the probability drop:
        (layer, head, accuracy drop)."""
        sign = -1 if most else 1
        drops, soft = self.drops, self.probability_drops
        flat = sorted(np.ndindex(drops.shape), key=lambda lh: (sign * drops[lh], sign * soft[lh], lh))
        return [(int(layer), int(head), float(drops[layer, head])) for layer, head in flat[:n]]


def _scores(loaded: LoadedModel, data: LabelledTexts) -> tuple[float, float]:
    """Accuracy and mean probability of the gold label."""
    scored = score_texts(tokenized(loaded.model, loaded.tokenizer, min(128, loaded.max_length)), data.texts,
                         loaded.labels)
    gold = torch.tensor(data.labels)
    probs = torch.softmax(scored.logits, -1)
    return scored.correct(data.labels) / len(data), float(probs[torch.arange(len(gold)), gold].double().mean())


def head_importance(
    loaded: LoadedModel,
    data: LabelledTexts,
    progress: Progress | None = None,
    offset: int = 0,
    total: int | None = None,
) -> HeadImportance:
    """Accuracy on `data` with no head masked, then with each head masked alone (layers x heads + 1 passes).
    `offset`/`total` place this model's passes within a longer run for `progress`."""
    if len(data) == 0:
        raise ValueError("head importance needs at least one labelled sentence")
    layers, heads = loaded.n_layers, loaded.n_heads
    total = total or layers * heads
    started = time.perf_counter()
    base, base_gold = _scores(loaded, data)
    accuracy, gold = np.empty((layers, heads)), np.empty((layers, heads))
    for layer in range(layers):
        for head in range(heads):
            if progress:
                progress(
                    offset + layer * heads + head, total, f"{loaded.spec.display_name}: layer {layer}, head {head}"
                )
            with masked_heads(loaded.model, [(layer, head)], heads):
                accuracy[layer, head], gold[layer, head] = _scores(loaded, data)
    return HeadImportance(loaded.spec.display_name, base, accuracy, base_gold, gold, time.perf_counter() - started)


def pair_head_importance(pair: LoadedPair, data: LabelledTexts, progress: Progress | None = None) -> PairHeadImportance:
    """Head importance of both models of `pair` on `data`, as one run (progress counts the heads of both)."""
    if pair.spec.architecture_only:
        raise ValueError("the architecture pair has random weights: there is no accuracy to lose.")
    total = sum(m.n_layers * m.n_heads for m in (pair.teacher, pair.student))
    teacher = head_importance(pair.teacher, data, progress, 0, total)
    student = head_importance(pair.student, data, progress, pair.teacher.n_layers * pair.teacher.n_heads, total)
    device = str(pair.teacher.device)
    machine = f"{detect_hardware().label(device)}, {torch.get_num_threads()} threads"
    measured_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return PairHeadImportance(
        teacher, student, len(data), f"SST-2 dev, first {len(data)} sentences", machine, measured_at
    )


def estimate_seconds(loaded: LoadedModel, texts: Sequence[str], probe: int = 32) -> float:
    """Seconds a head-importance run of this model over `texts` should take here, from timing one pass over
    the first `probe` sentences now (outside load changes it either way)."""
    sample = list(texts[:probe])
    classify = tokenized(loaded.model, loaded.tokenizer, min(128, loaded.max_length))
    seconds = score_texts(classify, sample, loaded.labels, lock=loaded.lock).seconds
    return seconds * len(texts) / max(len(sample), 1) * (loaded.n_layers * loaded.n_heads + 1)


@dataclass(frozen=True)
class PairHeadImportance:
    teacher: HeadImportance
    student: HeadImportance
    sentences: int
    data_source: str
    machine: str  # hardware, device and threads it ran on
    measured_at: str

    def to_json(self) -> str:
        raw = asdict(self)
        for role in ("teacher", "student"):
            raw[role]["accuracy"] = getattr(self, role).accuracy.tolist()
            raw[role]["gold_probability"] = getattr(self, role).gold_probability.tolist()
        return json.dumps({"format": FORMAT_VERSION, **raw})

    @classmethod
    def from_json(cls, text: str) -> "PairHeadImportance":
        """ValueError (one sentence) when `text` is not a result of this format."""
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_VERSION:
            raise ValueError("head-importance file of another format version")
        return from_raw(cls, raw)



def cache_file(root: Path, teacher_fingerprint: str, student_fingerprint: str, data: LabelledTexts) -> Path:
    """One file per pair (by weights, not by name) and sentence set (by content), under `root`/head-importance: a
    file is only ever read for exactly what it was computed from; anything else misses and is computed anew."""
    count, digest = data.fingerprint.split(":")
    return Path(root) / "head-importance" / f"{teacher_fingerprint}-{student_fingerprint}-{count}-{digest}.json"


def stored(state_dir: Path, teacher_fingerprint: str, student_fingerprint: str,
           data: LabelledTexts) -> PairHeadImportance | None:
    """This server's result, else the shipped one (data/precomputed, built by `python -m benchmarks heads --ship`)."""
    for root in (state_dir, SHIPPED_ROOT):
        found = load_cached(cache_file(root, teacher_fingerprint, student_fingerprint, data))
        if found is not None:
            return found
    return None


def load_cached(path: Path) -> PairHeadImportance | None:
    """The stored result, or None when absent, unreadable or of another format."""
    try:
        return PairHeadImportance.from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save(path: Path, result: PairHeadImportance) -> None:
    write_atomically(Path(path), result.to_json())
