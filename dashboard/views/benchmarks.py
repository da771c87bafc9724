"""Benchmarks: how much faster and smaller the student is, and what it costs in accuracy, on this hardware.

Everything shown comes from the results cache (benchmarks/harness/store.py), seeded with the reference results
shipped in data/reference; the run button measures what is missing in a background process.
"""

from __future__ import annotations

import streamlit as st

from benchmarks.core.device import detect_hardware
from benchmarks.core.figures import mib
from benchmarks.core.vocabulary import RUNTIME_LABELS
from benchmarks.harness import comparison, machines, selection, speedups, tables
from benchmarks.harness.results import BenchmarkResult, PeakResult
from benchmarks.harness.store import StoredRecord
from benchmarks.store.database import StoreUnavailable, shown_target
from dashboard import resources, safe, sidebar
from dashboard.charts import benchmarks as charts
from dashboard.charts.theme import CONFIG
from dashboard.sections.benchmark_run import run_panel
from dashboard.sections.benchmark_tabs import accuracy_tab, runtime_costs, utilisation_tab

TIMINGS = {"model": "Model only (forward pass)", "e2e": "End to end (tokenizer + forward)"}
TABS = ["Latency", "Throughput", "Speed-up", "Memory & size", "Accuracy", "Trade-off", "Utilisation", "All numbers"]


def load_records(pair_key: str) -> tuple[list[StoredRecord], str | None, tuple[int, str] | None]:
    """(the pair's records and the peaks, recovery message, cache version); without a usable cache, the shipped files
    read-only."""
    found = resources.stored_or_reference(pair_key)
    if isinstance(found.failure, StoreUnavailable):  # already one sentence that names the database
        st.warning(f"{safe.message(found.failure)} Showing the shipped reference results; measuring is off.")
    elif found.failure is not None:
        st.warning(f"The results cache {safe.text(shown_target(resources.settings().results_db))} cannot be opened "
                   f"({safe.message(found.failure)}); showing the shipped reference results, and measuring is off.")
    return found.records, found.recovered, found.version


def show_headline(results: list[BenchmarkResult], variant: str, batch: int, seq_len: int) -> None:
    h = comparison.headline(results, variant, batch, seq_len)
    if h is None:
        return
    t, s, sp = h.teacher, h.student, h.speedup
    cols = st.columns(4)
    if sp:
        ratios = ", ".join(f"{r:.2f}×" for r in sp.sweep_ratios)
        how = (f"Teacher p50 / student p50 in each sweep of the grid ({ratios}), median shown; " if sp.sweep_ratios
               else "Teacher p50 / student p50; ")
        cols[0].metric(f"Student speed-up, {batch}×{seq_len}", f"{sp.ratio:.2f}×", help=how + (
            f"p50 over the run {sp.teacher_ms:.1f} ms vs {sp.student_ms:.1f} ms, model only, {variant}. "
            f"The FLOPs ratio {sp.ceiling:.2f}× is the ceiling."))
    cols[1].metric("Student size / teacher", f"{h.size_ratio:.2f}×",
                   help=f"{mib(s.variant_bytes):.1f} MiB vs {mib(t.variant_bytes):.1f} MiB of {variant} weights; "
                        f"{s.n_params / 1e6:.1f} M vs {t.n_params / 1e6:.1f} M parameters")
    if h.accuracy_gap_pp is None:
        no_accuracy = "architecture-only models have random weights: no accuracy"
        cols[2].metric("Student accuracy vs teacher", "n/a", help=no_accuracy)
        return
    ta, sa = t.accuracy, s.accuracy
    noise = f". Student {h.paired.describe('the teacher')}" if h.paired else "."
    cols[2].metric("Student accuracy vs teacher", f"{h.accuracy_gap_pp:+.1f} pp", help=(
        f"teacher {ta.value:.1%} [{ta.low:.1%}, {ta.high:.1%}] vs student {sa.value:.1%} [{sa.low:.1%}, "
        f"{sa.high:.1%}] on {sa.n} sentences{noise}"))
    if h.agreement:
        rate = h.agreement.rate
        cols[3].metric("Teacher–student agreement", f"{rate.value:.1%}",
                       help=f"same label on {rate.value * rate.n:.0f} of {rate.n} sentences [{rate.low:.1%}, "
                            f"{rate.high:.1%}]")


