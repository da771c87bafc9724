"""Every st.cache_resource / st.cache_data wrapper of the dashboard lives here, and nothing else."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, replace

import streamlit as st
import torch

from benchmarks.analysis.attention import AlignedComparison, PairAttention, compare_aligned, extract_pair
from benchmarks.analysis.attribution import SampleReport, TokenAttribution, integrated_gradients, sample_report
from benchmarks.analysis.bertviz_offline import View, head_view_html, model_view_html
from benchmarks.analysis.heads import estimate_seconds
from benchmarks.analysis.lesson import Round, read_rounds
from benchmarks.analysis.scoring import EAGER_SETUP
from benchmarks.analysis.similarity import LayerSimilarity, layer_similarity
from benchmarks.core import deadline
from benchmarks.core.batching import MAX_BATCH, Admission, MicroBatcher, Traffic
from benchmarks.core.data import LabelledTexts, load_sst2
from benchmarks.core.device import detect_hardware
from benchmarks.core.fair_share import FairShare
from benchmarks.core.inference import BatchedPair, ModelRun, predict_batched, predict_each
from benchmarks.core.models import LoadedModel, LoadedPair, ModelLoadError, canonical_spec, load_model
from benchmarks.core.pairs import ModelSpec, PairSpec
from benchmarks.core.settings import Settings, load_settings
from benchmarks.harness.fastest import ANSWER_CELL, SCORING_CELL, Choice, fastest_equivalent
from benchmarks.harness.machines import Machine
from benchmarks.harness.results import BenchmarkResult
from benchmarks.harness.setups import setups, with_runtime
from benchmarks.harness.store import ResultStore, StoredRecord, reference_records
from benchmarks.jobs.service import Jobs
from benchmarks.runtimes.base import RuntimeUnavailable
from benchmarks.store.database import StoreUnavailable


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    loaded = load_settings()
    if loaded.threads:  # KD_THREADS: once per process, before any model runs (torch's pool is process-wide)
        torch.set_num_threads(loaded.threads)
    return loaded


def _spec(pair: PairSpec) -> tuple[str, ...]:
    return (pair.key, pair.title, pair.teacher.source, pair.teacher.ref, pair.student.source, pair.student.ref)


def _pair_from(key: tuple[str, ...]) -> PairSpec:
    pkey, title, ts, tr, ss, sr = key
    return PairSpec(pkey, title, ModelSpec(ts, tr, "teacher"), ModelSpec(ss, sr, "student"))  # type: ignore[arg-type]


@st.cache_resource(show_spinner=False, max_entries=8)
def _loading(source: str, ref: str, role: str, device: str, attn: str) -> Future[LoadedModel]:
    # The cache holds the load in progress, not its result: visitors of other models never wait behind it,
    # and a load that fails or hangs is dropped below so the next visitor starts afresh. One entry per model, named
    # canonically, so every spelling of a folder and every pair it is in share one load.
    spec = ModelSpec(source, ref, role)  # type: ignore[arg-type]
    return deadline.start(load_model, spec, device, attn, name=f"load {ref[-40:]}")


def _loaded(key: tuple[str, ...], device: str, attn: str) -> LoadedPair:
    timeout, spec = settings().load_timeout_s, _pair_from(key)
    models = [canonical_spec(m) for m in (spec.teacher, spec.student)]
    futures = [_loading(m.source, m.ref, m.role, device, attn) for m in models]
    deadline_at = time.monotonic() + timeout
    loaded = []
    try:
        with st.spinner("Loading teacher and student…"):
            for future in futures:
                loaded.append(future.result(max(0.0, deadline_at - time.monotonic())))
    except TimeoutError:
        _drop(models, futures, device, attn)
        raise ModelLoadError(f"Loading the pair took longer than {timeout} s (KD_LOAD_TIMEOUT_S) and was abandoned; "
                             f"try again later.") from None
    except BaseException:
        _drop(models, futures, device, attn)
        raise
    return LoadedPair(spec, *loaded)


def _drop(models: list[ModelSpec], futures: list[Future], device: str, attn: str) -> None:
    """Forget loads that failed or are still running (a later visitor retries them); finished ones stay."""
    for m, future in zip(models, futures):
        if not future.done() or future.exception() is not None:
            _loading.clear(m.source, m.ref, m.role, device, attn)


def pair(spec: PairSpec, device: str = "cpu") -> LoadedPair:
    """The SDPA pair used for predictions; loaded once per process and shared by every session."""
    return _loaded(_spec(spec), device, "sdpa")


@st.cache_resource(show_spinner=False, max_entries=8)
def _in_runtime(key: tuple[str, ...], device: str, role: str, runtime: str, variant: str) -> LoadedModel:
    return with_runtime(getattr(_loaded(key, device, "sdpa"), role), runtime, variant, torch.get_num_threads())


def runtime_pair(spec: PairSpec, device: str, choices: dict[str, tuple[str, str]]) -> LoadedPair:
    """The prediction pair with each model in its chosen (runtime, variant); eager fp32 is the shared pair itself.
    Prepared once per process (exporting or compiling can take a minute); RuntimeUnavailable is not cached."""
    base = pair(spec, device)
    models = {role: _in_runtime(_spec(spec), device, role, *choices[role]) if choices[role] != ("eager", "fp32")
              else getattr(base, role) for role in ("teacher", "student")}
    return replace(base, **models)


@st.cache_resource(show_spinner=False)
def traffic() -> Traffic:
    """Compares this server process received lately: the load every answer is labelled with."""
    return Traffic()


@st.cache_resource(show_spinner=False)
def admission() -> Admission:
    """The places for Compares in progress in this server process (KD_MAX_ANSWERING)."""
    return Admission(settings().max_answering)


@st.cache_resource(show_spinner=False)
def fair_share() -> FairShare:
    """The server process's slots for visitors' heavy work, and the priority of answers over it."""
    return FairShare(settings().heavy_slots)


def waiting_line(place: int) -> str:
    """What a visitor whose heavy job waits for a slot reads."""
    slots = settings().heavy_slots
    return (f"Waiting for a free slot: number {place} in line. This server scores {slots} data set"
            f"{'s' if slots != 1 else ''} at a time (KD_HEAVY_SLOTS), so that every visitor's answers stay quick.")


@st.cache_resource(show_spinner=False)
def timing_lock() -> threading.Lock:
    """Timed repeats take turns, so two visitors' timings never share the cores."""
    return threading.Lock()


