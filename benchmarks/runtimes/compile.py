"""torch.compile (inductor). On CPU with freezing: weights become constants that oneDNN prepacks once. Grid shapes
are compiled one by one with dynamic=False (the fastest code per shape); any other shape (dataset scoring, the
Playground) goes through one dynamic-shape compilation. Compiling is the one-off cost: every shape is compiled here,
before timing starts, and that time is recorded."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from benchmarks.runtimes.base import LogitsOnly, Prepared, RuntimeModel, example_inputs


def prepare(model: torch.nn.Module, dtype: str, device: torch.device, shapes: Sequence[tuple[int, int]]) -> Prepared:
    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    if device.type == "cpu":
        inductor_config.freezing = True
    # Each grid shape is its own compiled graph (plus the dynamic one): lift dynamo's default cap of 8 graphs.
    dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, len(shapes) + 8)
    logits = LogitsOnly(model).eval()
    per_shape = torch.compile(logits, dynamic=False)
    any_shape = torch.compile(logits, dynamic=True)
    grid = set(shapes)

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return (per_shape if tuple(input_ids.shape) in grid else any_shape)(input_ids, attention_mask)

    start = time.perf_counter()
    with torch.inference_mode():  # freezing applies to graphs compiled under inference mode
        for batch, seq_len in shapes:
            per_shape(*(t.to(device) for t in example_inputs(batch, seq_len)))
        any_shape(*(t.to(device) for t in example_inputs(3, 17)))  # sizes unlike any grid shape: a dynamic graph
    compile_s = time.perf_counter() - start
    return Prepared(RuntimeModel(model.config, forward, device), dtype, compile_s, compile_s, 0, False)
