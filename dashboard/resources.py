"""Every st.cache_resource / st.cache_data wrapper of the dashboard lives here, and nothing else."""

from __future__ import annotations

import streamlit as st

from benchmarks.attention import AlignedComparison, PairAttention, compare_aligned, extract_pair
from benchmarks.bertviz_offline import View, head_view_html, model_view_html
from benchmarks.data import LabelledTexts, load_sst2
from benchmarks.lesson import Round, read_rounds
from benchmarks.models import LoadedPair, ModelSpec, PairSpec, load_pair
from benchmarks.settings import Settings, load_settings
from benchmarks.store import ResultStore, StoredRecord


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return load_settings()


def _spec(pair: PairSpec) -> tuple[str, ...]:
    return (pair.key, pair.title, pair.teacher.source, pair.teacher.ref, pair.student.source, pair.student.ref)


def _pair_from(key: tuple[str, ...]) -> PairSpec:
    pkey, title, ts, tr, ss, sr = key
    return PairSpec(pkey, title, ModelSpec(ts, tr, "teacher"), ModelSpec(ss, sr, "student"))  # type: ignore[arg-type]


@st.cache_resource(show_spinner="Loading teacher and student…", max_entries=4)
def _loaded(key: tuple[str, ...], device: str, attn: str) -> LoadedPair:
    return load_pair(_pair_from(key), device, attn)


def pair(spec: PairSpec, device: str = "cpu") -> LoadedPair:
    """The SDPA pair used for predictions; loaded once per process and shared by every session."""
    return _loaded(_spec(spec), device, "sdpa")


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


@st.cache_data(show_spinner=False, max_entries=2)
def benchmark_records(path: str, version: tuple[int, str]) -> list[StoredRecord]:
    """Every stored benchmark record; re-read when `version` (ResultStore.version) shows new rows."""
    return benchmark_store(path).records()
