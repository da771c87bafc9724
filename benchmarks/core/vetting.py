"""Model folders vetted before anything loads them: where the folder is, every file it holds (sub-folders too) and
every file its own files name (a sharded checkpoint's index, the `*_file` entries of config.json and
tokenizer_config.json), how big they are, and what its config.json asks for. Loading a hostile folder can otherwise
hang the whole server (a FIFO or /dev/zero behind a weights name: the safetensors loader opens it holding Python's
lock), read outside the allowed roots (a symlink, or an index entry with an absolute path), or exhaust memory (10,000
layers). Vetting itself opens nothing before checking it: `stat` first, and every read is a non-blocking open whose
descriptor must be a regular file. Every refusal is one sentence with paths relative to the project or the model
root."""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path
from typing import Iterable

from benchmarks.core.dimensions import NAMES, dimension
from benchmarks.core.paths import shown

CONFIG_MAX_BYTES = 1_000_000
SIDE_FILE_MAX_BYTES = 64_000_000  # tokenizer and config files; a multilingual tokenizer.json is ~17 MB
SAFETENSORS_HEADER_MAX_BYTES = 100_000_000  # safetensors' own limit
MAX_ENTRIES = 2_000  # files and folders in one model folder, sub-folders included (a real one holds about ten)
WEIGHT_SUFFIXES = (".safetensors", ".bin")


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


def _entry(path: Path, roots: tuple[Path, ...], name: str) -> os.stat_result:
    """stat() of one path inside a model folder, refusing links that leave the roots and anything that is neither a
    regular file nor a folder. Nothing is opened."""
    if path.is_symlink():
        try:
            target = path.resolve()
        except (OSError, RuntimeError):
            raise FolderRefused(f"{name} cannot be read (a broken link?).") from None
        if not _inside(target, roots):
            raise FolderRefused(f"{name} is a link that leads outside the allowed model roots; copy the file in "
                                f"instead.")
    try:
        info = path.stat()
    except OSError:
        raise FolderRefused(f"{name} cannot be read (a broken link?).") from None
    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        raise FolderRefused(f"{name} is not a regular file (a pipe, device or socket); a model folder holds only "
                            f"files.")
    return info


def _cap(path: Path, max_total_bytes: int) -> int:
    return max_total_bytes if path.suffix in WEIGHT_SUFFIXES else SIDE_FILE_MAX_BYTES


def vet_files(folder: Path, roots: tuple[Path, ...], max_total_bytes: int) -> int:
    """Every entry of the folder and its sub-folders: no link leaving the roots, nothing but regular files and
    folders (no FIFOs, devices, sockets), files under the caps; return the total size. Linked folders inside the roots
    are checked but not walked (each file a loader reads through one is vetted where it is named)."""
    total = count = 0
    for here, dirs, files in os.walk(folder):
        base = Path(here)
        for entry in sorted(dirs + files):
            count += 1
            if count > MAX_ENTRIES:
                raise FolderRefused(f"{shown(folder, roots)} holds more than {MAX_ENTRIES:,} files and folders; a "
                                    f"model folder holds a few.")
            path = base / entry
            name = shown(path, roots)
            info = _entry(path, roots, name)
            if stat.S_ISDIR(info.st_mode):
                continue
            cap = _cap(path, max_total_bytes)
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


