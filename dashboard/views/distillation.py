"""Distillation: why the student works and where it fails — soft targets at a temperature, agreement and
calibration over a labelled set, a shareable link and a one-file summary for a model-selection review."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from benchmarks import report, scoring
from benchmarks.csv_export import to_csv
from benchmarks.data import DataUnavailable, LabelledTexts, read_labelled_file
from benchmarks.distill import TrainConfig
from benchmarks.inference import InvalidInput, clean_text
from benchmarks.metrics import Calibration, Proportion
from benchmarks.models import CANONICAL_LABELS, LoadedPair, ModelLoadError, PairSpec
from benchmarks.settings import Settings
from dashboard import lesson, live_panel, resources, safe, sidebar

T_MIN, T_MAX, T_STEP, T_DEFAULT = 1.0, 20.0, 0.5, 2.0
DEFAULT_SENTENCE = "It's not that the movie is bad, it just never becomes good."
TEACHER_COLOUR, STUDENT_COLOUR = "#4C72B0", "#DD8452"
N_BINS = 10
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
        return usable, f"T = {raw[:20]} in the link is outside {T_MIN:g}–{T_MAX:g} or off the {T_STEP:g} grid; using T = {usable:g}."
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


def chart_config(name: str) -> dict:
    """Plotly's toolbar always shown; its camera button saves a 2x PNG named after the chart."""
    return {"displayModeBar": True, "displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}}


# --- 1. soft targets ---------------------------------------------------------------------------------


def distributions_chart(soft: scoring.SoftTargets) -> go.Figure:
    t = soft.temperature
    series = [
        ("teacher, T = 1", soft.teacher, TEACHER_COLOUR, 1.0),
        (f"teacher, T = {t:g} (soft targets)", soft.teacher_soft, TEACHER_COLOUR, 0.45),
        ("student, T = 1", soft.student, STUDENT_COLOUR, 1.0),
        (f"student, T = {t:g}", soft.student_soft, STUDENT_COLOUR, 0.45),
    ]
    fig = go.Figure(
        [
            go.Bar(name=name, x=list(CANONICAL_LABELS), y=list(p), marker_color=colour, opacity=opacity,
                   text=[f"{v:.1%}" for v in p], textposition="outside")
            for name, p, colour, opacity in series
        ]
    )
    fig.update_layout(
        barmode="group", height=340, margin=dict(l=10, r=10, t=30, b=10), yaxis=dict(range=[0, 1.12], tickformat=".0%"),
        legend=dict(orientation="h", y=-0.12), title=dict(text="Class probabilities", font=dict(size=14)),
    )
    return fig


def temperature_chart(teacher_logits, student_logits, gold: int, current: float) -> go.Figure:
    temps = [T_MIN + i * T_STEP for i in range(int((T_MAX - T_MIN) / T_STEP) + 1)]
    curve = [scoring.soft_targets(teacher_logits, student_logits, t, gold) for t in temps]
    fig = go.Figure(
        [
            go.Scatter(x=temps, y=[c.kl for c in curve], name="KL at T", line=dict(color="#8172B3")),
            go.Scatter(x=temps, y=[c.kd_loss for c in curve], name="T² · KL (distillation loss)", line=dict(color="#55A868")),
        ]
    )
    fig.add_vline(x=current, line_dash="dot", annotation_text=f"T = {current:g}")
    fig.update_layout(
        height=300, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="temperature T", yaxis_title="loss (nats)",
        legend=dict(orientation="h", y=-0.25), title=dict(text="Why the T² factor", font=dict(size=14)),
    )
    return fig


def soft_targets_section(loaded: LoadedPair, limits: Settings) -> None:
    st.header("1 · Soft targets")
    st.markdown(
        "A trained teacher rarely puts *all* its probability on one label. What it gives the other label — "
        "Hinton et al. call it dark knowledge — tells the student how ambiguous the sentence looks. "
        "Dividing the logits by a **temperature T > 1** before the softmax flattens the distribution, so those "
        "small probabilities weigh more in the loss."
    )
    left, right = st.columns([3, 1])
    sentence = left.text_input("Sentence", key="kd_sentence")  # length checked by clean_text, with the limit in its message
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
    soft = scoring.soft_targets(teacher_logits, student_logits, temperature, gold)

    a, b, c = st.columns(3)
    a.metric("Distillation loss  T² · KL", _loss(soft.kd_loss), help="T² · KL(teacher at T ‖ student at T), in nats")
    b.metric("KL at T", _loss(soft.kl), help="the same divergence before the T² factor")
    c.metric(f"Hard-label loss (gold {CANONICAL_LABELS[gold]})", _loss(soft.hard_loss), help="cross-entropy of the student at T = 1")
    left, right = st.columns(2)
    left.plotly_chart(distributions_chart(soft), config=chart_config("soft-targets"), key="kd_dist_chart")
    right.plotly_chart(temperature_chart(teacher_logits, student_logits, gold, temperature), config=chart_config("kd-loss-vs-temperature"), key="kd_t_chart")
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


# --- 2 and 3. agreement and calibration over a data set ---------------------------------------------


def choose_dataset(limits: Settings) -> LabelledTexts | None:
    upload = st.file_uploader(
        f"Your own labelled file instead of SST-2 dev: TSV or CSV with a header, a sentence/text column and a label "
        f"column (0 = negative, 1 = positive), up to {limits.max_upload_mb} MB and {limits.max_upload_rows:,} rows",
        type=["tsv", "csv", "txt"], max_upload_size=limits.max_upload_mb, key="kd_upload",
    )
    if upload is not None:
        # The browser enforces the widget's limit in MB of 1,000,000 bytes (1,048,576 on Windows); the server
        # accepts server.maxUploadSize MiB. Checking the same bytes here makes one limit hold for every client.
        limit = limits.max_upload_mb * 1_000_000
        if upload.size > limit:
            st.error(safe.text(f"{upload.name} is {upload.size:,} bytes; the limit is {limit:,} bytes ({limits.max_upload_mb} MB, KD_MAX_UPLOAD_MB)."))
            return None
        try:
            return read_labelled_file(upload.getvalue(), upload.name, source=f"uploaded file {upload.name}", max_rows=limits.max_upload_rows)
        except ValueError as exc:
            st.error(safe.message(exc))
            return None
    try:
        return resources.sst2_dev()
    except DataUnavailable as exc:
        st.warning(f"{safe.message(exc)} Until then, upload a labelled file above.")
        return None


def dataset_scores(loaded: LoadedPair, data: LabelledTexts, limits: Settings) -> scoring.DatasetScores | None:
    cache_dir = limits.state_dir / "scores"
    memo = "kd_scores_" + scoring.cache_key(loaded, data)
    # Kept in the session too: no file read per rerun, and no rescoring where the state folder is read-only.
    scores = st.session_state.get(memo) or scoring.cached_scores(loaded, data, cache_dir)
    if scores is None:
        if not st.session_state.get(memo + "_asked"):
            if not st.button(f"Score the {len(data):,} sentences with both models", type="primary", key="kd_score"):
                st.caption("Runs once per pair and data set; the result is stored on disk and shared with every visitor.")
                return None
            st.session_state[memo + "_asked"] = True  # a rerun mid-way (a slider moved) resumes the scoring
        bar = st.progress(0.0, text="Scoring…")
        scores = scoring.score_pair(loaded, data, cache_dir, progress=lambda f, msg: bar.progress(f, text=msg), keep=limits.max_score_files)
        bar.empty()
    st.session_state[memo] = scores
    return scores


def _ci(p: Proportion) -> str:
    return f"{p.value:.1%} [{p.low:.1%} – {p.high:.1%}]"


def agreement_section(scores: scoring.DatasetScores, data: LabelledTexts) -> None:
    agree, acc_t, acc_s = scores.agreement(), scores.accuracy("teacher"), scores.accuracy("student")
    a, b, c = st.columns(3)
    a.metric("Agreement", f"{agree.rate.value:.1%}", help="share of sentences where both give the same label")
    b.metric("Teacher accuracy", f"{acc_t.value:.1%}")
    c.metric("Student accuracy", f"{acc_s.value:.1%}")
    st.caption(
        f"95 % Wilson intervals — agreement {_ci(agree.rate)}, teacher {_ci(acc_t)}, student {_ci(acc_s)}. "
        + report.accuracy_verdict(agree)
    )
    table = pd.DataFrame(
        [[agree.both_right, agree.teacher_only], [agree.student_only, agree.both_wrong]],
        index=["teacher right", "teacher wrong"], columns=["student right", "student wrong"],
    )
    left, right = st.columns([1, 2])
    with left:
        st.markdown("**Who is right** (sentences)")
        st.dataframe(table, key="kd_two_by_two")
        st.download_button("2 × 2 table (CSV)", to_csv(table), "agreement-2x2.csv", "text/csv", key="kd_csv_2x2")
    with right:
        disagreement_table(scores, data)


def _pick_sentence(options: dict[str, str]) -> None:
    choice = st.session_state.get("kd_pick")
    if choice in options:
        st.session_state["kd_sentence"] = options[choice]  # a callback runs before the text box is drawn


def disagreement_table(scores: scoring.DatasetScores, data: LabelledTexts) -> None:
    rows = scoring.disagreements(scores, data.texts)
    st.markdown(f"**Where they disagree** ({len(rows):,} sentences, the most confidently wrong first)")
    if not rows:
        st.caption("No disagreements on this data set.")
        return
    frame = pd.DataFrame(
        {
            "sentence": [r.text for r in rows],
            "wrong": [r.wrong for r in rows],
            "teacher": [CANONICAL_LABELS[r.teacher_label] for r in rows],
            "teacher conf.": [r.teacher_confidence for r in rows],
            "student": [CANONICAL_LABELS[r.student_label] for r in rows],
            "student conf.": [r.student_confidence for r in rows],
            "gold": [CANONICAL_LABELS[r.gold] for r in rows],
            "row": [r.index + 1 for r in rows],
        }
    )
    query = st.text_input("Search the sentences", key="kd_search", placeholder="a word or phrase")
    shown = frame[frame["sentence"].str.contains(query, case=False, regex=False)] if query.strip() else frame
    conf = dict(min_value=0.5, max_value=1.0, format="%.2f")
    st.dataframe(
        shown, hide_index=True, height=280, key="kd_disagreements",
        column_config={
            "sentence": st.column_config.TextColumn(width="medium", help="hover a cell for the whole sentence"),
            "teacher conf.": st.column_config.ProgressColumn(**conf),
            "student conf.": st.column_config.ProgressColumn(**conf),
            "row": st.column_config.NumberColumn(help="line in the data set (1 = first sentence)"),
        },
    )
    st.download_button(
        f"These {len(shown):,} rows (CSV)", to_csv(shown, index=False), "disagreements.csv", "text/csv", key="kd_csv_dis"
    )
    options = {f"#{r.index + 1}: {r.text[:90]}": r.text for r in rows[:50]}
    st.selectbox(
        "Look closer: load one into the soft-target view above", list(options), index=None, key="kd_pick",
        placeholder="one of the 50 most confident mistakes", on_change=_pick_sentence, args=(options,),
    )


def reliability_chart(teacher: Calibration, student: Calibration) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=[0.5, 1], y=[0.5, 1], name="perfectly calibrated", mode="lines", line=dict(color="#999", dash="dash")), row=1, col=1)
    edges = teacher.bin_edges
    centres = [(lo + hi) / 2 for lo, hi in zip(edges[:-1], edges[1:])]
    for name, cal, colour in (("teacher", teacher, TEACHER_COLOUR), ("student", student, STUDENT_COLOUR)):
        filled = [i for i, n in enumerate(cal.counts) if n]
        fig.add_trace(
            go.Scatter(
                x=[cal.confidence[i] for i in filled], y=[cal.accuracy[i] for i in filled], name=f"{name} (ECE {cal.ece:.3f})",
                mode="lines+markers", line=dict(color=colour), customdata=[cal.counts[i] for i in filled],
                hovertemplate="mean confidence %{x:.3f}<br>accuracy %{y:.3f}<br>%{customdata} sentences<extra>" + name + "</extra>",
            ),
            row=1, col=1,
        )
        fig.add_trace(
            go.Bar(x=centres, y=list(cal.counts), name=f"{name}: sentences per bin", marker_color=colour, showlegend=False,
                   text=[str(n) if n else "" for n in cal.counts], textposition="outside", width=0.02),
            row=2, col=1,
        )
    fig.update_layout(height=480, barmode="group", margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08),
                      title=dict(text="Reliability diagram", font=dict(size=14), y=0.995))
    fig.update_xaxes(range=[0.5, 1.0], row=2, col=1, title_text="confidence (probability of the predicted label)")
    fig.update_yaxes(range=[0, 1.02], row=1, col=1, title_text="accuracy")
    fig.update_yaxes(row=2, col=1, title_text="sentences")
    return fig


