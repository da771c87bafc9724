"""Turning stored results into comparisons: tables, speed-ups against the FLOPs ceiling, agreement,
utilisation against the matmul peak, and what is still missing. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Callable, Iterable, Literal, Sequence

from benchmarks.analysis.metrics import Agreement, Proportion, agreement
from benchmarks.analysis.stats import Answers, PairedAccuracy, flips_vs_reference, paired
from benchmarks.core.device import HardwareInfo, SoftwareInfo, thread_count
from benchmarks.core.figures import mib
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, ROLES, RUNTIMES, VARIANT_INFO, setup_name
from benchmarks.harness.results import BenchmarkResult, BenchmarkSettings, CellResult, PeakResult

Timing = Literal["model", "e2e"]


@dataclass(frozen=True)
class Machine:
    """Where results came from: hardware, device type and thread count, the unit the pages filter on. Timings taken
    at different thread counts are never compared with each other, so the thread count is part of it."""

    fingerprint: str
    device_type: str
    threads: int
    label: str
    choice: str = ""  # the same, shorter, leading with what tells machines apart: for a select's options

    @classmethod
    def of(cls, hardware: HardwareInfo, device: str, threads: int) -> "Machine":
        kind = device.split(":", 1)[0]
        # The thread count first, so a narrow selectbox still shows it; on a GPU it is only the host's.
        label = (f"{hardware.label(device)} · {thread_count(threads)} on the host" if kind == "cuda"
                 else f"{thread_count(threads)} on {hardware.label(device)}")
        if kind == "cuda":
            choice = f"GPU {hardware.gpu_name} · {thread_count(threads)} on the host"
        else:
            isa = hardware.label(device).rsplit(" · ", 1)[-1]  # "AVX512 + AMX": what decides the kernels
            choice = f"CPU {isa} · {thread_count(threads)} · {hardware.cpu_model}, {hardware.physical_cores} cores"
        return cls(hardware.fingerprint, kind, threads, label, choice)

    @property
    def key(self) -> str:
        """"<hardware fingerprint>:<device type>:<threads>": what a shared link names."""
        return f"{self.fingerprint}:{self.device_type}:{self.threads}"


def machine_of(result: BenchmarkResult | PeakResult) -> Machine:
    threads = result.threads if isinstance(result, PeakResult) else result.config.settings.threads
    return Machine.of(result.hardware, result.device, threads)


def machines(results: Iterable[BenchmarkResult]) -> list[Machine]:
    return sorted({machine_of(r) for r in results}, key=lambda m: (m.device_type != "cpu", m.label))


def choice_labels(options: Sequence[Machine], here: tuple[str, str] | None = None) -> dict[Machine, str]:
    """What a select shows for each machine: its short label, with the hardware fingerprint where two would
    otherwise read alike, and "this machine" on the one with `here`'s (fingerprint, device type)."""
    counts: dict[str, int] = {}
    for m in options:
        counts[m.choice] = counts.get(m.choice, 0) + 1
    return {m: ("This machine: " if (m.fingerprint, m.device_type) == here else "") + m.choice
            + (f" · hardware {m.fingerprint[:6]}" if counts[m.choice] > 1 else "") for m in options}


def default_machine(results: Sequence[BenchmarkResult], hardware: HardwareInfo, device: str) -> Machine | None:
    """The machine a page opens on: this hardware and device at the thread count with the most results (ties: more
    threads); when nothing was measured here, one of this device type with the largest grid, then the most results
    (a shipped full sweep before a small runtime comparison); None without results."""
    options = machines(results)
    here = [m for m in options if (m.fingerprint, m.device_type) == (hardware.fingerprint, device.split(":", 1)[0])]
    counts = {m: sum(machine_of(r) == m for r in results) for m in options}
    if here:
        return max(here, key=lambda m: (counts[m], m.threads))
    cells = {m: max(len(r.cells) for r in results if machine_of(r) == m) for m in options}
    same_type = {m: m.device_type == device.split(":", 1)[0] for m in options}
    return max(options, key=lambda m: (same_type[m], cells[m], counts[m]), default=None)


def latest(results: Iterable[BenchmarkResult]) -> list[BenchmarkResult]:
    """One result per (pair, role, runtime, variant, machine and threads): the largest grid, then the newest."""
    best: dict[tuple, BenchmarkResult] = {}
    for r in results:
        slot = (r.config.pair, r.config.role, r.config.setup, machine_of(r))
        if slot not in best or (len(r.cells), r.measured_at) > (len(best[slot].cells), best[slot].measured_at):
            best[slot] = r
    order = {v: i for i, v in enumerate(VARIANT_INFO)}
    runtime_order = {rt: i for i, rt in enumerate(RUNTIMES)}
    return sorted(best.values(), key=lambda r: (runtime_order[r.config.runtime], order[r.config.variant],
                                                r.config.role != "teacher"))


