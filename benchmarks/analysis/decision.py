"""Model selection under constraints: which measured configuration to ship, why, and what was excluded.

Pure: candidates (one per model x runtime x precision, measured on one machine) and constraints in, a
ranked decision out. Constraints round-trip through URL query parameters, validated and clamped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal, Mapping, Sequence

from benchmarks.analysis.cost import cost_per_million
from benchmarks.analysis.metrics import Proportion, accuracy_with_ci
from benchmarks.analysis.stats import (
    Answers,
    Flips,
    PairedAccuracy,
    SpeedupInterval,
    flips_vs_reference,
    paired_accuracy,
    speedup_interval,
)
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, setup_name

PERCENTILES = ("p50", "p90", "p95", "p99")
OBJECTIVES = {"latency": "fastest", "accuracy": "most accurate", "size": "smallest", "memory": "least memory"}
Objective = Literal["latency", "accuracy", "size", "memory"]
Axis = Literal["accuracy", "memory"]
# Bounds a link's numbers are clamped to: wide enough for any real model, narrow enough to stay meaningful.
LIMITS = {
    "budget": (0.01, 1e6),
    "min_acc": (0.0, 100.0),
    "max_drop": (0.0, 100.0),
    "max_mem": (1.0, 1e7),
    "max_size": (0.01, 1e7),
    "price": (0.0001, 1e6),
}
# A Decide link's query keys, each with the Constraints field it sets (the keys of LIMITS are the optional numbers:
# the constraints and the price).
URL_FIELDS = {"hw": "machine", "batch": "batch", "seq": "seq_len", "pct": "percentile", "rank": "objective",
              "budget": "budget_ms", "min_acc": "min_accuracy", "max_drop": "max_drop_pp", "max_mem": "max_memory_mb",
              "max_size": "max_size_mb", "price": "price_per_hour"}


@dataclass(frozen=True)
class Constraints:
    batch: int
    seq_len: int
    percentile: str = "p50"
    budget_ms: float | None = None  # latency budget at (batch, seq_len), for `percentile`
    min_accuracy: float | None = None  # percent
    max_drop_pp: float | None = None  # teacher accuracy minus candidate accuracy, percentage points
    max_memory_mb: float | None = None  # peak while running, MiB
    max_size_mb: float | None = None  # weights of the variant, MiB
    objective: Objective = "latency"
    machine: str = ""  # Machine key: "<hardware fingerprint>:<device type>:<threads>"
    price_per_hour: float | None = None  # what the instance costs, in the visitor's currency; None: no cost shown

    def __post_init__(self) -> None:
        if self.percentile not in PERCENTILES or self.objective not in OBJECTIVES:
            raise ValueError("unknown percentile or objective")

    def describe(self) -> str:
        parts = [f"{self.percentile} latency at batch {self.batch} × {self.seq_len} tokens"
                 + (f" ≤ {self.budget_ms:g} ms" if self.budget_ms is not None else " (no budget)")]
        if self.min_accuracy is not None:
            parts.append(f"accuracy ≥ {self.min_accuracy:g} %")
        if self.max_drop_pp is not None:
            parts.append(f"at most {self.max_drop_pp:g} pp below the teacher")
        if self.max_memory_mb is not None:
            parts.append(f"peak memory ≤ {self.max_memory_mb:g} MiB")
        if self.max_size_mb is not None:
            parts.append(f"weights ≤ {self.max_size_mb:g} MiB")
        return "; ".join(parts) + f"; rank by {OBJECTIVES[self.objective]}."


@dataclass(frozen=True)
class Candidate:
    """One measured configuration, reduced to what a decision needs at one cell and percentile."""

    role: str
    variant: str
    model: str
    latency_ms: float | None  # None: this cell was not measured
    latency_note: str  # how the latency figure was obtained (e.g. a bound), "" when exact
    sweep_p50s: tuple[float, ...]  # model-only p50 per sweep of the cell, for the speed-up interval
    memory_mb: float
    size_mb: float
    predictions: tuple[int, ...] | None = None  # per sentence; None: no accuracy (random weights)
    labels: tuple[int, ...] | None = None
    runtime: str = DEFAULT_RUNTIME  # what runs it (vocabulary.RUNTIMES)
    runtime_label: str = "PyTorch eager (SDPA)"  # the same, as a reader knows it
    run_id: str = ""  # the run it was measured in (results.BenchmarkResult.run_id); "" = unknown
    p50_ms: float | None = None  # model-only p50 at the cell, whatever the percentile ranked on
    sentences_per_s: float | None = None  # model-only throughput at the cell (the record's own figure)

    @property
    def name(self) -> str:
        return f"{self.role} · {setup_name(self.runtime, self.variant)}"

    @property
    def is_reference(self) -> bool:
        """Eager fp32: what every other setup of the same model is compared with."""
        return self.variant == "fp32" and self.runtime == DEFAULT_RUNTIME

    @property
    def correct(self) -> tuple[bool, ...] | None:
        if self.predictions is None or self.labels is None:
            return None
        return tuple(p == g for p, g in zip(self.predictions, self.labels))

    @property
    def accuracy(self) -> Proportion | None:
        right = self.correct
        return accuracy_with_ci(sum(right), len(right)) if right else None


@dataclass(frozen=True)
class Failure:
    constraint: str  # budget | min_acc | max_drop | max_mem | max_size
    text: str
    needed: float | None  # the limit that would admit the candidate; None: no limit would (nothing measured)


@dataclass(frozen=True)
class Verdict:
    candidate: Candidate
    failures: tuple[Failure, ...]
    vs_teacher: PairedAccuracy | None
    speedup: SpeedupInterval | None  # teacher fp32 time / this time, at the constraint cell
    pareto: bool  # on the frontier of latency against Decision.axis
    cost: float | None = None  # per million sentences at Constraints.price_per_hour; None without a price

    @property
    def fits(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Decision:
    constraints: Constraints
    ranked: tuple[Verdict, ...]  # those that fit, best first
    excluded: tuple[Verdict, ...]
    reasons: tuple[str, ...]  # why the first of `ranked` is recommended
    relax: tuple[str, ...] = field(default=())  # when nothing fits: what to relax, by how much
    axis: Axis = "accuracy"  # what the frontier sets against latency: memory where nothing has an accuracy

    @property
    def recommendation(self) -> Verdict | None:
        return self.ranked[0] if self.ranked else None

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return self.ranked + self.excluded


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


_RELAX = {
    "budget": ("the {p} latency budget", "ms", "raise"),
    "min_acc": ("the minimum accuracy", "%", "lower"),
    "max_drop": ("the largest drop against the teacher", "pp", "raise"),
    "max_mem": ("the memory cap", "MiB", "raise"),
    "max_size": ("the size cap", "MiB", "raise"),
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
    what, unit, verb = _RELAX[f.constraint]
    current = getattr(k, URL_FIELDS[f.constraint])
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
    return Decision(k, ranked, excluded, _reasons(ranked, k, objective, axis), axis=axis)


def _reasons(ranked: Sequence[Verdict], k: Constraints, objective: Objective, axis: Axis) -> tuple[str, ...]:
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


# --- the URL: constraints in query parameters -------------------------------------------------------------


def to_query(k: Constraints) -> dict[str, str]:
    values = {key: getattr(k, attr) for key, attr in URL_FIELDS.items()}
    return {key: f"{v:g}" if key in LIMITS else str(v) for key, v in values.items() if v is not None}


def _nearest(value: int, options: Sequence[int]) -> int:
    return min(options, key=lambda o: (abs(o - value), o))


def from_query(params: Mapping[str, str], machines: Sequence[str], batches: Sequence[int], seq_lens: Sequence[int],
               default: Constraints) -> tuple[Constraints, tuple[str, ...]]:
    """Constraints from a link, each value checked: unknown ones fall back to `default`, numbers are clamped to
    LIMITS and cells snap to the nearest measured one. Returns the notes to show (never echoing the raw value)."""
    notes: list[str] = []
    k = default
    hw = params.get("hw")
    if hw is not None:
        if hw in machines:
            k = replace(k, machine=hw)
        else:
            notes.append("The link names hardware with no results here; the first machine is shown.")
    for key, attr, options in (("batch", "batch", batches), ("seq", "seq_len", seq_lens)):
        raw = params.get(key)
        if raw is None:
            continue
        try:
            wanted = int(raw)
        except ValueError:
            notes.append(f"The link's {key} is not a whole number; the default is used.")
            continue
        if wanted not in options:
            notes.append(f"The link's {key} was not measured; the nearest measured one is used.")
        k = replace(k, **{attr: _nearest(wanted, options)})
    for key, attr, choices in (("pct", "percentile", PERCENTILES), ("rank", "objective", tuple(OBJECTIVES))):
        raw = params.get(key)
        if raw is not None:
            if raw in choices:
                k = replace(k, **{attr: raw})
            else:
                notes.append(f"The link's {key} is not one of {', '.join(choices)}; the default is used.")
    for key in LIMITS:
        attr, raw = URL_FIELDS[key], params.get(key)
        if raw is None or raw == "":
            continue
        try:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            notes.append(f"The link's {key} is not a number; it is left unset.")
            continue
        low, high = LIMITS[key]
        if not low <= value <= high:
            notes.append(f"The link's {key} lies outside {low:g} – {high:g}; it was clamped.")
        k = replace(k, **{attr: min(max(value, low), high)})
    return k, tuple(notes)


def precision_flips(cands: Iterable[Candidate]) -> list[Flips]:
    """For every candidate other than eager fp32 whose model also has eager fp32 predictions on the same sentences:
    how often its precision or runtime changes an answer."""
    return flips_vs_reference(
        Answers(c.name, c.role, c.is_reference, c.predictions, c.labels)
        for c in cands
        if c.predictions is not None and c.labels is not None
    )
