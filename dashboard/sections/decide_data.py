"""Sections of the Decide page over sentences: accuracy on the user's own labelled file in every variant, and
where a lower precision changes a model's answers (precision drift)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from benchmarks.analysis.stats import Flips
from benchmarks.core.data import DataUnavailable, LabelledTexts
from benchmarks.core.device import detect_hardware
from benchmarks.core.models import ModelLoadError
from benchmarks.core.pairs import PairSpec
from benchmarks.core.vocabulary import CANONICAL_LABELS, ROLES
from benchmarks.harness.candidates import Scored
from benchmarks.harness.precision import supported_variants
from benchmarks.harness.results import BenchmarkResult
from benchmarks.harness.variant_scores import cached_variant_scores, score_variants
from dashboard import resources, safe
from dashboard.sections.distillation_data import choose_dataset


def own_scores(pair: PairSpec, device: str, variants: list[str]) -> tuple[Scored, LabelledTexts, str] | None:
    """Teacher and student predictions in every variant this device runs, on an uploaded file (or SST-2 dev),
    scored once and cached by the file's content hash."""
    limits = resources.settings()
    data = choose_dataset(limits)
    if data is None:
        return None
    try:
        loaded = resources.pair(pair, device)
    except ModelLoadError as exc:
        st.error(safe.message(exc))
        return None
    runnable = [v for v in variants if v in supported_variants(device, detect_hardware())]
    cache_dir = limits.state_dir / "scores"
    found = cached_variant_scores(loaded, data, runnable, cache_dir)
    if len(found) < len(runnable):
        label = f"Score the {len(data):,} sentences with both models in {', '.join(runnable)}"
        if not st.button(label, type="primary", key="dk_score"):
            st.caption("Runs once per pair, variant and data set (content hash); stored on disk and shared with every "
                       "visitor.")
            return None
        with st.spinner("Preparing the fastest setup measured here for fp32 (a runtime's first use exports the "
                        "model)…"):
            fast = resources.scoring_pair(pair, device)
        bar = st.progress(0.0, text="Scoring…")
        share = resources.fair_share()
        with share.heavy(lambda place: bar.progress(0.0, text=resources.waiting_line(place))):
            found = score_variants(
                loaded, data, runnable, cache_dir, fp32=fast,
                progress=lambda f, msg: (share.let_answers_pass(), bar.progress(min(1.0, f), text=msg)),
            )
        bar.empty()
    skipped = sorted(set(variants) - set(runnable))
    if skipped:
        st.caption(f"Not scored on this {device}: {', '.join(skipped)} (not supported here); they have no accuracy "
                   "below.")
    st.caption("Scored in " + "; ".join(f"{v}: {s.run.setup}" for v, s in found.items()) + ".")
    scored = {(role, v): (tuple(int(p) for p in getattr(s, role).predictions), s.gold)
              for v, s in found.items() for role in ROLES}
    return scored, data, data.fingerprint


def drift_section(flips: list[Flips], cands_by_name: dict, texts: list[str] | None) -> None:
    st.subheader("Precision and runtime drift")
    if not flips:
        st.info("No precision or runtime has eager fp32 predictions of the same model to compare with.")
        return
    st.caption("How often a lower precision or another runtime changes a model's answer against the same model in "
               "eager fp32, on the same sentences (Wilson 95 % interval). Open a row for the sentences.")
    for f in flips:
        with st.expander(f"{safe.text(f.candidate)}: {f.rate.value:.1%} changed [{f.rate.low:.1%}, {f.rate.high:.1%}] "
                         f"— {len(f.indices)} of {f.rate.n} against {safe.text(f.reference)}"):
            ref, cand = cands_by_name[f.reference], cands_by_name[f.candidate]
            st.dataframe(pd.DataFrame({
                "row": [i + 1 for i in f.indices],
                "sentence": [texts[i] if texts else "(text not available)" for i in f.indices],
                "gold": [CANONICAL_LABELS[cand.labels[i]] for i in f.indices],
                "eager fp32": [CANONICAL_LABELS[ref.predictions[i]] for i in f.indices],
                f.candidate: [CANONICAL_LABELS[cand.predictions[i]] for i in f.indices],
            }), hide_index=True, key=f"dk_flips_{f.candidate}")


def reference_texts(results: list[BenchmarkResult]) -> list[str] | None:
    """The sentences the records were scored on, when they are SST-2 dev as shipped here."""
    try:
        dev = resources.sst2_dev()
    except DataUnavailable:
        return None
    sets = {r.config.eval_set for r in results if r.accuracy}
    return dev.texts if sets == {dev.fingerprint} else None
