"""Running a pair, start to finish: the one function behind `python -m benchmarks run` and the Benchmarks page's
"Measure" button (which starts that command in the background). Reads top to bottom: request -> device and
variants -> settings -> cache -> data and models -> plan -> peaks -> sweep."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from benchmarks.core.background import run_lock
from benchmarks.core.data import load_sst2
from benchmarks.core.device import HardwareInfo, detect_hardware, detect_software, resolve_device, thread_count
from benchmarks.core.models import model_fingerprint
from benchmarks.core.pairs import PairSpec, pair_from_dict, pair_to_dict
from benchmarks.core.settings import load_settings
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, ROLES, RUNTIMES
from benchmarks.harness.measure import full_settings, quick_settings
from benchmarks.harness.peak import peak_dtypes
from benchmarks.harness.precision import supported_variants, unsupported_reason
from benchmarks.harness.results import BenchmarkResult, BenchmarkSettings
from benchmarks.harness.selection import missing_variants
from benchmarks.harness.store import ResultStore
from benchmarks.harness.sweep import SweepItem, SweepProgress, ensure_peaks, plan, run_sweep, runtime_skips
from benchmarks.runtimes.registry import RUNTIME_INFO, unavailable_reason


@dataclass(frozen=True)
class RunRequest:
    """What to measure: the flags of `python -m benchmarks run` as data."""

    pair: PairSpec
    device: str = "auto"
    variants: tuple[str, ...] = ()  # () = every variant this device runs natively
    quick: bool = False
    threads: int | None = None
    budget: float = 1.0
    data: str | None = None  # folder with SST-2 dev.tsv; None = the default
    force: bool = False
    db: str | Path | None = None  # results database (a sqlite file or a URL); None = the configured one
    runtimes: tuple[str, ...] = (DEFAULT_RUNTIME,)
    # A smaller grid than the standard one (full runs only): compiling every shape is the slow part of `compile`
    batch_sizes: tuple[int, ...] = ()
    seq_lens: tuple[int, ...] = ()

    def to_json(self) -> str:
        """The request as it crosses a process or machine boundary (a job's request): every field, the pair as its
        two model specs (a built-in pair by its key)."""
        raw = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pair"}
        raw["db"] = None if self.db is None else str(self.db)
        raw["pair"] = pair_to_dict(self.pair)
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunRequest":
        raw = json.loads(text)
        spec = pair_from_dict(raw.pop("pair"))
        tuples = {name: tuple(raw[name]) for name in ("variants", "runtimes", "batch_sizes", "seq_lens")}
        return cls(spec, **{**raw, **tuples})

    def settings(self) -> BenchmarkSettings:
        if self.quick:
            return quick_settings(self.threads)
        standard = full_settings(self.threads, self.budget)
        return replace(standard, batch_sizes=self.batch_sizes or standard.batch_sizes,
                       seq_lens=self.seq_lens or standard.seq_lens)

    def checked_runtimes(self) -> tuple[str, ...]:
        """ValueError (one sentence) for a runtime name that does not exist; installed or not is the run's finding."""
        for name in self.runtimes:
            if name not in RUNTIMES:
                raise ValueError(f"--runtimes {name}: unknown runtime; choose from {', '.join(RUNTIMES)}.")
        if not self.runtimes:
            raise ValueError("--runtimes: name at least one runtime.")
        return self.runtimes

    def variants_on(self, device: str, hardware: HardwareInfo) -> tuple[str, ...]:
        """The requested variants, checked against the device; ValueError (one sentence) for one it cannot run."""
        if not self.variants:  # every native precision that one of the chosen runtimes runs
            offered = {v for runtime in self.checked_runtimes() for v in RUNTIME_INFO[runtime].precisions}
            return tuple(v for v in supported_variants(device, hardware) if v in offered)
        for name in self.variants:
            reason = unsupported_reason(name, device, hardware)
            if reason:
                raise ValueError(f"--variants {name}: {reason}")
        return self.variants


@dataclass(frozen=True)
class RunReport:
    settings: BenchmarkSettings
    items: list[SweepItem]  # in plan order: eager fp32 first, teacher before student
    skipped: list[str]  # one sentence per runtime x precision not measured: not installed, not run here, or failed

    @property
    def results(self) -> list[BenchmarkResult]:
        return [item.result for item in self.items]


def open_store(db: str | Path | None) -> ResultStore:
    return ResultStore(db if db is not None else load_settings().results_db)


def missing(request: RunRequest, results: Sequence[BenchmarkResult]) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """(the variants a run would measure here, the (role, variant) it would add): the page's cheap preview of a
    run, without loading models (the run itself checks the full cache key, model weights included)."""
    device, hardware = str(resolve_device(request.device)), detect_hardware()
    variants = request.variants_on(device, hardware)
    return variants, missing_variants(results, request.pair.key, hardware, detect_software(), device, variants,
                                      request.settings(), request.checked_runtimes(),
                                      lambda runtime, variant: unavailable_reason(runtime, variant, device) is None)


def run_pair(
    request: RunRequest,
    store: ResultStore | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
    log: Callable[[str], None] = print,
) -> RunReport:
    """Measure the teacher and the student of the pair in every requested variant, one run per machine at a
    time, storing each result as it lands; results already cached are reused unless request.force."""
    device = str(resolve_device(request.device))
    hardware, software = detect_hardware(), detect_software()
    variants = request.variants_on(device, hardware)
    runtimes = request.checked_runtimes()
    settings = request.settings()
    store = store or open_store(request.db)
    seeded = store.seed()
    pair = request.pair
    # One run per machine: the lock lives beside a sqlite file, else in this machine's state folder.
    lock_dir = store.path.parent if store.path is not None else load_settings().state_dir
    with run_lock(lock_dir / "benchmark-run.lock"):
        data = None if pair.architecture_only else load_sst2("validation", request.data)
        fingerprints = {role: model_fingerprint(getattr(pair, role)) for role in ROLES}  # no weights loaded here
        configs = plan(pair, fingerprints, device, variants, settings, data, runtimes)
        skipped = runtime_skips(runtimes, variants, device, named=bool(request.variants))
        log(f"{pair.title}\n{hardware.label(device)} · {software.label} · {thread_count(settings.threads)} · "
            f"variants: {', '.join(variants)} · runtimes: {', '.join(runtimes)}")
        for reason in skipped:
            log(f"skipped {reason}")
        if seeded:
            log(f"(added {seeded} shipped reference results to the cache)")
        if not request.quick:
            for peak in ensure_peaks(
                store, device, peak_dtypes(device, hardware), settings.threads, force=request.force
            ):
                log(f"matmul peak {peak.dtype}: {peak.gflops:.1f} GFLOP/s (n={peak.size}, best of {peak.n_iters})")
        failed: list[str] = []

        def failure(reason: str) -> None:
            failed.append(reason)
            log(f"failed: {reason}")

        items = run_sweep(configs, store, data, force=request.force, on_progress=on_progress, on_failure=failure)
    return RunReport(settings, items, skipped + failed)
