"""Figures of the Explain page: the CKA layer-similarity heatmap and per-token attribution bars."""

from __future__ import annotations

import plotly.graph_objects as go

from benchmarks.analysis.attribution import TokenAttribution
from benchmarks.analysis.similarity import LayerSimilarity
from dashboard.charts.attention import token_label


def state_name(index: int) -> str:
    return "embeddings" if index == 0 else f"layer {index - 1}"


def cka_heatmap(sim: LayerSimilarity) -> go.Figure:
    """Student hidden states (rows) against teacher hidden states (columns); a red frame marks the state each
    student state was initialised from, a star the most similar one."""
    rows, cols = sim.cka.shape
    fig = go.Figure(
        go.Heatmap(
            z=sim.cka, x=list(range(cols)), y=list(range(rows)), colorscale="Viridis", zmin=0, zmax=1, texttemplate="%{z:.2f}",
            textfont=dict(size=11), colorbar=dict(thickness=10, title="CKA"), customdata=[[[state_name(i), state_name(j)] for j in range(cols)] for i in range(rows)],
            hovertemplate="student %{customdata[0]} vs teacher %{customdata[1]}: CKA %{z:.3f}<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(x=list(sim.init_map), y=list(range(rows)), mode="markers", name="initialised from", hoverinfo="skip",
                             marker=dict(symbol="square-open", color="#e41a1c", size=44, line=dict(width=3))))
    # The star sits in the cell's corner so the value stays readable.
    fig.add_trace(go.Scatter(x=[j + 0.32 for j in sim.best_teacher()], y=[i - 0.28 for i in range(rows)], mode="markers", name="most similar",
                             hoverinfo="skip", marker=dict(symbol="star", color="white", size=13, line=dict(width=1, color="black"))))
    names = dict(tickmode="array", tickvals=list(range(max(rows, cols))), ticktext=[state_name(i) for i in range(max(rows, cols))])
    fig.update_layout(
        height=150 + 52 * rows, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.3),
        xaxis=dict(names, title="teacher hidden state", range=[-0.5, cols - 0.5]),
        yaxis=dict(names, title="student hidden state", range=[rows - 0.5, -0.5]),
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
        xaxis=dict(title=f"attribution to the log-odds of {attr.label}", zeroline=True),
        yaxis=dict(tickmode="array", tickvals=list(range(n)), ticktext=labels, autorange="reversed"),
    )
    return fig
