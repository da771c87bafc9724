"""Figures of the Explain page: the CKA layer-similarity heatmap and per-token attribution bars."""

from __future__ import annotations

import plotly.graph_objects as go

from benchmarks.analysis.attribution import TokenAttribution
from benchmarks.analysis.similarity import LayerSimilarity
from dashboard.charts.attention import token_label


def state_name(index: int) -> str:
    return "embeddings" if index == 0 else f"layer {index - 1}"


def cka_heatmap(sim: LayerSimilarity) -> go.Figure:
    """Student hidden states (rows) against teacher hidden states (columns); ○ = initialised from, ✕ = most similar."""
    rows, cols = sim.cka.shape
    fig = go.Figure(
        go.Heatmap(
            z=sim.cka, x=[state_name(j) for j in range(cols)], y=[state_name(i) for i in range(rows)], colorscale="Viridis",
            zmin=0, zmax=1, texttemplate="%{z:.2f}", textfont=dict(size=11), colorbar=dict(thickness=10, title="CKA"),
            hovertemplate="student %{y} vs teacher %{x}: CKA %{z:.3f}<extra></extra>",
        )
    )
    marks = (("initialised from", sim.init_map, dict(symbol="circle-open", color="white", size=26, line=dict(width=3))),
             ("most similar", sim.best_teacher(), dict(symbol="x-thin", color="red", size=18, line=dict(width=3))))
    for name, columns, marker in marks:
        fig.add_trace(go.Scatter(x=[state_name(j) for j in columns], y=[state_name(i) for i in range(rows)], mode="markers",
                                 marker=marker, name=name, hoverinfo="skip"))
    fig.update_layout(
        height=140 + 48 * rows, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.25),
        xaxis=dict(title="teacher hidden state"), yaxis=dict(title="student hidden state", autorange="reversed"),
    )
    return fig


def attribution_bars(attr: TokenAttribution, colour: str) -> go.Figure:
    """One bar per token, from the first token down; > 0 pushes towards the predicted label."""
    n = len(attr.tokens)
    labels = [token_label(t) for t in attr.tokens]
    fig = go.Figure(
        go.Bar(
            x=attr.scores, y=list(range(n)), orientation="h", marker_color=[colour if s >= 0 else "#9e9e9e" for s in attr.scores],
            customdata=labels, hovertemplate="%{customdata}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=80 + 22 * n, margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title=f"attribution to P({attr.label})", zeroline=True),
        yaxis=dict(tickmode="array", tickvals=list(range(n)), ticktext=labels, autorange="reversed"),
    )
    return fig
