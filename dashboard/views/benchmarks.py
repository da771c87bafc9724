"""Benchmarks: how much faster and smaller the student is, and what it costs in accuracy, on this hardware.

Everything shown comes from the results cache (benchmarks/store.py), seeded with the reference results
shipped in data/reference; the run button measures what is missing in a background process.
"""

from __future__ import annotations

import sqlite3
import time

import streamlit as st

from benchmarks import progress as runs
from benchmarks.analysis.stats import paired_from_counts
from benchmarks.comparison import (
    Machine, cell_rows, drift, latest, machine_of, machines, missing_variants, pair_agreement, speedups, summary_rows,
    utilisation_rows,
)
from benchmarks.hardware import detect_hardware, detect_software
from benchmarks.harness import full_settings
from benchmarks.models import ModelLoadError, PairSpec, check_spec
from benchmarks.paths import shown
from benchmarks.precision import supported_variants
from benchmarks.results import BenchmarkResult, PeakResult
from benchmarks.store import StoredRecord, reference_records
from dashboard import benchmark_charts as charts
from dashboard import resources, safe, sidebar

TIMINGS = {"model": "Model only (forward pass)", "e2e": "End to end (tokenizer + forward)"}
ORIGINS = {"measured": "measured here", "reference": "shipped reference (data/reference)"}


def load_records() -> tuple[list[StoredRecord], str | None, tuple[int, str] | None]:
    """(records, recovery message, cache version); without a usable cache, the shipped files read-only."""
    path = str(resources.settings().cache_path)
    try:
        store = resources.benchmark_store(path)
        version = store.version()
        return resources.benchmark_records(path, version), store.recovered, version
    except (OSError, sqlite3.Error) as exc:
        st.warning(f"The results cache {safe.text(shown(path))} cannot be opened ({safe.message(exc)}); showing the shipped reference results, and measuring is off.")
        return reference_records(), None, None


# --- measuring what is missing, in the background ------------------------------------------------------


def _run_args(pair: PairSpec, device: str) -> list[str]:
    args = ["run", "--device", device, "--db", str(resources.settings().cache_path)]
    if pair.key in ("pocket", "architecture", "hub"):
        return args + ["--pair", pair.key]
    for spec in (pair.teacher, pair.student):
        check_spec(spec, resources.settings())  # one sentence now, not a failed run later
    # "--teacher=VALUE": a path that looks like a flag (--force, -h) stays a value.
    return args + [f"--teacher={pair.teacher.ref}", f"--student={pair.student.ref}"]


def run_panel(pair: PairSpec, device: str, results: list[BenchmarkResult], version: tuple[int, str]) -> None:
    state_dir = resources.settings().state_dir
    progress_path, log_path = state_dir / "benchmark-progress.json", state_dir / "benchmark-run.log"
    hardware, software = detect_hardware(), detect_software()
    variants = supported_variants(device, hardware)
    missing = missing_variants(results, pair.key, hardware, software, device, variants, full_settings())
    was_active = runs.is_active(runs.read_progress(progress_path))
    path = str(resources.settings().cache_path)

    # Polls a small JSON file and the cache version: fast while a run is going, slowly otherwise, so
    # results measured by any session (or the CLI) show up here without a click.
    @st.fragment(run_every=2.0 if was_active else 15.0)
    def panel() -> None:
        progress = runs.read_progress(progress_path)
        active = runs.is_active(progress)
        if active != was_active or resources.benchmark_store(path).version() != version:
            st.rerun()
        with st.container(border=True):
            if active:
                minutes = (time.time() - progress.started) / 60
                st.progress(min(1.0, progress.fraction), text=f"Measuring {min(progress.done + 1, progress.total)} of {progress.total}: {progress.current} · {minutes:.1f} min so far")
                st.caption("The run is a separate process (" + safe.message(progress.command) + "): this page and other sessions stay "
                           "usable, and each model's results appear here as soon as it is finished.")
                if st.button("Stop the run", key="bench_stop"):
                    runs.stop(progress)
                    st.rerun()
                return
            if progress is not None and progress.state == "failed":
                st.warning(f"The last benchmark run did not finish: {safe.text(progress.message)}")
            elif progress is not None and progress.state == "running":
                st.warning(f"The last benchmark run stopped unexpectedly (see {safe.text(shown(log_path))}); finished models are kept.")
            label = hardware.label(device)
            if not missing:
                st.success(f"All {2 * len(variants)} teacher/student × precision results for this pair are cached for {label}.")
                return
            names = ", ".join(f"{role} {variant}" for role, variant in missing)
            st.markdown(f"**{label}** has no full-grid results yet for: {names}.")
            st.caption("Each model is measured in a fresh process (teacher and student taking turns), ≥ 10 iterations per grid cell; on a 2-core CPU a "
                       "BERT-base-size model takes several minutes. Results of other machines are unaffected.")
            if st.button(f"Measure the {len(missing)} missing", type="primary", key="bench_start"):
                try:
                    args = _run_args(pair, device)
                except ModelLoadError as exc:
                    st.error(safe.message(exc))
                    return
                runs.start_background(args, progress_path, log_path)  # or finds the run another tab started
                st.rerun()

    panel()


