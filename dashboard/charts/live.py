"""Figures of a live distillation job: the loss terms per step, dev accuracy and agreement every N steps."""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.graph_objects as go

from benchmarks.distill.live import DevCheck, StepLoss
from dashboard.charts.theme import HARD_COLOUR, INK, KD_COLOUR, ROLE_COLOURS

SMOOTH = 10  # steps per rolling mean: one batch of 32 sentences is a noisy estimate of the loss


def loss_figure(losses: Sequence[StepLoss], hard_vs: str, hard_trained: bool) -> go.Figure:
    frame = (
        pd.DataFrame(losses, columns=["step", "kd", "hard", "total"])
        .set_index("step")
        .rolling(SMOOTH, min_periods=1)
        .mean()
    )
    hard_name = f"hard: CE vs {hard_vs}" + ("" if hard_trained else " (shown, not trained on)")
    fig = go.Figure(
        [
            go.Scatter(x=frame.index, y=frame["kd"], name="KD: T² · KL(teacher ‖ student)", line=dict(color=KD_COLOUR)),
            go.Scatter(
                x=frame.index,
                y=frame["hard"],
                name=hard_name,
                line=dict(color=HARD_COLOUR, dash="solid" if hard_trained else "dot"),
            ),
            # Dashed: without the hard-label term the total is the KD curve, which must stay visible under it.
            go.Scatter(
                x=frame.index,
                y=frame["total"],
                name="total (what is minimised)",
                line=dict(color=INK, width=2, dash="dash"),
            ),
        ]
    )
    fig.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_title="step (32 sentences each)",
        yaxis_title=f"loss, mean of {SMOOTH} steps (nats)",
        legend=dict(orientation="h", y=-0.25),
        title=dict(text="Training losses", font=dict(size=14)),
    )
    return fig


def dev_figure(checks: Sequence[DevCheck], steps: int) -> go.Figure:
    x = [c.step for c in checks]
    fig = go.Figure(
        [
            go.Scatter(
                x=x,
                y=[c.accuracy for c in checks],
                name="dev accuracy",
                mode="lines+markers",
                line=dict(color=ROLE_COLOURS["student"]),
            ),
            go.Scatter(
                x=x,
                y=[c.agreement for c in checks],
                name="agreement with the teacher",
                mode="lines+markers",
                line=dict(color=ROLE_COLOURS["teacher"]),
            ),
        ]
    )
    fig.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(title="step", range=[0, steps]),
        yaxis=dict(title="SST-2 dev (872 sentences)", tickformat=".0%", range=[0.4, 1.0]),
        legend=dict(orientation="h", y=-0.25),
        title=dict(text="Student on SST-2 dev", font=dict(size=14)),
    )
    return fig