def charts_for(results: list[BenchmarkResult], peaks: list[PeakResult], timing: str, batch: int, seq_len: int,
               architecture_only: bool) -> None:
    rows = tables.cell_rows(results, timing)  # type: ignore[arg-type]
    summary = tables.summary_rows(results, (batch, seq_len), timing)  # type: ignore[arg-type]
    kind = "model only" if timing == "model" else "end to end"
    latency, throughput, speed, memory, accuracy, tradeoff, utilisation, numbers = st.tabs(TABS)
    with latency:
        left, right = st.columns(2)
        left.plotly_chart(charts.latency_chart([r for r in rows if r["seq_len"] == seq_len], "batch",
                                               f"Latency vs batch size at {seq_len} tokens ({kind})"), config=CONFIG)
        right.plotly_chart(charts.latency_chart([r for r in rows if r["batch"] == batch], "seq_len",
                                                f"Latency vs sequence length at batch {batch} ({kind})"), config=CONFIG)
        st.caption("Latency of one batch. Line: p50; band: p90 to p99 (the tail a user would notice). Teacher blue, "
                   "student orange; line style = precision variant; marker = runtime. Hover for the number of timed "
                   "runs."
                   + charts.drift_note(results))
    with throughput:
        at_length = [r for r in rows if r["seq_len"] == seq_len]
        st.plotly_chart(charts.throughput_chart(at_length, f"Throughput at {seq_len} tokens per sentence ({kind})"),
                        config=CONFIG)
        st.caption(charts.throughput_note(seq_len, timing, {r.config.settings.threads for r in results}))
        scored = [r for r in summary if r["eval_sentences_per_s"]]
        if scored:
            st.markdown("**Scoring the whole accuracy set**: one timed pass, sorted by length, each batch padded only "
                        "to its own longest; tokenizer included.")
            st.dataframe([{"model · variant": r["series"], "sentences/s": round(r["eval_sentences_per_s"], 1),
                           "real tokens/s": round(r["eval_tokens_per_s"]), "sentences": r["eval_n"],
                           "conditions": r["eval_conditions"]} for r in scored], hide_index=True)
    with speed:
        speedup_tab(speedups.speedups(results, timing), kind)  # type: ignore[arg-type]
    with memory:
        left, right = st.columns(2)
        left.plotly_chart(charts.bar_chart(summary, "run_peak_mb", "MiB above the pre-load baseline",
                                           "Peak memory while running the grid"), config=CONFIG)
        right.plotly_chart(
            charts.bar_chart(summary, "variant_mb", "MiB", "Weights in the precision they run in"), config=CONFIG
        )
        st.caption(charts.memory_note({r.memory.method for r in results}))
        runtime_costs(summary)
    with accuracy:
        accuracy_tab(results, summary, architecture_only)
    with tradeoff:
        if architecture_only or not any(r["accuracy"] is not None and r["p50_ms"] for r in summary):
            st.info("The trade-off needs accuracy: pick a pair with trained weights (the pocket pair).")
        else:
            st.plotly_chart(charts.tradeoff_chart(summary, f"Accuracy vs latency at {batch}×{seq_len} ({kind}); bubble "
                                                  "area = weight size"), config=CONFIG)
            st.caption("Up and to the left is better. Error bars: 95 % interval of the accuracy. Colour: teacher or "
                       "student; symbol: the precision in PyTorch eager, else the runtime. The legend names each "
                       "bubble; hover one for its figures.")
    with utilisation:
        utilisation_tab(tables.utilisation_rows(results, peaks, batch, seq_len), batch, seq_len)
    with numbers:
        st.dataframe(summary, hide_index=True)
        st.dataframe(rows, hide_index=True)


def speedup_tab(sp: list, kind: str) -> None:
    if not sp:
        st.info("Speed-up needs the teacher and the student in the same variant.")
        return
    st.plotly_chart(charts.speedup_chart(sp, f"Student speed-up per cell ({kind})"), config=CONFIG)
    st.caption(charts.speedup_note(sp))


def main() -> None:
    st.title("Benchmarks")
    st.write("How much faster and smaller is the student, and what does it cost in accuracy — on this hardware. Every "
             "number is measured, never estimated, and labelled with the machine it came from.")
    pair, device = sidebar.current()
    stored, recovered, version = load_records(pair.key)
    if recovered:
        st.warning(safe.message(recovered))
    origin = {s.record.key: s.origin for s in stored}
    peaks = [s.record for s in stored if isinstance(s.record, PeakResult)]
    mine = selection.latest(r for r in (s.record for s in stored)
                             if isinstance(r, BenchmarkResult) and r.config.pair == pair.key)
    if version is not None:
        run_panel(pair, device, mine, version)
    if not mine:
        st.info(f"No results for {safe.text(pair.title)} yet: measure them with the button above, or run `python -m "
                f"benchmarks "
                "run` and `python -m benchmarks import <file>` for results from another machine.")
        return
    hardware = detect_hardware()
    options, first = machines.machines(mine), machines.default_machine(mine, hardware, device)
    this = (hardware.fingerprint, device.split(":", 1)[0])
    labels = machines.choice_labels(options, this)
    # A row of its own: the part that tells two machines apart must not be cut off.
    machine = st.selectbox("Hardware and threads", options, index=options.index(first), key="bench_hw",
                           format_func=labels.__getitem__)
    f2, f3, f4 = st.columns(3)
    on_machine = [r for r in mine if machines.machine_of(r) == machine]
    present = list(dict.fromkeys(r.config.variant for r in on_machine))
    variants = f2.multiselect("Precision variants", present, default=present,
                              key=f"bench_variants_{machine.fingerprint}")
    engines = list(dict.fromkeys(r.config.runtime for r in on_machine))
    runtimes = f3.multiselect("Runtimes", engines, default=engines, format_func=RUNTIME_LABELS.__getitem__,
                              key=f"bench_runtimes_{machine.fingerprint}")
    timing = f4.radio("Timing", list(TIMINGS), format_func=TIMINGS.__getitem__, key="bench_timing")
    results = [r for r in on_machine if r.config.variant in variants and r.config.runtime in runtimes]
    if not results:
        st.warning("Pick at least one precision variant and one runtime.")
        return
    batches, lengths = selection.grid(results)
    c1, c2, _ = st.columns([1, 1, 4])
    batch = c1.selectbox("Batch size", batches, index=len(batches) - 1, key="bench_batch")
    seq_len = c2.selectbox("Sequence length", lengths, index=len(lengths) - 1, key="bench_seq")
    st.caption(charts.provenance(results, origin))
    setups = list(dict.fromkeys(r.config.setup for r in results))
    show_headline(results, "fp32" if "fp32" in setups else setups[0], batch, seq_len)
    charts_for(results, peaks, timing, batch, seq_len, pair.architecture_only)


main()
