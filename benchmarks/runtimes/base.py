"""What every runtime hands back: a model-like object that takes token ids and returns logits, plus what it cost
to get there. Artefacts (exported graphs, quantized copies) are cached in a folder named by content."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from transformers.modeling_outputs import SequenceClassifierOutput

from benchmarks.core.persist import digest

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (input_ids, attention_mask) -> logits


class RuntimeUnavailable(RuntimeError):
    """A runtime cannot run this model here; str(error) is one sentence for the UI and the CLI."""


class RuntimeModel:
    """A prepared model with the call signature of a transformers classifier (`model(**batch).logits`) and its
    `config` and `device`, so scoring and prediction code runs on any runtime unchanged."""

    def __init__(self, config, forward: Forward, device: torch.device):
        self.config, self.forward, self.device = config, forward, device

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_ignored) -> SequenceClassifierOutput:
        return SequenceClassifierOutput(logits=self.forward(input_ids, attention_mask))


@dataclass(frozen=True)
class Prepared:
    model: RuntimeModel
    dtype: str  # what the runtime computes in, recorded with the result
    export_s: float  # one-off cost: export + quantize, or compiling every grid shape (from the cache's note if reused)
    ready_s: float  # this process's time to get ready (load the cached artefact, build the session)
    artefact_bytes: int  # what the runtime keeps on disk (0 when it keeps nothing)
    reused: bool  # the artefact came from the cache


class LogitsOnly(torch.nn.Module):
    """A transformers classifier as a function of (input_ids, attention_mask) -> logits: what exporters trace."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def example_inputs(batch: int = 2, seq_len: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.ones((batch, seq_len), dtype=torch.long)  # any id in the vocabulary will do: only shapes matter
    mask = torch.ones_like(ids)
    # Padding in the example: transformers skips an all-ones mask, and an exporter tracing that would drop the mask
    mask[-1, seq_len // 2 :] = 0
    return ids, mask


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def artefact_folder(root: Path, runtime: str, identity: dict) -> Path:
    """The cache folder of one artefact: model fingerprint, runtime, precision and software versions in its name."""
    return root / runtime / digest({"runtime": runtime, **identity})[:24]


def cached_artefact(folder: Path, build: Callable[[Path], None], clock: Callable[[], float]) -> tuple[float, bool]:
    """Build the artefact into `folder` unless it is there: (one-off seconds it took, reused?). The build writes
    into a temporary sibling that is renamed into place, so a killed export never leaves half an artefact."""
    note = folder / "artefact.json"
    if note.is_file():
        with contextlib.suppress(OSError):  # a read-only cache still serves; it just keeps no use times
            note.touch()  # its time is the last use: prune_artefacts removes the least recently used first
        return float(json.loads(note.read_text())["export_s"]), True
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".tmp"))
    try:
        start = clock()
        build(tmp)
        export_s = clock() - start
        (tmp / "artefact.json").write_text(json.dumps({"export_s": export_s}))
        try:
            tmp.rename(folder)
        except OSError:  # another process finished the same artefact first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return export_s, False


def prune_artefacts(root: Path, limit_mb: int, keep: Path) -> list[Path]:
    """Remove whole artefact folders under `root`, least recently used first, until they hold at most `limit_mb`
    MiB together; `keep` (the one just made or used) always stays. They are derived data: the next use rebuilds one.
    Returns what went."""
    used: dict[Path, float] = {}
    sizes: dict[Path, int] = {}
    for note in Path(root).glob("*/*/artefact.json"):
        with contextlib.suppress(OSError):  # another process pruned it meanwhile
            used[note.parent], sizes[note.parent] = note.stat().st_mtime, folder_bytes(note.parent)
    folders = sorted(used, key=used.__getitem__)
    total, gone = sum(sizes.values()), []
    for folder in folders:
        if total <= limit_mb * 2**20:
            break
        if folder == keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= sizes[folder]
        gone.append(folder)
    return gone
