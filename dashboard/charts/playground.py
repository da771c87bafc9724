"""Plotly figure for the Playground: one model's class probabilities for one input."""

from __future__ import annotations

import plotly.graph_objects as go

from benchmarks.core.inference import ModelRun


def probability_chart(run: ModelRun, index: int, colour: str) -> go.Figure:
    pred = run.predictions[index]
    fig = go.Figure(
        go.Bar(
            x=list(pred.probs), y=list(run.labels), orientation="h", marker_color=colour,
            text=[f"{p:.1%}" for p in pred.probs], textposition="outside", cliponaxis=False,
        )
    )
    fig.update_layout(height=150, margin=dict(l=0, r=10, t=10, b=10),
                      xaxis=dict(range=[0, 1.12], tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1]))
    return fig
