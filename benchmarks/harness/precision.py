"""Precision variants of a model: which ones a device runs natively, and how to make each.

fp32 everywhere; bf16 on GPUs and on CPUs with native bf16 (AVX512_BF16 or AMX; elsewhere it is
emulated and many times slower than fp32, which would only mislead); fp16 on GPUs; dynamic int8
(weights of every nn.Linear quantized ahead of time, one scale per output channel, activations on the fly) on CPUs;
static int8 (activation scales calibrated ahead) on CPUs, made by a runtime's own quantizer, not here.
"""

from __future__ import annotations

import warnings

import torch

from benchmarks.core.device import HardwareInfo
from benchmarks.core.vocabulary import VARIANTS


def unsupported_reason(variant: str, device: str, hardware: HardwareInfo) -> str | None:
    """Why `variant` is not measured on `device`, in one sentence; None when it is supported."""
    if variant not in VARIANTS:
        return f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}."
    gpu = torch.device(device).type == "cuda"
    if variant == "fp16" and not gpu:
        return "fp16 is measured on GPUs only: CPUs have no fast fp16 matmul."
    if variant == "int8-dynamic" and gpu:
        return "dynamic int8 quantization (torch.ao) runs on CPUs only."
    if variant == "int8-static" and gpu:
        return "static int8 (OpenVINO with NNCF) runs on CPUs only."
    if variant == "bf16" and not gpu and not hardware.native_bf16_cpu:
        return "bf16 on this CPU is emulated (no AVX512_BF16 or AMX): many times slower than fp32, so it is skipped."
    return None


def supported_variants(device: str, hardware: HardwareInfo) -> tuple[str, ...]:
    return tuple(v for v in VARIANTS if unsupported_reason(v, device, hardware) is None)


def apply_variant(model: torch.nn.Module, variant: str) -> torch.nn.Module:
    """Turn a loaded fp32 model into `variant`, in place where possible (the caller owns the model)."""
    if variant == "fp32":
        return model
    if variant in ("bf16", "fp16"):
        return model.to(torch.bfloat16 if variant == "bf16" else torch.float16)
    if variant == "int8-dynamic":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao eager quantization prints a migration notice
            # Per-channel weight scales: per-tensor ones cost the pocket student 2.4 pp on SST-2 dev,
            # per-channel ones none (88.76 % fp32, 86.35 % per-tensor, 89.11 % per-channel), at the same speed.
            return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True)
    if variant == "int8-static":
        raise ValueError("int8-static is made by a runtime's own quantizer (OpenVINO with NNCF), not in torch.")
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
