"""Explain: which teacher layer each student layer became (CKA), which words each model relies on
(integrated gradients), how attention mixes tokens across layers (rollout), and which heads matter."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from benchmarks.analysis.attribution import rank_agreement
from benchmarks.analysis.rollout import attention_rollout
from benchmarks.core.data import DataUnavailable, sample_sentences
from benchmarks.core.device import detect_hardware
from benchmarks.core.inference import InvalidInput, clean_text
from benchmarks.core.models import ModelLoadError
from benchmarks.core.pairs import PairSpec
from benchmarks.core.vocabulary import ROLES
from dashboard import resources, safe, sidebar
from dashboard.charts.attention import attention_heatmap
from dashboard.charts.explain import (
    IG_METHOD,
    ROLLOUT_METHOD,
    attribution_bars,
    cka_heatmap,
    cka_method,
    delta_caption,
    shared_range,
    similarity_caption,
)
from dashboard.charts.theme import CONFIG, ROLE_COLOURS, ROLE_SCALES
from dashboard.sections import head_importance

DEV_SIZES = (50, 100, 200, 400)


def machine(device: str) -> str:
    return f"{detect_hardware().label(device)}, {torch.get_num_threads()} threads"


def similarity_tab(spec: PairSpec, device: str, text: str) -> None:
    source = st.radio("Sentences", ["Sample sentences + yours", "SST-2 dev"], horizontal=True, key="cka_source")
    if source == "SST-2 dev":
        n = st.select_slider("Dev sentences (the first N)", DEV_SIZES, value=200, key="cka_dev_n")
        texts = resources.sst2_dev().texts[:n]
    else:
        texts = tuple(dict.fromkeys(sample_sentences() + [text]))  # yours counts once even if it is a sample
    sim, seconds = resources.layer_similarity_of(spec, device, tuple(texts))
    st.plotly_chart(cka_heatmap(sim), config=CONFIG, key="cka_heatmap")
    st.caption(similarity_caption(sim))
    st.caption(cka_method(sim, len(texts), seconds, machine(device)))


def attribution_tab(spec: PairSpec, device: str, text: str) -> None:
    steps = st.select_slider(
        "Integration steps",
        [16, 32, 50, 100, 200],
        value=50,
        key="ig_steps",
        help="More steps shrink the convergence delta (the integration error) and take proportionally longer.",
    )
    teacher, student, t_s, s_s = resources.attributions(spec, device, text, steps)
    for role, attr in zip(ROLES, (teacher, student)):
        if attr.truncated:
            st.warning(f"The text has {attr.full_length:,} tokens for the {role}; its attributions cover the first "
                       f"{len(attr.tokens)} (truncated, [SEP] kept at the end).")
    scale = shared_range(teacher, student)  # one x-scale: bar lengths compare across the two charts
    for column, role, attr, seconds in zip(st.columns(2), ROLES, (teacher, student), (t_s, s_s)):
        with column:
            st.markdown(f"**{role.capitalize()}** predicts **{attr.label}** ({attr.probability:.1%})")
            st.plotly_chart(attribution_bars(attr, ROLE_COLOURS[role], scale), config=CONFIG, key=f"ig_{role}")
            st.caption(delta_caption(attr, steps, seconds))
            if attr.relative_delta > 0.05:
                st.warning("The delta is over 5 % of the output change: raise the steps for trustworthy scores.")
    st.caption(f"{IG_METHOD} {machine(device)}.")
    if teacher.ids == student.ids:
        agreement = rank_agreement(teacher, student)
        c1, c2 = st.columns(2)
        c1.metric(
            "Rank agreement (Spearman, |attribution|)",
            "n/a" if np.isnan(agreement.spearman) else f"{agreement.spearman:.2f}",
        )
        c2.metric(f"Top-{agreement.k} words in common", f"{agreement.top_overlap:.0%}")
    else:
        st.info(
            "The two tokenizers split this sentence differently, so the attributions cannot be compared token by token."
        )
    sample_check(spec, device, steps)


def sample_check(spec: PairSpec, device: str, steps: int) -> None:
    texts = tuple(sample_sentences())
    if not st.toggle(f"Agreement and faithfulness over the {len(texts)} sample sentences", key="ig_sample"):
        return
    report = resources.attribution_sample(spec, device, texts, steps)
    st.write(
        f"Mean Spearman between the two models: **{report.mean_spearman:.2f}** over {len(report.agreements)} "
        f"sentences; top-3 words in common: **{report.mean_top_overlap:.0%}**"
        + (f" ({report.skipped} tokenized differently, left out)." if report.skipped else ".")
    )
    for check in (report.teacher, report.student):
        role = "Teacher" if check is report.teacher else "Student"
        st.write(
            f"{role}: deleting the top {check.fraction:.0%} attributed words lowers the predicted class's probability "
            f"by **{check.top_drop:.3f}** on average, deleting as many random words by **{check.random_drop:.3f}** "
            f"(5 draws); the top words moved it more in {check.wins} of {check.sentences} sentences."
        )
    st.caption(
        "Deletion check (faithfulness): words are removed from the input, not masked. Worst relative convergence delta "
        f"over these attributions: {report.worst_relative_delta:.1%}. A handful of sentences: a sanity check, not a "
        "benchmark."
    )


def rollout_tab(spec: PairSpec, device: str, text: str) -> None:
    cap = resources.settings().attention_max_tokens
    maps = resources.attention_maps(spec, device, text, cap)
    if maps.teacher.truncated or maps.student.truncated:
        st.warning(f"The text has {maps.teacher.full_length:,} tokens; rollout shows the first "
                   f"{len(maps.teacher.tokens)} (token cap {cap}, KD_ATTENTION_MAX_TOKENS; [SEP] kept at the end).")
    mode = st.radio("Show", ["Rollout", "Raw attention (mean over heads)"], horizontal=True, key="rollout_mode")
    st.caption(ROLLOUT_METHOD)
    for column, role in zip(st.columns(2), ROLES):
        chosen = getattr(maps, role)
        with column:
            layer = st.selectbox(
                f"{role.capitalize()} layer",
                range(chosen.n_layers),
                index=chosen.n_layers - 1,
                key=f"rollout_layer_{role}_{chosen.n_layers}",
            )
            matrix = (
                attention_rollout(chosen.weights)[layer] if mode == "Rollout" else chosen.weights[layer].mean(axis=0)
            )
            st.plotly_chart(attention_heatmap(matrix, chosen.tokens, ROLE_SCALES[role]), config=CONFIG,
                            key=f"rollout_{role}")


def main() -> None:
    st.title("Explain")
    st.write(
        "Beyond attention maps: which teacher layer each student layer became, and whether the two models rely on the "
        "same words."
    )
    limits = resources.settings()
    pair_spec, device = sidebar.current()
    choice = st.selectbox("Example sentences", ["(type your own)"] + sample_sentences(), index=1, key="explain_example")
    # No max_chars on the box: the browser would drop an over-long paste silently; clean_text() says how long it was.
    text = st.text_area(
        "Text",
        value="" if choice == "(type your own)" else choice,
        height=80,
        key=f"explain_text-{choice}",
    )
    if not text.strip():
        st.info("Pick an example or type a sentence.")
        return
    try:
        text = clean_text(text, limits.max_chars)
    except InvalidInput as exc:
        st.error(safe.message(exc))
        return
    if pair_spec.architecture_only:
        st.warning("Architecture-only pair: random weights, so similarities, attributions and head importance mean "
                   "nothing here.")
    tabs = st.tabs(
        ["Layer similarity", "Token attributions", "Attention rollout", "Head importance"],
        key="explain_tab",
        on_change="rerun",
    )
    views = (similarity_tab, attribution_tab, rollout_tab, head_importance.panel)
    for tab, render in zip(tabs, views):
        if tab.open:  # only the open tab is computed
            with tab:
                try:
                    render(pair_spec, device, text)
                except (InvalidInput, ModelLoadError, DataUnavailable, ValueError) as exc:
                    st.error(safe.message(exc))


main()
