"""Attention explorer: what each head of the teacher and the student attends to, for the same sentence,
and which student heads still look like the teacher heads they were initialised from."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from benchmarks.analysis.attention import AttentionMaps, PairAttention, aligned_layer, aligned_layers, summarise
from benchmarks.analysis.bertviz_offline import MODEL_VIEW_WIDTH, OfflineAssetError
from benchmarks.core.data import sample_sentences
from benchmarks.core.inference import InvalidInput, clean_text
from benchmarks.core.models import ModelLoadError
from benchmarks.core.pairs import PairSpec
from benchmarks.core.vocabulary import ROLES
from dashboard import resources, safe, sidebar
from dashboard.charts.attention import aligned_figure, attention_heatmap, grid_heatmap
from dashboard.charts.theme import CONFIG, ROLE_SCALES

METRICS = {
    "Entropy (bits)": ("entropy", "How spread out each head's attention is, averaged over query tokens: 0 = every "
                       "token looks at one token; log₂(n) = uniform."),
    "Mean distance (tokens)": ("distance", "How far each head looks, in tokens, weighted by attention: small = local "
                               "(previous/next token), large = long-range."),
    "Share on [CLS]/[SEP]": ("special_share", "Fraction of attention landing on [CLS] and [SEP]: heads that park "
                             "attention there are often 'no-op' heads."),
}
TABS = ["Head view", "Model view", "Heatmap", "Head summary", "Aligned layers"]
SLOW_MODEL_VIEW_LINES = 150_000  # above this many SVG lines the model view takes seconds to draw on 2 cores


def title(role: str, maps: AttentionMaps) -> str:
    return f"{role.capitalize()} · {maps.model} · {maps.n_layers} layers × {maps.n_heads} heads"


def head_view_tab(spec: PairSpec, device: str, text: str, cap: int, maps: PairAttention) -> None:
    st.caption(
        "bertviz head view, drawn offline (scripts inlined, no network). Lines join each token to the tokens it "
        "attends to, one colour per head; hover a token to isolate it, click a colour square to toggle a head, pick "
        "the layer above."
    )
    for column, role in zip(st.columns(2), ROLES):
        with column:
            view = resources.bertviz_view(spec, device, text, cap, role, "head", title(role, getattr(maps, role)))
            st.iframe(view.html, height=view.height)


def model_view_tab(spec: PairSpec, device: str, text: str, cap: int, maps: PairAttention) -> None:
    role = st.radio("Model", ROLES, horizontal=True, format_func=str.capitalize, key="model_view_role")
    chosen = getattr(maps, role)
    # Default: the student's layers, and for the teacher the layers the student's layers are compared with.
    default = (aligned_layers(maps.student.n_layers, maps.teacher.n_layers) if role == "teacher"
               else list(range(chosen.n_layers)))
    layers = st.multiselect(
        "Layers to draw", list(range(chosen.n_layers)), default=default,
        key=f"model_view_layers_{role}_{chosen.n_layers}",
        help="For the teacher the default is the layers the student's layers are aligned with "
             "(round(k × L_teacher / L_student)).",
    )
    if not layers:
        st.info("Pick at least one layer.")
        return
    lines = chosen.lines(layers)
    note = f"bertviz model view: one thumbnail per layer and head (click one for detail); draws {lines:,} lines."
    if lines > SLOW_MODEL_VIEW_LINES:
        note += " That takes the browser several seconds: fewer layers or a lower token cap draw faster."
    st.caption(note)
    view = resources.bertviz_view(spec, device, text, cap, role, "model", title(role, chosen), tuple(layers))
    st.iframe(view.html, width=MODEL_VIEW_WIDTH + 20, height=view.height)


def heatmap_tab(maps: PairAttention) -> None:
    st.caption("One head's attention matrix: row = the token attending, column = the token attended to; each row sums "
               "to 1.")
    for column, role in zip(st.columns(2), ROLES):
        chosen = getattr(maps, role)
        with column:
            st.markdown(f"**{safe.text(title(role, chosen))}**")
            c1, c2 = st.columns(2)
            layer = c1.selectbox("Layer", range(chosen.n_layers), key=f"heat_layer_{role}_{chosen.n_layers}")
            head = c2.selectbox("Head", range(chosen.n_heads), key=f"heat_head_{role}_{chosen.n_heads}")
            fig = attention_heatmap(chosen.weights[layer, head], chosen.tokens, ROLE_SCALES[role])
            st.plotly_chart(fig, config=CONFIG, key=f"heat_{role}")
    n_t, n_s = maps.teacher.n_layers, maps.student.n_layers
    example = aligned_layer(min(1, n_s - 1), n_s, n_t)
    st.caption(f"Student layer k was initialised from teacher layer round(k × {n_t}/{n_s}) in DistilBERT-style "
               f"distillation: compare e.g. student layer 1 with teacher layer {example}.")


def summary_tab(maps: PairAttention) -> None:
    name = st.radio("Summary", list(METRICS), horizontal=True, key="summary_metric")
    field, explanation = METRICS[name]
    values = {role: getattr(summarise(getattr(maps, role)), field) for role in ROLES}
    zmax = max(float(v.max()) for v in values.values()) or 1.0
    n = len(maps.teacher.tokens)
    st.caption(explanation + f" One number per head for this sentence ({n} tokens: uniform attention has entropy "
                             f"log₂({n}) = {math.log2(n):.2f} bits); colour scales are shared.")
    for column, role in zip(st.columns(2), ROLES):
        with column:
            st.markdown(f"**{safe.text(title(role, getattr(maps, role)))}**")
            fig = grid_heatmap(values[role], ROLE_SCALES[role], zmax, ".2f")
            st.plotly_chart(fig, config=CONFIG, key=f"grid_{role}")


def aligned_tab(spec: PairSpec, device: str, text: str, cap: int, maps: PairAttention) -> None:
    samples = sample_sentences()
    n = st.slider("Sample sentences from data/samples.txt (plus yours)", 1, len(samples), len(samples),
                  key="aligned_samples")
    sentences = tuple(dict.fromkeys(samples[:n] + [text]))  # yours counts once even if it is a sample
    comparison = resources.aligned_comparison(spec, device, sentences, cap)
    mapping = ", ".join(f"{k}→{t}" for k, t in enumerate(comparison.layer_map))
    st.caption(
        f"Student layer k beside teacher layer round(k × {maps.teacher.n_layers}/{maps.student.n_layers}) ({mapping}: "
        "the DistilBERT initialisation). Cell = Jensen–Shannon divergence between the two heads' attention maps, in "
        f"bits (0 = identical, 1 = disjoint), averaged over query tokens and {comparison.sentences} sentences"
        + (f" ({comparison.skipped} left out: the two tokenizers split them differently)" if comparison.skipped else "")
        + ". ✕ marks each student head's closest teacher head."
    )
    matches = comparison.best_matches()
    kept = sum(m.kept_own_index for m in matches)
    st.metric("Student heads closest to the teacher head with their own index", f"{kept} of {len(matches)}",
              help="After DistilBERT-style initialisation, student head h of layer k starts as a copy of head h of the "
                   "aligned teacher layer.")
    zmax = float(comparison.divergence.max()) or 1.0
    per_row = 3
    for start in range(0, len(comparison.layer_map), per_row):
        for column, layer in zip(st.columns(per_row), range(start, min(start + per_row, len(comparison.layer_map)))):
            column.plotly_chart(aligned_figure(comparison, layer, zmax), config=CONFIG, key=f"aligned_{layer}")
    st.dataframe(pd.DataFrame([m.row() for m in matches]), hide_index=True, height=min(400, 38 + 35 * len(matches)))
    if spec.architecture_only:
        st.warning("Random weights: the student was never initialised from this teacher, so these matches mean "
                   "nothing.")


def main() -> None:
    st.title("Attention")
    st.write("One sentence through the teacher and its distilled student: what every head attends to, and which "
             "student heads kept what the teacher knew.")
    st.info(
        "**Attention is not an explanation.** These weights show where each head looks, not why the model predicted "
        "its label: heads with very different attention can lead to the same prediction, and vice versa."
    )
    limits = resources.settings()
    pair_spec, device = sidebar.current()
    examples = ["(type your own)", *sample_sentences()]
    choice = st.selectbox("Example sentences", examples, index=1, key="attention_example")
    default = "" if choice == "(type your own)" else choice
    left, right = st.columns([4, 1])
    # length checked by clean_text
    text = left.text_area("Text", value=default, height=80, key=f"attention_text-{choice}")
    cap = right.number_input(
        "Token cap", min_value=4, max_value=limits.attention_max_tokens, value=limits.attention_max_tokens, step=4,
        help=f"Attention views cost grows with tokens²; the server allows at most {limits.attention_max_tokens} "
             f"(KD_ATTENTION_MAX_TOKENS).",
    )
    right.button("Show attention", type="primary")
    if not text.strip():
        st.info("Pick an example or type a sentence, then press **Show attention**.")
        return
    try:
        text = clean_text(text, limits.max_chars)
        maps = resources.attention_maps(pair_spec, device, text, int(cap))
    except (InvalidInput, ModelLoadError) as exc:
        st.error(safe.message(exc))
        return
    if maps.teacher.truncated or maps.student.truncated:
        st.warning(f"The sentence has {maps.teacher.full_length} tokens; the attention views show the first "
                   f"{len(maps.teacher.tokens)} (token cap {int(cap)}, [SEP] kept at the end).")
    if not maps.same_tokens:
        st.warning(f"The two tokenizers split this sentence differently ({len(maps.teacher.tokens)} vs "
                   f"{len(maps.student.tokens)} tokens): each view shows its model's own tokens, and the aligned "
                   f"comparison skips sentences like this one.")
    if pair_spec.architecture_only:
        st.warning("Architecture-only pair: random weights, so the attention patterns are meaningless (close to "
                   "uniform). Use it to check that 12 × 12 heads render in time.")
    st.caption(f"{len(maps.teacher.tokens)} tokens (special tokens included) · {safe.text(pair_spec.title)} · {device}")
    tabs = st.tabs(TABS, key="attention_tab", on_change="rerun")
    views = (
        lambda: head_view_tab(pair_spec, device, text, int(cap), maps),
        lambda: model_view_tab(pair_spec, device, text, int(cap), maps),
        lambda: heatmap_tab(maps),
        lambda: summary_tab(maps),
        lambda: aligned_tab(pair_spec, device, text, int(cap), maps),
    )
    for tab, render in zip(tabs, views):
        if tab.open:  # only the open tab is computed and sent: the bertviz documents are megabytes each
            with tab:
                try:
                    render()
                except (OfflineAssetError, ValueError, ModelLoadError) as exc:
                    st.error(safe.message(exc))


main()
