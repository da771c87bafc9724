"""Which runtimes exist, which precisions each runs on which device, whether its library is installed, and one
`prepare` that turns a loaded model into a ready RuntimeModel. Optional libraries are imported only here, lazily."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.core.persist import digest
from benchmarks.core.vocabulary import RUNTIME_LABELS, RUNTIMES
from benchmarks.runtimes.base import Prepared, RuntimeUnavailable, artefact_folder, prune_artefacts


@dataclass(frozen=True)
class Runtime:
    name: str
    label: str
    package: str  # the distribution whose version keys results and artefacts
    module: str  # what to import
    precisions: tuple[str, ...]  # precision variants it can run (the device narrows them further)
    torch_precision: bool  # True: the caller converts the torch model to the variant first (eager, compile)


def _runtime(name: str, package: str, precisions: tuple[str, ...], torch_precision: bool) -> Runtime:
    return Runtime(name, RUNTIME_LABELS[name], package, package, precisions, torch_precision)


RUNTIME_INFO = {
    "eager": _runtime("eager", "torch", ("fp32", "bf16", "fp16", "int8-dynamic"), True),
    "compile": _runtime("compile", "torch", ("fp32", "bf16", "fp16"), True),
    "onnxruntime": _runtime("onnxruntime", "onnxruntime", ("fp32", "int8-dynamic"), False),
    "openvino": _runtime("openvino", "openvino", ("fp32", "bf16", "int8-static"), False),
}
assert tuple(RUNTIME_INFO) == RUNTIMES  # one list of runtimes: core.vocabulary's
EXTRA_HINT = "pip install '.[runtimes]'"


@functools.lru_cache(maxsize=None)
def _installed(module: str) -> bool:
    """Whether `module` imports: an installed but broken library counts as missing too. Imported once, on first ask."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


@functools.cache  # what is imported does not change while the process lives; the lookup walks every path entry
def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def library_version(runtime: str) -> str:
    """The installed version of the runtime's library; "" when it is not installed."""
    return _version(RUNTIME_INFO[runtime].package)


def unavailable_reason(runtime: str, variant: str, device: str) -> str | None:
    """Why `runtime` cannot run `variant` on `device` here, in one sentence; None when it can. (Whether the
    device runs the precision natively at all is harness/precision.py's question.)"""
    info = RUNTIME_INFO.get(runtime)
    if info is None:
        return f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}."
    if not _installed(info.module) or not library_version(runtime):
        return f"{info.label} is not installed ({EXTRA_HINT})."
    if variant not in info.precisions:
        return f"{info.label} does not run {variant} here (it runs {', '.join(info.precisions)})."
    gpu = torch.device(device).type == "cuda"
    if runtime == "openvino" and gpu:
        return "OpenVINO does not run on NVIDIA GPUs."
    if variant == "int8-static" and not (_installed("nncf") and _version("nncf")):
        return f"OpenVINO's int8 needs NNCF, which is not installed ({EXTRA_HINT})."
    if runtime == "onnxruntime" and variant == "int8-dynamic" and gpu:
        return "ONNX Runtime's dynamic int8 runs on CPUs only."
    if runtime == "compile" and variant == "fp16" and not gpu:
        return "fp16 is measured on GPUs only."
    return None


def prepare(runtime: str, model: torch.nn.Module, variant: str, dtype: str, *, device: torch.device, threads: int,
            shapes: Sequence[tuple[int, int]], cache_root: Path, identity: dict,
            calibration: Sequence[tuple[torch.Tensor, torch.Tensor]] = (), cache_limit_mb: int | None = None
            ) -> Prepared:
    """`model` ready to run in `runtime` and `variant` (already converted when the runtime has torch_precision).
    `identity` names the model and software for the artefact cache (fingerprint, torch version...); `calibration`
    holds the (input_ids, attention_mask) batches that int8-static sets its activation scales on; after a new
    export the cache is cut back to `cache_limit_mb`. Failures become RuntimeUnavailable with one sentence."""
    reason = unavailable_reason(runtime, variant, str(device))
    if reason:
        raise RuntimeUnavailable(reason)
    torch.set_num_threads(threads)
    identity = {**identity, "variant": variant, runtime: library_version(runtime)}
    try:
        if runtime == "eager":
            from benchmarks.runtimes import eager

            return eager.prepare(model, dtype, device)
        if runtime == "compile":
            from benchmarks.runtimes import compile as compiled

            return compiled.prepare(model, dtype, device, shapes)
        if runtime == "onnxruntime":
            from benchmarks.runtimes import onnxruntime as onnx_runtime

            options = onnx_runtime.quantization_options(device) if variant == "int8-dynamic" else {}
            folder = artefact_folder(cache_root, runtime, {**identity, **options})
            prepared = onnx_runtime.prepare(model, variant, device, threads, folder, options)
        else:
            from benchmarks.runtimes import openvino as openvino_runtime

            if variant == "int8-static":  # the quantizer and what it calibrated on shape the artefact too
                if not calibration:
                    raise RuntimeUnavailable("static int8 needs calibration sentences, and none were given.")
                identity = {**identity, "nncf": _version("nncf"),
                            "calibration": digest([ids.tolist() for ids, _ in calibration])}
            folder = artefact_folder(cache_root, runtime, identity)
            prepared = openvino_runtime.prepare(model, variant, threads, folder, calibration)
    except RuntimeUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - exporters and runtimes raise anything; one sentence is what we keep
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise RuntimeUnavailable(f"{RUNTIME_INFO[runtime].label} could not prepare the model ({variant}): "
                                 f"{first}") from exc
    if cache_limit_mb is not None and not prepared.reused:
        prune_artefacts(cache_root, cache_limit_mb, keep=folder)
    return prepared
