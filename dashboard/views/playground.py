"""Playground: one input through teacher and student, side by side."""

from __future__ import annotations

import statistics

import streamlit as st
import torch

from benchmarks.core import background
from benchmarks.core.batching import RECENT_S, Busy
from benchmarks.core.data import sample_sentences
from benchmarks.core.device import detect_hardware, thread_count
from benchmarks.core.inference import InvalidInput, ModelRun, PairRun, clean_text, predict_pair
from benchmarks.core.models import LoadedPair, ModelLoadError
from benchmarks.core.pairs import PairSpec
from benchmarks.core.vocabulary import ROLES, RUNTIME_LABELS
from benchmarks.harness.measure import model_flops
from benchmarks.harness.setups import setups
from benchmarks.jobs.work import lane_lock
from benchmarks.runtimes.base import RuntimeUnavailable
from dashboard import resources, safe, sidebar
from dashboard.charts.playground import probability_chart
from dashboard.charts.theme import CONFIG, ROLE_COLOURS
from dashboard.sections import lesson

REPEATS = 5  # timed repeats per input: one run of a ~10 ms model is mostly noise
TIMING_QUEUE_S = 30  # how long "Time it now" waits behind other visitors' timings before giving up


def setup_label(choice: tuple[str, str]) -> str:
    return f"{RUNTIME_LABELS[choice[0]]} · {choice[1]}"


def choose_runtimes(pair_spec: PairSpec, device: str) -> dict[str, tuple[str, str]]:
    """A runtime and precision per model, by default the fastest measured here that changes no SST-2 dev answer;
    and why the others are not offered here."""
    offered, reasons = setups(device, detect_hardware())
    defaults = resources.default_setups(pair_spec, device, offered)
    columns = st.columns(2)
    choices = {role: column.selectbox(f"{role.capitalize()} runs in", offered, format_func=setup_label,
                                      index=offered.index(defaults[role].setup), key=f"runtime_{role}",
                                      help=f"Default: {defaults[role].why}.")
               for column, role in zip(columns, ROLES)}
    if reasons:
        with st.expander("Runtimes not offered on this device"):
            for reason in reasons:
                st.text(reason)
    return choices


def model_column(role: str, run: ModelRun, timings: list[float], totals: list[float], n_layers: int,
                 choice: tuple[str, str], how: str) -> None:
    pred, title = run.predictions[0], role.capitalize()
    st.subheader(title)
    st.caption(f"{safe.text(run.model)} · {n_layers} layer{'s' if n_layers != 1 else ''} · ran in "
               f"{safe.text(setup_label(choice))}")
    st.metric("Label", pred.label, help="argmax of the class probabilities")
    st.plotly_chart(probability_chart(run, 0, ROLE_COLOURS[role]), config=CONFIG, key=f"probs-{title}")
    c1, c2 = st.columns(2)
    spread = f"; range {min(timings):.1f}–{max(timings):.1f} ms" if len(timings) > 1 else ""
    c1.metric(f"Model latency ({'p50' if len(timings) > 1 else 'one pass'})", f"{statistics.median(timings):.1f} ms",
              help=f"forward pass only, {how}{spread}")
    c2.metric(f"With tokenizer ({'p50' if len(totals) > 1 else 'one pass'})", f"{statistics.median(totals):.1f} ms",
              help=f"one tokenization + forward pass, {how}")
    st.caption(f"{pred.tokens} tokens" + (" · **truncated** to the model's limit" if pred.truncated else ""))


def timed_runs(text: str, max_tokens: int, choices: dict[str, tuple[str, str]]) -> list[PairRun]:
    pair_spec, device = sidebar.current()
    loaded = resources.runtime_pair(pair_spec, device, choices)
    predict_pair(loaded, [text], max_tokens)  # warm-up: first calls pay for allocations
    return [predict_pair(loaded, [text], max_tokens) for _ in range(REPEATS)]


def machine_holder() -> str | None:
    """What holds this machine now (a benchmark run, head importance or live distillation), in words; None when
    nothing does."""
    state = resources.settings().state_dir
    for lock, what in ((state / "benchmark-run.lock", "a benchmark run"),
                       (lane_lock(state, "benchmark"), "a benchmark run"),
                       (lane_lock(state, "heads"), "a head-importance run"),
                       (lane_lock(state, "live"), "a live-distillation job")):
        if background.lock_holder(lock):
            return what
    return None


