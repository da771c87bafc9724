"""Every st.cache_resource / st.cache_data wrapper of the dashboard lives here, and nothing else."""

from __future__ import annotations

import streamlit as st

from benchmarks.models import LoadedPair, ModelSpec, PairSpec, load_pair
from benchmarks.settings import Settings, load_settings


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
