"""Figures of the Explain page: the CKA layer-similarity heatmap and per-token attribution bars."""

from __future__ import annotations

import plotly.graph_objects as go

from benchmarks.analysis.attribution import TokenAttribution
from benchmarks.analysis.similarity import LayerSimilarity
from dashboard.charts.attention import token_label
from dashboard.charts.theme import AGAINST, INIT_FRAME


def state_name(index: int) -> str:
    return "embeddings" if index == 0 else f"layer {index - 1}"


def similarity_caption(sim: LayerSimilarity) -> str:
    best = "; ".join(
        f"student {state_name(i)} → teacher {state_name(j)} ({sim.cka[i, j]:.2f})"
        for i, j in enumerate(sim.best_teacher())
    )
    moved = sum(b != m for b, m in zip(sim.best_teacher(), sim.init_map))
    return (
        f"Highest similarity: {best}. {moved} of {len(sim.init_map)} student states are now closest to a teacher "
        "state other than the one they were initialised from (red frame)."
    )


def cka_method(sim: LayerSimilarity, sentences: int, seconds: float, machine: str) -> str:
    unit = (
        f"{sim.rows:,} tokens"
        if sim.unit == "token"
        else "one row per sentence, the mean over its tokens: the two tokenizers split some sentences differently"
    )
    return (
        f"Linear CKA (Kornblith et al. 2019) between the hidden states of every student and teacher layer over "
        f"{sentences} sentences ({unit}): 1 = the same representation up to rotation and scale. The red frame marks "
        "the DistilBERT initialisation (student layer k from teacher layer round(k × L_teacher / L_student)), the star "
        f"the most similar teacher state. Computed in {seconds:.2f} s on {machine}, models already loaded (a shared "
        "machine: timings vary)."
    )


def delta_caption(attr: TokenAttribution, steps: int, seconds: float) -> str:
    return (
        f"Convergence delta {attr.delta:+.2e} ({attr.relative_delta:.1%} of the change {attr.output_change:+.3f} the "
        f"scores must add up to) · {steps} steps in {seconds:.2f} s"
    )


IG_METHOD = (
    "Integrated gradients (Sundararajan et al. 2017, captum) of each model's log-odds for its predicted class, "
    "log p/(1 − p), with respect to its word embeddings, from a baseline of [PAD] tokens ([CLS]/[SEP] kept); the "
    "scores add up to the change in log-odds from the baseline, up to the convergence delta. Grey bars push against "
    "the prediction."
)
ROLLOUT_METHOD = (
    "Raw maps show one layer; rollout (Abnar & Zuidema 2020) multiplies the layers' head-averaged attention, each "
    "mixed half with the identity for the residual stream, so row i says how much each input token can have reached "
    "position i by that layer."
)


def cka_heatmap(sim: LayerSimilarity) -> go.Figure:
    """Student hidden states (rows) against teacher hidden states (columns); a red frame marks the state each
    student state was initialised from, a star the most similar one."""
    rows, cols = sim.cka.shape
    fig = go.Figure(
        go.Heatmap(
            z=sim.cka,
            x=list(range(cols)),
            y=list(range(rows)),
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            texttemplate="%{z:.2f}",
            textfont=dict(size=11),
            colorbar=dict(thickness=10, title="CKA"),
            customdata=[[[state_name(i), state_name(j)] for j in range(cols)] for i in range(rows)],
            hovertemplate="student %{customdata[0]} vs teacher %{customdata[1]}: CKA %{z:.3f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(sim.init_map),
            y=list(range(rows)),
            mode="markers",
            name="initialised from",
            hoverinfo="skip",
            marker=dict(symbol="square-open", color=INIT_FRAME, size=44, line=dict(width=3)),
        )
    )
    # The star sits in the cell's corner so the value stays readable.
    fig.add_trace(
        go.Scatter(
            x=[j + 0.32 for j in sim.best_teacher()],
            y=[i - 0.28 for i in range(rows)],
            mode="markers",
            name="most similar",
            hoverinfo="skip",
            marker=dict(symbol="star", color="white", size=13, line=dict(width=1, color="black")),
        )
    )
    names = dict(
        tickmode="array",
        tickvals=list(range(max(rows, cols))),
        ticktext=[state_name(i) for i in range(max(rows, cols))],
    )
    fig.update_layout(
        height=150 + 52 * rows,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=-0.3),
        xaxis=dict(names, title="teacher hidden state", range=[-0.5, cols - 0.5]),
        yaxis=dict(names, title="student hidden state", range=[rows - 0.5, -0.5]),
    )
    return fig


def shared_range(*attrs: TokenAttribution) -> tuple[float, float]:
    """One x-range for several models' bars, so the same length means the same attribution in each chart."""
    reach = max([float(abs(a.scores).max()) for a in attrs if len(a.scores)] + [1e-6]) * 1.08
    low = -reach if any((a.scores < 0).any() for a in attrs) else -0.04 * reach
    return low, reach


def attribution_bars(attr: TokenAttribution, colour: str, x_range: tuple[float, float] | None = None) -> go.Figure:
    """One bar per token, from the first token down; > 0 pushes towards the predicted label. Charts shown side by
    side take one `x_range` (shared_range) so their bars compare."""
    n = len(attr.tokens)
    labels = [token_label(t) for t in attr.tokens]
    fig = go.Figure(
        go.Bar(
            x=attr.scores,
            y=list(range(n)),
            orientation="h",
            marker_color=[colour if s >= 0 else AGAINST for s in attr.scores],
            customdata=labels,
            hovertemplate="%{customdata}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=80 + 22 * n,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title=f"attribution to the log-odds of {attr.label}", zeroline=True,
                   range=list(x_range) if x_range else None),
        yaxis=dict(tickmode="array", tickvals=list(range(n)), ticktext=labels, autorange="reversed"),
    )
    return fig
