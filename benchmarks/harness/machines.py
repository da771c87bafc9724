"""Which machine a result was measured on, and how a page names and picks one: hardware, device type and
thread count. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from benchmarks.core.device import HardwareInfo, thread_count
from benchmarks.harness.results import BenchmarkResult, PeakResult


@dataclass(frozen=True)
class Machine:
    """Where results came from: hardware, device type and thread count, the unit the pages filter on. Timings taken
    at different thread counts are never compared with each other, so the thread count is part of it."""

    fingerprint: str
    device_type: str
    threads: int
    label: str
    choice: str = ""  # the same, shorter, leading with what tells machines apart: for a select's options

    @classmethod
    def of(cls, hardware: HardwareInfo, device: str, threads: int) -> "Machine":
        kind = device.split(":", 1)[0]
        # The thread count first, so a narrow selectbox still shows it; on a GPU it is only the host's.
        label = (f"{hardware.label(device)} · {thread_count(threads)} on the host" if kind == "cuda"
                 else f"{thread_count(threads)} on {hardware.label(device)}")
        if kind == "cuda":
            choice = f"GPU {hardware.gpu_name} · {thread_count(threads)} on the host"
        else:
            isa = hardware.label(device).rsplit(" · ", 1)[-1]  # "AVX512 + AMX": what decides the kernels
            choice = f"CPU {isa} · {thread_count(threads)} · {hardware.cpu_model}, {hardware.physical_cores} cores"
        return cls(hardware.fingerprint, kind, threads, label, choice)

    @property
    def key(self) -> str:
        """"<hardware fingerprint>:<device type>:<threads>": what a shared link names."""
        return f"{self.fingerprint}:{self.device_type}:{self.threads}"


def machine_of(result: BenchmarkResult | PeakResult) -> Machine:
    threads = result.threads if isinstance(result, PeakResult) else result.config.settings.threads
    return Machine.of(result.hardware, result.device, threads)


def machines(results: Iterable[BenchmarkResult]) -> list[Machine]:
    return sorted({machine_of(r) for r in results}, key=lambda m: (m.device_type != "cpu", m.label))


def choice_labels(options: Sequence[Machine], here: tuple[str, str] | None = None) -> dict[Machine, str]:
    """What a select shows for each machine: its short label, with the hardware fingerprint where two would
    otherwise read alike, and "this machine" on the one with `here`'s (fingerprint, device type)."""
    counts: dict[str, int] = {}
    for m in options:
        counts[m.choice] = counts.get(m.choice, 0) + 1
    return {m: ("This machine: " if (m.fingerprint, m.device_type) == here else "") + m.choice
            + (f" · hardware {m.fingerprint[:6]}" if counts[m.choice] > 1 else "") for m in options}


def default_machine(results: Sequence[BenchmarkResult], hardware: HardwareInfo, device: str) -> Machine | None:
    """The machine a page opens on: this hardware and device at the thread count with the most results (ties: more
    threads); when nothing was measured here, one of this device type with the largest grid, then the most results
    (a shipped full sweep before a small runtime comparison); None without results."""
    options = machines(results)
    here = [m for m in options if (m.fingerprint, m.device_type) == (hardware.fingerprint, device.split(":", 1)[0])]
    counts = {m: sum(machine_of(r) == m for r in results) for m in options}
    if here:
        return max(here, key=lambda m: (counts[m], m.threads))
    cells = {m: max(len(r.cells) for r in results if machine_of(r) == m) for m in options}
    same_type = {m: m.device_type == device.split(":", 1)[0] for m in options}
    return max(options, key=lambda m: (same_type[m], cells[m], counts[m]), default=None)
