"""The machine under a measurement: which device to run on, what the CPU/GPU and software are (records
that every result carries), and clock discipline shared by every timed path."""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from benchmarks.core.persist import digest

# Flags that decide which kernels run (and whether bf16 / int8 have hardware support).
_ISA_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present; an explicit 'cuda' without a GPU is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r}; use auto, cpu or cuda[:N]")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU on this machine.")
    return device


def synchronize(device: torch.device | str) -> None:
    """CUDA kernels run asynchronously: wait for them before reading the clock."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def device_type(device: str) -> str:
    return device.split(":", 1)[0]


def load_average() -> float | None:
    """The host's 1-minute load average, recorded beside timings (other work on the machine slows them); None where
    the platform has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def thread_count(n: int) -> str:
    """"1 thread", "2 threads": how every label names a thread count."""
    return f"{n} thread{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class HardwareInfo:
    cpu_model: str
    physical_cores: int
    logical_cpus: int
    isa: tuple[str, ...]  # vector/matrix extensions that decide kernel speed (avx2, avx512f, amx_bf16...)
    torch_cpu_capability: str  # which kernels PyTorch dispatches to (DEFAULT / AVX2 / AVX512)
    gpu_name: str = ""  # "" without CUDA
    gpu_memory_gb: float = 0.0
    gpu_capability: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.physical_cores <= self.logical_cpus:
            raise ValueError("core counts must be positive, threads >= cores")
        object.__setattr__(self, "isa", tuple(sorted(self.isa)))

    @property
    def fingerprint(self) -> str:
        return digest(asdict(self))[:12]

    @property
    def native_bf16_cpu(self) -> bool:
        """bf16 matmuls run natively only with AVX512_BF16 or AMX; elsewhere they are emulated and slow."""
        return bool({"avx512_bf16", "amx_bf16"} & set(self.isa))

    def label(self, device: str = "cpu") -> str:
        if device_type(device) == "cuda":
            return f"GPU: {self.gpu_name} ({self.gpu_memory_gb:.0f} GB)"
        isa = self.torch_cpu_capability if self.torch_cpu_capability not in ("", "DEFAULT") else "no AVX2"
        amx = " + AMX" if any(f.startswith("amx") for f in self.isa) else ""
        return f"CPU: {self.cpu_model} · {self.physical_cores} cores / {self.logical_cpus} threads · {isa}{amx}"


@dataclass(frozen=True)
class SoftwareInfo:
    python: str
    torch: str
    transformers: str
    cuda: str = ""  # torch.version.cuda, "" for CPU builds

    @property
    def fingerprint(self) -> str:
        return digest(asdict(self))[:12]

    @property
    def label(self) -> str:
        cuda = f", CUDA {self.cuda}" if self.cuda else ""
        return f"torch {self.torch}, transformers {self.transformers}, Python {self.python}{cuda}"


def _cpuinfo() -> tuple[str, int, int, tuple[str, ...]]:
    """Model name, physical cores, logical CPUs and ISA flags from /proc/cpuinfo (Linux), else platform."""
    logical = os.cpu_count() or 1
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return platform.processor() or platform.machine(), logical, logical, ()
    model, flags, cores = "", set(), set()
    physical_id = "0"
    for line in path.read_text().splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name" and not model:
            model = value
        elif key == "flags" and not flags:
            flags = set(value.split())
        elif key == "physical id":
            physical_id = value
        elif key == "core id":
            cores.add((physical_id, value))
    return (
        model or platform.machine(),
        max(1, len(cores) or logical),
        logical,
        tuple(f for f in _ISA_FLAGS if f in flags),
    )


@functools.lru_cache(maxsize=1)
def detect_hardware() -> HardwareInfo:
    model, cores, logical, isa = _cpuinfo()
    gpu_name, gpu_gb, capability = "", 0.0, ""
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu_name, gpu_gb, capability = props.name, props.total_memory / 2**30, f"{props.major}.{props.minor}"
    return HardwareInfo(
        model, cores, logical, isa, torch.backends.cpu.get_cpu_capability(), gpu_name, round(gpu_gb, 1), capability
    )


@functools.lru_cache(maxsize=1)
def detect_software() -> SoftwareInfo:
    import transformers

    return SoftwareInfo(
        platform.python_version(), torch.__version__, transformers.__version__, torch.version.cuda or ""
    )