def series_name(r: BenchmarkResult) -> str:
    return f"{r.config.role} · {r.config.setup}"


def cell_rows(results: Iterable[BenchmarkResult], timing: Timing = "model") -> list[dict]:
    """One row per result x cell, for latency and throughput charts."""
    rows = []
    for r in results:
        for c in r.cells:
            lat, speed = c.timing(timing), c.throughput(timing, r.config.settings.threads)
            rows.append({
                "series": series_name(r), "role": r.config.role, "model": r.config.name, "variant": r.config.variant,
                "runtime": r.config.runtime, "setup": r.config.setup, "batch": c.batch, "seq_len": c.seq_len,
                "p50_ms": lat.p50, "p90_ms": lat.p90, "p99_ms": lat.p99,
                "std_ms": lat.std, "iterations": lat.n, "sentences_per_s": speed.per_second,
                "conditions": speed.conditions.describe(),
                "tokens_per_s": c.tokens_per_s(timing), "gflops": c.achieved_gflops, "sweep_spread": sweep_spread(c),
            })
    return rows


def grid(results: Iterable[BenchmarkResult]) -> tuple[list[int], list[int]]:
    """The batch sizes and the sequence lengths that any of the results measured, ascending."""
    cells = [c for r in results for c in r.cells]
    return sorted({c.batch for c in cells}), sorted({c.seq_len for c in cells})


def summary_rows(results: Iterable[BenchmarkResult], cell: tuple[int, int] | None = None,
                 timing: Timing = "model") -> list[dict]:
    """One row per model x variant: everything that is not per cell, plus the p50 at `cell` (None without it)."""
    rows = []
    for r in results:
        acc = r.accuracy
        at = r.cell(*cell) if cell else None
        rows.append(
            {
                "series": series_name(r),
                "role": r.config.role,
                "model": r.config.name,
                "variant": r.config.variant,
                "runtime": r.config.runtime,
                "setup": r.config.setup,
                "dtype": r.dtype,
                "export_s": r.export_s,
                "artefact_mb": mib(r.artefact_bytes),
                "params_m": r.n_params / 1e6,
                "variant_mb": mib(r.variant_bytes),
                "disk_mb": mib(r.disk_bytes),
                "load_s": r.load_s,
                "convert_s": r.convert_s,
                "first_call_ms": r.first_call_ms,
                "first_call_shape": f"{r.first_call_shape[0]}×{r.first_call_shape[1]}",
                "memory": r.memory.method,
                "run_peak_mb": r.memory.run_peak_mb,
                "load_peak_mb": r.memory.load_peak_mb,
                "reserved_mb": r.memory.reserved_mb,
                "accuracy": acc.value if acc else None,
                "acc_low": acc.low if acc else None,
                "acc_high": acc.high if acc else None,
                "eval_n": acc.n if acc else None,
                "eval_sentences_per_s": r.eval_throughput.per_second if r.eval_throughput else None,
                "eval_conditions": r.eval_throughput.conditions.describe() if r.eval_throughput else None,
                "eval_tokens_per_s": acc.tokens_per_s if acc else None,
                "threads": r.config.settings.threads,
                "measured_at": r.measured_at,
                "software": r.software.label,
                "p50_ms": at.timing(timing).p50 if at else None,
            }
        )
    return rows


@dataclass(frozen=True)
class Speedup:
    variant: str
    batch: int
    seq_len: int
    teacher_ms: float
    student_ms: float
    ceiling: float  # teacher FLOPs / student FLOPs: the most fewer layers can buy
    # The ratio within each sweep of the grid (the two models took turns in one run, seconds apart); empty when
    # the records do not keep sweeps or were not measured taking turns. Their range is how far host drift alone
    # moves the ratio.
    sweep_ratios: tuple[float, ...] = ()
    runtime: str = DEFAULT_RUNTIME

    @property
    def setup(self) -> str:
        return setup_name(self.runtime, self.variant)

    @property
    def ratio(self) -> float:
        """The median of the sweep-by-sweep ratios where kept: when one run measured both models (taking
        turns), each pairs two p50s taken seconds apart, so drift between sweeps cancels; the ratio of
        whole-run p50s can pair a slow minute of one model with a fast minute of the other."""
        return median(self.sweep_ratios) if self.sweep_ratios else self.teacher_ms / self.student_ms

    @property
    def sweep_range(self) -> tuple[float, float] | None:
        return (min(self.sweep_ratios), max(self.sweep_ratios)) if len(self.sweep_ratios) > 1 else None


