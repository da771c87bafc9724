"""Playground: one input through teacher and student, side by side."""

from __future__ import annotations

import statistics

import streamlit as st
import torch

from benchmarks.core.data import sample_sentences
from benchmarks.core.device import detect_hardware
from benchmarks.core.inference import InvalidInput, ModelRun, PairRun, clean_text, predict_pair
from benchmarks.core.models import ModelLoadError
from benchmarks.core.vocabulary import ROLES, RUNTIME_LABELS
from benchmarks.harness.runtime_model import setups
from benchmarks.runtimes.base import RuntimeUnavailable
from dashboard import resources, safe, sidebar
from dashboard.charts.playground import probability_chart
from dashboard.charts.theme import CONFIG, ROLE_COLOURS
from dashboard.sections import lesson

REPEATS = 5  # timed repeats per input: one run of a ~10 ms model is mostly noise


def setup_label(choice: tuple[str, str]) -> str:
    return f"{RUNTIME_LABELS[choice[0]]} · {choice[1]}"


def choose_runtimes(device: str) -> dict[str, tuple[str, str]]:
    """A runtime and precision per model (default eager fp32), and why the others are not offered here."""
    offered, reasons = setups(device, detect_hardware())
    columns = st.columns(2)
    choices = {role: column.selectbox(f"{role.capitalize()} runs in", offered, format_func=setup_label,
                                      key=f"runtime_{role}") for column, role in zip(columns, ROLES)}
    if reasons:
        with st.expander("Runtimes not offered on this device"):
            for reason in reasons:
                st.text(reason)
    return choices


def model_column(role: str, run: ModelRun, timings: list[float], totals: list[float], n_layers: int,
                 choice: tuple[str, str]) -> None:
    pred, title = run.predictions[0], role.capitalize()
    st.subheader(title)
    st.caption(f"{safe.text(run.model)} · {n_layers} layer{'s' if n_layers != 1 else ''} · ran in "
               f"{safe.text(setup_label(choice))}")
    st.metric("Label", pred.label, help="argmax of the class probabilities")
    st.plotly_chart(probability_chart(run, 0, ROLE_COLOURS[role]), config=CONFIG, key=f"probs-{title}")
    c1, c2 = st.columns(2)
    c1.metric("Model latency (p50)", f"{statistics.median(timings):.1f} ms",
              help=f"forward pass only, median of {REPEATS} runs; range {min(timings):.1f}–{max(timings):.1f} ms")
    c2.metric("With tokenizer (p50)", f"{statistics.median(totals):.1f} ms", help="tokenization + forward pass")
    st.caption(f"{pred.tokens} tokens" + (" · **truncated** to the model's limit" if pred.truncated else ""))


def timed_runs(text: str, max_tokens: int, choices: dict[str, tuple[str, str]]) -> tuple[PairRun, list[PairRun]]:
    pair_spec, device = sidebar.current()
    loaded = resources.runtime_pair(pair_spec, device, choices)
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
    choice = st.selectbox("Example sentences", ["(type your own)"] + sample_sentences(), key="example")
    default = "" if choice == "(type your own)" else choice
    # No max_chars on the box: the browser would drop an over-long paste silently; clean_text() says how long it was.
    text = st.text_area("Text", value=default, height=100, key=f"text-{choice}")
    runtimes = choose_runtimes(sidebar.current()[1])
    if not st.button("Compare", type="primary") and not text:
        st.info("Pick an example or type a sentence, then press **Compare**.")
        return
    try:
        text = clean_text(text, limits.max_chars)
        pair_spec, _ = sidebar.current()
        with st.spinner("Running both models (a runtime's first use exports or compiles the model: up to a "
                        "minute or two)…"):
            first, runs = timed_runs(text, limits.max_tokens, runtimes)
    except (InvalidInput, ModelLoadError, RuntimeUnavailable) as exc:
        st.error(safe.message(exc))
        return
    loaded = resources.pair(pair_spec, sidebar.current()[1])
    if any(p.truncated for r in (first.teacher, first.student) for p in r.predictions):
        st.warning(f"The input is longer than the models' limit and was truncated to "
                   f"{min(limits.max_tokens, loaded.teacher.max_length)} tokens.")
    ratios = [r.speedup for r in runs]
    verdict, speed = st.columns(2)
    verdict.markdown(
        "### :material/check_circle: Teacher and student **agree**"
        if first.agree[0]
        else "### :material/warning: Teacher and student **disagree**"
    )
    speed.metric(
        "Student speed-up on this input (model only)", f"{statistics.median(ratios):.2f}×",
        help=f"teacher ms / student ms, median of {REPEATS} paired runs (range {min(ratios):.2f}–{max(ratios):.2f}×). "
        "One short input is noisy: the Benchmarks page has swept, percentile figures.",
    )
    left, right = st.columns(2)
    for column, role in zip((left, right), ROLES):
        with column:
            model_column(role, getattr(first, role), [getattr(r, role).model_ms for r in runs],
                         [getattr(r, role).total_ms for r in runs], getattr(loaded, role).n_layers, runtimes[role])
    threads = torch.get_num_threads()
    st.caption(
        f"Measured now on {detect_hardware().label(sidebar.current()[1])}, {threads} torch threads, "
        f"teacher in {setup_label(runtimes['teacher'])}, student in {setup_label(runtimes['student'])}, batch 1, "
        f"{REPEATS} timed runs after one warm-up. Label mapping: {safe.text(loaded.label_note)}."
    )
    for note in loaded.weights_notes:  # plain text: said once per model whose weights were not safetensors
        st.text(note)
    if pair_spec.architecture_only:
        st.warning("Architecture-only pair: random weights, so labels and probabilities mean nothing; the timings are "
                   "real.")


main()
