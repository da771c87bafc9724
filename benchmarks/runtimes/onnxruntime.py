"""ONNX Runtime: the model exported once with torch.onnx (the dynamo exporter; the TorchScript one if that fails),
dynamic int8 through onnxruntime.quantization, run in an InferenceSession with the given thread count. CUDA uses the
CUDA execution provider (TensorRT's when present)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from benchmarks.core.device import detect_hardware
from benchmarks.core.dimensions import dimension
from benchmarks.runtimes.base import LogitsOnly, Prepared, RuntimeModel, cached_artefact, example_inputs, folder_bytes

_NAMES = ["input_ids", "attention_mask"]
FILE = "model.onnx"


def export_onnx(model: torch.nn.Module, path: Path) -> None:
    """Batch and sequence length stay free in the graph, so one file serves every shape."""
    logits = LogitsOnly(model).eval()
    inputs = example_inputs()
    try:
        # Sequence length bounded by the position table, so the exporter knows slices of it keep length `seq`.
        longest = int(dimension(model.config, "positions"))
        dims = {0: torch.export.Dim("batch", min=1, max=1024), 1: torch.export.Dim("seq", min=2, max=longest)}
        torch.onnx.export(logits, inputs, str(path), dynamo=True, input_names=_NAMES, output_names=["logits"],
                          dynamic_shapes={name: dims for name in _NAMES}, external_data=False, verbose=False)
    except Exception:  # noqa: BLE001 - any exporter failure: the TorchScript exporter is the maintained fallback
        path.unlink(missing_ok=True)
        axes = {0: "batch", 1: "seq"}
        torch.onnx.export(logits, inputs, str(path), dynamo=False, input_names=_NAMES, output_names=["logits"],
                          dynamic_axes={name: axes for name in _NAMES}, opset_version=17)


def quantization_options(device: torch.device) -> dict:
    """quantize_dynamic's options for this CPU. Per-channel weight scales, as the eager int8 variant uses (per-tensor
    ones cost accuracy, harness/precision.py). Without VNNI, ONNX Runtime's u8s8 kernels can saturate their 16-bit
    intermediate sums; 7-bit weights (reduce_range) avoid that, as its documentation advises for such CPUs."""
    vnni = bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(detect_hardware().isa))
    return {"per_channel": True, "reduce_range": device.type == "cpu" and not vnni}


def _build(model: torch.nn.Module, variant: str, options: dict):
    def build(folder: Path) -> None:
        if variant != "int8-dynamic":
            export_onnx(model, folder / FILE)
            return
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        export_onnx(model, folder / "fp32.onnx")
        # The dynamo exporter annotates intermediate shapes traced from the example batch, which the quantizer's
        # strict shape inference then contradicts: drop the annotations (not the nodes) and let it infer them anew.
        graph = onnx.load(folder / "fp32.onnx")
        graph.graph.ClearField("value_info")
        onnx.save(graph, folder / "fp32.onnx")
        quantize_dynamic(folder / "fp32.onnx", folder / FILE, weight_type=QuantType.QInt8, **options)
        (folder / "fp32.onnx").unlink()

    return build


def _providers(device: torch.device) -> list[str]:
    import onnxruntime as ort

    if device.type != "cuda":
        return ["CPUExecutionProvider"]
    gpu = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in ort.get_available_providers()]
    if not gpu:
        raise RuntimeError("this onnxruntime build has no CUDA execution provider (install onnxruntime-gpu).")
    return [*gpu, "CPUExecutionProvider"]


def prepare(model: torch.nn.Module, variant: str, device: torch.device, threads: int, folder: Path,
            options: dict) -> Prepared:
    """`options`: quantization_options(device), which also name the artefact's cache folder."""
    import onnxruntime as ort

    export_s, reused = cached_artefact(folder, _build(model, variant, options), time.perf_counter)
    start = time.perf_counter()
    session_options = ort.SessionOptions()
    session_options.intra_op_num_threads = threads  # the same thread count as every other runtime
    session_options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / FILE), session_options, providers=_providers(device))
    names = [i.name for i in session.get_inputs()]

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feed = dict(zip(names, (input_ids.cpu().numpy(), attention_mask.cpu().numpy())))
        return torch.from_numpy(session.run(None, feed)[0]).to(input_ids.device)

    bits = "7-bit" if options.get("reduce_range") else "int8"
    dtype = f"{bits} MatMul weights per channel (ORT dynamic), float32 activations" if variant == "int8-dynamic" \
        else "float32"
    return Prepared(RuntimeModel(model.config, forward, device), dtype, export_s, time.perf_counter() - start,
                    folder_bytes(folder), reused)
