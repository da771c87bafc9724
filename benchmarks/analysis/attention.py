"""Attention maps from eager-attention models: extraction, per-head summaries, and how closely each
student head mirrors the teacher heads of the layer it was initialised from."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from benchmarks.core.models import LoadedModel, LoadedPair


@dataclass(frozen=True)
class AttentionMaps:
    """Every head's attention for one sentence through one model."""

    model: str
    tokens: tuple[str, ...]
    special: tuple[bool, ...]  # True at [CLS]/[SEP] positions
    weights: np.ndarray  # (layers, heads, query, key) float32; each query row sums to 1
    full_length: int  # tokens the sentence had before the cap, special tokens included

    def __post_init__(self) -> None:
        n = len(self.tokens)
        if self.weights.ndim != 4 or self.weights.shape[2:] != (n, n) or len(self.special) != n:
            raise ValueError(f"attention of shape {self.weights.shape} does not match {n} tokens")

    @property
    def n_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[1]

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.tokens)

    def lines(self, layers: Sequence[int]) -> int:
        """How many token-to-token lines bertviz's model view draws for these layers: its cost in the browser."""
        return len(layers) * self.n_heads * len(self.tokens) ** 2


@dataclass(frozen=True)
class PairAttention:
    teacher: AttentionMaps
    student: AttentionMaps

    @property
    def same_tokens(self) -> bool:
        """False when the two tokenizers split the sentence differently (position-wise comparison impossible)."""
        return self.teacher.tokens == self.student.tokens


def extract(loaded: LoadedModel, text: str, max_tokens: int) -> AttentionMaps:
    """Attention of every layer and head for `text`, truncated to `max_tokens` (special tokens included)."""
    if loaded.attn_implementation != "eager":
        # SDPA kernels never materialise the weights; a separate eager instance is required.
        raise ValueError(f"{loaded.spec.display_name} uses {loaded.attn_implementation} attention; load it with "
                         f"attn_implementation='eager'")
    tokenizer = loaded.tokenizer
    limit = min(max_tokens, loaded.max_length)
    # One lock per model: fast tokenizers are not safe to call from several threads at once.
    with loaded.lock, torch.inference_mode():
        full_length = len(tokenizer(text)["input_ids"])
        batch = tokenizer(text, truncation=True, max_length=limit, return_tensors="pt")
        ids = batch["input_ids"].to(loaded.device)
        out = loaded.model(
            input_ids=ids, attention_mask=batch["attention_mask"].to(loaded.device), output_attentions=True
        )
    weights = torch.cat(out.attentions).float().cpu().numpy()  # (layers, heads, n, n): batch of one
    id_list = batch["input_ids"][0].tolist()
    markers = {tokenizer.cls_token_id, tokenizer.sep_token_id} - {None}
    return AttentionMaps(
        loaded.spec.display_name,
        tuple(tokenizer.convert_ids_to_tokens(id_list)),
        tuple(i in markers for i in id_list),
        weights,
        full_length,
    )


def extract_pair(pair: LoadedPair, text: str, max_tokens: int) -> PairAttention:
    return PairAttention(extract(pair.teacher, text, max_tokens), extract(pair.student, text, max_tokens))


@dataclass(frozen=True)
class HeadSummary:
    """One number per (layer, head), each averaged over the query tokens of the sentence."""

    entropy: np.ndarray  # bits; log2(n tokens) would mean uniform attention
    distance: np.ndarray  # mean |query - key| in tokens, weighted by attention
    special_share: np.ndarray  # fraction of attention that lands on [CLS]/[SEP]


def summarise(maps: AttentionMaps) -> HeadSummary:
    w = torch.from_numpy(maps.weights).double()
    n = w.shape[-1]
    entropy = -torch.special.xlogy(w, w).sum(-1) / math.log(2)
    positions = torch.arange(n, dtype=torch.float64)
    gaps = (positions[:, None] - positions[None, :]).abs()
    distance = (w * gaps).sum(-1)
    special = torch.tensor(maps.special, dtype=torch.float64)
    share = (w * special).sum(-1)
    return HeadSummary(*(x.mean(-1).numpy() for x in (entropy, distance, share)))


def aligned_layer(student_layer: int, n_student: int, n_teacher: int) -> int:
    """The teacher layer a student layer is compared with: round(k * L_t / L_s), i.e. 2k for DistilBERT,
    whose layer k was initialised from teacher layer 2k. Halves round up."""
    if not 0 <= student_layer < n_student:
        raise ValueError(f"student layer {student_layer} is outside 0..{n_student - 1}")
    return min(math.floor(student_layer * n_teacher / n_student + 0.5), n_teacher - 1)


