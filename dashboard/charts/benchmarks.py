"""Plotly figures for the Benchmarks page, and the captions that say how they were measured: rows in
(benchmarks.harness: tables, speedups), figures and sentences out, no computing."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from benchmarks.core.device import thread_count
from benchmarks.harness.results import BenchmarkResult
from benchmarks.harness.speedups import Speedup, typical_drift
from dashboard.charts.theme import (
    BASELINE,
    CEILING,
    INK,
    ROLE_COLOURS,
    VARIANT_COLOURS,
    VARIANT_DASH,
    rgba,
    series_pattern,
    series_symbol,
)

AXIS_NAMES = {"batch": "batch size (sentences)", "seq_len": "sequence length (tokens)"}


LEGEND_ROW_PX, LEGEND_PER_ROW = 26, 2  # a half-width chart fits about two "teacher · onnxruntime fp32" entries a row


def _layout(fig: go.Figure, height: int = 380, **kw) -> go.Figure:
    """Shared layout; a horizontal legend gets its own room under the x-axis title, however many series there are
    (runtimes x precisions x roles), so it never covers the axis or scrolls."""
    entries = sum(1 for t in fig.data if t.showlegend is not False and t.name)
    rows = -(-entries // LEGEND_PER_ROW) if kw.get("showlegend", True) else 0
    legend_px = LEGEND_ROW_PX * rows
    plot_px = height - 40 - 60  # the plot area: height less the top margin and the x-axis title
    fig.update_layout(
        height=height + legend_px, margin=dict(l=10, r=10, t=40, b=60 + legend_px),
        legend=dict(orientation="h", yanchor="top", y=-60 / plot_px, x=0), **kw,
    )
    return fig


def _series(rows: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(r["series"] for r in rows))


LOG_TICKS = [m * 10**e for e in range(-1, 6) for m in (1, 2, 5)]


BAND_OPACITY = 0.1  # light enough that several stacked bands still show the lines through them


def latency_chart(rows: Sequence[dict], x: str, title: str) -> go.Figure:
    """p50 line per model x variant with its p90-p99 band shaded; log latency axis. Every band is drawn before any
    line, so no band covers another series' line (on a GPU the tails are wide and the bands overlap)."""
    fig = go.Figure()
    series = {name: sorted((r for r in rows if r["series"] == name), key=lambda r: r[x]) for name in _series(rows)}
    for name, pts in series.items():
        xs, colour = [r[x] for r in pts], ROLE_COLOURS[pts[0]["role"]]
        fig.add_trace(go.Scatter(x=xs, y=[r["p90_ms"] for r in pts], mode="lines", line=dict(width=0), legendgroup=name,
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=xs, y=[r["p99_ms"] for r in pts], mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=rgba(colour, BAND_OPACITY), legendgroup=name, showlegend=False,
                                 hoverinfo="skip"))
    for name, pts in series.items():
        xs = [r[x] for r in pts]
        colour, dash = ROLE_COLOURS[pts[0]["role"]], VARIANT_DASH[pts[0]["variant"]]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[r["p50_ms"] for r in pts],
                mode="lines+markers",
                name=name,
                legendgroup=name,
                line=dict(color=colour, dash=dash),
                marker=dict(symbol=series_symbol(pts[0]["variant"], pts[0]["runtime"]), size=8),
                customdata=[
                    [r["p90_ms"], r["p99_ms"], r["iterations"], _drift_note(r.get("sweep_spread"))] for r in pts
                ],
                hovertemplate="%{x}: p50 %{y:.1f} ms · p90 %{customdata[0]:.1f} · p99 %{customdata[1]:.1f} ms · "
                              "%{customdata[2]} runs"
                "%{customdata[3]}<extra>" + name + "</extra>",
            )
        )
    fig.update_xaxes(title=AXIS_NAMES[x], type="log", tickvals=sorted({r[x] for r in rows}))
    # Full labels at 1-2-5 steps: plotly's default log ticks label only the leading digit.
    fig.update_yaxes(title="latency, ms (log scale)", type="log", tickvals=LOG_TICKS, tickformat="~s")
    return _layout(fig, title=title)


def _drift_note(spread: float | None) -> str:
    return "" if spread is None else f"<br>p50 of the slowest sweep {spread:.1%} above the fastest"