def _by_role(results: Iterable[BenchmarkResult]) -> dict[str, dict[str, BenchmarkResult]]:
    out: dict[str, dict[str, BenchmarkResult]] = {}
    for r in results:
        out.setdefault(r.config.setup, {})[r.config.role] = r
    return out


def speedups(results: Iterable[BenchmarkResult], timing: Timing = "model") -> list[Speedup]:
    """Student over teacher p50 per runtime x variant and cell (results from one machine)."""
    out = []
    for roles in _by_role(results).values():
        if set(ROLES) <= roles.keys():
            config = roles["teacher"].config
            turns = roles["teacher"].took_turns_with(roles["student"])
            for tc in roles["teacher"].cells:
                sc = roles["student"].cell(tc.batch, tc.seq_len)
                if sc is not None:
                    paired = turns and timing == "model" and len(tc.sweep_p50s) == len(sc.sweep_p50s)
                    ratios = tuple(t / s for t, s in zip(tc.sweep_p50s, sc.sweep_p50s)) if paired else ()
                    out.append(Speedup(config.variant, tc.batch, tc.seq_len, tc.timing(timing).p50,
                                       sc.timing(timing).p50, tc.flops / sc.flops, ratios, config.runtime))
    return out


def sweep_spread(cell: CellResult) -> float | None:
    """How far one cell's p50 moved between the sweeps of its run (slowest / fastest - 1)."""
    return max(cell.sweep_p50s) / min(cell.sweep_p50s) - 1 if len(cell.sweep_p50s) > 1 else None


@dataclass(frozen=True)
class Drift:
    """Host drift seen by one measured model: the sweep-to-sweep spread of its cells' p50s."""

    series: str
    median: float
    worst: float
    worst_cell: tuple[int, int]


def drift(results: Iterable[BenchmarkResult]) -> list[Drift]:
    """Per model, the typical and the worst sweep spread; records without sweeps are left out."""
    out = []
    for r in results:
        spreads = [(x, (c.batch, c.seq_len)) for c in r.cells if (x := sweep_spread(c)) is not None]
        if spreads:
            worst = max(spreads)
            out.append(Drift(series_name(r), median(x for x, _ in spreads), worst[0], worst[1]))
    return out


