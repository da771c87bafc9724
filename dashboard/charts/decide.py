"""The Decide page's figure: every measured configuration on accuracy against latency (peak memory where nothing has an
accuracy), the frontier joined."""

from __future__ import annotations

import plotly.graph_objects as go

from benchmarks.analysis.verdict import Decision, Verdict
from dashboard.charts.theme import BUDGET, FRONTIER, INK, RING, ROLE_COLOURS, series_symbol


def frontier_chart(decision: Decision, data_label: str) -> go.Figure:
    """Bubble area = weight size; faded = excluded; ringed = the recommendation; dashed = the Pareto frontier. Only
    the frontier and the recommendation carry a name on the chart, so names never pile up; hover names the rest."""
    k, memory = decision.constraints, decision.axis == "memory"
    shown = [v for v in decision.verdicts if v.candidate.latency_ms is not None and (memory or v.candidate.accuracy)]
    biggest = max([v.candidate.size_mb for v in shown] + [1e-9])

    def y(v: Verdict) -> float:
        return v.candidate.memory_mb if memory else v.candidate.accuracy.value  # type: ignore[union-attr]

    fig = go.Figure()
    front = sorted((v.candidate.latency_ms, y(v)) for v in shown if v.pareto)  # type: ignore[misc]
    if front:
        fig.add_trace(go.Scatter(x=[x for x, _ in front], y=[y for _, y in front], mode="lines", name="Pareto frontier",
                                 line=dict(color=FRONTIER, dash="dash", width=1), hoverinfo="skip"))
    named = sorted((v for v in shown if v.pareto or v is decision.recommendation),
                   key=lambda v: v.candidate.latency_ms)  # type: ignore[arg-type, return-value]
    for v in shown:
        c, acc = v.candidate, v.candidate.accuracy
        recommended = v is decision.recommendation
        figure = "%{y:.0f} MiB peak" if memory else f"%{{y:.1%}} · {c.memory_mb:.0f} MiB peak"
        fig.add_trace(
            go.Scatter(
                x=[c.latency_ms],
                y=[y(v)],
                mode="markers",
                name=c.name,
                marker=dict(
                    size=[12 + 48 * (c.size_mb / biggest) ** 0.5],
                    color=ROLE_COLOURS[c.role],
                    symbol=series_symbol(c.variant, c.runtime),  # as on the Benchmarks page
                    opacity=0.85 if v.fits else 0.25,
                    line=dict(width=4 if recommended else 1, color=RING if recommended else INK),
                ),
                error_y=None if acc is None or memory else dict(
                    type="data", symmetric=False, array=[acc.high - acc.value], arrayminus=[acc.value - acc.low]
                ),
                hovertemplate=f"{c.name}: %{{x:.1f}} ms {k.percentile} · {figure} · {c.size_mb:.0f} MiB weights"
                + (" · recommended" if recommended else "")
                + (" · excluded" if not v.fits else "")
                + "<extra></extra>",
            )
        )
    # Names in a column right of every point, in the order of their points' heights and evenly spaced, each with a
    # line to its point: neighbours on the frontier sit too close for names beside them.
    right = max([v.candidate.latency_ms for v in shown] + [k.budget_ms or 0.0, 1e-9])  # type: ignore[list-item]
    column = right * 1.12
    if memory:  # the axis runs from zero
        high = max([y(v) for v in shown] + [1.0])
        low = high * 0.1
    else:  # the axis spans the intervals
        low = min([v.candidate.accuracy.low for v in shown] + [1.0])  # type: ignore[union-attr]
        high = max([v.candidate.accuracy.high for v in shown] + [0.0])  # type: ignore[union-attr]
    by_height = sorted(named, key=y)
    for i, v in enumerate(by_height):
        spot = (low + high) / 2 if len(by_height) == 1 else low + (high - low) * i / (len(by_height) - 1)
        fig.add_annotation(x=v.candidate.latency_ms, y=y(v), ax=column, ay=spot, axref="x", ayref="y",
                           text=v.candidate.name, xanchor="left", showarrow=True, arrowhead=0, arrowwidth=1,
                           arrowcolor=FRONTIER, font=dict(size=12, color=INK))
    if k.budget_ms is not None:
        fig.add_vline(
            x=k.budget_ms, line=dict(color=BUDGET, width=1), annotation_text="budget", annotation_position="top"
        )
    # From zero, with the right third kept for the names.
    fig.update_xaxes(title=f"{k.percentile} latency at {k.batch}×{k.seq_len}, model only, ms (lower is better)",
                     range=[0, right * 1.6])
    if memory:
        fig.update_yaxes(title="peak memory while running, MiB (lower is better)", rangemode="tozero")
    else:
        fig.update_yaxes(title=f"accuracy on {data_label} (higher is better)", tickformat=".0%")
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    return fig
