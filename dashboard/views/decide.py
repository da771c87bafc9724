"""Decide: which configuration to ship on this hardware, under a latency budget and the accuracy we can give up.

Composes the library (benchmarks.analysis: constraints, decision, stats, review_pack); computes nothing itself.
The constraints live in the URL (sections/decide_url.py), so a link reproduces the view.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from benchmarks.analysis.candidate import precision_flips
from benchmarks.analysis.constraints import OBJECTIVES, PERCENTILES, Constraints
from benchmarks.analysis.cost import cost_note
from benchmarks.analysis.decision import decide
from benchmarks.analysis.review_pack import Provenance, ranking_rows, review_pack
from benchmarks.analysis.stats import INTERVAL_METHOD
from benchmarks.analysis.verdict import Decision
from benchmarks.core.device import detect_hardware, thread_count
from benchmarks.core.pairs import PairSpec
from benchmarks.harness.candidates import candidates
from benchmarks.harness.machines import Machine, choice_labels, default_machine, machine_of, machines
from benchmarks.harness.results import BenchmarkResult
from benchmarks.harness.selection import latest
from dashboard import resources, safe, sidebar
from dashboard.charts.decide import frontier_chart
from dashboard.sections.decide_data import drift_section, own_scores, reference_texts
from dashboard.sections.decide_url import LIMITS, URL_FIELDS, from_query, to_query

NUMBERS = {"budget": "Latency budget (ms)", "min_acc": "Minimum accuracy (%)",
           "max_drop": "Largest drop against the teacher (pp)", "max_mem": "Peak memory cap (MiB)",
           "max_size": "Weights size cap (MiB)", "price": "Price per hour"}  # decide_url.LIMITS, by URL key
PRICE_HELP = ("What the instance (this hardware) costs per hour, in any currency: the ranking then shows the cost per "
              "million sentences in the same currency. Not a constraint.")
OWN_DATA = "A labelled file, scored here"


def measured(pair: PairSpec) -> list[BenchmarkResult]:
    """The pair's latest result per model x variant x runtime x machine, from the results cache (the shipped files
    without one)."""
    return latest(
        s.record
        for s in resources.stored_or_reference(pair.key).records
        if isinstance(s.record, BenchmarkResult) and s.record.config.pair == pair.key
    )


def _without_folder(source: str) -> str:
    """"SST-2 validation (/some/dir/dev.tsv)" -> "SST-2 validation": a folder on some machine is no one's business."""
    return source.split(" (")[0]


def constraint_form(options: list[Machine], results: list[BenchmarkResult]) -> Constraints:
    """The constraint widgets, seeded from the URL when the page opens, mirrored back into it on every run."""
    keys = [m.key for m in options]
    hardware = detect_hardware()
    here = default_machine(results, hardware, "cpu").key  # results are never empty here

    def grid(machine: str) -> list[BenchmarkResult]:
        return [r for r in results if machine_of(r).key == machine]

    if "dk_hw" not in st.session_state:  # a fresh visit or a shared link: the URL wins
        linked = st.query_params.get("hw")  # the link's machine sets which batch sizes and lengths are valid
        first = linked if linked in keys else here if here in keys else keys[0]
        cells = {(c.batch, c.seq_len) for r in grid(first) for c in r.cells}
        batches, lengths = sorted({b for b, _ in cells}), sorted({s for _, s in cells})
        default = Constraints(1 if 1 in batches else batches[0], 128 if 128 in lengths else lengths[-1], machine=first)
        k, notes = from_query(
            {key: st.query_params[key] for key in URL_FIELDS if key in st.query_params}, keys, batches, lengths, default
        )
        for note in notes:
            st.warning(note)  # fixed sentences: the link's raw values are never echoed
        st.session_state.update({f"dk_{key}": getattr(k, attr) for key, attr in URL_FIELDS.items()})
    if st.session_state.get("dk_hw") not in keys:  # another pair in the sidebar may have other machines
        st.session_state["dk_hw"] = keys[0]
    labels = {m.key: label for m, label in choice_labels(options, (hardware.fingerprint, "cpu")).items()}
    # A row of its own: the part that tells two machines apart must not be cut off.
    machine = st.selectbox("Hardware (from the results cache)", keys, format_func=labels.__getitem__, key="dk_hw")
    top = st.columns(5)
    cells = {(c.batch, c.seq_len) for r in grid(machine) for c in r.cells}
    batches, lengths = sorted({b for b, _ in cells}), sorted({s for _, s in cells})
    for key, opts in (("dk_batch", batches), ("dk_seq", lengths)):  # another machine may have another grid
        if st.session_state.get(key) not in opts:
            st.session_state[key] = opts[0]
    batch = top[0].selectbox("Batch size", batches, key="dk_batch")
    seq_len = top[1].selectbox("Sequence length", lengths, key="dk_seq")
    percentile = top[2].selectbox("Latency percentile", PERCENTILES, key="dk_pct")
    objective = top[3].selectbox("Rank by", list(OBJECTIVES), format_func=OBJECTIVES.__getitem__, key="dk_rank")
    # The price beside the ranking's settings, not among the constraints: it excludes nothing.
    numbers = dict(zip(NUMBERS, [*st.columns(len(NUMBERS) - 1), top[4]]))
    limits = {}
    for q, label in NUMBERS.items():
        low, high = LIMITS[q]
        limits[URL_FIELDS[q]] = numbers[q].number_input(
            label, min_value=low, max_value=high, value=None, placeholder="none" if q == "price" else "no limit",
            key=f"dk_{q}", help=PRICE_HELP if q == "price" else None,
        )
    k = Constraints(batch, seq_len, percentile, objective=objective, machine=machine, **limits)
    for key in URL_FIELDS:
        st.query_params.pop(key, None)
    st.query_params.update(to_query(k))
    return k