def throughput_chart(rows: Sequence[dict], title: str) -> go.Figure:
    """Sentences/s per batch size, bars per model x variant; real tokens/s and the conditions in the hover."""
    fig = go.Figure()
    for name in _series(rows):
        pts = sorted((r for r in rows if r["series"] == name), key=lambda r: r["batch"])
        fig.add_trace(
            go.Bar(
                x=[str(r["batch"]) for r in pts],
                y=[r["sentences_per_s"] for r in pts],
                name=name,
                marker=dict(
                    color=ROLE_COLOURS[pts[0]["role"]],
                    pattern_shape=series_pattern(pts[0]["variant"], pts[0]["runtime"]),
                ),
                customdata=[[r["tokens_per_s"], r["conditions"]] for r in pts],
                hovertemplate="%{y:.1f} sentences/s · %{customdata[0]:,.0f} real tokens/s<br>%{customdata[1]}<extra>"
                + name
                + "</extra>",
            )
        )
    fig.update_xaxes(title="batch size", type="category")
    fig.update_yaxes(title="sentences per second")
    return _layout(fig, title=title, barmode="group")


def throughput_note(seq_len: int, timing: str, threads: set[int]) -> str:
    """What the throughput bars are, in words, and why other pages show other figures for the same model."""
    return (f"Throughput = sentences of one timed batch / that batch's p50, at batch × {seq_len} tokens, no padding, "
            f"{'model only' if timing == 'model' else 'tokenizer included'}, "
            f"{' / '.join(thread_count(n) for n in sorted(threads))}. Other conditions "
            "give other figures for the same model: the Distillation summary and the live-distillation table time one "
            "pass over a data set (real lengths, padded per batch, tokenizer included), as in the table below.")


def speedup_chart(rows: Sequence[Speedup], title: str) -> go.Figure:
    """Student speed-up per cell and variant (median of the sweep-by-sweep p50 ratios), its sweep range as
    whiskers, against the FLOPs ceiling."""
    fig = go.Figure()
    for setup in dict.fromkeys(s.setup for s in rows):
        pts = sorted((s for s in rows if s.setup == setup), key=lambda s: (s.seq_len, s.batch))
        ranges = [s.sweep_range or (s.ratio, s.ratio) for s in pts]
        fig.add_trace(
            go.Bar(
                x=[f"{s.batch}×{s.seq_len}" for s in pts],
                y=[s.ratio for s in pts],
                name=setup,
                marker=dict(color=VARIANT_COLOURS[pts[0].variant], pattern_shape=series_pattern(pts[0].variant,
                                                                                               pts[0].runtime)),
                text=[f"{s.ratio:.2f}×" for s in pts],
                # Rotated at the foot of the bar: three variants share a cell and the whiskers cross the bar tops.
                textposition="inside",
                insidetextanchor="start",
                textangle=-90,
                error_y=dict(
                    type="data",
                    visible=any(s.sweep_range for s in pts),
                    symmetric=False,
                    array=[hi - s.ratio for s, (_, hi) in zip(pts, ranges)],
                    arrayminus=[s.ratio - lo for s, (lo, _) in zip(pts, ranges)],
                    color=INK,
                    thickness=1.5,
                    width=4,
                ),
                customdata=[[s.teacher_ms, s.student_ms, _sweeps_note(s)] for s in pts],
                hovertemplate="%{x}: %{y:.2f}× · p50 teacher %{customdata[0]:.1f} ms, student %{customdata[1]:.1f} ms"
                "%{customdata[2]}<extra>" + setup + "</extra>",
            )
        )
    ceiling = max((s.ceiling for s in rows), default=2.0)
    # Line labels sit in the right margin, clear of the bars and their values.
    fig.add_hline(y=ceiling, line_dash="dash", line_color=CEILING)
    fig.add_hline(y=1.0, line_color=BASELINE)
    for y, text in ((ceiling, f"FLOPs<br>ceiling {ceiling:.1f}×"), (1.0, "no gain")):
        fig.add_annotation(xref="paper", x=1.005, xanchor="left", y=y, text=text, showarrow=False, align="left")
    fig.update_xaxes(title="batch × sequence length", type="category")
    top = max([ceiling * 1.25] + [(s.sweep_range or (s.ratio, s.ratio))[1] * 1.1 for s in rows])
    fig.update_yaxes(title="student speed-up (×)", range=[0, top])
    fig = _layout(fig, title=title, barmode="group")
    fig.update_layout(margin_r=90)
    return fig


def _sweeps_note(s: Speedup) -> str:
    if s.sweep_range is None:
        return ""
    return "<br>median of the sweeps' ratios: " + ", ".join(f"{r:.2f}×" for r in s.sweep_ratios)


