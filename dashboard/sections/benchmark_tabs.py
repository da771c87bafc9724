"""The Benchmarks page's accuracy, utilisation and runtime-cost tabs: tables and figures from the result rows
(benchmarks/harness: tables, comparison), composed here so the page file stays short."""

from __future__ import annotations

import streamlit as st

from benchmarks.harness import comparison
from benchmarks.harness.results import BenchmarkResult
from dashboard.charts import benchmarks as charts
from dashboard.charts.theme import CONFIG


def accuracy_tab(results: list[BenchmarkResult], summary: list[dict], architecture_only: bool) -> None:
    if architecture_only:
        st.info("Architecture only: random weights, so there is no accuracy to show. Pick the pocket pair for the "
                "trade-off.")
        return
    scored = [r for r in summary if r["accuracy"] is not None]
    if not scored:
        st.info("These results have no accuracy.")
        return
    st.plotly_chart(charts.accuracy_chart(summary, "Accuracy with 95 % Wilson interval"), config=CONFIG)
    source = results[0].accuracy.source if results[0].accuracy else "SST-2 dev"
    st.caption(f"{scored[0]['eval_n']} labelled sentences ({source}). Each interval is one model's alone; whether two "
               "models differ on the same sentences is the paired McNemar test below (or on the Decide page), not "
               "whether their intervals overlap.")
    if agree := comparison.agreement_rows(results):
        st.dataframe(agree, hide_index=True)
    if flips := comparison.flip_rows(results):
        st.markdown("**Agreement with eager fp32**: how often each runtime and precision changes a model's answer.")
        st.dataframe(flips, hide_index=True)
        st.caption("Same sentences, same weights: a flip is a sentence whose label differs from the eager fp32 run of "
                   "the same model (Wilson interval). fp32 runtimes should flip next to none; int8 a few.")


def utilisation_tab(util: list[dict], batch: int, seq_len: int) -> None:
    if not util:
        st.info(f"No matmul peak measured for this machine, or no {batch}×{seq_len} cell.")
        return
    st.plotly_chart(charts.utilisation_chart(util, f"Achieved FLOP/s at {batch}×{seq_len} against the matmul peaks"),
                    config=CONFIG)
    number = st.column_config.NumberColumn
    st.dataframe([{**u, "of_dtype_peak": f"{u['of_dtype_peak']:.0%}" if u["of_dtype_peak"] else "–",
                   "of_best_peak": f"{u['of_best_peak']:.0%}"} for u in util], hide_index=True,
                 column_config={"achieved_gflops": number("achieved GFLOP/s", format="%.1f"),
                                "dtype_peak_gflops": number("matmul peak, same dtype", format="%.1f")})
    st.caption("Achieved rate = analytic encoder FLOPs of the cell / model-only p50 (int8: operations), for every "
               "runtime and precision alike. Peaks: the best rate of a large PyTorch matmul in each dtype on the same "
               "machine and threads (int8: a dynamically quantized Linear); another runtime's kernels can beat them.")


def runtime_costs(summary: list[dict]) -> None:
    """The one-off cost of each runtime other than eager: export or compile time and the artefact it keeps."""
    rows = [r for r in summary if r["runtime"] != "eager"]
    if not rows:
        return
    st.markdown("**One-off cost of each runtime**")
    st.dataframe([{"model · runtime precision": r["series"], "export / compile, s": round(r["export_s"], 1),
                   "ready in a new process, s": round(r["convert_s"], 2), "artefact on disk, MiB": round(
                       r["artefact_mb"], 1)} for r in rows], hide_index=True)
    st.caption("Export (ONNX, OpenVINO IR, int8 quantization) happens once per model, precision and software version "
               "and is cached under the state folder; torch.compile compiles every grid shape again in each new "
               "process. Peak memory of ONNX Runtime and OpenVINO includes their own libraries and graph copies.")
