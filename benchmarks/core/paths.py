"""Paths as anyone outside the server may see them: relative to the project or to a model root, never absolute.
Library error text (transformers, safetensors, the OS) often quotes absolute paths; `scrub` rewrites them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from benchmarks.core.settings import REPO_ROOT

# An absolute POSIX path or a home-relative one, up to whitespace, a quote or closing punctuation; not the
# "//host/..." of a URL, nor the "/" inside "owner/name" or "1/2".
_ABSOLUTE = re.compile(r"(?<![\w.~/:])(?:~|/(?!/))[^\s'\"`,;()\[\]{}<>]*[^\s'\"`,;()\[\]{}<>.:]")


def shown(path: str | Path, roots: Iterable[Path] = ()) -> str:
    """`path` relative to the project, else to the model root holding it, else only its last part."""
    p = Path(path)
    for base in (REPO_ROOT, *roots):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return rel.as_posix() if rel.parts else base.name
    return p.name or "."


def scrub(message: str, roots: Iterable[Path] = ()) -> str:
    """`message` with every absolute path replaced by its shown() form."""
    roots = tuple(roots)
    return _ABSOLUTE.sub(lambda m: shown(m.group(0), roots), message)
