"""The project's words, each defined once: model roles, model sources, label names, precision variants and runtimes.

Plain data with no heavy imports, so records, settings, the CLI and the pages can all share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["teacher", "student"]
ROLES: tuple[Role, ...] = ("teacher", "student")

Source = Literal["pocket", "architecture", "hub", "local"]
SOURCES: tuple[Source, ...] = ("pocket", "architecture", "hub", "local")

# Every pair is compared on two-class sentiment, in this label order (index 1 = positive, as in SST-2).
CANONICAL_LABELS = ("NEGATIVE", "POSITIVE")


@dataclass(frozen=True)
class Variant:
    name: str
    label: str  # what the weights and activations run in, recorded with every result
    peak_dtype: str  # which matmul peak bounds it (harness/peak.py)


VARIANT_INFO = {
    "fp32": Variant("fp32", "float32", "fp32"),
    "bf16": Variant("bf16", "bfloat16 weights and activations", "bf16"),
    "fp16": Variant("fp16", "float16 weights and activations", "fp16"),
    "int8-dynamic": Variant(
        "int8-dynamic", "qint8 Linear weights per output channel, float32 activations quantized per call", "int8"
    ),
    # Made by a runtime's own quantizer (OpenVINO with NNCF), not by torch: eager and compile do not run it.
    "int8-static": Variant(
        "int8-static", "int8 weights and activations, activation scales calibrated ahead on SST-2 train sentences",
        "int8",
    ),
}
VARIANTS = tuple(VARIANT_INFO)

# How a model is run (benchmarks/runtimes/); "eager" is how every result was measured before runtimes existed.
RUNTIME_LABELS = {
    "eager": "PyTorch eager",
    "compile": "torch.compile (inductor)",
    "onnxruntime": "ONNX Runtime",
    "openvino": "OpenVINO",
}
RUNTIMES = tuple(RUNTIME_LABELS)
DEFAULT_RUNTIME = "eager"


def setup_name(runtime: str, variant: str) -> str:
    """A runtime and precision as one name: eager setups keep the bare variant name they always had."""
    return variant if runtime == DEFAULT_RUNTIME else f"{runtime} {variant}"