def recommendation(decision: Decision) -> None:
    rec = decision.recommendation
    if rec is None:
        st.warning("Nothing measured meets these constraints. " + " ".join(safe.text(r) for r in decision.relax))
        return
    st.success(f"Recommendation: **{safe.text(rec.candidate.name)}** ({safe.text(rec.candidate.runtime_label)})")
    st.markdown("\n".join(f"- {safe.text(r)}" for r in decision.reasons))


def main() -> None:
    st.title("Decide")
    st.write("Which model, precision and runtime to ship on this hardware, given a latency budget and the accuracy you "
             "can "
             "give up — with the statistics to defend it. Every figure is a measurement from the results cache.")
    pair, device = sidebar.current()
    results = measured(pair)
    if not results:
        st.info(f"No benchmark results for {safe.text(pair.title)} yet: measure them on the Benchmarks page first.")
        return
    k = constraint_form(machines(results), results)
    on_machine = [r for r in results if machine_of(r).key == k.machine]
    source = st.radio("Accuracy from", ["The measurements' own scoring", OWN_DATA], horizontal=True, key="dk_data",
                      disabled=pair.architecture_only, help="Random-weight pairs have no accuracy to compute.")
    scored, texts = None, reference_texts(on_machine)
    ref = next((r for r in on_machine if r.accuracy), None)
    data_id = ref.config.eval_set if ref else "–"
    data_label = (
        f"{_without_folder(ref.accuracy.source)}, {ref.accuracy.n:,} sentences"
        if ref and ref.accuracy
        else "no labelled set"
    )
    if source == OWN_DATA and not pair.architecture_only:
        own = own_scores(pair, device, sorted({r.config.variant for r in on_machine}))
        if own is None:
            return
        scored, data, data_id = own
        texts, data_label = data.texts, f"your data (hash {data_id}, {len(data):,} sentences)"
        st.text(f"Accuracy columns computed on: {_without_folder(data.source)} · content hash {data_id}")
        if any(r.config.runtime != "eager" for r in on_machine):
            st.caption("Your file is scored in eager PyTorch: the other runtimes have no accuracy on it here (their "
                       "SST-2 dev accuracy and flip rate are on the Benchmarks page).")
    cands = candidates(on_machine, k.batch, k.seq_len, k.percentile, scored)
    decision = decide(cands, k)
    recommendation(decision)
    machine_label = machine_of(on_machine[0]).label
    st.plotly_chart(frontier_chart(decision, data_label), key="dk_frontier")
    axis = ("Nothing here has an accuracy measured, so the chart sets peak memory against latency. "
            if decision.axis == "memory" else f"Accuracy on {safe.text(data_label)}. ")
    st.caption(f"{axis}Latency model only (forward pass), measured with {machine_label}. Bubble area: weight size; "
               "marker: precision (eager) or runtime; ringed: the recommendation; faded: excluded; dashed: the Pareto "
               "frontier. Only the frontier and the recommendation are named: hover over a point for the others.")
    st.subheader("Ranking")
    rows = ranking_rows(decision)
    # A static table wraps its cells, so every name and column shows at any width. st.table renders Markdown: each
    # cell goes through safe.text (the headers are this module's own words).
    st.table(pd.DataFrame([{h: safe.text(v) for h, v in row.items()} for row in rows]), hide_index=True)
    for note in sorted({c.latency_note for c in cands if c.latency_note}):
        st.caption(safe.text(note))
    if k.price_per_hour is not None:
        st.caption(safe.text(cost_note(k.price_per_hour, k.batch, k.seq_len, machine_label)))
    pairing = sorted({v.speedup.pairing for v in decision.verdicts if v.speedup and v.speedup.low is not None})
    speed = (f"speed-up against the teacher (eager fp32): {INTERVAL_METHOD} over the sweeps' p50s — "
             + (" and ".join(pairing) if pairing else "no interval here")
             + " (paired only where the two took turns in one run; unpaired otherwise, as for every shipped reference "
             "record, which does not say whether it did; no interval where no per-sweep timings were kept).")
    if decision.axis == "accuracy":
        st.caption("Against the teacher (eager fp32): exact McNemar test on the discordant sentences and Newcombe's "
                   f"paired 95 % interval of the difference; {speed} \"Within noise\" only where p ≥ 0.05 or the "
                   "interval holds 1.0; at the margin the interval can exclude 0 while p is just above 0.05 (two "
                   "methods): the verdict follows the test.")
    else:
        st.caption(f"{speed[0].upper()}{speed[1:]} \"Within noise\" where the interval holds 1.0.")
    drift_section(precision_flips(cands), {c.name: c for c in cands}, texts)
    prov = Provenance(
        on_machine[0].hardware.label(on_machine[0].device), on_machine[0].hardware.fingerprint,  # threads: below
        "; ".join(sorted({r.software.label for r in on_machine}))
        + f"; {thread_count(on_machine[0].config.settings.threads)}, "
        f"{on_machine[0].config.settings.attn_implementation} attention; measured "
        + ", ".join(sorted({r.measured_at[:10] for r in on_machine})),
        data_label, data_id,
    )
    st.download_button(
        "Review pack (one offline HTML file)",
        lambda: review_pack(decision, precision_flips(cands), prov),
        "model-selection-review.html",
        "text/html",
        on_click="ignore",
        type="primary",
        key="dk_pack",
    )


if __name__ == "__main__":
    main()
