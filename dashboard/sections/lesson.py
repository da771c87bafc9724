"""Lesson mode (Playground and Distillation pages): predict, then reveal. One curated sentence at a time; both
answers stay hidden until the presenter reveals them, as anonymous A and B; the class then guesses which one is the
student. The score lasts for the session and follows the class from page to page."""

from __future__ import annotations

import html
import secrets

import streamlit as st

from benchmarks.analysis.lesson import Answer, Round, Score, answer, student_is_a
from benchmarks.core.inference import InvalidInput
from benchmarks.core.models import ModelLoadError
from benchmarks.core.vocabulary import CANONICAL_LABELS
from dashboard import resources, safe, sidebar
from dashboard.charts.lesson import answer_chart

STATE = "lesson"
KIND_NOTES = {
    "agree": "both pocket models got it right, both sure",
    "disagree": "the pocket teacher and student gave different labels",
    "confidently wrong": "both pocket models were wrong, and over 90 % sure",
}


def toggle(key: str) -> bool:
    """The lesson-mode switch; `?lesson=1` in the link starts a page in it."""
    return st.toggle(
        "Lesson mode: predict, then reveal",
        value=st.query_params.get("lesson") == "1",
        key=key,
        help="One curated sentence at a time; the answers stay hidden until you reveal them.",
    )


def _state() -> dict:
    if STATE not in st.session_state:
        st.session_state[STATE] = {
            "round": 0,
            "stage": "ask",
            "score": Score(),
            "seed": secrets.randbits(32),
            "answers": {},
        }
    return st.session_state[STATE]


def _go(state: dict, round_index: int) -> None:
    state.update(round=round_index, stage="ask")


def _guess(state: dict, correct: bool) -> None:
    state.update(stage="guessed", score=state["score"].after(correct), last_correct=correct)


def _answers(state: dict, index: int, rnd: Round) -> tuple[Answer, Answer]:
    """Both models' answers, kept for the round so reruns show the same latencies."""
    pair_spec, device = sidebar.current()
    key = (pair_spec.key, device, index)
    if key not in state["answers"]:
        loaded = resources.pair(pair_spec, device)
        limit = resources.settings().max_tokens
        state["answers"][key] = (
            answer(loaded.teacher, rnd.sentence, limit),
            answer(loaded.student, rnd.sentence, limit),
        )
    return state["answers"][key]


def _show(name: str, ans: Answer) -> None:
    st.metric(f"Model {name}", ans.label)
    st.plotly_chart(answer_chart(ans), config={"displayModeBar": False}, key=f"lesson-{name}")
    st.caption(f"Latency {ans.latency_ms:.1f} ms (model only, median of 5 runs on this server, now)")


def panel(where: str) -> None:
    rounds = resources.lesson_rounds()
    state = _state()
    index = state["round"] % len(rounds)
    rnd = rounds[index]
    st.caption(
        f"Sentence {index + 1} of {len(rounds)} · which one is the student? Score this session: "
        f"{state['score'].describe()}"
    )
    # Escaped: the sentence is data, shown as text.
    st.html(
        f'<blockquote style="font-size:1.6rem;line-height:1.4;margin:0.5rem 0">{html.escape(rnd.sentence)}</blockquote>'
    )
    if state["stage"] == "ask":
        st.markdown(
            "**Predict first.** Positive or negative? Will the teacher and the student agree — and which one will be "
            "surer?"
        )
        st.button(
            "Reveal the answers",
            type="primary",
            key=f"{where}-reveal",
            on_click=state.update,
            kwargs={"stage": "revealed"},
        )
    else:
        try:
            teacher, student = _answers(state, index, rnd)
        except (ModelLoadError, InvalidInput) as exc:
            st.error(safe.message(exc))
            return
        a_is_student = student_is_a(index, state["seed"])
        shown = {"A": student if a_is_student else teacher, "B": teacher if a_is_student else student}
        for column, (name, ans) in zip(st.columns(2), shown.items()):
            with column:
                _show(name, ans)
        st.markdown(f"Gold label (SST-2): **{CANONICAL_LABELS[rnd.gold]}**")
        if state["stage"] == "revealed":
            st.markdown("**Which one is the student?** Ask the class, then click their answer.")
            left, right = st.columns(2)
            left.button("A is the student", key=f"{where}-guess-a", on_click=_guess, args=(state, a_is_student))
            right.button("B is the student", key=f"{where}-guess-b", on_click=_guess, args=(state, not a_is_student))
        else:
            student_name = "A" if a_is_student else "B"
            verdict = "Right" if state["last_correct"] else "Not this time"
            message = (
                f"{verdict}: model {student_name} is the student ({student.layers} layers, {student.latency_ms:.1f} "
                f"ms), "
                f"the other the teacher ({teacher.layers} layers, {teacher.latency_ms:.1f} ms)."
            )
            (st.success if state["last_correct"] else st.warning)(message)
            st.caption(
                f"Chosen for the lesson as “{rnd.kind}”: {KIND_NOTES[rnd.kind]} (data/lesson/README.md says how)."
            )
    back, forward = st.columns(2)
    back.button("Previous sentence", key=f"{where}-prev", on_click=_go, args=(state, index - 1))
    forward.button(
        "Next sentence",
        key=f"{where}-next",
        on_click=_go,
        args=(state, index + 1),
        type="primary" if state["stage"] == "guessed" else "secondary",
    )
