"""The Explain page's head-importance panel: cached results per pair, else a background run (a separate
`python -m benchmarks heads` process, started and polled with benchmarks.core.background) with an up-front estimate."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from benchmarks.analysis import heads
from benchmarks.analysis.attention import summarise
from benchmarks.core import background as runs
from benchmarks.core.pairs import PairSpec
from dashboard import resources, safe
from dashboard.charts.attention import grid_heatmap
from dashboard.sections import job_control

SIZES = (100, 200, 400, 872)
ROLES = ("teacher", "student")


def _run_args(pair: PairSpec, device: str, sentences: int) -> list[str]:
    args = ["heads", "--device", device, "--sentences", str(sentences)]
    if pair.key in ("pocket", "hub"):
        return args + ["--pair", pair.key]
    return args + ["--teacher", pair.teacher.ref, "--student", pair.student.ref]


def results(result: heads.PairHeadImportance, maps) -> None:
    per_sentence = 100 / result.sentences
    st.caption(
        f"Accuracy lost (percentage points) on {safe.text(result.data_source)} when one head is masked (its output "
        f"zeroed by a forward hook), "
        f"beside the head summary of your sentence. One sentence = {per_sentence:.2f} pp, so differences of a "
        f"sentence or two are noise; "
        "negative = masking helped. The tables order heads with equal drops by the mean probability of the gold label "
        "they cost. "
        f"Measured {result.measured_at} on {result.machine}."
    )
    span = max(float(np.abs(getattr(result, r).drops).max()) for r in ROLES) * 100 or 1.0
    for role in ROLES:  # one row per model: the grids need the width
        r = getattr(result, role)
        st.markdown(f"**{role.capitalize()}**: {r.base_accuracy:.1%} with every head ({r.seconds / 60:.1f} min)")
        left, middle, right = st.columns([5, 5, 4])
        left.caption("Accuracy drop (pp)")
        left.plotly_chart(
            grid_heatmap(r.drops * 100, "RdBu_r", span, ".1f", zmin=-span),
            config={"displayModeBar": False},
            key=f"drop_{role}",
        )
        middle.caption("Entropy of your sentence (bits)")
        middle.plotly_chart(
            grid_heatmap(
                summarise(getattr(maps, role)).entropy, "Greys", float(np.log2(len(maps.teacher.tokens))), ".1f"
            ),
            config={"displayModeBar": False},
            key=f"entropy_{role}",
        )
        rows = [("most", *x) for x in r.ranked(3, True)] + [("least", *x) for x in r.ranked(3, False)]
        right.dataframe(
            pd.DataFrame(
                {
                    "important": [x[0] for x in rows],
                    "head": [f"L{x[1]}.H{x[2]}" for x in rows],
                    "accuracy drop (pp)": [round(x[3] * 100, 2) for x in rows],
                    "gold-label probability drop": [round(float(r.probability_drops[x[1], x[2]]), 4) for x in rows],
                }
            ),
            hide_index=True,
        )


def panel(spec: PairSpec, device: str, text: str) -> None:
    if spec.architecture_only:
        st.info("Random weights have no accuracy to lose: pick a trained pair.")
        return
    sentences = st.select_slider("SST-2 dev sentences (the first N)", SIZES, value=200, key="heads_n")
    loaded = resources.pair(spec, device)
    state = resources.settings().state_dir
    data = resources.sst2_dev().head(sentences)
    path = heads.cache_file(state, loaded.teacher.fingerprint, loaded.student.fingerprint, data)
    progress_path, log_path = state / "head-importance" / "progress.json", state / "head-importance" / "run.log"
    found = heads.stored(state, loaded.teacher.fingerprint, loaded.student.fingerprint, data)
    if found is not None:
        results(found, resources.attention_maps(spec, device, text, resources.settings().attention_max_tokens))
        return
    was_active = runs.is_active(runs.read_progress(progress_path))
    subject = f"heads|{spec.key}|{device}|{sentences}"  # whose failure this panel may report

    @st.fragment(run_every=2.0 if was_active else None)
    def status() -> None:
        progress = runs.read_progress(progress_path)
        active = runs.is_active(progress)
        if active != was_active or (not active and path.is_file()):
            st.rerun()
        if active:
            minutes = (time.time() - progress.started) / 60
            left = (
                f", about {minutes * (1 - progress.fraction) / progress.fraction:.0f} min left"
                if progress.fraction > 0.02
                else ""
            )
            st.progress(
                min(1.0, progress.fraction),
                text=f"Masking head {progress.done + 1} of {progress.total or '…'}: {safe.text(progress.current)} · "
                     f"{minutes:.1f} min so far{left}",
            )
            command = progress.command.split(" --progress")[0]  # the rest is a server path
            # The command names the pair's models (a visitor's URL can set them): text, not a Markdown code span.
            st.caption(f"A separate process ({safe.message(command)}): this page and other sessions stay usable. "
                       "One run at a time on this server.")
            if not job_control.may_control(progress.owner):
                job_control.not_yours("heads")
            elif st.button("Stop", key="heads_stop"):
                runs.stop(progress)
                st.rerun()
            return
        if progress is not None and progress.about(subject) and progress.state == "failed":
            st.warning(f"The last head-importance run for this pair did not finish: {safe.message(progress.message)}")
        texts = data.texts
        estimate = resources.head_importance_estimate(spec, device, texts)
        passes = sum(m.n_layers * m.n_heads + 1 for m in (loaded.teacher, loaded.student))
        st.write(
            f"Not computed yet for this pair and {len(texts)} sentences: {passes} passes over them (every head of "
            f"both models "
            f"masked in turn), about **{max(1, round(estimate / 60))} min** on this machine, judged from timing one "
            f"batch just now."
        )
        if st.button("Compute head importance in the background", type="primary", key="heads_start"):
            runs.start_background(_run_args(spec, device, len(texts)), progress_path, log_path,
                                  job_control.session_id(), subject)
            time.sleep(0.5)  # let it write its first progress line
            st.rerun()

    status()