@st.cache_resource(show_spinner=False, max_entries=16)
def _batcher(key: tuple[str, ...], device: str, role: str, runtime: str, variant: str,
             max_tokens: int) -> MicroBatcher[ModelRun]:
    model = (getattr(_loaded(key, device, "sdpa"), role) if (runtime, variant) == ("eager", "fp32")
             else _in_runtime(key, device, role, runtime, variant))
    window_ms = settings().batch_window_ms  # 0 turns batching off: one pass per request, as before batching
    return MicroBatcher(lambda texts: predict_each(model, texts, max_tokens), window_s=window_ms / 1000,
                        max_batch=MAX_BATCH if window_ms else 1, name=f"batch {role} {runtime}")


def batched_answer(spec: PairSpec, device: str, choices: dict[str, tuple[str, str]], text: str,
                   max_tokens: int) -> BatchedPair:
    """One forward pass per model, shared with whoever else asks within the batching window (core/batching.py);
    Busy when a model's queue is full."""
    key = _spec(spec)
    teacher, student = (_batcher(key, device, role, *choices[role], max_tokens) for role in ("teacher", "student"))
    return predict_batched(teacher, student, text, timeout=float(settings().load_timeout_s))


def attention_pair(spec: PairSpec, device: str = "cpu") -> LoadedPair:
    """Separate eager-attention instances: SDPA returns no attention weights. Never benchmarked."""
    return _loaded(_spec(spec), device, "eager")


@st.cache_data(show_spinner=False)
def sst2_dev() -> LabelledTexts:
    """SST-2 dev (872 sentences), read once; DataUnavailable (not cached) says how to point SST2_DIR at it."""
    return load_sst2("validation")


@st.cache_data(show_spinner=False)
def lesson_rounds() -> tuple[Round, ...]:
    """The curated predict-then-reveal sentences of data/lesson, read once."""
    return read_rounds()


@st.cache_data(show_spinner="Running both models with attention outputs…", max_entries=16)
def _attention(key: tuple[str, ...], device: str, text: str, max_tokens: int) -> PairAttention:
    return extract_pair(attention_pair(_pair_from(key), device), text, max_tokens)