def read_checked(path: Path, where: str, cap: int) -> bytes:
    """The bytes of a small file, opened so that it cannot block (a FIFO opens at once without a writer) and read
    only if the open file is a regular one within `cap` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise FolderRefused(f"{where} cannot be read.") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FolderRefused(f"{where} is not a regular file (a pipe, device or socket); a model folder holds "
                                f"only files.")
        if info.st_size > cap:
            raise FolderRefused(f"{where} is {info.st_size:,} bytes; the limit is {cap:,}.")
        return fh.read(cap + 1)[:cap]


def _read_json(path: Path, where: str, cap: int) -> object:
    try:
        return json.loads(read_checked(path, where, cap).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FolderRefused(f"{where} is not valid JSON ({str(exc).split(':')[0]}).") from None


def named_files(folder: Path, roots: tuple[Path, ...]) -> list[tuple[str, str]]:
    """(name, the shown file naming it) for every file the folder's own files point a loader at: the shards of each
    `*.index.json`, and `*_file` entries of config.json and tokenizer_config.json."""
    named: list[tuple[str, str]] = []
    for index in sorted(folder.glob("*.index.json")):
        where = shown(index, roots)
        raw = _read_json(index, where, SIDE_FILE_MAX_BYTES)
        weight_map = raw.get("weight_map") if isinstance(raw, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise FolderRefused(f"{where} is not a weights index (it needs a weight_map of tensor names to files).")
        named += [(name, where) for name in sorted(set(weight_map.values()))]
    for config in ("config.json", "tokenizer_config.json"):
        path = folder / config
        if path.is_file():
            raw = _read_json(path, shown(path, roots), CONFIG_MAX_BYTES if config == "config.json" else
                             SIDE_FILE_MAX_BYTES)
            if isinstance(raw, dict):
                named += [(v, shown(path, roots)) for k, v in raw.items()
                          if k.endswith("_file") and isinstance(v, str) and v]
    return named


def vet_named_files(folder: Path, roots: tuple[Path, ...], max_total_bytes: int) -> list[Path]:
    """Each file named from inside the folder must be a plain relative name of a regular file inside it (or behind a
    link that stays inside the roots); return their paths. An absolute name, '..', or a missing file is refused in
    one sentence that never repeats the name's outside part."""
    paths = []
    for name, where in named_files(folder, roots):
        parts = Path(name).parts
        short = (parts[-1] if parts else "")[:80]
        if "\x00" in name or Path(name).is_absolute() or ".." in parts or name.startswith("~"):
            raise FolderRefused(f"{where} names a file outside the model folder ({short!r}); every file a model "
                                f"folder names must sit inside it.")
        path = folder / name
        try:
            exists = path.exists() or path.is_symlink()
        except OSError:
            exists = False
        if not exists:
            raise FolderRefused(f"{where} names {short!r}, which is not in the model folder.")
        info = _entry(path, roots, shown(path, roots))
        if not stat.S_ISREG(info.st_mode):
            raise FolderRefused(f"{where} names {short!r}, which is a folder, not a file.")
        if not _inside(path.resolve(), roots):
            raise FolderRefused(f"{where} names {short!r}, which leads outside the allowed model roots.")
        if info.st_size > _cap(path, max_total_bytes):
            raise FolderRefused(f"{where} names {short!r}, which is {info.st_size / 1e6:,.0f} MB; the limit for such "
                                f"a file is {_cap(path, max_total_bytes) / 1e6:,.0f} MB.")
        paths.append(path)
    return paths


def read_config(folder: Path, roots: tuple[Path, ...]) -> dict:
    path = folder / "config.json"
    where = shown(path, roots)
    if not path.is_file():
        raise FolderRefused(f"{shown(folder, roots)} is not a Hugging Face model folder (no config.json).")
    config = _read_json(path, where, CONFIG_MAX_BYTES)
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
    bad = FolderRefused(f"{where} is not a complete safetensors file (truncated or damaged).")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise bad from None
    try:
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise FolderRefused(f"{where} is not a regular file (a pipe, device or socket); a model folder holds "
                                    f"only files.")
            size = info.st_size
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
    """Everything above, in order: files, the files they name, config, weights. Returns the parsed config."""
    vet_files(folder, roots, max_total_bytes)
    named = vet_named_files(folder, roots, max_total_bytes)
    config = read_config(folder, roots)
    check_config_size(config, shown(folder / "config.json", roots), max_params)
    for weights in sorted({*folder.glob("*.safetensors"), *(p for p in named if p.suffix == ".safetensors")}):
        check_safetensors(weights, shown(weights, roots))
    return config