def bar_chart(rows: Sequence[dict], value: str, axis: str, title: str, text_format: str = "{:.0f}") -> go.Figure:
    """One bar per model x variant (memory, size)."""
    fig = go.Figure(go.Bar(
        x=[r["series"] for r in rows], y=[r[value] for r in rows],
        marker=dict(color=[ROLE_COLOURS[r["role"]] for r in rows],
                    pattern_shape=[series_pattern(r["variant"], r["runtime"]) for r in rows]),
        text=[text_format.format(r[value]) for r in rows], textposition="outside",
    ))
    fig.update_yaxes(title=axis, range=[0, max([r[value] for r in rows] + [1e-9]) * 1.2])
    return _layout(fig, height=340, title=title, showlegend=False)


def accuracy_chart(rows: Sequence[dict], title: str) -> go.Figure:
    """Accuracy per model x variant with its 95 % Wilson interval."""
    rows = [r for r in rows if r["accuracy"] is not None]
    fig = go.Figure(
        go.Scatter(
            x=[r["series"] for r in rows],
            y=[r["accuracy"] for r in rows],
            mode="markers",
            marker=dict(
                size=14,
                color=[ROLE_COLOURS[r["role"]] for r in rows],
                symbol=[series_symbol(r["variant"], r["runtime"]) for r in rows],
            ),
            error_y=dict(
                type="data",
                symmetric=False,
                array=[r["acc_high"] - r["accuracy"] for r in rows],
                arrayminus=[r["accuracy"] - r["acc_low"] for r in rows],
                thickness=2,
                width=10,
            ),
            customdata=[[r["acc_low"], r["acc_high"], r["eval_n"]] for r in rows],
            hovertemplate="%{x}: %{y:.1%} [%{customdata[0]:.1%}, %{customdata[1]:.1%}] on %{customdata[2]} "
                          "sentences<extra></extra>",
        )
    )
    fig.update_yaxes(title="accuracy (95 % interval)", tickformat=".0%")
    return _layout(fig, height=360, title=title, showlegend=False)


def tradeoff_chart(rows: Sequence[dict], title: str) -> go.Figure:
    """Accuracy against latency, bubble area = size of the variant's weights. Names go in the legend (colour = role,
    symbol = precision and runtime), not beside the bubbles: close setups would pile their labels on each other."""
    rows = [r for r in rows if r["accuracy"] is not None and r.get("p50_ms")]
    biggest = max([r["variant_mb"] for r in rows] + [1e-9])
    fig = go.Figure()
    for r in rows:
        fig.add_trace(
            go.Scatter(
                x=[r["p50_ms"]],
                y=[r["accuracy"]],
                mode="markers",
                name=r["series"],
                marker=dict(
                    size=[12 + 48 * (r["variant_mb"] / biggest) ** 0.5],
                    color=ROLE_COLOURS[r["role"]],
                    opacity=0.75,
                    symbol=series_symbol(r["variant"], r["runtime"]),
                    line=dict(width=1, color=INK),
                ),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[r["acc_high"] - r["accuracy"]],
                    arrayminus=[r["accuracy"] - r["acc_low"]],
                ),
                hovertemplate=f"{r['series']}: %{{x:.1f}} ms p50 · %{{y:.1%}} · {r['variant_mb']:.0f} "
                              f"MiB<extra></extra>",
            )
        )
    fig.update_xaxes(title="latency p50, ms (lower is better)", rangemode="tozero")
    fig.update_yaxes(title="accuracy (higher is better)", tickformat=".0%")
    fig = _layout(fig, height=420, title=title)
    fig.update_layout(legend_itemsizing="constant")  # legend symbols at one size, whatever the bubble's
    return fig


def utilisation_chart(rows: Sequence[dict], title: str) -> go.Figure:
    """Achieved GFLOP/s per model x runtime x precision, with a dashed line at each measured matmul peak."""
    fig = go.Figure(go.Bar(
        x=[r["series"] for r in rows], y=[r["achieved_gflops"] for r in rows],
        marker=dict(color=[ROLE_COLOURS[r["role"]] for r in rows],
                    pattern_shape=[series_pattern(r["variant"], r["runtime"]) for r in rows]),
        text=[f"{r['achieved_gflops']:.0f}" for r in rows], textposition="outside",
    ))
    peaks = {r["peak_dtype"]: r["dtype_peak_gflops"] for r in rows if r["peak_dtype"]}
    for dtype, gflops in peaks.items():
        fig.add_hline(y=gflops, line_dash="dash", line_color=CEILING)
        fig.add_annotation(xref="paper", x=1.005, xanchor="left", y=gflops, text=f"{dtype} matmul<br>peak "
                           f"{gflops:.0f}", showarrow=False, align="left")
    top = max([r["achieved_gflops"] for r in rows] + list(peaks.values()) + [1e-9]) * 1.2
    fig.update_yaxes(title="GFLOP/s (int8: GOP/s)", range=[0, top])
    fig = _layout(fig, height=380, title=title, showlegend=False)
    fig.update_layout(margin_r=90)
    return fig


