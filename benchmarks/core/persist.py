"""Writing state to disk safely, reading it back and naming it by content: atomic file writes, records rebuilt from
their JSON form, and the canonical JSON digest that cache keys are built from."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


def from_raw(kind: type[T], raw: Any) -> T:
    """A `kind` (a dataclass; nested ones too) rebuilt from its JSON form, under the field names asdict() wrote: every
    field checked and converted (lists back to tuples...), unknown keys ignored. ValueError in one sentence when `raw`
    is not one."""
    try:
        return _adapter(kind).validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where + ': ' if where else ''}{first['msg']}") from None


@functools.cache
def _adapter(kind: type) -> TypeAdapter:
    return TypeAdapter(kind)  # built once per type: it compiles a validator


def digest(payload: Any) -> str:
    """sha256 of `payload` as compact, key-sorted JSON: equal payloads give equal keys on every machine."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder + os.replace: a reader (another session or process) never sees half a file,
    and a failed write leaves the old file in place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
