"""The one definition of the two figures every page quotes about a model: throughput and size.

Throughput is the sentences of one timed pass over the median (p50) time of that pass, at stated conditions: batch ×
length, padding, whether the tokenizer is inside the timed span, threads, and other work sharing the machine where it
was recorded. Size is the weights in the precision they run in (the state dict as saved, or the runtime's artefact),
in MiB. A page whose conditions differ from another's says so beside the figure, in words, so two figures for one
model read as two settings, never as a contradiction.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Sequence

import torch

from benchmarks.core.device import thread_count
from benchmarks.core.persist import from_raw

MIB = 2**20


@dataclass(frozen=True)
class Conditions:
    """How a throughput was measured."""

    batch: int  # sentences per forward pass (the last batch of a pass may be smaller)
    threads: int | None  # torch threads; None where the record did not keep them
    tokens: int | None = None  # every sentence exactly this many tokens, no padding; None: real lengths, padded
    tokenizer: bool = False  # tokenization inside the timed span
    load_average: float | None = None  # the host's 1-minute load average while measuring, where recorded
    setup: str = ""  # the runtime and precision, in words, where the figure does not already sit beside them

    def __post_init__(self) -> None:
        if self.batch < 1 or (self.threads is not None and self.threads < 1) or (self.tokens is not None
                                                                                  and self.tokens < 1):
            raise ValueError("batch, threads and tokens must be at least 1")

    def describe(self) -> str:
        """In words, e.g. "batch 32 × 128 tokens, no padding, model only, 2 threads"."""
        if self.tokens is not None:
            shape = f"batch {self.batch} × {self.tokens} tokens, no padding"
        elif self.batch == 1:
            shape = "batch 1, each sentence at its own length"
        else:
            shape = f"batch {self.batch}, real sentence lengths padded to each batch's longest"
        parts = [shape, "tokenizer included" if self.tokenizer else "model only"] + ([self.setup] if self.setup else [])
        if self.threads is not None:
            parts.append(thread_count(self.threads))
        if self.load_average is not None:
            parts.append(f"host load average {self.load_average:.1f}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Throughput:
    sentences: int  # sentences in one timed pass
    seconds: float  # the median time of that pass (the pass's own time when it ran once)
    conditions: Conditions

    def __post_init__(self) -> None:
        if self.sentences < 1 or not self.seconds > 0:
            raise ValueError("a throughput needs at least one sentence and a positive time")

    @property
    def per_second(self) -> float:
        return self.sentences / self.seconds

    @property
    def label(self) -> str:
        return f"{self.per_second:,.0f} sentences/s" if self.per_second >= 10 else f"{self.per_second:.1f} sentences/s"

    def describe(self) -> str:
        """The figure with its conditions beside it: "1,024 sentences/s (batch 32 × 16 tokens, …)"."""
        return f"{self.label} ({self.conditions.describe()})"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "Throughput":
        return from_raw(cls, raw)


def throughput(sentences: int, pass_seconds: Sequence[float], conditions: Conditions) -> Throughput:
    """The figure from the times of one or more timed passes over the same `sentences`: their median."""
    if not pass_seconds:
        raise ValueError("no timed pass")
    return Throughput(sentences, statistics.median(pass_seconds), conditions)


def mib(n_bytes: int | float) -> float:
    return n_bytes / MIB


def size_label(n_bytes: int, precision: str) -> str:
    """"87.0 MiB of fp32 weights"."""
    return f"{mib(n_bytes):,.1f} MiB of {precision} weights"


class _ByteCounter:
    """A write-only file that only counts: the saved size without holding a copy in memory."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def weights_bytes(model: torch.nn.Module) -> int:
    """The size of `model`'s weights in the precision it runs in: its state dict as torch.save writes it."""
    counter = _ByteCounter()
    torch.save(model.state_dict(), counter)
    return counter.n