def calibration_section(scores: scoring.DatasetScores) -> None:
    st.header("3 · Calibration")
    teacher, student = scores.calibration(N_BINS)
    a, b = st.columns(2)
    a.metric("Teacher ECE", f"{teacher.ece:.3f}", help="expected calibration error: bin-size-weighted mean |accuracy − confidence|")
    b.metric("Student ECE", f"{student.ece:.3f}")
    st.markdown(
        "A model is **calibrated** when, of the sentences it labels with 80 % confidence, 80 % are right. Points below "
        "the diagonal mean over-confidence. Distillation passes the teacher's *softened* beliefs on, so a student often "
        f"inherits — or improves on — its calibration. {N_BINS} equal-width bins over [0, 1]; a two-class model is at "
        "least 50 % confident, so only the upper half can fill. Bins with few sentences are noisy: the counts are below."
    )
    st.plotly_chart(reliability_chart(teacher, student), config=chart_config("reliability-diagram"), key="kd_reliability")
    edges = teacher.bin_edges
    bins = pd.DataFrame(
        {
            "bin": [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(edges[:-1], edges[1:])],
            "teacher n": teacher.counts, "teacher confidence": teacher.confidence, "teacher accuracy": teacher.accuracy,
            "student n": student.counts, "student confidence": student.confidence, "student accuracy": student.accuracy,
        }
    )
    filled = bins[(bins["teacher n"] > 0) | (bins["student n"] > 0)]
    with st.expander("Bins as a table"):
        st.dataframe(filled.round(3), hide_index=True, key="kd_bins")
    st.download_button("Calibration bins (CSV)", to_csv(bins, index=False), "calibration-bins.csv", "text/csv", key="kd_csv_bins")