def typical_drift(results: Iterable[BenchmarkResult]) -> tuple[float, Drift] | None:
    """The typical sweep-to-sweep spread over the models (the middle one's median; the upper middle for an even
    count) and the model with the worst single spread; None when no record kept its sweeps."""
    spreads = drift(results)
    if not spreads:
        return None
    return sorted(d.median for d in spreads)[len(spreads) // 2], max(spreads, key=lambda d: d.worst)


@dataclass(frozen=True)
class Repeat:
    """One cell measured twice: how far the second p50 sits from the first."""

    batch: int
    seq_len: int
    first_ms: float
    second_ms: float

    @property
    def difference(self) -> float:
        return self.second_ms / self.first_ms - 1


def repeats(first: BenchmarkResult, second: BenchmarkResult, timing: Timing = "model") -> list[Repeat]:
    """The p50 of every cell the two measurements of one model share."""
    out = []
    for a in first.cells:
        b = second.cell(a.batch, a.seq_len)
        if b is not None:
            out.append(Repeat(a.batch, a.seq_len, a.timing(timing).p50, b.timing(timing).p50))
    return out


def pair_agreement(results: Iterable[BenchmarkResult]) -> dict[str, Agreement]:
    """Teacher-student agreement per variant, where both scored the same sentences."""
    out = {}
    for variant, roles in _by_role(results).items():
        t, s = roles.get("teacher"), roles.get("student")
        if t and s and t.accuracy and s.accuracy and t.accuracy.labels == s.accuracy.labels:
            out[variant] = agreement([int(c) for c in t.accuracy.predictions], [int(c) for c in s.accuracy.predictions],
                                     [int(c) for c in t.accuracy.labels])
    return out


def agreement_rows(results: Iterable[BenchmarkResult]) -> list[dict]:
    """Per variant, how often teacher and student give the same label, and who is right when they do not."""
    return [
        {"variant": v, "agreement": f"{a.rate.value:.1%} [{a.rate.low:.1%}, {a.rate.high:.1%}]",
         "both right": a.both_right, "teacher only right": a.teacher_only, "student only right": a.student_only,
         "both wrong": a.both_wrong, "McNemar p (exact)": f"{paired(a).p_value:.3g}"}
        for v, a in pair_agreement(results).items()
    ]


def utilisation_rows(
    results: Iterable[BenchmarkResult], peaks: Sequence[PeakResult], batch: int, seq_len: int
) -> list[dict]:
    """Achieved model-only FLOP rate at one cell against the peak of its own dtype and the machine's best."""
    rows = []
    for r in results:
        cell = r.cell(batch, seq_len)
        mine = [p for p in peaks if machine_of(p) == machine_of(r)]
        if cell is None or not mine:
            continue
        own = next((p for p in mine if p.dtype == VARIANT_INFO[r.config.variant].peak_dtype), None)
        best = max(mine, key=lambda p: p.gflops)
        rows.append({
            "series": series_name(r), "role": r.config.role, "model": r.config.name, "variant": r.config.variant,
            "runtime": r.config.runtime, "setup": r.config.setup, "cell": f"{batch}×{seq_len}",
            "achieved_gflops": cell.achieved_gflops,
            "peak_dtype": own.dtype if own else None,
            "dtype_peak_gflops": own.gflops if own else None,
            "of_dtype_peak": cell.achieved_gflops / own.gflops if own else None,
            "best_peak": f"{best.dtype} {best.gflops:.0f}",
            "of_best_peak": cell.achieved_gflops / best.gflops,
        })
    return rows


def missing_variants(results: Iterable[BenchmarkResult], pair: str, hardware: HardwareInfo, software: SoftwareInfo,
                     device: str, variants: Sequence[str], settings: BenchmarkSettings,
                     runtimes: Sequence[str] = (DEFAULT_RUNTIME,),
                     runs: Callable[[str, str], bool] = lambda runtime, variant: True) -> list[tuple[str, str]]:
    """(role, setup) of `pair` with no result for this machine, software and settings, among the runtime x variant
    pairs that `runs` says can run here. The run itself checks the full key (model weights included); this is the
    page's cheap preview of it."""
    have = {
        (r.config.role, r.config.setup) for r in results
        if r.config.pair == pair and r.hardware == hardware and r.software == software
        and r.config.device == device and r.config.settings == settings
    }
    setups = [setup_name(rt, v) for rt in runtimes for v in variants if runs(rt, v)]
    return [(role, s) for s in setups for role in ROLES if (role, s) not in have]


@dataclass(frozen=True)
class Headline:
    """Teacher and student of one variant side by side: the page's four headline numbers."""

    teacher: BenchmarkResult
    student: BenchmarkResult
    speedup: Speedup | None  # at the chosen cell; None when a model lacks it
    agreement: Agreement | None

    @property
    def size_ratio(self) -> float:
        return self.student.variant_bytes / self.teacher.variant_bytes

    @property
    def accuracy_gap_pp(self) -> float | None:
        """Student minus teacher accuracy in percentage points; None without accuracy (random weights)."""
        t, s = self.teacher.accuracy, self.student.accuracy
        return (s.value - t.value) * 100 if t and s else None

    @property
    def paired(self) -> PairedAccuracy | None:
        """The student against the teacher on the same sentences (exact McNemar): only a paired test may call the
        gap noise, never overlapping intervals."""
        return paired(self.agreement) if self.agreement else None


def headline(results: Iterable[BenchmarkResult], variant: str, batch: int, seq_len: int) -> Headline | None:
    """The headline of `variant` (a setup: runtime and precision) at batch x seq_len; None unless both models of it
    are there."""
    chosen = [r for r in results if r.config.setup == variant]
    roles = {r.config.role: r for r in chosen}
    if set(roles) != set(ROLES):
        return None
    speedup = next((x for x in speedups(chosen) if (x.batch, x.seq_len) == (batch, seq_len)), None)
    return Headline(roles["teacher"], roles["student"], speedup, pair_agreement(chosen).get(variant))


def flips_vs_eager_fp32(results: Iterable[BenchmarkResult]) -> dict[str, Proportion]:
    """Per result key: the share of sentences whose predicted label differs from the same model's eager fp32
    prediction (Wilson interval), where both scored the same sentences. Eager fp32 itself is left out."""

    def model_on(r: BenchmarkResult) -> tuple:  # predictions do not depend on the thread count
        return r.config.pair, r.config.role, r.hardware.fingerprint, r.device

    found = flips_vs_reference(
        Answers(r.key, model_on(r), r.config.setup == "fp32", [int(c) for c in r.accuracy.predictions],
                [int(c) for c in r.accuracy.labels])
        for r in results
        if r.accuracy is not None
    )
    return {f.candidate: f.rate for f in found}


def flip_rows(results: Sequence[BenchmarkResult]) -> list[dict]:
    """One row per result with a flip rate against its eager fp32 run (flips_vs_eager_fp32), for a table."""
    flips = flips_vs_eager_fp32(results)
    return [{"model · runtime precision": series_name(r), "flipped": f"{f.value * f.n:.0f} of {f.n}",
             "flip rate [95 %]": f"{f.value:.2%} [{f.low:.2%}, {f.high:.2%}]"}
            for r in results if (f := flips.get(r.key)) is not None]
