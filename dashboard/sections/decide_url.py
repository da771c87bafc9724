"""The Decide page's link: its constraints as URL query parameters and back, every value checked and clamped,
so a shared link reproduces the view. Pure, no Streamlit."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping, Sequence

from benchmarks.analysis.constraints import OBJECTIVES, PERCENTILES, Constraints

# Bounds a link's numbers are clamped to: wide enough for any real model, narrow enough to stay meaningful.
LIMITS = {
    "budget": (0.01, 1e6),
    "min_acc": (0.0, 100.0),
    "max_drop": (0.0, 100.0),
    "max_mem": (1.0, 1e7),
    "max_size": (0.01, 1e7),
    "price": (0.0001, 1e6),
}
# A Decide link's query keys, each with the Constraints field it sets (the keys of LIMITS are the optional numbers:
# the constraints and the price).
URL_FIELDS = {"hw": "machine", "batch": "batch", "seq": "seq_len", "pct": "percentile", "rank": "objective",
              "budget": "budget_ms", "min_acc": "min_accuracy", "max_drop": "max_drop_pp", "max_mem": "max_memory_mb",
              "max_size": "max_size_mb", "price": "price_per_hour"}


def to_query(k: Constraints) -> dict[str, str]:
    values = {key: getattr(k, attr) for key, attr in URL_FIELDS.items()}
    return {key: f"{v:g}" if key in LIMITS else str(v) for key, v in values.items() if v is not None}


def _nearest(value: int, options: Sequence[int]) -> int:
    return min(options, key=lambda o: (abs(o - value), o))


def from_query(params: Mapping[str, str], machines: Sequence[str], batches: Sequence[int], seq_lens: Sequence[int],
               default: Constraints) -> tuple[Constraints, tuple[str, ...]]:
    """Constraints from a link, each value checked: unknown ones fall back to `default`, numbers are clamped to
    LIMITS and cells snap to the nearest measured one. Returns the notes to show (never echoing the raw value)."""
    notes: list[str] = []
    k = default
    hw = params.get("hw")
    if hw is not None:
        if hw in machines:
            k = replace(k, machine=hw)
        else:
            notes.append("The link names hardware with no results here; the first machine is shown.")
    for key, attr, options in (("batch", "batch", batches), ("seq", "seq_len", seq_lens)):
        raw = params.get(key)
        if raw is None:
            continue
        try:
            wanted = int(raw)
        except ValueError:
            notes.append(f"The link's {key} is not a whole number; the default is used.")
            continue
        if wanted not in options:
            notes.append(f"The link's {key} was not measured; the nearest measured one is used.")
        k = replace(k, **{attr: _nearest(wanted, options)})
    for key, attr, choices in (("pct", "percentile", PERCENTILES), ("rank", "objective", tuple(OBJECTIVES))):
        raw = params.get(key)
        if raw is not None:
            if raw in choices:
                k = replace(k, **{attr: raw})
            else:
                notes.append(f"The link's {key} is not one of {', '.join(choices)}; the default is used.")
    for key in LIMITS:
        attr, raw = URL_FIELDS[key], params.get(key)
        if raw is None or raw == "":
            continue
        try:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            notes.append(f"The link's {key} is not a number; it is left unset.")
            continue
        low, high = LIMITS[key]
        if not low <= value <= high:
            notes.append(f"The link's {key} lies outside {low:g} – {high:g}; it was clamped.")
        k = replace(k, **{attr: min(max(value, low), high)})
    return k, tuple(notes)
