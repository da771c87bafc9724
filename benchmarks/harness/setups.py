"""A loaded model in a chosen runtime and precision: what a measurement times and what the Playground answers with.
Which runtime x precision setups a device offers, and one sentence for each it does not."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import replace

import torch

from benchmarks.core.data import read_sentences
from benchmarks.core.device import HardwareInfo, detect_software
from benchmarks.core.models import LoadedModel
from benchmarks.core.settings import load_settings
from benchmarks.core.vocabulary import RUNTIMES, VARIANT_INFO, setup_name
from benchmarks.harness.precision import apply_variant, supported_variants
from benchmarks.runtimes.base import Prepared
from benchmarks.runtimes.registry import RUNTIME_INFO, prepare, unavailable_reason

CALIBRATION_SENTENCES = 300  # NNCF's default subset size


def setups(device: str, hardware: HardwareInfo) -> tuple[list[tuple[str, str]], list[str]]:
    """([(runtime, variant)] this device can run, eager fp32 first; one sentence per runtime x native precision it
    cannot run here)."""
    offered, reasons = [], []
    for runtime in RUNTIMES:
        for variant in supported_variants(device, hardware):
            why = unavailable_reason(runtime, variant, device)
            if why is None:
                offered.append((runtime, variant))
            elif variant in RUNTIME_INFO[runtime].precisions:  # "compile does not run int8" is no news to anyone
                reasons.append(f"{setup_name(runtime, variant)}: {why}")
    return offered, reasons


def prepare_model(loaded: LoadedModel, runtime: str, variant: str, threads: int,
                  shapes: Sequence[tuple[int, int]] = (), keep_original: bool = False) -> Prepared:
    """`loaded` in `runtime` and `variant`; artefacts cached under the state folder, named by the weights,
    precision and software. keep_original: convert a copy (the loaded model is shared, e.g. by the dashboard).
    RuntimeUnavailable (one sentence) when it cannot be done."""
    model = loaded.model
    if RUNTIME_INFO[runtime].torch_precision:
        model = apply_variant(copy.deepcopy(model) if keep_original and variant != "fp32" else model, variant)
    software = detect_software()
    identity = {"fingerprint": loaded.fingerprint, "torch": software.torch, "transformers": software.transformers,
                "attn": loaded.attn_implementation, "device": str(loaded.device)}
    calibration = calibration_batches(loaded.tokenizer) if variant == "int8-static" else ()
    settings = load_settings()
    return prepare(runtime, model, variant, VARIANT_INFO[variant].label, device=loaded.device, threads=threads,
                   shapes=shapes, cache_root=settings.state_dir / "artefacts", identity=identity,
                   calibration=calibration, cache_limit_mb=settings.max_artefact_mb)


def calibration_batches(tokenizer, n: int = CALIBRATION_SENTENCES) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first `n` shipped SST-2 train sentences, one per batch at its own length: what static int8 sets its
    activation scales on. Never the dev set, which it is then scored on."""
    batches = []
    for sentence in read_sentences()[:n]:
        encoded = tokenizer(sentence, truncation=True, max_length=128, return_tensors="pt")
        batches.append((encoded["input_ids"], encoded["attention_mask"]))
    return batches


def with_runtime(loaded: LoadedModel, runtime: str, variant: str, threads: int) -> LoadedModel:
    """A copy of `loaded` that answers through `runtime` in `variant` (the original is left as it was)."""
    if (runtime, variant) == ("eager", "fp32"):
        return loaded
    prepared = prepare_model(loaded, runtime, variant, threads, keep_original=True)
    return replace(loaded, model=prepared.model, lock=threading.Lock())
