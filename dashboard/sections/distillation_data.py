"""Sections 2-4 of the Distillation page, over a labelled data set: agreement and disagreements, calibration,
and the exports (CSV tables, the HTML summary for a model-selection review)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from benchmarks.analysis import report, scoring
from benchmarks.analysis.metrics import Proportion
from benchmarks.core.csv_export import to_csv
from benchmarks.core.data import DataUnavailable, LabelledTexts, read_labelled_file
from benchmarks.core.models import LoadedPair
from benchmarks.core.pairs import PairSpec
from benchmarks.core.settings import Settings
from dashboard import resources, safe
from dashboard.charts.distillation import chart_config, reliability_chart

N_BINS = 10
ROW_PX = 84  # four lines of text per disagreement row


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
            st.error(safe.text(f"{upload.name} is {upload.size:,} bytes; the limit is {limit:,} bytes "
                               f"({limits.max_upload_mb} MB, KD_MAX_UPLOAD_MB)."))
            return None
        try:
            return read_labelled_file(upload.getvalue(), upload.name, source=f"uploaded file {upload.name}",
                                      max_rows=limits.max_upload_rows)
        except ValueError as exc:
            st.error(safe.message(exc))
            return None
    try:
        return resources.sst2_dev()
    except DataUnavailable as exc:
        st.warning(f"{safe.message(exc)} Until then, upload a labelled file above.")
        return None


def dataset_scores(pair_spec: PairSpec, device: str, loaded: LoadedPair, data: LabelledTexts,
                   limits: Settings) -> scoring.DatasetScores | None:
    cache_dir = limits.state_dir / "scores"
    memo = "kd_scores_" + scoring.cache_key(loaded, data)
    # Kept in the session too: no file read per rerun, and no rescoring where the state folder is read-only.
    scores = st.session_state.get(memo) or scoring.cached_scores(loaded, data, cache_dir)
    if scores is None:
        if not st.session_state.get(memo + "_asked"):
            if not st.button(f"Score the {len(data):,} sentences with both models", type="primary", key="kd_score"):
                st.caption("Runs once per pair and data set; the result is stored on disk and shared with every "
                           "visitor.")
                return None
            st.session_state[memo + "_asked"] = True  # a rerun mid-way (a slider moved) resumes the scoring
        with st.spinner("Preparing the fastest setup measured here (a runtime's first use exports the model)…"):
            fast, where = resources.scoring_pair(pair_spec, device)
        bar = st.progress(0.0, text=f"Scoring in {where}…")
        share = resources.fair_share()
        with share.heavy(lambda place: bar.progress(0.0, text=resources.waiting_line(place))):
            scores = scoring.score_pair(
                fast, data, cache_dir, keep=limits.max_score_files, setup=where,
                progress=lambda f, msg: (share.let_answers_pass(), bar.progress(f, text=msg)),
            )
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
    st.markdown("**Who is right** (sentences)")
    st.dataframe(table, key="kd_two_by_two", width="content")
    st.download_button("2 × 2 table (CSV)", to_csv(table), "agreement-2x2.csv", "text/csv", key="kd_csv_2x2")
    disagreement_table(scores, data)  # full width: sentences need the room


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
    frame = pd.DataFrame([r.row() for r in rows])
    query = st.text_input("Search the sentences", key="kd_search", placeholder="a word or phrase")
    shown = frame[frame["sentence"].str.contains(query, case=False, regex=False)] if query.strip() else frame
    conf = dict(min_value=0.5, max_value=1.0, format="%.2f")
    st.dataframe(
        # Rows taller than 4rem let Streamlit wrap text: a sentence reads whole, over up to four lines.
        shown, hide_index=True, height=440, row_height=ROW_PX, key="kd_disagreements",
        column_config={
            "sentence": st.column_config.TextColumn(width="large", help="a longer sentence: hover the cell"),
            "teacher conf.": st.column_config.ProgressColumn(**conf),
            "student conf.": st.column_config.ProgressColumn(**conf),
            "row": st.column_config.NumberColumn(help="line in the data set (1 = first sentence)"),
        },
    )
    st.download_button(
        f"These {len(shown):,} rows (CSV)",
        to_csv(shown, index=False),
        "disagreements.csv",
        "text/csv",
        key="kd_csv_dis",
    )
    options = {f"#{r.index + 1}: {r.text[:90]}": r.text for r in rows[:50]}
    st.selectbox(
        "Look closer: load one into the soft-target view above", list(options), index=None, key="kd_pick",
        placeholder="one of the 50 most confident mistakes", on_change=_pick_sentence, args=(options,),
    )


def calibration_section(scores: scoring.DatasetScores) -> None:
    teacher, student = scores.calibration(N_BINS)
    a, b = st.columns(2)
    a.metric("Teacher ECE", f"{teacher.ece:.3f}", help="expected calibration error: bin-size-weighted mean |accuracy − "
                                                       "confidence|")
    b.metric("Student ECE", f"{student.ece:.3f}")
    st.markdown(
        "A model is **calibrated** when, of the sentences it labels with 80 % confidence, 80 % are right. Points below "
        "the diagonal mean over-confidence. Distillation passes the teacher's *softened* beliefs on, so a student "
        "often "
        f"inherits — or improves on — its calibration. {N_BINS} equal-width bins over [0, 1]; a two-class model is at "
        "least 50 % confident, so only the upper half can fill. Bins with few sentences are noisy: the counts are "
        "below."
    )
    st.plotly_chart(
        reliability_chart(teacher, student), config=chart_config("reliability-diagram"), key="kd_reliability"
    )
    bins = pd.DataFrame(scoring.calibration_rows(teacher, student))
    filled = bins[(bins["teacher n"] > 0) | (bins["student n"] > 0)]
    with st.expander("Bins as a table"):
        st.dataframe(filled.round(3), hide_index=True, key="kd_bins")
    st.download_button("Calibration bins (CSV)", to_csv(bins, index=False), "calibration-bins.csv", "text/csv",
                       key="kd_csv_bins")


def export_section(pair_spec: PairSpec, loaded: LoadedPair, data: LabelledTexts, scores: scoring.DatasetScores) -> None:
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


def dataset_sections(pair_spec: PairSpec, device: str, loaded: LoadedPair, limits: Settings) -> None:
    """Sections 2-4. Their headers stand whether or not the data set is scored yet, so the page keeps one numbering."""
    st.header("2 · Agreement over a data set")
    data = scores = None
    if pair_spec.architecture_only:
        st.info(
            "This pair has random weights: its accuracy, agreement and calibration would be the noise of an untrained "
            "network, not a property of distillation. Pick the pocket pair (or real checkpoints) for sections 2–4."
        )
    else:
        data = choose_dataset(limits)
        if data is not None:
            st.caption(f"Data set: {safe.text(data.source)}, {len(data):,} sentences.")
            scores = dataset_scores(pair_spec, device, loaded, data, limits)
    if scores is not None and data is not None:
        agreement_section(scores, data)
    waiting = "Needs the data set of section 2 scored." if not pair_spec.architecture_only else "Needs trained weights."
    st.header("3 · Calibration")
    if scores is not None:
        calibration_section(scores)
    else:
        st.caption(waiting)
    st.header("4 · Share and export")
    if scores is not None:
        export_section(pair_spec, loaded, data, scores)
        st.caption(f"Scores measured on {scores.run.describe()}; cached on disk for this pair and data set.")
    else:
        st.caption(waiting)
