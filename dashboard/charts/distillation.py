"""Plotly figures for the Distillation page: soft targets, the loss against T, and the reliability diagram."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from benchmarks.analysis.metrics import Calibration
from benchmarks.analysis.soft_targets import SoftTargets
from benchmarks.core.vocabulary import CANONICAL_LABELS
from dashboard.charts.theme import GUIDE, KD_COLOUR, KL_COLOUR, ROLE_COLOURS


def chart_config(name: str) -> dict:
    """Plotly's toolbar always shown; its camera button saves a 2x PNG named after the chart."""
    return {"displayModeBar": True, "displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}}


def distributions_chart(soft: SoftTargets) -> go.Figure:
    t = soft.temperature
    teacher, student = ROLE_COLOURS["teacher"], ROLE_COLOURS["student"]
    series = [
        ("teacher, T = 1", soft.teacher, teacher, 1.0),
        (f"teacher, T = {t:g} (soft targets)", soft.teacher_soft, teacher, 0.45),
        ("student, T = 1", soft.student, student, 1.0),
        (f"student, T = {t:g}", soft.student_soft, student, 0.45),
    ]
    fig = go.Figure(
        [
            go.Bar(name=name, x=list(CANONICAL_LABELS), y=list(p), marker_color=colour, opacity=opacity,
                   text=[f"{v:.1%}" for v in p], textposition="outside")
            for name, p, colour, opacity in series
        ]
    )
    fig.update_layout(
        barmode="group", height=340, margin=dict(l=10, r=10, t=30, b=10), yaxis=dict(range=[0, 1.12], tickformat=".0%"),
        legend=dict(orientation="h", y=-0.12), title=dict(text="Class probabilities", font=dict(size=14)),
    )
    return fig


def temperature_chart(temperatures: list[float], curve: list[SoftTargets], current: float) -> go.Figure:
    fig = go.Figure(
        [
            go.Scatter(x=temperatures, y=[c.kl for c in curve], name="KL at T", line=dict(color=KL_COLOUR)),
            go.Scatter(x=temperatures, y=[c.kd_loss for c in curve], name="T² · KL (distillation loss)",
                       line=dict(color=KD_COLOUR)),
        ]
    )
    fig.add_vline(x=current, line_dash="dot", annotation_text=f"T = {current:g}")
    fig.update_layout(
        height=300, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="temperature T", yaxis_title="loss (nats)",
        legend=dict(orientation="h", y=-0.25), title=dict(text="Why the T² factor", font=dict(size=14)),
    )
    return fig


def reliability_chart(teacher: Calibration, student: Calibration) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=[0.5, 1], y=[0.5, 1], name="perfectly calibrated", mode="lines",
                             line=dict(color=GUIDE, dash="dash")), row=1, col=1)
    for name, cal in (("teacher", teacher), ("student", student)):
        colour, filled = ROLE_COLOURS[name], cal.filled
        fig.add_trace(
            go.Scatter(
                x=[cal.confidence[i] for i in filled], y=[cal.accuracy[i] for i in filled],
                name=f"{name} (ECE {cal.ece:.3f})", mode="lines+markers", line=dict(color=colour),
                customdata=[cal.counts[i] for i in filled],
                hovertemplate="mean confidence %{x:.3f}<br>accuracy %{y:.3f}<br>%{customdata} sentences<extra>"
                + name + "</extra>",
            ),
            row=1, col=1,
        )
        fig.add_trace(
            go.Bar(
                x=list(cal.centres),
                y=list(cal.counts),
                name=f"{name}: sentences per bin",
                marker_color=colour,
                showlegend=False,
                text=[str(n) if n else "" for n in cal.counts],
                textposition="outside",
                width=0.02,
            ),
            row=2,
            col=1,
        )
    fig.update_layout(
        height=480,
        barmode="group",
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.08),
        title=dict(text="Reliability diagram", font=dict(size=14), y=0.995),
    )
    fig.update_xaxes(range=[0.5, 1.0], row=2, col=1, title_text="confidence (probability of the predicted label)")
    fig.update_yaxes(range=[0, 1.02], row=1, col=1, title_text="accuracy")
    fig.update_yaxes(row=2, col=1, title_text="sentences")
    return fig
