"""Model folders vetted before anything loads them: where the folder is, which files it holds and how big they
are, and what its config.json asks for. Loading a hostile folder can otherwise hang (a FIFO or /dev/zero
behind a weights name), read outside the allowed roots (a symlink), or exhaust memory (10,000 layers).
Every refusal is one sentence with paths relative to the project or the model root."""

from __future__ import annotations

import json
import stat
import struct
from pathlib import Path
from typing import Iterable

from benchmarks.core.dimensions import NAMES, dimension
from benchmarks.core.paths import shown

CONFIG_MAX_BYTES = 1_000_000
SIDE_FILE_MAX_BYTES = 64_000_000  # tokenizer and config files; a multilingual tokenizer.json is ~17 MB
SAFETENSORS_HEADER_MAX_BYTES = 100_000_000  # safetensors' own limit


class FolderRefused(ValueError):
    """The folder may not be loaded; str(error) is one sentence fit for a visitor."""


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def resolve_folder(raw: str, roots: tuple[Path, ...]) -> Path:
    """The real folder a visitor's path names. Missing, outside the roots, or not a folder all read the same,
    so the answer says nothing about the rest of the disk."""
    raw = raw.strip()
    if not raw:
        raise FolderRefused("Enter a folder path.")
    refused = FolderRefused(
        "That path is not a model folder this server can load: it must be an existing folder under the allowed "
        "model roots (KD_MODEL_ROOTS), named without '..'."
    )
    if "\x00" in raw or ".." in Path(raw).parts:
        raise refused
    try:
        folder = Path(raw).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # unknown ~user, a loop of links, an over-long name
        raise refused from None
    if not _inside(folder, roots) or not folder.is_dir():
        raise refused
    return folder


def vet_files(folder: Path, roots: tuple[Path, ...], max_total_bytes: int) -> int:
    """Refuse links that leave the roots, anything but regular files (FIFOs, devices, sockets), and files over
    the caps; return the total size. Sub-folders are skipped: loading reads only the top level."""
    total = 0
    for entry in sorted(folder.iterdir()):
        name = f"{shown(folder, roots)}/{entry.name}"
        if entry.is_symlink() and not _inside(entry.resolve(), roots):
            raise FolderRefused(f"{name} is a link that leads outside the allowed model roots; copy the file in "
                                f"instead.")
        try:
            info = entry.stat()
        except OSError:
            raise FolderRefused(f"{name} cannot be read (a broken link?).") from None
        if stat.S_ISDIR(info.st_mode):
            continue
        if not stat.S_ISREG(info.st_mode):
            raise FolderRefused(f"{name} is not a regular file (a pipe, device or socket); a model folder holds only "
                                f"files.")
        cap = max_total_bytes if entry.suffix in (".safetensors", ".bin") else SIDE_FILE_MAX_BYTES  # weights
        if info.st_size > cap:
            raise FolderRefused(f"{name} is {info.st_size / 1e6:,.0f} MB; the limit for such a file is "
                                f"{cap / 1e6:,.0f} MB.")
        total += info.st_size
    if total > max_total_bytes:
        raise FolderRefused(
            f"{shown(folder, roots)} holds {total / 1e6:,.0f} MB; the limit is {max_total_bytes / 1e6:,.0f} MB "
            f"(KD_MAX_MODEL_MB)."
        )
    return total


def read_config(folder: Path, roots: tuple[Path, ...]) -> dict:
    path = folder / "config.json"
    where = shown(path, roots)
    if not path.is_file():
        raise FolderRefused(f"{shown(folder, roots)} is not a Hugging Face model folder (no config.json).")
    if path.stat().st_size > CONFIG_MAX_BYTES:
        raise FolderRefused(f"{where} is {path.stat().st_size:,} bytes; the limit is {CONFIG_MAX_BYTES:,}.")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FolderRefused(f"{where} is not valid JSON ({str(exc).split(':')[0]}).") from None
    if not isinstance(config, dict):
        raise FolderRefused(f"{where} must hold a JSON object, not a {type(config).__name__}.")
    return config


def estimated_params(config: dict, where: str) -> int:
    """Parameters of a BERT-style encoder from its config (embeddings + layers; biases and norms are
    rounding), checking each dimension is a whole positive number first."""
    dims = {}
    for dim, (bert, distil, _) in NAMES.items():
        raw = dimension(config, dim)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise FolderRefused(f"{where}: {bert if bert in config else distil} must be a whole number of at least 1, "
                                f"got {str(raw)[:20]!r}.")
        dims[dim] = raw
    if dims["hidden"] % dims["heads"]:
        raise FolderRefused(f"{where}: the hidden size {dims['hidden']} is not divisible by {dims['heads']} heads.")
    h = dims["hidden"]
    per_layer = 4 * h * h + 2 * h * dims["intermediate"]
    return (dims["vocab"] + dims["positions"]) * h + dims["layers"] * per_layer


def check_config_size(config: dict, where: str, max_params: int) -> int:
    n = estimated_params(config, where)
    if n > max_params:
        raise FolderRefused(
            f"{where} describes a model of about {n / 1e6:,.0f} M parameters; this server loads at most "
            f"{max_params / 1e6:,.0f} M (KD_MAX_PARAMS_M)."
        )
    return n


def check_safetensors(path: Path, where: str) -> None:
    """The header must parse and the tensors it lists must end exactly at the end of the file: catches
    truncated or garbage files before the loader meets them."""
    size = path.stat().st_size
    bad = FolderRefused(f"{where} is not a complete safetensors file (truncated or damaged).")
    try:
        with path.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > min(SAFETENSORS_HEADER_MAX_BYTES, size - 8):
                raise bad
            header = json.loads(fh.read(n))
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (struct.error, UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError, AttributeError, OSError):
        raise bad from None
    if not ends or 8 + n + max(ends) != size:
        raise bad


def vet_folder(folder: Path, roots: tuple[Path, ...], max_total_bytes: int, max_params: int) -> dict:
    """Everything above, in order: files, config, weights. Returns the parsed config."""
    vet_files(folder, roots, max_total_bytes)
    config = read_config(folder, roots)
    check_config_size(config, shown(folder / "config.json", roots), max_params)
    for weights in sorted(folder.glob("*.safetensors")):
        check_safetensors(weights, shown(weights, roots))
    return config


