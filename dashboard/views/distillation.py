"""Distillation: why the student works and where it fails — soft targets at a temperature, agreement and
calibration over a labelled set, a shareable link and a one-file summary for a model-selection review."""

from __future__ import annotations

import math

import streamlit as st

from benchmarks.analysis import scoring, soft_targets
from benchmarks.core.inference import InvalidInput, clean_text
from benchmarks.core.models import LoadedPair, ModelLoadError
from benchmarks.core.settings import Settings
from benchmarks.core.vocabulary import CANONICAL_LABELS
from benchmarks.distill.recipe import TrainConfig
from dashboard import resources, safe, sidebar
from dashboard.charts.distillation import chart_config, distributions_chart, temperature_chart
from dashboard.sections import lesson, live_panel
from dashboard.sections.distillation_data import dataset_sections

T_MIN, T_MAX, T_STEP, T_DEFAULT = 1.0, 20.0, 0.5, 2.0
TEMPERATURES = [T_MIN + i * T_STEP for i in range(int((T_MAX - T_MIN) / T_STEP) + 1)]  # the slider's grid
DEFAULT_SENTENCE = "It's not that the movie is bad, it just never becomes good."
RECIPE = TrainConfig()  # the pocket student's training settings, quoted in the prose


# --- the link: pair (set by the sidebar), sentence and T --------------------------------------------


def read_temperature(raw: str | None) -> tuple[float, str | None]:
    """T from the link, snapped to the slider's grid and clamped to its range; a warning when changed."""
    if raw is None or not raw.strip():
        return T_DEFAULT, None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return T_DEFAULT, f"T = {raw[:20]!r} in the link is not a number; using T = {T_DEFAULT:g}."
    usable = min(T_MAX, max(T_MIN, round(value / T_STEP) * T_STEP))
    if usable != value:
        return usable, (f"T = {raw[:20]} in the link is outside {T_MIN:g}–{T_MAX:g} or off the {T_STEP:g} grid; "
                        f"using T = {usable:g}.")
    return usable, None


def read_sentence(raw: str | None, max_chars: int) -> tuple[str, str | None]:
    """The sentence from the link, cleaned like any input; an unusable one falls back to the default."""
    if raw is None:
        return DEFAULT_SENTENCE, None
    try:
        return clean_text(raw, max_chars), None
    except InvalidInput as exc:
        return DEFAULT_SENTENCE, f"The sentence in the link was not used: {exc}"


def state_from_link(limits: Settings) -> None:
    # Read the link once per session; from then on the widgets own the state and write it back.
    warnings = []
    if "kd_T" not in st.session_state:
        st.session_state["kd_T"], warning = read_temperature(st.query_params.get("T"))
        warnings.append(warning)
    if "kd_sentence" not in st.session_state:
        st.session_state["kd_sentence"], warning = read_sentence(st.query_params.get("sentence"), limits.max_chars)
        warnings.append(warning)
    for warning in filter(None, warnings):
        st.warning(safe.text(warning))


def _loss(x: float) -> str:
    return f"{x:.4f}" if x >= 1e-3 else f"{x:.2e}"  # the KL at high T is tiny: keep its digits


# --- 1. soft targets ---------------------------------------------------------------------------------


def soft_targets_section(loaded: LoadedPair, limits: Settings) -> None:
    st.header("1 · Soft targets")
    st.markdown(
        "A trained teacher rarely puts *all* its probability on one label. What it gives the other label — "
        "Hinton et al. call it dark knowledge — tells the student how ambiguous the sentence looks. "
        "Dividing the logits by a **temperature T > 1** before the softmax flattens the distribution, so those "
        "small probabilities weigh more in the loss."
    )
    left, right = st.columns([3, 1])
    # length checked by clean_text, with the limit in its message
    sentence = left.text_input("Sentence", key="kd_sentence")
    temperature = right.slider("Temperature T", T_MIN, T_MAX, step=T_STEP, format="%.1f", key="kd_T")
    st.query_params["sentence"], st.query_params["T"] = sentence, f"{temperature:g}"
    try:
        text = clean_text(sentence, limits.max_chars)
    except InvalidInput as exc:
        st.error(safe.message(exc))
        return
    teacher_logits, student_logits = scoring.sentence_logits(loaded, text)
    teacher_label = int(teacher_logits.argmax())
    gold_choice = st.radio(
        "Gold label for the hard-label loss", ["teacher", *CANONICAL_LABELS], horizontal=True, key="kd_gold",
        format_func=lambda o: f"teacher's label ({CANONICAL_LABELS[teacher_label]})" if o == "teacher" else o,
        help="You pick the true label of your sentence; by default the teacher's prediction stands in for it.",
    )
    gold = teacher_label if gold_choice == "teacher" else CANONICAL_LABELS.index(gold_choice)
    soft = soft_targets.soft_targets(teacher_logits, student_logits, temperature, gold)

    a, b, c = st.columns(3)
    a.metric("Distillation loss  T² · KL", _loss(soft.kd_loss), help="T² · KL(teacher at T ‖ student at T), in nats")
    b.metric("KL at T", _loss(soft.kl), help="the same divergence before the T² factor")
    c.metric(f"Hard-label loss (gold {CANONICAL_LABELS[gold]})", _loss(soft.hard_loss), help="cross-entropy of the "
                                                                                             "student at T = 1")
    left, right = st.columns(2)
    curve = soft_targets.temperature_curve(teacher_logits, student_logits, gold, TEMPERATURES)
    left.plotly_chart(distributions_chart(soft), config=chart_config("soft-targets"), key="kd_dist_chart")
    right.plotly_chart(
        temperature_chart(TEMPERATURES, curve, temperature),
        config=chart_config("kd-loss-vs-temperature"),
        key="kd_t_chart",
    )
    st.latex(
        r"\mathcal{L} = \alpha\,T^2\,\mathrm{KL}\!\left(\sigma(z_t/T)\,\|\,\sigma(z_s/T)\right)"
        r" + (1-\alpha)\,\mathrm{CE}\!\left(\sigma(z_s),\,y\right)"
    )
    st.markdown(
        "The student learns to match the teacher's softened distribution σ(z/T) — the KL term, both at the same T — "
        "and the gold label *y* (cross-entropy at T = 1). The soft term's gradients shrink like 1/T², so it is "
        "multiplied by **T²** to keep both terms on the same scale whatever T is: on the right, the raw KL falls as T "
        "grows while T² · KL levels off. "
        f"This project's pocket student was trained at T = {RECIPE.temperature:g} with "
        f"α = {RECIPE.alpha_kd:g} (plus {RECIPE.alpha_cos:g} × a cosine loss on hidden states). "
        "The numbers are exact for the loaded weights: nothing is sampled."
    )


def main() -> None:
    st.title("Distillation")
    st.write("Why the student works and where it fails: the teacher's soft targets, then agreement and calibration on "
             "real data.")
    limits = resources.settings()
    pair_spec, device = sidebar.current()
    if lesson.toggle("kd_lesson"):
        lesson.soft_target_panel()
        return
    state_from_link(limits)
    if pair_spec.architecture_only:
        st.warning("Architecture-only pair: random weights. The loss mechanics below still hold, but the numbers "
                   "describe no trained model.")
    try:
        loaded = resources.pair(pair_spec, device)
    except ModelLoadError as exc:
        st.error(safe.message(exc))
        return
    soft_targets_section(loaded, limits)
    dataset_sections(pair_spec, device, loaded, limits)
    live_panel.section(pair_spec, limits)


# Streamlit runs pages as "__main__"; the guard lets tests import the link parsers without drawing the page.
if __name__ == "__main__":
    main()
