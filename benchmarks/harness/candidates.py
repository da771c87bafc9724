"""Decision candidates from benchmark records: one per model x precision x runtime measured on one machine, reduced
to one cell and one latency percentile, with accuracy from the records or from a user's own scored data."""

from __future__ import annotations

from typing import Iterable, Mapping

from benchmarks.analysis.candidate import Candidate
from benchmarks.core.figures import mib
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, RUNTIME_LABELS
from benchmarks.harness.results import BenchmarkResult

P95_BOUND = "p95 not recorded by this measurement: its p99, an upper bound, stands in"

# (role, variant) -> (predictions, gold labels) on another labelled set, sentence by sentence, scored in eager PyTorch
Scored = Mapping[tuple[str, str], tuple[tuple[int, ...], tuple[int, ...]]]


def latency_at(result: BenchmarkResult, batch: int, seq_len: int, percentile: str) -> tuple[float | None, str]:
    """Model-only latency of one cell at `percentile`, and a note when the figure is a bound, not the value."""
    cell = result.cell(batch, seq_len)
    if cell is None:
        return None, ""
    if percentile == "p95" and cell.model.p95 is None:
        return cell.model.p99, P95_BOUND
    return getattr(cell.model, percentile), ""


def candidates(results: Iterable[BenchmarkResult], batch: int, seq_len: int, percentile: str,
               scored: Scored | None = None) -> list[Candidate]:
    """One candidate per result (results of one pair on one machine). With `scored`, accuracy comes from it and
    a configuration it lacks has none (every runtime but eager: the file is scored eagerly); otherwise from the
    record's own scoring."""
    out = []
    for r in results:
        latency, note = latency_at(r, batch, seq_len, percentile)
        cell = r.cell(batch, seq_len)
        preds: tuple[int, ...] | None = None
        labels: tuple[int, ...] | None = None
        if scored is not None:
            if r.config.runtime == DEFAULT_RUNTIME:
                preds, labels = scored.get((r.config.role, r.config.variant), (None, None))
        elif r.accuracy is not None:
            preds = tuple(int(x) for x in r.accuracy.predictions)
            labels = tuple(int(x) for x in r.accuracy.labels)
        out.append(Candidate(
            r.config.role, r.config.variant, r.config.name, latency, note, cell.sweep_p50s if cell else (),
            r.memory.run_peak_mb, mib(r.variant_bytes), preds, labels, r.config.runtime,
            f"PyTorch eager ({r.config.settings.attn_implementation.upper()})" if r.config.runtime == DEFAULT_RUNTIME
            else RUNTIME_LABELS[r.config.runtime],
            r.run_id, cell.model.p50 if cell else None, cell.throughput("model").per_second if cell else None,
        ))
    return out
