"""The lesson's answer bars: one neutral colour for both models, so the chart gives nothing away."""

from __future__ import annotations

import plotly.graph_objects as go

from benchmarks.analysis.lesson import Answer
from dashboard.charts.theme import NEUTRAL


def answer_chart(ans: Answer) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=list(ans.probs),
            y=list(ans.labels),
            orientation="h",
            marker_color=NEUTRAL,
            text=[f"{p:.1%}" for p in ans.probs],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.update_layout(
        height=160,
        margin=dict(l=0, r=10, t=10, b=10),
        xaxis=dict(range=[0, 1.15], tickformat=".0%", tickvals=[0, 0.5, 1]),
    )
    return fig