def export_section(pair_spec: PairSpec, loaded: LoadedPair, data: LabelledTexts, scores: scoring.DatasetScores) -> None:
    st.header("4 · Share and export")
    st.markdown(
        "The address bar holds the pair, the sentence and T: copy it to share this view. Every chart's toolbar has a "
        "camera button that saves it as PNG; each table has a CSV button."
    )
    summary = report.summary_html(
        pair_spec.title, data.source, report.ModelFacts.of(loaded.teacher), report.ModelFacts.of(loaded.student), scores
    )
    st.download_button(
        "Summary for a model-selection review (HTML)", summary.encode(), "teacher-vs-student-summary.html", "text/html",
        type="primary", key="kd_summary",
    )
    st.caption("Accuracy with intervals, measured speed, size and agreement in one self-contained file.")


def dataset_sections(pair_spec: PairSpec, loaded: LoadedPair, limits: Settings) -> None:
    st.header("2 · Agreement over a data set")
    if pair_spec.architecture_only:
        st.info(
            "This pair has random weights: its accuracy, agreement and calibration would be the noise of an untrained "
            "network, not a property of distillation. Pick the pocket pair (or real checkpoints) for sections 2–4."
        )
        return
    data = choose_dataset(limits)
    if data is None:
        return
    st.caption(f"Data set: {safe.text(data.source)}, {len(data):,} sentences.")
    scores = dataset_scores(loaded, data, limits)
    if scores is None:
        return
    agreement_section(scores, data)
    calibration_section(scores)
    export_section(pair_spec, loaded, data, scores)
    st.caption(f"Scores measured on {scores.run.describe()}; cached on disk for this pair and data set.")


def main() -> None:
    st.title("Distillation")
    st.write("Why the student works and where it fails: the teacher's soft targets, then agreement and calibration on real data.")
    limits = resources.settings()
    pair_spec, device = sidebar.current()
    if lesson.toggle("kd_lesson"):
        lesson.panel("distillation")
        return
    state_from_link(limits)
    if pair_spec.architecture_only:
        st.warning("Architecture-only pair: random weights. The loss mechanics below still hold, but the numbers describe no trained model.")
    try:
        loaded = resources.pair(pair_spec, device)
    except ModelLoadError as exc:
        st.error(safe.message(exc))
        return
    soft_targets_section(loaded, limits)
    dataset_sections(pair_spec, loaded, limits)
    live_panel.section(pair_spec, limits)


# Streamlit runs pages as "__main__"; the guard lets tests import the link parsers without drawing the page.
if __name__ == "__main__":
    main()
