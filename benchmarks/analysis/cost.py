"""What a configuration costs in money: an instance's price per hour over the sentences it gets through in an hour.

Pure arithmetic on a measured throughput; the price is whatever the visitor pays, in their own currency.
"""

from __future__ import annotations

SECONDS_PER_HOUR = 3600
PER = 1_000_000  # sentences a cost is quoted for


def cost_per_million(price_per_hour: float, sentences_per_s: float) -> float:
    """The price of one million sentences at `sentences_per_s`, the instance doing nothing else."""
    if price_per_hour < 0 or sentences_per_s <= 0:
        raise ValueError("need a price of at least 0 and a positive throughput")
    return price_per_hour / (sentences_per_s * SECONDS_PER_HOUR) * PER


def cost_note(price_per_hour: float, batch: int, seq_len: int, machine: str) -> str:
    """How the cost column is worked out, and on what, in one sentence."""
    return (f"Cost per million sentences: {price_per_hour:g} per hour ÷ the sentences per hour measured on {machine} "
            f"(model-only p50 at batch {batch} × {seq_len} tokens), in the currency of the price. The instance is "
            "taken as busy all the time with this alone: tokenization, idle hours and anything else it runs are "
            "not in it.")
