"""What a benchmark measured and on what: frozen, self-checking records with a JSON round trip.

Every record knows its cache key: the same hardware, software, model identity, variant and settings
give the same key, so a measurement is never taken twice (harness/store.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator

from benchmarks.analysis.metrics import Latency
from benchmarks.core.device import HardwareInfo, SoftwareInfo, device_type
from benchmarks.core.figures import Conditions, Throughput
from benchmarks.core.pairs import ModelSpec
from benchmarks.core.persist import digest, from_raw
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, ROLES, RUNTIMES, VARIANTS, Role, setup_name

SCHEMA_VERSION = 1


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class BenchmarkSettings:
    """How a model is measured. Part of the cache key: other settings are another measurement."""

    threads: int
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    seq_lens: tuple[int, ...] = (16, 64, 128)
    cell_budget_s: float = 1.0  # timed seconds per cell, after warm-up...
    min_iters: int = 10  # ...and never fewer timed iterations than this
    rounds: int = 3  # the grid is swept this many times, each cell getting 1/rounds of its budget per sweep
    keep_heap: bool = True  # run with glibc keeping freed memory (worker.HEAP_ENV), as a tuned server would
    warmup_iters: int = 1
    warmup_s: float = 0.2
    attn_implementation: str = "sdpa"
    eval_limit: int | None = None  # score only the first N accuracy sentences (quick runs); None = all
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_sizes", tuple(sorted(set(self.batch_sizes))))
        object.__setattr__(self, "seq_lens", tuple(sorted(set(self.seq_lens))))
        _check(self.threads >= 1, "threads must be >= 1")
        _check(bool(self.batch_sizes) and min(self.batch_sizes) >= 1, "batch sizes must be positive")
        _check(bool(self.seq_lens) and min(self.seq_lens) >= 4, "sequence lengths must be >= 4 tokens")
        _check(self.cell_budget_s >= 0 and self.warmup_s >= 0, "time budgets cannot be negative")
        _check(self.min_iters >= 2 and self.warmup_iters >= 0, "need >= 2 timed iterations per cell")
        _check(self.rounds >= 1, "need at least one sweep of the grid")
        _check(self.eval_limit is None or self.eval_limit >= 1, "eval_limit must be positive")
        _check(self.eval_batch_size >= 1, "eval_batch_size must be positive")



# How results were measured before these settings were added (one sweep; glibc's default allocator).
LEGACY_SETTINGS = {"rounds": 1, "keep_heap": False}


def _with_legacy_settings(raw: object) -> object:
    # A record written before a setting existed was measured the old way, not with today's default.
    return {**LEGACY_SETTINGS, **raw} if isinstance(raw, dict) else raw


StoredSettings = Annotated[BenchmarkSettings, BeforeValidator(_with_legacy_settings)]  # settings as read back


@dataclass(frozen=True)
class BenchmarkConfig:
    """One model in one precision variant and runtime on one device, measured with `settings`."""

    pair: str  # pair key, for grouping on the page
    role: Role
    source: str
    ref: str
    fingerprint: str  # model identity: weights hash, Hub revision or architecture recipe
    variant: str
    device: str  # "cpu" or "cuda:N"
    settings: StoredSettings
    eval_set: str = ""  # fingerprint of the labelled sentences scored for accuracy; "" = no accuracy
    runtime: str = DEFAULT_RUNTIME  # records from before runtimes existed were all measured eagerly
    runtime_version: str = ""  # the runtime library's version ("" for eager: torch's is in SoftwareInfo)

    def __post_init__(self) -> None:
        _check(self.role in ROLES, f"role must be one of {ROLES}")
        _check(self.runtime in RUNTIMES, f"unknown runtime {self.runtime!r}; use one of {', '.join(RUNTIMES)}")
        _check(self.variant in VARIANTS, f"unknown variant {self.variant!r}; use one of {', '.join(VARIANTS)}")
        _check(device_type(self.device) in ("cpu", "cuda"), f"unsupported device {self.device!r}")
        _check(bool(self.fingerprint), "a model fingerprint is required for the cache key")

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.source, self.ref, self.role)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return self.spec.display_name

    @property
    def setup(self) -> str:
        """Runtime and precision as one name, the unit results are grouped by ("fp32", "onnxruntime int8-dynamic")."""
        return setup_name(self.runtime, self.variant)

    def key(self, hardware: HardwareInfo, software: SoftwareInfo) -> str:
        config = asdict(self)
        if self.runtime == DEFAULT_RUNTIME:  # eager keys stay those of records written before runtimes existed
            del config["runtime"], config["runtime_version"]
        return digest({"kind": "model", "config": config, "hw": hardware.fingerprint, "sw": software.fingerprint})



@dataclass(frozen=True)
class CellResult:
    """One (batch size, sequence length) cell. Every sequence holds seq_len real tokens: no padding."""

    batch: int
    seq_len: int
    real_tokens: int  # non-pad tokens per batch
    flops: float  # encoder FLOPs of one forward (analytic, see harness.model_flops)
    model: Latency  # forward pass only, ms
    e2e: Latency  # tokenizer + copy to device + forward, ms (same iterations)
    # Model-only p50 of each sweep of the grid, in order: how far the host moved during the run.
    # Empty in records from before it was kept.
    sweep_p50s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _check(self.batch >= 1 and self.seq_len >= 1, "batch and seq_len must be positive")
        _check(all(p > 0 for p in self.sweep_p50s), "sweep p50s must be positive")
        _check(0 < self.real_tokens <= self.batch * self.seq_len, "real tokens must lie in (0, batch*seq_len]")
        for lat in (self.model, self.e2e):
            _check(0 < lat.p50 <= lat.p90 <= lat.p99, f"percentiles must be positive and ordered, got {lat}")
            _check(lat.n >= 1, "a cell needs timed iterations")

    def timing(self, which: Literal["model", "e2e"]) -> Latency:
        return self.model if which == "model" else self.e2e

    def throughput(self, which: Literal["model", "e2e"] = "model", threads: int | None = None) -> Throughput:
        """One batch is the timed pass: its sentences over its p50 (figures.py holds the definition)."""
        return Throughput(self.batch, self.timing(which).p50 / 1e3,
                          Conditions(self.batch, threads, tokens=self.seq_len, tokenizer=which == "e2e"))

    def tokens_per_s(self, which: Literal["model", "e2e"] = "model") -> float:
        return self.real_tokens / (self.timing(which).p50 / 1e3)

    @property
    def achieved_gflops(self) -> float:
        """Model-only FLOP rate at p50 (for int8 variants: operations, not floating point)."""
        return self.flops / (self.model.p50 / 1e3) / 1e9



@dataclass(frozen=True)
class MemoryUse:
    """Peak memory above the pre-load baseline, in MiB.

    CPU: VmHWM (peak resident set) of a fresh process, reset after loading so `run_peak_mb` covers the
    weights plus activations of the sweep. CUDA: max_memory_allocated / max_memory_reserved after a reset.
    """

    method: Literal["rss", "cuda"]
    load_peak_mb: float  # while loading and converting the weights
    run_peak_mb: float  # while running the sweep (weights resident + activations)
    reserved_mb: float = 0.0  # CUDA caching-allocator reservation; 0 on CPU

    def __post_init__(self) -> None:
        _check(self.method in ("rss", "cuda"), "memory method must be rss or cuda")
        _check(self.load_peak_mb >= 0 and self.run_peak_mb >= 0 and self.reserved_mb >= 0, "memory cannot be negative")


@dataclass(frozen=True)
class Accuracy:
    """Accuracy on a labelled set with its 95 % Wilson interval, and how fast the set was scored."""

    source: str
    correct: int
    n: int
    low: float
    high: float
    eval_s: float  # wall time to score the whole set: tokenizer + model, length-sorted dynamic padding
    real_tokens: int  # non-pad tokens fed to the model over the set
    predictions: str  # predicted class per sentence, "0"/"1", in set order (for agreement)
    labels: str  # gold class per sentence, same order

    def __post_init__(self) -> None:
        _check(0 <= self.correct <= self.n and self.n >= 1, "need 0 <= correct <= n and n >= 1")
        _check(len(self.predictions) == len(self.labels) == self.n, "predictions and labels must have n entries")
        _check(0 <= self.low <= self.value <= self.high <= 1, "interval must contain the accuracy")
        _check(self.eval_s > 0, "eval_s must be positive")

    @property
    def value(self) -> float:
        return self.correct / self.n

    def throughput(self, batch: int, threads: int | None) -> Throughput:
        """The scoring pass as a throughput: every sentence once, real lengths, tokenizer included."""
        return Throughput(self.n, self.eval_s, Conditions(batch, threads, tokenizer=True))

    @property
    def tokens_per_s(self) -> float:
        return self.real_tokens / self.eval_s


@dataclass(frozen=True)
class BenchmarkResult:
    config: BenchmarkConfig
    hardware: HardwareInfo
    software: SoftwareInfo
    measured_at: str  # ISO 8601, UTC
    dtype: str  # what the weights and activations run in, e.g. "float32", "qint8 weights, float32 activations"
    load_s: float  # reading the checkpoint into a ready fp32 model
    convert_s: float  # turning it into the variant and readying its runtime in this process (0 for eager fp32)
    first_call_ms: float  # the very first forward after loading (model only, shape first_call_shape)
    first_call_shape: tuple[int, int]
    cells: tuple[CellResult, ...]
    memory: MemoryUse
    n_params: int  # of the fp32 model
    disk_bytes: int  # checkpoint files as shipped; 0 for architecture-only models
    variant_bytes: int  # serialized state dict of this variant, or the runtime's artefact (what it takes on disk)
    accuracy: Accuracy | None = None
    # One-off cost of the runtime: exporting (and quantizing) the model, or compiling every grid shape, in seconds,
    # and the artefact it keeps on disk; 0 for eager and for records from before runtimes existed.
    export_s: float = 0.0
    artefact_bytes: int = 0
    # The measurement this result was taken in, shared by the workers that took turns with it (harness/worker.py):
    # only results with one run id had their sweeps seconds apart, so only theirs pair sweep by sweep. "" in records
    # from before it was kept (the shipped references among them): they count as unpaired.
    run_id: str = ""
    kind: Literal["model"] = field(default="model", init=False)

    def __post_init__(self) -> None:
        _check(bool(self.cells), "a result needs at least one cell")
        _check(self.export_s >= 0 and self.artefact_bytes >= 0, "one-off costs cannot be negative")
        shapes = [(c.batch, c.seq_len) for c in self.cells]
        _check(len(set(shapes)) == len(shapes), "duplicate cells")
        _check(self.load_s >= 0 and self.convert_s >= 0 and self.first_call_ms > 0, "times must be positive")
        _check(self.n_params > 0 and self.variant_bytes > 0 and self.disk_bytes >= 0, "sizes must be positive")

    @property
    def key(self) -> str:
        return self.config.key(self.hardware, self.software)

    @property
    def device(self) -> str:
        return self.config.device

    def cell(self, batch: int, seq_len: int) -> CellResult | None:
        return next((c for c in self.cells if c.batch == batch and c.seq_len == seq_len), None)

    def throughput(self, batch: int, seq_len: int, timing: Literal["model", "e2e"] = "model") -> Throughput | None:
        """The throughput at one grid cell, with this run's thread count in its conditions; None off the grid."""
        at = self.cell(batch, seq_len)
        return at.throughput(timing, self.config.settings.threads) if at else None

    @property
    def eval_throughput(self) -> Throughput | None:
        """Scoring the accuracy set, where it was scored."""
        if self.accuracy is None:
            return None
        return self.accuracy.throughput(self.config.settings.eval_batch_size, self.config.settings.threads)

    def took_turns_with(self, other: "BenchmarkResult") -> bool:
        """Whether the two were measured in one run, taking turns, so their sweeps pair up one by one."""
        return bool(self.run_id) and self.run_id == other.run_id

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, **asdict(self)}


