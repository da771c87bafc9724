"""Lesson mode: predict, then reveal, one curated sentence at a time. On the Playground both answers stay hidden until
the presenter reveals them, as anonymous A and B, and the class guesses which one is the student. On the Distillation
page the class predicts how much a temperature softens the teacher's answer, then sees the soft targets. Scores last
for the session."""

from __future__ import annotations

import html
import secrets

import streamlit as st

from benchmarks.analysis import scoring
from benchmarks.analysis.lesson import (
    BANDS,
    Answer,
    Round,
    Score,
    SoftTargetQuestion,
    answer,
    band_name,
    lesson_temperature,
    soft_target_question,
    student_is_a,
)
from benchmarks.analysis.soft_targets import soft_targets
from benchmarks.core.inference import InvalidInput
from benchmarks.core.models import ModelLoadError
from benchmarks.core.vocabulary import CANONICAL_LABELS
from dashboard import resources, safe, sidebar
from dashboard.charts.distillation import distributions_chart
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


# --- Distillation: soft targets and temperature, predict then reveal -----------------------------------------------

KD_STATE = "kd_lesson_state"


def _kd_state() -> dict:
    return st.session_state.setdefault(KD_STATE, {"round": 0, "stage": "ask", "score": Score()})


def _kd_go(state: dict, round_index: int) -> None:
    state.update(round=round_index, stage="ask")
    st.session_state.pop("kd-lesson-band", None)  # a fresh prediction for the next sentence


def _kd_reveal(state: dict, question: SoftTargetQuestion) -> None:
    band = st.session_state.get("kd-lesson-band")
    if band is None:
        state.update(stage="revealed", last=None)
    else:
        correct = band == question.answer
        state.update(stage="revealed", last=correct, score=state["score"].after(correct))


def soft_target_panel() -> None:
    """One curated sentence; the teacher's answer at T = 1 is shown, the class predicts how much the other label gets
    at a higher T, then the softened distributions of both models are revealed."""
    rounds = resources.lesson_rounds()
    state = _kd_state()
    index = state["round"] % len(rounds)
    rnd, temperature = rounds[index], lesson_temperature(state["round"])
    pair_spec, device = sidebar.current()
    try:
        loaded = resources.pair(pair_spec, device)
        teacher_logits, student_logits = scoring.sentence_logits(loaded, rnd.sentence)
    except (ModelLoadError, InvalidInput) as exc:
        st.error(safe.message(exc))
        return
    question = soft_target_question(rnd.sentence, teacher_logits.tolist(), CANONICAL_LABELS, temperature)
    st.caption(f"Sentence {index + 1} of {len(rounds)} · T = {temperature:g} · predictions right this session: "
               f"{state['score'].describe()}")
    st.html(
        f'<blockquote style="font-size:1.6rem;line-height:1.4;margin:0.5rem 0">{html.escape(rnd.sentence)}</blockquote>'
    )
    st.markdown(
        f"At T = 1 the teacher says **{question.label}**, {question.p_label:.1%} sure. Distillation divides its "
        f"logits by a temperature before the softmax. **Predict:** at T = {temperature:g}, how much probability will "
        f"the teacher give **{question.other}**?"
    )
    revealed = state["stage"] == "revealed"
    st.radio("Your prediction", range(len(BANDS)), format_func=band_name, index=None, horizontal=True,
             key="kd-lesson-band", disabled=revealed)
    if not revealed:
        st.button("Reveal the soft targets", type="primary", key="kd-lesson-reveal", on_click=_kd_reveal,
                  args=(state, question))
    else:
        soft = soft_targets(teacher_logits, student_logits, temperature, CANONICAL_LABELS.index(question.label))
        truth = (f"the teacher gives {question.other} {question.p_other_at_t:.1%} at T = {temperature:g} "
                 f"({1 - question.p_label:.1%} at T = 1): {band_name(question.answer)}.")
        if state.get("last") is None:
            st.info(f"No prediction this time: {truth}")
        else:
            (st.success if state["last"] else st.warning)(f"{'Right' if state['last'] else 'Not this time'}: {truth}")
        st.plotly_chart(distributions_chart(soft), config={"displayModeBar": False}, key="kd-lesson-chart")
        st.markdown(
            f"Dividing the logits by T = {temperature:g} shrinks the gap between them {temperature:g}-fold, so the "
            "label the teacher rejects keeps a visible share: how plausible it found it — Hinton's *dark knowledge*. "
            f"The student is trained to match these softened numbers (KD loss T² · KL = {soft.kd_loss:.4f} here), "
            "which says far more per sentence than the hard label alone. The higher T, the flatter both "
            "distributions: too high, and every sentence looks 50/50."
        )
    back, forward = st.columns(2)
    back.button("Previous sentence", key="kd-lesson-prev", on_click=_kd_go, args=(state, state["round"] - 1))
    forward.button("Next sentence", key="kd-lesson-next", on_click=_kd_go, args=(state, state["round"] + 1),
                   type="primary" if revealed else "secondary")
