"""Presenter mode (`?present=1`): no sidebar (the pair stays as the link set it), page links on top, text and controls
1.3x larger for a projector, charts as wide as the sidebar-free page. `?present=0` leaves it."""

from __future__ import annotations

import streamlit as st

ZOOM = 1.3  # about what a back row needs at 1280 x 720; charts and text scale together
STYLE = f"""<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"] {{
  display: none;
}}
[data-testid="stMainBlockContainer"] {{ zoom: {ZOOM}; max-width: 100%; padding-top: 3rem; }}
/* Plotly sizes itself from unzoomed measurements and would spill past its column: charts keep scale 1 and grow
   by filling the wider, sidebar-free page instead. */
.stPlotlyChart {{ zoom: {1 / ZOOM:.4f}; }}
</style>"""


def active() -> bool:
    """On when the link says so; remembered for the session, and written back, so page changes keep it."""
    raw = st.query_params.get("present")
    if raw is not None:
        st.session_state["present"] = raw.strip().lower() in ("1", "true", "yes", "on")
    on = bool(st.session_state.get("present", False))
    if on:
        st.query_params["present"] = "1"
    return on


def style() -> None:
    st.html(STYLE)
