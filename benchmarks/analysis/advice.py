"""A model selection in words: why the first choice is recommended, and, when nothing fits, the smallest change
of a constraint that admits a configuration."""

from __future__ import annotations

import math
from typing import Sequence

from benchmarks.analysis.constraints import OBJECTIVES, Constraints, Objective
from benchmarks.analysis.verdict import Axis, Failure, Verdict

# Per Failure.constraint (named as the Decide link names them): what it limits, its unit, which way to move it and
# the Constraints field that holds it.
_RELAX = {
    "budget": ("the {p} latency budget", "ms", "raise", "budget_ms"),
    "min_acc": ("the minimum accuracy", "%", "lower", "min_accuracy"),
    "max_drop": ("the largest drop against the teacher", "pp", "raise", "max_drop_pp"),
    "max_mem": ("the memory cap", "MiB", "raise", "max_memory_mb"),
    "max_size": ("the size cap", "MiB", "raise", "max_size_mb"),
}


def admitting(needed: float, constraint: str, digits: int = 4) -> float:
    """`needed` rounded to `digits` significant digits toward admitting the candidate: up for a cap or a budget,
    down for the accuracy floor. Rounded to nearest, a budget of 308.9 ms would shut out a p50 of 308.931 ms."""
    if needed == 0:
        return 0.0
    places = digits - 1 - math.floor(math.log10(abs(needed)))  # decimal places kept; negative: tens, hundreds
    step = 10 ** abs(places)  # an int, so the division below is exact where the decimal figure is
    scaled = round(needed * step if places >= 0 else needed / step, 6)  # 1.15 * 1000 = 1150.0000000000002
    whole = math.floor(scaled) if constraint == "min_acc" else math.ceil(scaled)
    return whole / step if places >= 0 else float(whole * step)


def _relax_text(f: Failure, k: Constraints) -> str:
    what, unit, verb, attr = _RELAX[f.constraint]
    current = getattr(k, attr)
    assert f.needed is not None
    limit = admitting(f.needed, f.constraint)
    return (f"{verb} {what.format(p=k.percentile)} from {current:g} {unit} to {limit:g} {unit} "
            f"(by {abs(limit - current):.3g} {unit})")


def _sentence(text: str) -> str:
    """The first letter in capitals, the rest untouched (str.capitalize would turn "MiB" into "mib")."""
    return text[:1].upper() + text[1:]


def relaxations(verdicts: Sequence[Verdict], k: Constraints) -> tuple[str, ...]:
    """When nothing fits: the smallest change of one constraint that admits a candidate, per constraint;
    failing that, every change the closest candidate needs."""
    relaxable = [v for v in verdicts if all(f.needed is not None for f in v.failures)]
    single: dict[str, tuple[Failure, Verdict]] = {}
    for v in relaxable:
        if len(v.failures) == 1:
            f = v.failures[0]
            best = single.get(f.constraint)
            # The smallest change wins: the highest accuracy floor, the lowest of the other limits.
            if best is None or (f.needed > best[0].needed if f.constraint == "min_acc" else f.needed < best[0].needed):  # type: ignore[operator]
                single[f.constraint] = (f, v)
    if single:
        return tuple(f"{_sentence(_relax_text(f, k))}: then {v.candidate.name} fits." for f, v in single.values())
    if not relaxable:
        return ("No relaxing admits a configuration: each lacks a measurement a constraint needs (accuracy, or this "
                "cell); drop that constraint or measure it first.",)
    closest = min(relaxable, key=lambda v: len(v.failures))
    return ("No single change is enough. " + _sentence("; ".join(_relax_text(f, k) for f in closest.failures))
            + f": then {closest.candidate.name} fits.",)


def reasons(ranked: Sequence[Verdict], k: Constraints, objective: Objective, axis: Axis) -> tuple[str, ...]:
    best, c = ranked[0], ranked[0].candidate
    out = [f"It meets every constraint ({k.describe().rstrip('.')})."]
    if axis == "memory":
        out.append("Accuracy cannot be judged here: no configuration has an accuracy measured (random weights or no "
                   "labelled set), so the choice rests on latency, memory and size alone"
                   + (", and ranking by accuracy falls back to the fastest." if k.objective == "accuracy" else "."))
    others = f" of the {len(ranked)} that fit" if len(ranked) > 1 else ", the only one that fits"
    out.append(
        f"It is the {OBJECTIVES[objective]}{others}"
        + (f" ({k.percentile} {c.latency_ms:.1f} ms at {k.batch}×{k.seq_len})." if c.latency_ms is not None else ".")
    )
    if len(ranked) > 1:
        nxt = ranked[1].candidate
        lat = f"{nxt.latency_ms:.1f} ms" if nxt.latency_ms is not None else "no latency"
        acc = f", {nxt.accuracy.value:.1%} accurate" if nxt.accuracy else f", {nxt.memory_mb:.0f} MiB peak"
        out.append(f"Runner-up: {nxt.name} ({lat}{acc}).")
    if best.vs_teacher is not None:
        out.append("Accuracy: " + best.vs_teacher.describe("the teacher (fp32)"))
    if best.speedup is not None:
        out.append(f"Speed-up over the teacher (fp32), model only at {k.batch}×{k.seq_len}: {best.speedup.describe()}"
                   + (": within noise." if best.speedup.within_noise else "."))
    if best.cost is not None:
        out.append(f"Cost: {best.cost:,.4g} per million sentences at {k.price_per_hour:g} per hour "
                   f"({c.sentences_per_s:,.1f} sentences/s, model only, at {k.batch}×{k.seq_len}).")
    if best.pareto:
        out.append(
            "It lies on the accuracy–latency Pareto frontier: nothing measured is both faster and more accurate."
            if axis == "accuracy" else
            "It lies on the memory–latency Pareto frontier: nothing measured is both faster and lighter."
        )
    return tuple(out)
