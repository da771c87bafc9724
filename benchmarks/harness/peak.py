"""The machine's matmul peak per dtype: the honest ceiling for "how close to the limit" a model's FLOP rate is."""

from __future__ import annotations

import statistics
import time
import warnings
from datetime import datetime, timezone

import torch

from benchmarks.core.device import HardwareInfo, detect_hardware, detect_software, synchronize
from benchmarks.harness.results import PeakResult

PEAK_SIZES = {"cpu": 2048, "cuda": 8192}
PEAK_BUDGET_S = 1.5


def peak_dtypes(device: str, hardware: HardwareInfo) -> tuple[str, ...]:
    """The dtypes worth a peak measurement here: the ones some variant runs in on this device."""
    if torch.device(device).type == "cuda":
        return ("fp32", "bf16", "fp16")
    return ("fp32", "int8") + (("bf16",) if hardware.native_bf16_cpu else ())


def _matmul_step(dtype: str, n: int, device: torch.device):
    if dtype == "int8":
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao eager quantization prints a migration notice
            layer = quantize_dynamic(
                torch.nn.Sequential(torch.nn.Linear(n, n, bias=False)), {torch.nn.Linear}, dtype=torch.qint8
            )
        x = torch.randn(n, n)
        return lambda: layer(x)
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    a = torch.randn(n, n, device=device, dtype=torch_dtype)
    b = torch.randn(n, n, device=device, dtype=torch_dtype)
    return lambda: a @ b


def measure_matmul_peak(dtype: str, device: str = "cpu", threads: int | None = None, size: int | None = None,
                        budget_s: float = PEAK_BUDGET_S) -> PeakResult:
    """Best rate of a large square matmul in `dtype` (int8: a dynamically quantized Linear, as the int8
    variant runs it). One warm-up call, then at least 3 timed calls and at least `budget_s` seconds."""
    dev = torch.device(device)
    threads = threads or torch.get_num_threads()
    n = size or PEAK_SIZES[dev.type]
    torch.set_num_threads(threads)
    step = _matmul_step(dtype, n, dev)
    with torch.inference_mode():
        step()
        synchronize(dev)
        rates: list[float] = []
        begin = time.perf_counter()
        while len(rates) < 3 or time.perf_counter() - begin < budget_s:
            start = time.perf_counter()
            step()
            synchronize(dev)  # kernels are asynchronous on CUDA: wait before reading the clock
            rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
    return PeakResult(
        detect_hardware(),
        detect_software(),
        str(dev),
        dtype,
        threads,
        n,
        max(rates),
        statistics.median(rates),
        len(rates),
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
