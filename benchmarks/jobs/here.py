"""This machine as the job layer names it: the hardware fingerprint its local jobs target, and its label."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """core.device's hardware identity (CPU model and ISA, or the GPU): what this machine's local jobs target."""
    from benchmarks.core.device import detect_hardware

    return detect_hardware().fingerprint


@functools.lru_cache(maxsize=1)
def label() -> str:
    from benchmarks.core.device import detect_hardware, resolve_device

    return detect_hardware().label(str(resolve_device("auto")))