# --- the charts ---------------------------------------------------------------------------------------


def provenance(results: list[BenchmarkResult], origin: dict[str, str]) -> str:
    s = results[0].config.settings
    grid = f"batch {'/'.join(map(str, s.batch_sizes))} × {'/'.join(map(str, s.seq_lens))} tokens"
    software = "; ".join(sorted({r.software.label for r in results}))
    sources = ", ".join(sorted({ORIGINS.get(origin.get(r.key, ""), origin.get(r.key, "")) for r in results}))
    dates = sorted(r.measured_at[:10] for r in results)
    cuda = results[0].device.startswith("cuda")
    return (
        f"Measured on **{results[0].hardware.label(results[0].device)}**, {software}, "
        f"{f'{s.threads} CPU threads feeding the GPU, timings synchronised with it' if cuda else f'{s.threads} threads'}, SDPA attention, "
        f"{dates[0]}{' – ' + dates[-1] if dates[-1] != dates[0] else ''} ({sources}). Grid: {grid}; every sequence holds exactly "
        f"that many real tokens (no padding). ≥ {s.min_iters} timed iterations and ≥ {s.cell_budget_s:g} s per cell after warm-up, "
        f"spread over {s.rounds} sweeps of the grid so a burst of outside load cannot skew one cell; "
        + "each model runs in a fresh process"
        + (" whose allocator keeps freed memory (no page faults on large activations); " if s.keep_heap and not cuda else "; ")
        + "a run that measures both models of a variant lets them take turns cell by cell, so outside load hits both alike; "
        + "p50 is the median, the shaded band runs from p90 to p99."
    )


