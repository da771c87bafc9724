"""This machine as the job layer names it: its hardware identity (what a benchmark job targets, and the Ray custom
resource a node advertises) and its label, as the results name it."""

from __future__ import annotations

import functools

RESOURCE_PREFIX = "kd-hw:"


@functools.lru_cache(maxsize=1)
def identity() -> str:
    """The hardware fingerprint of this machine (core.device): CPU model and ISA, or the GPU."""
    from benchmarks.core.device import detect_hardware

    return detect_hardware().fingerprint


@functools.lru_cache(maxsize=1)
def machine_label() -> str:
    from benchmarks.core.device import detect_hardware, resolve_device

    return detect_hardware().label(str(resolve_device("auto")))


def resource_of(fingerprint: str) -> str:
    return RESOURCE_PREFIX + fingerprint
