"""Which teacher layer did each student layer become: linear CKA (Kornblith et al. 2019) between the
hidden states of every student layer and every teacher layer, over the same sentences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch

from benchmarks.analysis.attention import aligned_layer
from benchmarks.core.models import LoadedModel, LoadedPair

Unit = Literal["token", "sentence"]
MAX_LENGTH = 128  # SST-2 sentences are < 70 tokens; longer user text is cut here


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two representations of the same n examples, x (n, d1) and y (n, d2):
    ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with column-centred Xc, Yc. 1 = same up to rotation and scale."""
    return float(cka_matrix([x], [y])[0, 0])


def cka_matrix(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> np.ndarray:
    """Linear CKA of every x in `xs` against every y in `ys` (all (n, d) over the same n examples); each
    representation is centred and its self-similarity computed once."""
    shapes = {a.shape[0] for a in (*xs, *ys)}
    if any(a.ndim != 2 for a in (*xs, *ys)) or len(shapes) != 1:
        raise ValueError(f"CKA needs (n, d) arrays over the same n examples; got {[a.shape for a in (*xs, *ys)]}")
    if shapes.pop() < 2:
        raise ValueError("CKA needs at least two examples")
    # The d x d form costs O(n d^2): thousands of tokens stay cheap, unlike the n x n Gram form.
    cx = [a.astype(np.float64) - a.mean(axis=0, dtype=np.float64) for a in xs]
    cy = [a.astype(np.float64) - a.mean(axis=0, dtype=np.float64) for a in ys]
    nx, ny = ([np.linalg.norm(c.T @ c) for c in group] for group in (cx, cy))
    out = np.zeros((len(xs), len(ys)))
    for i, a in enumerate(cx):
        for j, b in enumerate(cy):
            if nx[i] > 0 and ny[j] > 0:  # a constant representation shares nothing with anything
                out[i, j] = np.linalg.norm(b.T @ a) ** 2 / (nx[i] * ny[j])
    return out


@dataclass(frozen=True)
class LayerStates:
    """Hidden states of one model for several sentences: index 0 = embeddings, k = output of layer k."""

    ids: tuple[tuple[int, ...], ...]  # the token ids of each sentence, special tokens included
    states: tuple[np.ndarray, ...]  # per sentence, (layers + 1, tokens, hidden) float32


def hidden_states(
    loaded: LoadedModel, texts: Sequence[str], max_length: int = MAX_LENGTH, batch_size: int = 32
) -> LayerStates:
    limit = min(max_length, loaded.max_length)
    ids, states = [], []
    with loaded.lock, torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = loaded.tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=limit,
                return_tensors="pt",
            )
            out = loaded.model(
                input_ids=batch["input_ids"].to(loaded.device),
                attention_mask=batch["attention_mask"].to(loaded.device),
                output_hidden_states=True,
            )
            stacked = torch.stack(out.hidden_states, dim=1).float().cpu().numpy()  # (batch, layers + 1, tokens, hidden)
            for row, mask in enumerate(batch["attention_mask"]):
                n = int(mask.sum())  # padding is on the right: the first n positions are real tokens
                ids.append(tuple(batch["input_ids"][row, :n].tolist()))
                states.append(stacked[row, :, :n])
    return LayerStates(tuple(ids), tuple(states))


@dataclass(frozen=True)
class LayerSimilarity:
    cka: np.ndarray  # (student layers + 1, teacher layers + 1); row/column 0 = embeddings
    init_map: tuple[int, ...]  # per student row, the teacher column it was initialised from (DistilBERT recipe)
    unit: Unit  # rows compared: tokens (both tokenizers agree) or mean-pooled sentences
    rows: int
    sentences: int

    def best_teacher(self) -> tuple[int, ...]:
        """For each student row, the teacher column with the highest CKA."""
        return tuple(int(i) for i in self.cka.argmax(axis=1))


def init_map(n_student: int, n_teacher: int) -> tuple[int, ...]:
    """Hidden-state index pairs of the initialisation: embeddings to embeddings, and the output of student
    layer k to the output of teacher layer aligned_layer(k) (2k for DistilBERT; 0, 2, 4 for the pocket pair)."""
    return (0, *(aligned_layer(k, n_student, n_teacher) + 1 for k in range(n_student)))


def layer_similarity(pair: LoadedPair, texts: Sequence[str], max_length: int = MAX_LENGTH) -> LayerSimilarity:
    """Linear CKA between every student and every teacher hidden state over `texts`. Rows are tokens when
    both tokenizers split every sentence alike; otherwise each sentence's mean over its tokens."""
    if not texts:
        raise ValueError("CKA needs at least one sentence")
    teacher, student = hidden_states(pair.teacher, texts, max_length), hidden_states(pair.student, texts, max_length)
    unit: Unit = "token" if teacher.ids == student.ids else "sentence"
    if unit == "token":
        t, s = (np.concatenate(x.states, axis=1) for x in (teacher, student))  # (layers + 1, all tokens, hidden)
    else:
        t, s = (np.stack([st.mean(axis=1) for st in x.states], axis=1) for x in (teacher, student))
    if t.shape[1] < 2:
        raise ValueError("CKA needs at least two rows: give more sentences")
    cka = cka_matrix(list(s), list(t))
    return LayerSimilarity(cka, init_map(s.shape[0] - 1, t.shape[0] - 1), unit, int(t.shape[1]), len(texts))
