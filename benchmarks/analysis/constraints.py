"""What a model selection must meet: the latency budget at one cell and percentile, the accuracy and size
limits, the objective to rank by, and the price that turns throughput into cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PERCENTILES = ("p50", "p90", "p95", "p99")
OBJECTIVES = {"latency": "fastest", "accuracy": "most accurate", "size": "smallest", "memory": "least memory"}
Objective = Literal["latency", "accuracy", "size", "memory"]


@dataclass(frozen=True)
class Constraints:
    batch: int
    seq_len: int
    percentile: str = "p50"
    budget_ms: float | None = None  # latency budget at (batch, seq_len), for `percentile`
    min_accuracy: float | None = None  # percent
    max_drop_pp: float | None = None  # teacher accuracy minus candidate accuracy, percentage points
    max_memory_mb: float | None = None  # peak while running, MiB
    max_size_mb: float | None = None  # weights of the variant, MiB
    objective: Objective = "latency"
    machine: str = ""  # Machine key: "<hardware fingerprint>:<device type>:<threads>"
    price_per_hour: float | None = None  # what the instance costs, in the visitor's currency; None: no cost shown

    def __post_init__(self) -> None:
        if self.percentile not in PERCENTILES or self.objective not in OBJECTIVES:
            raise ValueError("unknown percentile or objective")

    def describe(self) -> str:
        parts = [f"{self.percentile} latency at batch {self.batch} × {self.seq_len} tokens"
                 + (f" ≤ {self.budget_ms:g} ms" if self.budget_ms is not None else " (no budget)")]
        if self.min_accuracy is not None:
            parts.append(f"accuracy ≥ {self.min_accuracy:g} %")
        if self.max_drop_pp is not None:
            parts.append(f"at most {self.max_drop_pp:g} pp below the teacher")
        if self.max_memory_mb is not None:
            parts.append(f"peak memory ≤ {self.max_memory_mb:g} MiB")
        if self.max_size_mb is not None:
            parts.append(f"weights ≤ {self.max_size_mb:g} MiB")
        return "; ".join(parts) + f"; rank by {OBJECTIVES[self.objective]}."
