"""The Decide page's figure: every measured configuration on accuracy against latency, the frontier joined."""

from __future__ import annotations

import plotly.graph_objects as go

from benchmarks.analysis.decision import Decision
from dashboard.charts.theme import BUDGET, FRONTIER, INK, RING, ROLE_COLOURS, series_symbol


def frontier_chart(decision: Decision, data_label: str) -> go.Figure:
    """Bubble area = weight size; faded = excluded; ringed = the recommendation; dashed = the Pareto frontier."""
    k = decision.constraints
    shown = [v for v in decision.verdicts if v.candidate.latency_ms is not None and v.candidate.accuracy]
    biggest = max([v.candidate.size_mb for v in shown] + [1e-9])
    fig = go.Figure()
    front = sorted((v.candidate.latency_ms, v.candidate.accuracy.value) for v in shown if v.pareto)  # type: ignore[union-attr]
    if front:
        fig.add_trace(go.Scatter(x=[x for x, _ in front], y=[y for _, y in front], mode="lines", name="Pareto frontier",
                                 line=dict(color=FRONTIER, dash="dash", width=1), hoverinfo="skip"))
    for v in shown:
        c, acc = v.candidate, v.candidate.accuracy
        assert acc is not None
        recommended = v is decision.recommendation
        fig.add_trace(
            go.Scatter(
                x=[c.latency_ms],
                y=[acc.value],
                mode="markers+text",
                name=c.name,
                text=[c.name],
                textposition="top center",
                marker=dict(
                    size=[12 + 48 * (c.size_mb / biggest) ** 0.5],
                    color=ROLE_COLOURS[c.role],
                    symbol=series_symbol(c.variant, c.runtime),  # as on the Benchmarks page
                    opacity=0.85 if v.fits else 0.25,
                    line=dict(width=4 if recommended else 1, color=RING if recommended else INK),
                ),
                error_y=dict(
                    type="data", symmetric=False, array=[acc.high - acc.value], arrayminus=[acc.value - acc.low]
                ),
                hovertemplate=f"{c.name}: %{{x:.1f}} ms {k.percentile} · %{{y:.1%}} · {c.size_mb:.0f} MiB"
                + (" · excluded" if not v.fits else "")
                + "<extra></extra>",
            )
        )
    if k.budget_ms is not None:
        fig.add_vline(
            x=k.budget_ms, line=dict(color=BUDGET, width=1), annotation_text="budget", annotation_position="top"
        )
    fig.update_xaxes(
        title=f"{k.percentile} latency at {k.batch}×{k.seq_len}, model only, ms (lower is better)", rangemode="tozero"
    )
    fig.update_yaxes(title=f"accuracy on {data_label} (higher is better)", tickformat=".0%")
    fig.update_layout(height=440, margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    return fig