# --- captions -------------------------------------------------------------------------------------------

ORIGINS = {"measured": "measured here", "reference": "shipped reference (data/reference)"}


def provenance(results: Sequence[BenchmarkResult], origin: dict[str, str]) -> str:
    """Where, with what and how these results were measured, in one paragraph (Markdown)."""
    s = results[0].config.settings
    grid = f"batch {'/'.join(map(str, s.batch_sizes))} × {'/'.join(map(str, s.seq_lens))} tokens"
    software = "; ".join(sorted({r.software.label for r in results}))
    sources = ", ".join(sorted({ORIGINS.get(origin.get(r.key, ""), origin.get(r.key, "")) for r in results}))
    dates = sorted(r.measured_at[:10] for r in results)
    cuda = results[0].device.startswith("cuda")
    threads = thread_count(s.threads)  # one per page: results at other thread counts are another "machine"
    threads = f"{threads} feeding the GPU, timings synchronised with it" if cuda else threads
    return (
        f"Measured on **{results[0].hardware.label(results[0].device)}**, {software}, {threads}, SDPA attention, "
        f"{dates[0]}{' – ' + dates[-1] if dates[-1] != dates[0] else ''} ({sources}). Grid: {grid}; every sequence "
        f"holds exactly that many real tokens (no padding). ≥ {s.min_iters} timed iterations and "
        f"≥ {s.cell_budget_s:g} s per cell after warm-up, spread over {s.rounds} sweeps of the grid so a burst of "
        "outside load cannot skew one cell; each model runs in a fresh process"
        + (
            " whose allocator keeps freed memory (no page faults on large activations); "
            if s.keep_heap and not cuda
            else "; "
        )
        + "a run that measures both models of a variant lets them take turns cell by cell, so outside load hits both "
        "alike; p50 is the median, the shaded band runs from p90 to p99."
    )


def drift_note(results: Sequence[BenchmarkResult]) -> str:
    """One sentence on how far the host moved under these results, from their sweep-to-sweep spread."""
    found = typical_drift(results)
    if found is None:
        return ""
    typical, worst = found
    return (f" Host drift during these runs: between sweeps of the grid a cell's model-only p50 moved by {typical:.1%} "
            f"(median over models), at worst {worst.worst:.1%} ({worst.series}, {worst.worst_cell[0]}×"
            f"{worst.worst_cell[1]}); a second run on this machine cannot be expected to repeat a p50 more closely "
            "than that.")


def speedup_note(sp: Sequence[Speedup]) -> str:
    how = ("Teacher p50 / student p50 on the same cell, variant and machine, taken in each sweep of the grid (the two "
           "models took turns, seconds apart, so a slow minute hits both); bar: the median of those ratios, whiskers: "
           "the lowest and highest, i.e. how far the host's drift alone moves it. "
           if any(x.sweep_range for x in sp) else
           "Teacher p50 / student p50 over the whole run on the same cell, variant and machine; unpaired, no "
           "whiskers: sweeps pair up only for model-only timings of two models measured taking turns in one run "
           "(the shipped reference records do not say whether they were). ")
    return how + ("Half the layers do half the FLOPs, so the dashed line is the most the student can gain; the gap "
                  "is fixed cost (embeddings, tokenizer, Python, launches). Identical layers cannot beat it, so a bar "
                  "above the line is noise. `python -m benchmarks repeat` measures how well this machine repeats a "
                  "p50.")


def memory_note(methods: set[str]) -> str:
    return (("CPU: peak resident set (VmHWM) of a fresh process per model, reset after loading, so it covers the "
             "resident weights plus activations of the largest cell. " if "rss" in methods else "")
            + ("CUDA: max_memory_allocated after a reset (reserved in the table). " if "cuda" in methods else "")
            + "Loading peaks and parameter counts are in All numbers.")