def aligned_layers(n_student: int, n_teacher: int) -> list[int]:
    """The teacher layers the student's layers are compared with, ascending and without repeats."""
    return sorted({aligned_layer(k, n_student, n_teacher) for k in range(n_student)})


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence in bits (0 = identical, 1 = disjoint) between distributions on the
    last axis; shapes broadcast."""
    m = (p + q) / 2
    kl_pm = (torch.special.xlogy(p, p) - torch.special.xlogy(p, m)).sum(-1)
    kl_qm = (torch.special.xlogy(q, q) - torch.special.xlogy(q, m)).sum(-1)
    return ((kl_pm + kl_qm) / (2 * math.log(2))).clamp_min(0)


def head_divergence(student: AttentionMaps, teacher: AttentionMaps) -> np.ndarray:
    """(student layers, student heads, teacher heads): JS divergence between each student head and every
    head of its aligned teacher layer, averaged over query tokens."""
    if student.tokens != teacher.tokens:
        raise ValueError("teacher and student tokenized the sentence differently; attention maps cannot be compared "
                         "position by position")
    s = torch.from_numpy(student.weights).double()
    t = torch.from_numpy(teacher.weights).double()
    rows = []
    for k in range(student.n_layers):
        tk = t[aligned_layer(k, student.n_layers, teacher.n_layers)]
        rows.append(js_divergence(s[k][:, None], tk[None, :]).mean(-1))  # (Hs, Ht, n) -> (Hs, Ht)
    return torch.stack(rows).numpy()


@dataclass(frozen=True)
class HeadMatch:
    student_layer: int
    student_head: int
    teacher_layer: int
    best_teacher_head: int
    best_js: float
    same_index_js: float  # to the teacher head with the student head's own index (NaN if none): the copied one

    @property
    def kept_own_index(self) -> bool:
        """The closest teacher head is the one this head was copied from."""
        return self.best_teacher_head == self.student_head

    def row(self) -> dict:
        """The match as a table row, divergences rounded to 4 decimals (None where there is no same-index head)."""
        return {
            "student head": f"L{self.student_layer}.H{self.student_head}",
            "closest teacher head": f"L{self.teacher_layer}.H{self.best_teacher_head}",
            "JS to closest (bits)": round(self.best_js, 4),
            "JS to same-index head (bits)": None if math.isnan(self.same_index_js) else round(self.same_index_js, 4),
        }


@dataclass(frozen=True)
class AlignedComparison:
    layer_map: tuple[int, ...]  # teacher layer compared with each student layer
    divergence: np.ndarray  # (student layers, student heads, teacher heads): mean JS divergence in bits
    sentences: int  # sentences averaged
    skipped: int  # sentences left out because the two tokenizers split them differently

    def best_matches(self) -> tuple[HeadMatch, ...]:
        """For each student head, the most similar head (lowest divergence) of its aligned teacher layer."""
        n_teacher_heads = self.divergence.shape[2]
        matches = []
        for k, teacher_layer in enumerate(self.layer_map):
            for h, row in enumerate(self.divergence[k]):
                best = int(np.argmin(row))
                same = float(row[h]) if h < n_teacher_heads else math.nan
                matches.append(HeadMatch(k, h, teacher_layer, best, float(row[best]), same))
        return tuple(matches)


def compare_aligned(pair: LoadedPair, sentences: Sequence[str], max_tokens: int) -> AlignedComparison:
    """Per-head JS divergence between student layer k and teacher layer aligned_layer(k), averaged over
    sentences (each sentence weighs the same)."""
    n_student, n_teacher = pair.student.n_layers, pair.teacher.n_layers
    layer_map = tuple(aligned_layer(k, n_student, n_teacher) for k in range(n_student))
    per_sentence = []
    skipped = 0
    for text in sentences:
        maps = extract_pair(pair, text, max_tokens)
        if not maps.same_tokens:
            skipped += 1
            continue
        per_sentence.append(head_divergence(maps.student, maps.teacher))
    if not per_sentence:
        raise ValueError("no sentence was tokenized identically by teacher and student, so their attention cannot be "
                         "aligned")
    return AlignedComparison(layer_map, np.mean(per_sentence, axis=0), len(per_sentence), skipped)