def timing(text: str, max_tokens: int, choices: dict[str, tuple[str, str]], asked: bool,
           load: int) -> tuple[list[PairRun] | None, str]:
    """Timed repeats when the visitor asked, or when this server is otherwise idle; else None and why not. They
    take turns (one lock per process) and never run while a benchmark or a live distillation holds the machine."""
    holder = machine_holder()
    if holder is not None:
        return None, f"not timed: {holder} is using this machine, and timings taken beside it would both be wrong"
    if not asked and load > 1:
        return None, "not timed: other visitors are asking too (press Time it now to queue a timing)"
    lock = resources.timing_lock()
    if not lock.acquire(timeout=TIMING_QUEUE_S if asked else 0):
        return None, "not timed: another visitor's timing is running; press Time it now again"
    try:
        return timed_runs(text, max_tokens, choices), "timed on request" if asked else "timed while the server was idle"
    finally:
        lock.release()


def flops_ceiling(pair: LoadedPair, tokens: int) -> float:
    return model_flops(pair.teacher.model.config, tokens) / model_flops(pair.student.model.config, tokens)


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
    pair_spec, device = sidebar.current()
    runtimes = choose_runtimes(pair_spec, device)
    buttons = st.columns([1, 1, 4])
    compare = buttons[0].button("Compare", type="primary")
    time_now = buttons[1].button("Time it now", help=f"{REPEATS} timed runs of each model after a warm-up, queued "
                                                     "behind other visitors' timings; never while a benchmark runs")
    if not compare and not time_now and not text:
        st.info("Pick an example or type a sentence, then press **Compare**.")
        return
    try:
        text = clean_text(text, limits.max_chars)
        load = resources.traffic().note()
        with resources.admission().admit(), st.spinner(
                "Running both models (a runtime's first use exports or compiles the model: up to a minute or two)…"
        ), resources.fair_share().answering():  # ahead of visitors' scoring
            answer = resources.batched_answer(pair_spec, device, runtimes, text, limits.max_tokens)
            timed, how = timing(text, limits.max_tokens, runtimes, time_now, load)
    except Busy as exc:
        st.warning(str(exc))
        return
    except (InvalidInput, ModelLoadError, RuntimeUnavailable) as exc:
        st.error(safe.message(exc))
        return
    first = answer.run
    loaded = resources.pair(pair_spec, device)
    if any(p.truncated for r in (first.teacher, first.student) for p in r.predictions):
        st.warning(f"The input is longer than the models' limit and was truncated to "
                   f"{min(limits.max_tokens, loaded.teacher.max_length)} tokens.")
    shown_runs = timed or [first]
    ratios = [r.speedup for r in shown_runs]
    batches = "alone" if answer.alone else f"in batches of {answer.batches[0]} (teacher) and {answer.batches[1]} " \
                                            "(student) with other visitors' sentences"
    one_pass = f"one pass {batches}, {how}"
    verdict, speed = st.columns(2)
    verdict.markdown(
        "### :material/check_circle: Teacher and student **agree**"
        if first.agree[0]
        else "### :material/warning: Teacher and student **disagree**"
    )
    speed.metric(
        "Student speed-up on this input (model only)", f"{statistics.median(ratios):.2f}×",
        help=(f"teacher ms / student ms, median of {REPEATS} paired runs (range {min(ratios):.2f}–{max(ratios):.2f}×)"
              if timed else f"teacher ms / student ms from {one_pass}") +
        ". One short input is noisy: the Benchmarks page has swept, percentile figures.",
    )
    ceiling = flops_ceiling(loaded, first.teacher.predictions[0].tokens)
    if statistics.median(ratios) > ceiling:
        speed.warning(f"Noise: {statistics.median(ratios):.2f}× is above the FLOPs ceiling of {ceiling:.2f}× (teacher "
                      "FLOPs / student FLOPs at this length), which fewer layers cannot beat.")
    left, right = st.columns(2)
    for column, role in zip((left, right), ROLES):
        with column:
            model_column(role, getattr(first, role), [getattr(r, role).model_ms for r in shown_runs],
                         [getattr(r, role).total_ms for r in shown_runs], getattr(loaded, role).n_layers,
                         runtimes[role], f"median of {REPEATS} runs" if timed else one_pass)
    st.caption(
        f"Measured now on {detect_hardware().label(device)}, {thread_count(torch.get_num_threads())}, teacher in "
        f"{setup_label(runtimes['teacher'])}, student in {setup_label(runtimes['student'])}; load: {load} "
        f"Compare{'s' if load != 1 else ''} on this server in the last {RECENT_S:g} s; "
        + (f"batch 1, {REPEATS} timed runs after one warm-up ({how})." if timed else f"{one_pass}.")
    )
    st.caption(f"Label mapping: {safe.text(loaded.label_note)}.")
    for note in loaded.weights_notes:  # plain text: said once per model whose weights were not safetensors
        st.text(note)
    if pair_spec.architecture_only:
        st.warning("Architecture-only pair: random weights, so labels and probabilities mean nothing; the timings are "
                   "real.")

main()