def attention_maps(spec: PairSpec, device: str, text: str, max_tokens: int) -> PairAttention:
    """Every head's attention for one sentence, from the eager instances; cached per text and token cap."""
    return _attention(_spec(spec), device, text, max_tokens)


@st.cache_data(show_spinner="Comparing student heads with teacher heads over the sample sentences…", max_entries=16)
def _aligned(key: tuple[str, ...], device: str, sentences: tuple[str, ...], max_tokens: int) -> AlignedComparison:
    return compare_aligned(attention_pair(_pair_from(key), device), sentences, max_tokens)


def aligned_comparison(spec: PairSpec, device: str, sentences: tuple[str, ...], max_tokens: int) -> AlignedComparison:
    """Per-head JS divergence, student layer k vs its aligned teacher layer, over `sentences`; cached."""
    return _aligned(_spec(spec), device, sentences, max_tokens)


@st.cache_data(show_spinner="Building the bertviz view…", max_entries=16)
def _bertviz(key: tuple[str, ...], device: str, text: str, max_tokens: int, role: str, kind: str, title: str,
             layers: tuple[int, ...] | None) -> View:
    maps = getattr(_attention(key, device, text, max_tokens), role)
    return head_view_html(maps, title) if kind == "head" else model_view_html(maps, title, layers)


def bertviz_view(spec: PairSpec, device: str, text: str, max_tokens: int, role: str, kind: str, title: str,
                 layers: tuple[int, ...] | None = None) -> View:
    """Offline bertviz HTML ("head" or "model" view) for the teacher or student; cached, so reruns
    resend the same document and the iframe is not redrawn."""
    return _bertviz(_spec(spec), device, text, max_tokens, role, kind, title, layers)


@st.cache_resource(show_spinner=False)
def benchmark_store(path: str) -> ResultStore:
    """The benchmark results cache, opened once per process: checked (a corrupt file is moved aside
    and rebuilt) and seeded with the shipped reference results, so a fresh dashboard has charts."""
    store = ResultStore(path)
    store.seed()
    return store


@st.cache_resource(show_spinner=False)
def _jobs(results_db: str, state_dir: str, ray_address: str) -> Jobs:
    return Jobs(settings())


def jobs() -> Jobs:
    """The job layer (benchmark runs, head importance, live distillation), opened once per process and settings."""
    s = settings()
    return _jobs(s.results_db, str(s.state_dir), s.ray_address)


@st.cache_data(show_spinner=False, max_entries=8)
def benchmark_records(path: str, version: tuple[int, str], pair_key: str | None = None) -> list[StoredRecord]:
    """A pair's stored results and every matmul peak (None: every record); re-read when `version`
    (ResultStore.version) shows new rows. Pages show one pair at a time: reading only its rows keeps them quick over a
    team's store of thousands."""
    store = benchmark_store(path)
    return store.records() if pair_key is None else store.records("model", pair_key) + store.records("peak")


@dataclass(frozen=True)
class Records:
    """What the Benchmarks and Decide pages show: the stored records, else the shipped reference files."""

    records: list[StoredRecord]
    recovered: str | None  # what the cache's check repaired, for the page to say
    version: tuple[int, str] | None  # None when the cache could not be opened
    failure: Exception | None = None  # why it could not, when it could not


def stored_or_reference(pair_key: str | None = None) -> Records:
    """The stored benchmark records of a pair and the matmul peaks (None: every record); without a usable cache, the
    shipped reference files read-only."""
    path = settings().results_db
    try:
        store = benchmark_store(path)
        version = store.version()
        return Records(benchmark_records(path, version, pair_key), store.recovered, version)
    except (OSError, StoreUnavailable) as exc:
        return Records(reference_records(), None, None, exc)


def scoring_pair(spec: PairSpec, device: str) -> tuple[LoadedPair, str]:
    """The pair in the setups that score a data set fastest here with eager fp32's answers (prepared on first use:
    an export can take a minute), and where each model runs, in words."""
    offered, _ = setups(device, detect_hardware())
    chosen = default_setups(spec, device, offered, SCORING_CELL)
    try:
        loaded = runtime_pair(spec, device, {role: c.setup for role, c in chosen.items()})
    except RuntimeUnavailable as exc:  # an export that fails here: score eagerly, and say why
        return pair(spec, device), f"{EAGER_SETUP} ({exc})"
    t, s = chosen["teacher"], chosen["student"]
    where = t.label if t.setup == s.setup else f"teacher in {t.label}, student in {s.label}"
    return loaded, where


