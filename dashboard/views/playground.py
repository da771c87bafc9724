"""Playground: one input through teacher and student, side by side."""

from __future__ import annotations

import platform
import statistics

import plotly.graph_objects as go
import streamlit as st
import torch

from benchmarks.inference import InvalidInput, ModelRun, PairRun, clean_text, predict_pair
from benchmarks.models import ModelLoadError
from benchmarks.settings import DATA_DIR
from dashboard import lesson, resources, safe, sidebar

REPEATS = 5  # timed repeats per input: one run of a ~10 ms model is mostly noise


def examples() -> list[str]:
    lines = (DATA_DIR / "samples.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def probability_chart(run: ModelRun, index: int, colour: str) -> go.Figure:
    pred = run.predictions[index]
    fig = go.Figure(
        go.Bar(
            x=list(pred.probs), y=list(run.labels), orientation="h", marker_color=colour,
            text=[f"{p:.1%}" for p in pred.probs], textposition="outside", cliponaxis=False,
        )
    )
    fig.update_layout(height=150, margin=dict(l=0, r=10, t=10, b=10), xaxis=dict(range=[0, 1.12], tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1]))
    return fig


def model_column(title: str, run: ModelRun, timings: list[float], totals: list[float], colour: str, n_layers: int) -> None:
    pred = run.predictions[0]
    st.subheader(title)
    st.caption(f"{safe.text(run.model)} · {n_layers} layer{'s' if n_layers != 1 else ''}")
    st.metric("Label", pred.label, help="argmax of the class probabilities")
    st.plotly_chart(probability_chart(run, 0, colour), config={"displayModeBar": False}, key=f"probs-{title}")
    c1, c2 = st.columns(2)
    c1.metric("Model latency (p50)", f"{statistics.median(timings):.1f} ms", help=f"forward pass only, median of {REPEATS} runs; range {min(timings):.1f}–{max(timings):.1f} ms")
    c2.metric("With tokenizer (p50)", f"{statistics.median(totals):.1f} ms", help="tokenization + forward pass")
    st.caption(f"{pred.tokens} tokens" + (" · **truncated** to the model's limit" if pred.truncated else ""))


def timed_runs(text: str, max_tokens: int) -> tuple[PairRun, list[PairRun]]:
    pair_spec, device = sidebar.current()
    loaded = resources.pair(pair_spec, device)
    predict_pair(loaded, [text], max_tokens)  # warm-up: first calls pay for allocations
    runs = [predict_pair(loaded, [text], max_tokens) for _ in range(REPEATS)]
    return runs[0], runs


def main() -> None:
    st.title("Playground")
    st.write("The same sentence through the teacher and its distilled student: label, class probabilities and latency.")
    if lesson.toggle("playground_lesson"):
        lesson.panel("playground")
        return
    limits = resources.settings()
    choice = st.selectbox("Example sentences", ["(type your own)"] + examples(), key="example")
    default = "" if choice == "(type your own)" else choice
    # No max_chars on the box: the browser would drop an over-long paste silently; clean_text() says how long it was.
    text = st.text_area("Text", value=default, height=100, key=f"text-{choice}")
    if not st.button("Compare", type="primary") and not text:
        st.info("Pick an example or type a sentence, then press **Compare**.")
        return
    try:
        text = clean_text(text, limits.max_chars)
        pair_spec, _ = sidebar.current()
        with st.spinner("Running both models…"):
            first, runs = timed_runs(text, limits.max_tokens)
    except (InvalidInput, ModelLoadError) as exc:
        st.error(safe.message(exc))
        return
    loaded = resources.pair(pair_spec, sidebar.current()[1])
    if any(p.truncated for r in (first.teacher, first.student) for p in r.predictions):
        st.warning(f"The input is longer than the models' limit and was truncated to {min(limits.max_tokens, loaded.teacher.max_length)} tokens.")
    ratios = [r.speedup for r in runs]
    verdict, speed = st.columns(2)
    verdict.markdown("### :material/check_circle: Teacher and student **agree**" if first.agree[0] else "### :material/warning: Teacher and student **disagree**")
    speed.metric(
        "Student speed-up on this input (model only)", f"{statistics.median(ratios):.2f}×",
        help=f"teacher ms / student ms, median of {REPEATS} paired runs (range {min(ratios):.2f}–{max(ratios):.2f}×). "
        "One short input is noisy: the Benchmarks page has swept, percentile figures.",
    )
    left, right = st.columns(2)
    with left:
        model_column("Teacher", first.teacher, [r.teacher.model_ms for r in runs], [r.teacher.total_ms for r in runs], "#4C72B0", loaded.teacher.n_layers)
    with right:
        model_column("Student", first.student, [r.student.model_ms for r in runs], [r.student.total_ms for r in runs], "#DD8452", loaded.student.n_layers)
    threads = torch.get_num_threads()
    st.caption(
        f"Measured now on {sidebar.current()[1]} ({platform.processor() or platform.machine()}, {threads} threads), fp32, batch 1, "
        f"{REPEATS} timed runs after one warm-up. Label mapping: {safe.text(loaded.label_note)}."
    )
    for note in loaded.weights_notes:  # plain text: said once per model whose weights were not safetensors
        st.text(note)
    if pair_spec.architecture_only:
        st.warning("Architecture-only pair: random weights, so labels and probabilities mean nothing; the timings are real.")


main()
