"""Do the two models rely on the same words: integrated gradients (Sundararajan et al. 2017, via captum) on
the word embeddings for the log-odds of each model's predicted class, rank agreement between the two models, and a
deletion check of whether the attributions are faithful to the model."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from captum.attr import LayerIntegratedGradients

from benchmarks.core.models import LoadedModel

MAX_LENGTH = 128
STEPS = 50  # Riemann steps along the path; the convergence delta says whether that was enough


@dataclass(frozen=True)
class TokenAttribution:
    model: str
    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    special: tuple[bool, ...]  # [CLS]/[SEP]: kept in the baseline, so their attribution is ~0
    scores: np.ndarray  # per token, summed over the embedding, in log-odds; > 0 pushes towards `label`
    target: int  # output index attributed: the predicted class
    label: str
    probability: float  # of `label` for the full sentence
    output_change: float  # F(sentence) - F(baseline) in log-odds, what the scores should sum to
    delta: float  # sum(scores) - output_change: the integration error
    steps: int
    full_length: int = 0  # tokens of the whole text, special tokens included; more than len(tokens) when truncated

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.tokens)

    @property
    def relative_delta(self) -> float:
        return abs(self.delta) / max(abs(self.output_change), 1e-9)


def integrated_gradients(
    loaded: LoadedModel, text: str, steps: int = STEPS, max_length: int = MAX_LENGTH
) -> TokenAttribution:
    """IG of the predicted class's log-odds, log p / (1 - p), with respect to the word embeddings. Log-odds
    rather than the probability: a confident model's probability saturates (the [PAD] baseline already scores
    0.98 for some), squashing every attribution towards 0. The baseline keeps [CLS]/[SEP] and replaces every other
    token with [PAD] (the usual choice for BERT-family models)."""
    tok = loaded.tokenizer
    limit = min(max_length, loaded.max_length)
    model = loaded.model

    def log_odds(input_ids: torch.Tensor, attention_mask: torch.Tensor, target: int) -> torch.Tensor:
        logp = torch.log_softmax(model(input_ids=input_ids, attention_mask=attention_mask).logits.float(), dim=-1)
        others = torch.cat([logp[:, :target], logp[:, target + 1 :]], dim=-1)
        return logp[:, target] - others.logsumexp(-1)

    with loaded.lock:  # also guards the tokenizer, which is not thread-safe
        full_length = len(tok(text)["input_ids"])
        batch = tok(text, truncation=True, max_length=limit, return_tensors="pt")
        ids, mask = batch["input_ids"].to(loaded.device), batch["attention_mask"].to(loaded.device)
        markers = {tok.cls_token_id, tok.sep_token_id} - {None}
        special = torch.tensor([i in markers for i in ids[0].tolist()], device=ids.device)
        baseline = torch.where(special, ids, torch.full_like(ids, tok.pad_token_id or 0))
        with torch.inference_mode():
            probs = torch.softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)[0]
        target = int(probs.argmax())
        # Gradients flow only to the embedding outputs captum hooks; the shared weights are never changed.
        with torch.enable_grad():
            ig = LayerIntegratedGradients(log_odds, model.get_input_embeddings())
            scores, delta = ig.attribute(
                ids,
                baselines=baseline,
                additional_forward_args=(mask, target),
                n_steps=steps,
                return_convergence_delta=True,
            )
    token_scores = scores.sum(-1)[0].detach().float().cpu().numpy()
    id_list = ids[0].tolist()
    return TokenAttribution(
        loaded.spec.display_name,
        tuple(id_list),
        tuple(tok.convert_ids_to_tokens(id_list)),
        tuple(special.tolist()),
        token_scores,
        target,
        loaded.labels[target],
        float(probs[target]),
        float(token_scores.sum() - delta[0]),  # captum's delta is sum(scores) - (F(x) - F(baseline))
        float(delta[0]),
        steps,
        full_length,
    )


@dataclass(frozen=True)
class RankAgreement:
    spearman: float  # between |attribution| of the two models over the same words (NaN under 3 words)
    top_overlap: float  # share of the k most important words both models put in their top k
    k: int
    words: int


def rank_agreement(a: TokenAttribution, b: TokenAttribution, k: int = 3) -> RankAgreement:
    """How far two models rely on the same tokens, by magnitude (a word can push either model either way).
    [CLS]/[SEP] are left out: the baseline keeps them, so they carry no attribution."""
    if a.ids != b.ids:
        raise ValueError(
            "the two tokenizers split the sentence differently, so their attributions cannot be matched token by token"
        )
    keep = ~np.array(a.special)
    x, y = np.abs(a.scores[keep]), np.abs(b.scores[keep])
    words = int(keep.sum())
    rho = _spearman(x, y) if words >= 3 else float("nan")
    k = max(1, min(k, words))

    def top(v: np.ndarray) -> set[int]:
        return set(np.argsort(-v, kind="stable")[:k].tolist())

    return RankAgreement(rho, len(top(x) & top(y)) / k if words else float("nan"), k, words)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of average ranks (ties share a rank); NaN when one side is constant."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass(frozen=True)
class DeletionCheck:
    """Deleting the most supportive tokens should lower the predicted class's probability more than deleting
    as many random ones, if the attributions say something true about the model."""

    model: str
    sentences: int
    fraction: float  # of each sentence's words deleted (at least one)
    top_drop: float  # mean drop in the predicted class's probability, top-attributed words deleted
    random_drop: float  # the same for random words (mean over draws)
    wins: int  # sentences where the top-attributed deletion moved the prediction more


def deletion_check(
    loaded: LoadedModel, attributions: Sequence[TokenAttribution], fraction: float = 0.2, draws: int = 5, seed: int = 0
) -> DeletionCheck:
    if not attributions:
        raise ValueError("the deletion check needs at least one attributed sentence")
    rng = random.Random(seed)
    top_drops, random_drops = [], []
    for attr in attributions:
        words = [i for i, s in enumerate(attr.special) if not s]
        if len(words) < 2:
            continue  # deleting the only word leaves nothing to compare
        k = max(1, round(fraction * len(words)))
        top = sorted(words, key=lambda i: -attr.scores[i])[:k]
        variants = [top] + [rng.sample(words, k) for _ in range(draws)]
        ids = torch.tensor(
            [[t for i, t in enumerate(attr.ids) if i not in set(drop)] for drop in variants], device=loaded.device
        )
        with loaded.lock, torch.inference_mode():
            probs = torch.softmax(
                loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.float(), dim=-1
            )[:, attr.target]
        drops = attr.probability - probs.cpu().numpy()
        top_drops.append(float(drops[0]))
        random_drops.append(float(drops[1:].mean()))
    if not top_drops:
        raise ValueError("every sentence has fewer than two words; the deletion check needs longer sentences")
    wins = sum(t > r for t, r in zip(top_drops, random_drops))
    return DeletionCheck(
        attributions[0].model, len(top_drops), fraction, float(np.mean(top_drops)), float(np.mean(random_drops)), wins
    )


@dataclass(frozen=True)
class SampleReport:
    """Attributions of both models over a sample of sentences: how often they agree, and whether they are faithful."""

    agreements: tuple[RankAgreement, ...]  # one per sentence both tokenizers split alike
    skipped: int  # sentences the two tokenizers split differently
    teacher: DeletionCheck
    student: DeletionCheck
    worst_relative_delta: float  # the largest integration error relative to the output change, over all attributions

    @property
    def mean_spearman(self) -> float:
        values = [a.spearman for a in self.agreements if not np.isnan(a.spearman)]
        return float(np.mean(values)) if values else float("nan")

    @property
    def mean_top_overlap(self) -> float:
        return float(np.mean([a.top_overlap for a in self.agreements])) if self.agreements else float("nan")


def sample_report(teacher: LoadedModel, student: LoadedModel, texts: Sequence[str], steps: int = STEPS) -> SampleReport:
    pairs = [(integrated_gradients(teacher, t, steps), integrated_gradients(student, t, steps)) for t in texts]
    agreements = tuple(rank_agreement(a, b) for a, b in pairs if a.ids == b.ids)
    worst = max(x.relative_delta for pair in pairs for x in pair)
    return SampleReport(
        agreements,
        len(pairs) - len(agreements),
        deletion_check(teacher, [a for a, _ in pairs]),
        deletion_check(student, [b for _, b in pairs]),
        worst,
    )
