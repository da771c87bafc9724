"""The Explain page's head-importance panel: cached results per pair, else a background job (benchmarks/jobs, kind
"heads": on this machine, or on any machine of the Ray cluster, a GPU first) with an up-front estimate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from benchmarks.analysis import heads
from benchmarks.analysis.attention import summarise
from benchmarks.core.pairs import PairSpec
from benchmarks.jobs.kinds import HeadsRequest
from benchmarks.store.jobs import JobRecord
from dashboard import resources, safe
from dashboard.charts.attention import grid_heatmap
from dashboard.sections import job_control, job_panel

SIZES = (100, 200, 400, 872)
ROLES = ("teacher", "student")


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
    found = heads.stored(state, loaded.teacher.fingerprint, loaded.student.fingerprint, data)
    if found is not None:
        results(found, resources.attention_maps(spec, device, text, resources.settings().attention_max_tokens))
        return
    request = HeadsRequest(spec, sentences, device)

    def status(jobs: list[JobRecord]) -> None:
        mine = [j for j in jobs if HeadsRequest.from_json(j.request) == request]
        done = next((j for j in mine if j.state == "finished" and j.detail.get("cache_name") == path.name), None)
        if done is not None and not path.is_file():  # measured on another machine: keep it in this one's cache
            heads.save(path, heads.PairHeadImportance.from_json(done.detail["result"]))
            st.rerun()
        running = next((j for j in jobs if j.active), None)
        if running is not None:
            job_panel.progress(running, "Masking head", "heads")
            return
        job_panel.ended(next(iter(mine), None), "head-importance run")
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
            try:
                resources.jobs().submit("heads", request.to_json(), owner=job_control.session_id(), single=True)
            except job_panel.UNAVAILABLE as exc:
                st.error(safe.message(exc))
                return
            st.rerun()

    job_panel.watch("heads", status, path.is_file, slow=None)