@st.cache_resource(show_spinner=False, max_entries=32)
def _defaults(key: tuple[str, ...], device: str, threads: int, version: tuple[int, str] | None,
              offered: tuple[tuple[str, str], ...], cell: tuple[int, int]) -> dict[str, Choice]:
    # Held, not copied, per store version: every Compare asks, and reading the records back costs more than a pass.
    results = [s.record for s in stored_or_reference().records if isinstance(s.record, BenchmarkResult)]
    machine = Machine.of(detect_hardware(), device, threads)
    try:
        loaded = _loaded(key, device, "sdpa")
    except ModelLoadError:
        return {role: fastest_equivalent((), "", machine, offered, cell) for role in ("teacher", "student")}
    return {role: fastest_equivalent(results, getattr(loaded, role).fingerprint, machine, offered, cell)
            for role in ("teacher", "student")}


def default_setups(spec: PairSpec, device: str, offered: list[tuple[str, str]], cell: tuple[int, int] = ANSWER_CELL
                   ) -> dict[str, Choice]:
    """Per role, the fastest setup measured on this machine that changes no SST-2 dev answer (harness/fastest.py);
    eager fp32 where nothing is measured, the store cannot be read or the pair cannot load."""
    try:
        version: tuple[int, str] | None = benchmark_store(settings().results_db).version()
    except (StoreUnavailable, OSError):
        version = None
    return _defaults(_spec(spec), device, torch.get_num_threads(), version, tuple(offered), cell)


# --- Explain page: layer similarity, attributions, head importance (pure computations in benchmarks/analysis) ---


@st.cache_data(show_spinner="Comparing every student layer with every teacher layer (CKA)…", max_entries=16)
def _similarity(key: tuple[str, ...], device: str, texts: tuple[str, ...]) -> tuple[LayerSimilarity, float]:
    loaded = _loaded(key, device, "sdpa")
    started = time.perf_counter()
    return layer_similarity(loaded, texts), time.perf_counter() - started


def layer_similarity_of(spec: PairSpec, device: str, texts: tuple[str, ...]) -> tuple[LayerSimilarity, float]:
    """Linear CKA over `texts`, and the seconds it took (models already loaded); cached per pair and sentences."""
    return _similarity(_spec(spec), device, texts)


@st.cache_data(show_spinner="Integrated gradients through both models…", max_entries=32)
def _attributions(
    key: tuple[str, ...], device: str, text: str, steps: int
) -> tuple[TokenAttribution, TokenAttribution, float, float]:
    loaded = _loaded(key, device, "sdpa")
    started = time.perf_counter()
    teacher = integrated_gradients(loaded.teacher, text, steps)
    middle = time.perf_counter()
    student = integrated_gradients(loaded.student, text, steps)
    return teacher, student, middle - started, time.perf_counter() - middle


def attributions(
    spec: PairSpec, device: str, text: str, steps: int
) -> tuple[TokenAttribution, TokenAttribution, float, float]:
    """IG for the teacher and the student on one sentence, and the seconds each took; cached."""
    return _attributions(_spec(spec), device, text, steps)


@st.cache_data(show_spinner="Attributing every sample sentence with both models, then deleting words…", max_entries=8)
def _sample_report(key: tuple[str, ...], device: str, texts: tuple[str, ...], steps: int) -> SampleReport:
    loaded = _loaded(key, device, "sdpa")
    return sample_report(loaded.teacher, loaded.student, texts, steps)


def attribution_sample(spec: PairSpec, device: str, texts: tuple[str, ...], steps: int) -> SampleReport:
    return _sample_report(_spec(spec), device, texts, steps)


@st.cache_data(show_spinner="Timing one batch to estimate the run…", max_entries=8)
def _head_estimate(key: tuple[str, ...], device: str, texts: tuple[str, ...]) -> float:
    loaded = _loaded(key, device, "sdpa")
    return sum(estimate_seconds(m, texts) for m in (loaded.teacher, loaded.student))


def head_importance_estimate(spec: PairSpec, device: str, texts: tuple[str, ...]) -> float:
    """Seconds a head-importance run over `texts` should take on this machine now (from timing one batch)."""
    return _head_estimate(_spec(spec), device, texts)
