"""Plotly figures for the Attention and Explain pages: token-by-token and layer-by-head heatmaps, and aligned-layer
divergence."""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from benchmarks.analysis.attention import AlignedComparison
from dashboard.charts.theme import MARK_COLOUR


def token_label(token: str) -> str:
    # Plotly reads a subset of HTML in labels: escape so a token is always shown as text.
    return html.escape(token, quote=False)


def attention_heatmap(matrix: np.ndarray, tokens: Sequence[str], colours: str) -> go.Figure:
    """A (query, key) matrix over the sentence's tokens, e.g. one head's attention or a rollout."""
    n = len(tokens)
    labels = [token_label(t) for t in tokens]
    pairs = [[[labels[q], labels[k]] for k in range(n)] for q in range(n)]
    fig = go.Figure(
        go.Heatmap(
            z=matrix, x=list(range(n)), y=list(range(n)), customdata=pairs, colorscale=colours, zmin=0,
            hovertemplate="%{customdata[0]} → %{customdata[1]}: %{z:.3f}<extra></extra>", colorbar=dict(thickness=10),
        )
    )
    axis = dict(tickmode="array", tickvals=list(range(n)), ticktext=labels, tickfont=dict(size=10))
    side = 180 + 14 * n
    fig.update_layout(
        height=side, margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(axis, title="attends to (key)", side="top", tickangle=-60),
        yaxis=dict(axis, title="token (query)", autorange="reversed"),
    )
    return fig


def grid_heatmap(values: np.ndarray, colours: str, zmax: float, fmt: str, zmin: float = 0.0) -> go.Figure:
    """One number per (layer, head), written in its cell."""
    layers, heads = values.shape
    fig = go.Figure(
        go.Heatmap(
            z=values, x=list(range(heads)), y=list(range(layers)), colorscale=colours, zmin=zmin, zmax=zmax,
            texttemplate=f"%{{z:{fmt}}}", textfont=dict(size=9),
            hovertemplate=f"layer %{{y}}, head %{{x}}: %{{z:{fmt}}}<extra></extra>", colorbar=dict(thickness=10),
        )
    )
    fig.update_layout(
        height=90 + 32 * layers, margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="head", dtick=1), yaxis=dict(title="layer", dtick=1, autorange="reversed"),
    )
    return fig


def aligned_figure(comparison: AlignedComparison, layer: int, zmax: float) -> go.Figure:
    divergence = comparison.divergence[layer]
    best = divergence.argmin(axis=1)
    fig = go.Figure(
        go.Heatmap(
            z=divergence, colorscale="Viridis_r", zmin=0, zmax=zmax,
            colorbar=dict(thickness=10, title="JS", tickformat=".2~g"),
            hovertemplate="student head %{y} vs teacher head %{x}: %{z:.3f} bits<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(x=best, y=list(range(len(best))), mode="markers", name="best match", hoverinfo="skip",
                             marker=dict(symbol="x", color=MARK_COLOUR, size=9)))
    fig.update_layout(
        height=130 + 22 * divergence.shape[0], margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
        title=dict(text=f"student layer {layer} vs teacher layer {comparison.layer_map[layer]}", font=dict(size=13)),
        xaxis=dict(title="teacher head", dtick=1, tickangle=0, range=[-0.5, divergence.shape[1] - 0.5]),
        yaxis=dict(title="student head", dtick=1, autorange="reversed"),
    )
    return fig