def drift_note(results: list[BenchmarkResult]) -> str:
    """One sentence on how far the host moved under these results, from their sweep-to-sweep spread."""
    spreads = drift(results)
    if not spreads:
        return ""
    worst = max(spreads, key=lambda d: d.worst)
    typical = sorted(d.median for d in spreads)[len(spreads) // 2]
    return (f" Host drift during these runs: between sweeps of the grid a cell's model-only p50 moved by {typical:.1%} "
            f"(median over models), at worst {worst.worst:.1%} ({worst.series}, {worst.worst_cell[0]}×{worst.worst_cell[1]}); "
            "a second run on this machine cannot be expected to repeat a p50 more closely than that.")


def headline(results: list[BenchmarkResult], variant: str, batch: int, seq_len: int) -> None:
    chosen = [r for r in results if r.config.variant == variant]
    roles = {r.config.role: r for r in chosen}
    if set(roles) != {"teacher", "student"}:
        return
    t, s = roles["teacher"], roles["student"]
    cols = st.columns(4)
    sp = next((x for x in speedups(chosen) if (x.batch, x.seq_len) == (batch, seq_len)), None)
    if sp:
        cols[0].metric(f"Student speed-up, {batch}×{seq_len}", f"{sp.ratio:.2f}×",
                       help=(f"Teacher p50 / student p50 in each sweep of the grid ({', '.join(f'{r:.2f}×' for r in sp.sweep_ratios)}), "
                             "median shown; " if sp.sweep_ratios else "Teacher p50 / student p50; ")
                            + f"p50 over the run {sp.teacher_ms:.1f} ms vs {sp.student_ms:.1f} ms, model only, {variant}. "
                            f"The FLOPs ratio {sp.ceiling:.2f}× is the ceiling.")
    cols[1].metric("Student size / teacher", f"{s.variant_bytes / t.variant_bytes:.2f}×",
                   help=f"{s.variant_bytes / 2**20:.0f} MiB vs {t.variant_bytes / 2**20:.0f} MiB of {variant} weights; "
                        f"{s.n_params / 1e6:.1f} M vs {t.n_params / 1e6:.1f} M parameters")
    if t.accuracy and s.accuracy:
        gap = (s.accuracy.value - t.accuracy.value) * 100
        agree = pair_agreement(chosen).get(variant)
        # Same sentences for both: only the paired test (McNemar) may call the gap noise, never overlapping intervals.
        paired = paired_from_counts(agree.both_right, agree.teacher_only, agree.student_only, agree.both_wrong) if agree else None
        cols[2].metric("Student accuracy vs teacher", f"{gap:+.1f} pp", help=(
            f"teacher {t.accuracy.value:.1%} [{t.accuracy.low:.1%}, {t.accuracy.high:.1%}] vs student {s.accuracy.value:.1%} "
            f"[{s.accuracy.low:.1%}, {s.accuracy.high:.1%}] on {s.accuracy.n} sentences"
            + (f". Student {paired.describe('the teacher')}" if paired else ".")))
        if agree:
            cols[3].metric("Teacher–student agreement", f"{agree.rate.value:.1%}",
                           help=f"same label on {agree.rate.value * agree.rate.n:.0f} of {agree.rate.n} sentences "
                                f"[{agree.rate.low:.1%}, {agree.rate.high:.1%}]")
    else:
        cols[2].metric("Student accuracy vs teacher", "n/a", help="architecture-only models have random weights: no accuracy")


def charts_for(results: list[BenchmarkResult], peaks: list[PeakResult], timing: str, batch: int, seq_len: int,
               architecture_only: bool) -> None:
    rows = cell_rows(results, timing)  # type: ignore[arg-type]
    summary = summary_rows(results)
    at_cell = {r["series"]: r["p50_ms"] for r in rows if (r["batch"], r["seq_len"]) == (batch, seq_len)}
    for r in summary:
        r["p50_ms"] = at_cell.get(r["series"])
    kind = "model only" if timing == "model" else "end to end"
    tabs = st.tabs(["Latency", "Throughput", "Speed-up", "Memory & size", "Accuracy", "Trade-off", "Utilisation", "All numbers"])

    with tabs[0]:
        left, right = st.columns(2)
        left.plotly_chart(charts.latency_chart([r for r in rows if r["seq_len"] == seq_len], "batch",
                                               f"Latency vs batch size at {seq_len} tokens ({kind})"), config=charts.CONFIG)
        right.plotly_chart(charts.latency_chart([r for r in rows if r["batch"] == batch], "seq_len",
                                                f"Latency vs sequence length at batch {batch} ({kind})"), config=charts.CONFIG)
        st.caption("Latency of one batch. Line: p50; band: p90 to p99 (the tail a user would notice). Teacher blue, student "
                   "orange; line style = precision variant. Hover for the number of timed runs." + drift_note(results))
    with tabs[1]:
        st.plotly_chart(charts.throughput_chart([r for r in rows if r["seq_len"] == seq_len],
                                                f"Throughput at {seq_len} tokens per sentence ({kind})"), config=charts.CONFIG)
        scored = [r for r in summary if r["eval_sentences_per_s"]]
        if scored:
            st.markdown("**Scoring the whole accuracy set** (real sentence lengths, sorted by length, each batch padded only to its own longest; tokenizer included):")
            st.dataframe([{"model · variant": r["series"], "sentences/s": round(r["eval_sentences_per_s"], 1),
                           "real tokens/s": round(r["eval_tokens_per_s"]), "sentences": r["eval_n"]} for r in scored], hide_index=True)
    with tabs[2]:
        sp = speedups(results, timing)  # type: ignore[arg-type]
        if sp:
            st.plotly_chart(charts.speedup_chart(sp, f"Student speed-up per cell ({kind})"), config=charts.CONFIG)
            how = ("Teacher p50 / student p50 on the same cell, variant and machine, taken in each sweep of the grid (the two "
                   "models took turns, seconds apart, so a slow minute hits both); bar: the median of those ratios, whiskers: "
                   "the lowest and highest, i.e. how far the host's drift alone moves it. "
                   if any(x.sweep_range for x in sp) else
                   "Teacher p50 / student p50 over the whole run on the same cell, variant and machine; no whiskers, because "
                   "per-sweep p50s exist only for model-only timings of runs measured since they were kept. ")
            st.caption(how + "Half the layers do half the FLOPs, so the dashed line is the most the student can gain; the gap is "
                       "fixed cost (embeddings, tokenizer, Python, launches). Identical layers cannot beat it, so a bar above the line is noise. "
                       "`python -m benchmarks repeat` measures how well this machine repeats a p50.")
        else:
            st.info("Speed-up needs the teacher and the student in the same variant.")
    with tabs[3]:
        left, right = st.columns(2)
        mem_axis = "MiB above the pre-load baseline"
        left.plotly_chart(charts.bar_chart(summary, "run_peak_mb", mem_axis, "Peak memory while running the grid"), config=charts.CONFIG)
        right.plotly_chart(charts.bar_chart(summary, "variant_mb", "MiB", "Size of the weights (serialized state dict)"), config=charts.CONFIG)
        method = {r.memory.method for r in results}
        st.caption(("CPU: peak resident set (VmHWM) of a fresh process per model, reset after loading, so it covers the "
                    "resident weights plus activations of the largest cell. " if "rss" in method else "")
                   + ("CUDA: max_memory_allocated after a reset (reserved in the table). " if "cuda" in method else "")
                   + "Loading peaks and parameter counts are in All numbers.")
    with tabs[4]:
        if architecture_only:
            st.info("Architecture only: random weights, so there is no accuracy to show. Pick the pocket pair for the trade-off.")
        elif any(r["accuracy"] is not None for r in summary):
            st.plotly_chart(charts.accuracy_chart(summary, "Accuracy with 95 % Wilson interval"), config=charts.CONFIG)
            n = next(r["eval_n"] for r in summary if r["eval_n"])
            st.caption(f"{n} labelled sentences ({results[0].accuracy.source if results[0].accuracy else 'SST-2 dev'}). "
                       "Each interval is one model's alone; whether two models differ on the same sentences is the paired "
                       "McNemar test below (or on the Decide page), not whether their intervals overlap.")
            agree = pair_agreement(results)
            if agree:
                st.dataframe([{"variant": v, "agreement": f"{a.rate.value:.1%} [{a.rate.low:.1%}, {a.rate.high:.1%}]",
                               "both right": a.both_right, "teacher only right": a.teacher_only,
                               "student only right": a.student_only, "both wrong": a.both_wrong,
                               "McNemar p (exact)": f"{paired_from_counts(a.both_right, a.teacher_only, a.student_only, a.both_wrong).p_value:.3g}"}
                              for v, a in agree.items()], hide_index=True)
        else:
            st.info("These results have no accuracy.")
    with tabs[5]:
        if architecture_only or not any(r["accuracy"] is not None and r["p50_ms"] for r in summary):
            st.info("The trade-off needs accuracy: pick a pair with trained weights (the pocket pair).")
        else:
            st.plotly_chart(charts.tradeoff_chart(summary, f"Accuracy vs latency at {batch}×{seq_len} ({kind}); bubble area = weight size"),
                            config=charts.CONFIG)
            st.caption("Up and to the left is better. Error bars: 95 % interval of the accuracy.")
    with tabs[6]:
        util = utilisation_rows(results, peaks, batch, seq_len)
        if util:
            st.dataframe([{**u, "of_dtype_peak": f"{u['of_dtype_peak']:.0%}" if u["of_dtype_peak"] else "–",
                           "of_best_peak": f"{u['of_best_peak']:.0%}"} for u in util], hide_index=True,
                         column_config={"achieved_gflops": st.column_config.NumberColumn("achieved GFLOP/s", format="%.1f"),
                                        "dtype_peak_gflops": st.column_config.NumberColumn("matmul peak, same dtype", format="%.1f")})
            st.caption("Achieved rate = analytic encoder FLOPs of the cell / model-only p50 (int8: operations). Peaks: the best "
                       "rate of a large matmul in each dtype on the same machine and threads (int8: a dynamically quantized Linear).")
        else:
            st.info(f"No matmul peak measured for this machine, or no {batch}×{seq_len} cell.")
    with tabs[7]:
        st.dataframe(summary, hide_index=True)
        st.dataframe(rows, hide_index=True)


def main() -> None:
    st.title("Benchmarks")
    st.write("How much faster and smaller is the student, and what does it cost in accuracy — on this hardware. Every "
             "number is measured, never estimated, and labelled with the machine it came from.")
    pair, device = sidebar.current()
    stored, recovered, version = load_records()
    if recovered:
        st.warning(safe.message(recovered))
    origin = {s.record.key: s.origin for s in stored}
    peaks = [s.record for s in stored if isinstance(s.record, PeakResult)]
    mine = latest(s.record for s in stored if isinstance(s.record, BenchmarkResult) and s.record.config.pair == pair.key)
    if version is not None:
        run_panel(pair, device, mine, version)
    if not mine:
        st.info(f"No results for {safe.text(pair.title)} yet: measure them with the button above, or run `python -m benchmarks run` "
                "and `python -m benchmarks import <file>` for results from another machine.")
        return

    options = machines(mine)
    here = Machine(detect_hardware().fingerprint, device.split(":")[0], detect_hardware().label(device))
    f1, f2, f3 = st.columns([2, 2, 2])
    machine = f1.selectbox("Hardware", options, index=options.index(here) if here in options else 0,
                           format_func=lambda m: m.label + (" (this machine)" if m == here else ""), key="bench_hw")
    on_machine = [r for r in mine if machine_of(r) == machine]
    present = list(dict.fromkeys(r.config.variant for r in on_machine))
    variants = f2.multiselect("Precision variants", present, default=present, key=f"bench_variants_{machine.fingerprint}")
    timing = f3.radio("Timing", list(TIMINGS), format_func=TIMINGS.__getitem__, key="bench_timing")
    results = [r for r in on_machine if r.config.variant in variants]
    if not results:
        st.warning("Pick at least one precision variant.")
        return
    batches = sorted({c.batch for r in results for c in r.cells})
    lengths = sorted({c.seq_len for r in results for c in r.cells})
    c1, c2, _ = st.columns([1, 1, 4])
    batch = c1.selectbox("Batch size", batches, index=len(batches) - 1, key="bench_batch")
    seq_len = c2.selectbox("Sequence length", lengths, index=len(lengths) - 1, key="bench_seq")
    st.caption(provenance(results, origin))
    headline(results, "fp32" if "fp32" in variants else variants[0], batch, seq_len)
    charts_for(results, peaks, timing, batch, seq_len, pair.architecture_only)


main()
