"""Model selection under constraints: which measured configuration to ship, why, and what was excluded.

Pure: candidates (one per model x runtime x precision, measured on one machine) and constraints in, every candidate
checked, those that fit ranked, and the frontier of latency against accuracy (or memory) marked.
"""

from __future__ import annotations

import math
from typing import Sequence

from benchmarks.analysis.advice import reasons, relaxations
from benchmarks.analysis.candidate import Candidate
from benchmarks.analysis.constraints import Constraints, Objective
from benchmarks.analysis.cost import cost_per_million
from benchmarks.analysis.stats import SpeedupInterval, paired_accuracy, speedup_interval
from benchmarks.analysis.verdict import Axis, Decision, Failure, Verdict


def pareto_front(points: Sequence[tuple[float, float]]) -> tuple[bool, ...]:
    """Which (latency, merit) points no other point beats: as fast or faster and as good or better (accuracy, or
    memory negated), better in one."""
    return tuple(
        not any(ol <= lat and oa >= acc and (ol < lat or oa > acc) for ol, oa in points)
        for lat, acc in points
    )


def _failures(c: Candidate, k: Constraints, teacher_acc: float | None) -> tuple[Failure, ...]:
    out = []
    acc = c.accuracy
    if k.budget_ms is not None:
        if c.latency_ms is None:
            out.append(Failure("budget", f"no {k.batch}×{k.seq_len} measurement", None))
        elif c.latency_ms > k.budget_ms:
            out.append(
                Failure("budget", f"{k.percentile} {c.latency_ms:.1f} ms > budget {k.budget_ms:g} ms", c.latency_ms)
            )
    if k.min_accuracy is not None:
        if acc is None:
            out.append(Failure("min_acc", "no accuracy measured", None))
        elif acc.value * 100 < k.min_accuracy:
            out.append(Failure("min_acc", f"accuracy {acc.value:.2%} < {k.min_accuracy:g} %", acc.value * 100))
    if k.max_drop_pp is not None:
        if acc is None or teacher_acc is None:
            out.append(Failure("max_drop", "no accuracy to compare with the teacher's", None))
        elif (drop := (teacher_acc - acc.value) * 100) > k.max_drop_pp:
            out.append(Failure("max_drop", f"{drop:.1f} pp below the teacher > {k.max_drop_pp:g} pp", drop))
    if k.max_memory_mb is not None and c.memory_mb > k.max_memory_mb:
        out.append(Failure("max_mem", f"peak memory {c.memory_mb:.0f} MiB > {k.max_memory_mb:g} MiB", c.memory_mb))
    if k.max_size_mb is not None and c.size_mb > k.max_size_mb:
        out.append(Failure("max_size", f"weights {c.size_mb:.1f} MiB > {k.max_size_mb:g} MiB", c.size_mb))
    return tuple(out)


def _sort_key(v: Verdict, objective: Objective) -> tuple:
    """The objective, then latency, then accuracy before size and memory: a tie never goes to a configuration that
    another one dominates."""
    c, acc = v.candidate, v.candidate.accuracy
    lat = c.latency_ms if c.latency_ms is not None else math.inf
    worse = -(acc.value if acc else -1.0)
    primary = {"latency": lat, "accuracy": worse, "size": c.size_mb, "memory": c.memory_mb}[objective]
    return (primary, lat, worse, c.size_mb, c.memory_mb, c.name)


def _speedup(teacher: Candidate, c: Candidate) -> SpeedupInterval | None:
    """Teacher fp32 time over the candidate's at the cell: from the sweeps' p50s where both kept them (paired only
    when they took turns in one run), else the ratio of the two p50s with no interval."""
    if teacher.sweep_p50s and c.sweep_p50s:
        paired = bool(teacher.run_id) and teacher.run_id == c.run_id and len(c.sweep_p50s) == len(teacher.sweep_p50s)
        return speedup_interval(teacher.sweep_p50s, c.sweep_p50s, paired)
    if teacher.p50_ms and c.p50_ms:
        return SpeedupInterval(teacher.p50_ms / c.p50_ms, None, None, 0, False)
    return None


def _merit(c: Candidate, axis: Axis) -> float | None:
    """What the frontier weighs against latency, higher is better."""
    if axis == "accuracy":
        return c.accuracy.value if c.accuracy else None
    return -c.memory_mb


def decide(candidates: Sequence[Candidate], k: Constraints) -> Decision:
    """Check every candidate against the constraints, rank those that fit, and explain the first. Without any
    accuracy (random weights, no labelled set) the frontier is latency against peak memory, and a ranking by
    accuracy falls back to latency."""
    teacher = next((c for c in candidates if c.role == "teacher" and c.is_reference), None)
    teacher_acc = teacher.accuracy.value if teacher and teacher.accuracy else None
    axis: Axis = "accuracy" if any(c.accuracy and c.latency_ms is not None for c in candidates) else "memory"
    scored = [(c.latency_ms, m) for c in candidates if c.latency_ms is not None and (m := _merit(c, axis)) is not None]
    on_front = {pt for pt, keep in zip(scored, pareto_front(scored)) if keep}
    verdicts = []
    for c in candidates:
        vs = (
            paired_accuracy(teacher.correct, c.correct)  # type: ignore[arg-type]
            if teacher and c is not teacher and teacher.correct and c.correct and teacher.labels == c.labels
            else None
        )
        sp = _speedup(teacher, c) if teacher and c is not teacher else None
        pareto = c.latency_ms is not None and (c.latency_ms, _merit(c, axis)) in on_front
        cost = (cost_per_million(k.price_per_hour, c.sentences_per_s)
                if k.price_per_hour is not None and c.sentences_per_s else None)
        verdicts.append(Verdict(c, _failures(c, k, teacher_acc), vs, sp, pareto, cost))
    objective = "latency" if k.objective == "accuracy" and axis == "memory" else k.objective
    ranked = tuple(sorted((v for v in verdicts if v.fits), key=lambda v: _sort_key(v, objective)))
    excluded = tuple(v for v in verdicts if not v.fits)
    if not ranked:
        return Decision(k, (), excluded, (), relaxations(excluded, k), axis)
    return Decision(k, ranked, excluded, reasons(ranked, k, objective, axis), axis=axis)