@dataclass(frozen=True)
class PeakResult:
    """The best rate of a large matmul in one dtype: the ceiling that model FLOP rates are compared to."""

    hardware: HardwareInfo
    software: SoftwareInfo
    device: str
    dtype: Literal["fp32", "bf16", "fp16", "int8"]
    threads: int
    size: int  # n of the n x n x n matmul (int8: an n x n dynamically quantized Linear on n rows)
    gflops: float  # best iteration
    gflops_median: float
    n_iters: int
    measured_at: str
    kind: Literal["peak"] = field(default="peak", init=False)

    def __post_init__(self) -> None:
        _check(self.dtype in ("fp32", "bf16", "fp16", "int8"), f"unknown peak dtype {self.dtype!r}")
        _check(0 < self.gflops_median <= self.gflops, "median rate must be positive and <= the best")
        _check(self.n_iters >= 1 and self.size >= 1 and self.threads >= 1, "size, threads and iterations must be "
                                                                           "positive")

    @property
    def key(self) -> str:
        return peak_key(self.hardware, self.software, self.device, self.dtype, self.threads)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, **asdict(self)}


def peak_key(hardware: HardwareInfo, software: SoftwareInfo, device: str, dtype: str, threads: int) -> str:
    return digest(
        {
            "kind": "peak",
            "hw": hardware.fingerprint,
            "sw": software.fingerprint,
            "device": device,
            "dtype": dtype,
            "threads": threads,
        }
    )


Record = Union[BenchmarkResult, PeakResult]
_KINDS = {"model": BenchmarkResult, "peak": PeakResult}


def record_from_dict(d: dict) -> Record:
    """Rebuild a record from its JSON form; ValueError (one sentence) when it is not a valid record."""
    if not isinstance(d, dict) or d.get("kind") not in _KINDS:
        raise ValueError("not a benchmark record (missing or unknown 'kind')")
    if d.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"record schema {d.get('schema')!r} is not the supported version {SCHEMA_VERSION}")
    try:
        return from_raw(_KINDS[d["kind"]], d)
    except ValueError as exc:
        raise ValueError(f"malformed {d['kind']} record: {exc}") from None


def record_to_json(record: Record) -> str:
    return json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"))
