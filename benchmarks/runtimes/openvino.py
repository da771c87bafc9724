"""OpenVINO: the model converted once with openvino.convert_model and saved as IR, compiled for the CPU with a
latency hint, the given thread count and an inference precision (bf16 only where the CPU has it natively).
int8-static is the IR quantized by NNCF (weights and activations), its activation scales calibrated on given batches."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from benchmarks.runtimes.base import LogitsOnly, Prepared, RuntimeModel, cached_artefact, example_inputs, folder_bytes

FILE = "model.xml"


def _quantized(converted, calibration: Sequence[tuple[torch.Tensor, torch.Tensor]]):
    import nncf

    nncf.set_log_level(logging.ERROR)
    batches = nncf.Dataset([[ids.numpy(), mask.numpy()] for ids, mask in calibration])
    # TRANSFORMER keeps the softmax and layer norms in float and smooths activation outliers first, as NNCF advises
    # for BERT-family models. Its progress bars go to stdout, which the benchmark worker keeps for its protocol.
    with contextlib.redirect_stdout(io.StringIO()):
        return nncf.quantize(converted, batches, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration))


def _build(model: torch.nn.Module, variant: str, calibration: Sequence[tuple[torch.Tensor, torch.Tensor]]):
    def build(folder: Path) -> None:
        import openvino as ov

        converted = ov.convert_model(LogitsOnly(model).eval(), example_input=example_inputs())
        if variant == "int8-static":
            converted = _quantized(converted, calibration)
        ov.save_model(converted, folder / FILE, compress_to_fp16=False)  # keep fp32 weights; precision is a hint

    return build


def prepare(model: torch.nn.Module, variant: str, threads: int, folder: Path,
            calibration: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()) -> Prepared:
    import openvino as ov

    export_s, reused = cached_artefact(folder, _build(model, variant, calibration), time.perf_counter)
    start = time.perf_counter()
    precision = "bf16" if variant == "bf16" else "f32"  # int8-static: the quantized ops run int8, the rest f32
    compiled = ov.Core().compile_model(str(folder / FILE), "CPU", {
        "INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
    })
    request = compiled.create_infer_request()

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = request.infer([input_ids.numpy(), attention_mask.numpy()])
        return torch.from_numpy(out[0].copy())  # the request reuses its output buffer on the next call

    dtype = {"bf16": "bfloat16 (OpenVINO inference precision)",
             "int8-static": f"int8 MatMuls (NNCF static, calibrated on {len(calibration)} sentences), float32 elsewhere"
             }.get(variant, "float32")
    return Prepared(RuntimeModel(model.config, forward, torch.device("cpu")), dtype, export_s,
                    time.perf_counter() - start, folder_bytes(folder), reused)
