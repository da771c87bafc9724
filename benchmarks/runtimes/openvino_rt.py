"""OpenVINO: the model converted once with openvino.convert_model and saved as IR, compiled for the CPU with a
latency hint, the given thread count and an inference precision (bf16 only where the CPU has it natively)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from benchmarks.runtimes.base import LogitsOnly, Prepared, RuntimeModel, cached_artefact, example_inputs, folder_bytes

FILE = "model.xml"


def _build(model: torch.nn.Module):
    def build(folder: Path) -> None:
        import openvino as ov

        converted = ov.convert_model(LogitsOnly(model).eval(), example_input=example_inputs())
        ov.save_model(converted, folder / FILE, compress_to_fp16=False)  # keep fp32 weights; precision is a hint

    return build


def prepare(model: torch.nn.Module, variant: str, threads: int, folder: Path) -> Prepared:
    import openvino as ov

    export_s, reused = cached_artefact(folder, _build(model), time.perf_counter)
    start = time.perf_counter()
    precision = "bf16" if variant == "bf16" else "f32"
    compiled = ov.Core().compile_model(str(folder / FILE), "CPU", {
        "INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
    })
    request = compiled.create_infer_request()

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = request.infer([input_ids.numpy(), attention_mask.numpy()])
        return torch.from_numpy(out[0].copy())  # the request reuses its output buffer on the next call

    dtype = "bfloat16 (OpenVINO inference precision)" if precision == "bf16" else "float32"
    return Prepared(RuntimeModel(model.config, forward, torch.device("cpu")), dtype, export_s,
                    time.perf_counter() - start, folder_bytes(folder), reused)
