"""bertviz head view and model view as self-contained HTML that renders with no network.

bertviz's `html_action="return"` output loads require.js, d3 and jQuery from a CDN (blank offline) and
writes the tokens into a <script> unescaped. Here d3 v5.7.0 (the version bertviz asks for, shipped in the
mpld3 wheel) and jQuery 3.7.1 (XStatic-jQuery wheel), both declared dependencies, are inlined, the two
require.js calls bertviz's views make are shimmed, the parameters are escaped so no token can close the <script>, and a
Content-Security-Policy forbids every fetch.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from bertviz import head_view, model_view

from benchmarks.analysis.attention import AttentionMaps

_REQUIRE_TAG = '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"></script>'
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)
_PARAMS_LINE = re.compile(r"^(\s*const params = )(.*)$", re.MULTILINE)
_PARAMS_COMMENT = ("; // HACK: ", " is a template marker that is replaced by actual params.")
# bertviz's views only call requirejs(['jquery', 'd3'], callback); both libraries are already inlined.
_SHIM = """window.requirejs = function (names, callback) {
  var modules = {jquery: window.jQuery, d3: window.d3};
  callback.apply(null, names.map(function (name) { return modules[name]; }));
};"""
_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
# bertviz's layout constants (head_view.js, model_view.js), used to size the iframe.
_HEAD_BOX_HEIGHT, _HEAD_TOP = 22.5, 30
MODEL_VIEW_WIDTH = 970  # fixed by bertviz: the model view never shrinks to fit
_MODEL_AXIS, _MODEL_PAD, _DETAIL_BOX, _DETAIL_EXTRA = 38, 5, 18, 55


class OfflineAssetError(RuntimeError):
    """A JavaScript library needed for the offline views is missing or unusable."""


@dataclass(frozen=True)
class View:
    html: str  # a complete HTML document
    height: int  # pixels the iframe needs to show it without scrolling


# (importable package, file inside it, distribution to reinstall): both are declared dependencies.
_LIBRARIES = (("mpld3", "js/d3.v5.min.js", "mpld3"), ("xstatic.pkg.jquery", "data/jquery.min.js", "XStatic-jQuery"))


def _package_file(package: str, relative: str, distribution: str) -> Path:
    # find_spec locates the files without importing the package: only its .js files are needed.
    spec = importlib.util.find_spec(package)
    path = (
        Path(next(iter(spec.submodule_search_locations))) / relative
        if spec and spec.submodule_search_locations
        else None
    )
    if path is None or not path.is_file():
        raise OfflineAssetError(
            f"The offline attention views need {relative} from the Python package {distribution}, which is missing: "
            f"reinstall the dashboard (pip install .)."
        )
    return path


@functools.cache
def _inline_libraries() -> str:
    scripts = []
    for package, relative, distribution in _LIBRARIES:
        source = _package_file(package, relative, distribution).read_text(encoding="utf-8")
        if re.search(r"</script|<!--", source, re.IGNORECASE):
            raise OfflineAssetError(f"{distribution}'s {relative} cannot be inlined: it contains '</script' or '<!--'.")
        scripts.append(source)
    scripts.append(_SHIM)
    return "".join(f"<script>\n{s}\n</script>\n" for s in scripts)


def escape_json_for_script(json_text: str) -> str:
    """JSON text that cannot end a <script> element or open an HTML comment. <, > and & can only occur
    inside JSON strings, where the \\u escapes decode back to the same characters."""
    if not json_text.isascii():
        raise ValueError("expected ASCII JSON (json.dumps with ensure_ascii=True), which also escapes U+2028/U+2029")
    return json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _make_offline(bertviz_html: str, title: str) -> str:
    if _REQUIRE_TAG not in bertviz_html or not _REQUIRE_CONFIG.search(bertviz_html):
        raise OfflineAssetError("bertviz's HTML has changed: its require.js loader was not found (bertviz 1.4.1 "
                                "expected).")
    body = _REQUIRE_CONFIG.sub("", bertviz_html.replace(_REQUIRE_TAG, ""), count=1)
    # bertviz pastes json.dumps(params) into the template twice, unescaped: once as the value and once
    # inside the comment that names the marker. Keep one copy, escaped, and drop the comment.
    match = _PARAMS_LINE.search(body)
    middle, suffix = _PARAMS_COMMENT
    rest = match.group(2) if match else ""
    params = rest[: (len(rest) - len(middle) - len(suffix)) // 2]
    if not match or rest != params + middle + params + suffix:
        raise OfflineAssetError("bertviz's HTML has changed: its parameter line was not recognised (bertviz 1.4.1 "
                                "expected).")
    line = f"{match.group(1)}{escape_json_for_script(params)};"
    body = body[: match.start()] + line + body[match.end() :]
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\"><title>{html.escape(title)}</title></head>\n"
        "<body style=\"margin:0;background:#fff;color:#000;font-family:sans-serif\">\n"
        f"<div style=\"font-weight:bold;font-size:14px;margin:4px 0\">{html.escape(title)}</div>\n"
        f"{_inline_libraries()}{body}\n</body></html>"
    )


def _rounded(maps: AttentionMaps, decimals: int) -> list[torch.Tensor]:
    # float64 after rounding, so 0.12 is written as "0.12", not float32's 0.11999999731779099.
    weights = np.round(maps.weights.astype(np.float64), decimals)
    return [torch.from_numpy(layer[None]) for layer in weights]  # bertviz wants (1, heads, n, n) per layer


def head_view_html(maps: AttentionMaps, title: str, layer: int = 0, decimals: int = 2) -> View:
    """bertviz's head view (one layer at a time, all heads overlaid) as an offline HTML document."""
    raw = head_view(_rounded(maps, decimals), list(maps.tokens), layer=layer, html_action="return").data
    height = int(len(maps.tokens) * _HEAD_BOX_HEIGHT + _HEAD_TOP + 70)
    return View(_make_offline(raw, title), height)


def model_view_html(maps: AttentionMaps, title: str, layers: Sequence[int] | None = None, decimals: int = 2) -> View:
    """bertviz's model view (a thumbnail per layer and head; click one for detail) as an offline HTML document."""
    include = list(range(maps.n_layers)) if layers is None else sorted(set(layers))
    raw = model_view(
        _rounded(maps, decimals), list(maps.tokens), include_layers=include, display_mode="light", html_action="return"
    ).data
    n = len(maps.tokens)
    thumbnail = n * 7 * 12 / maps.n_heads + 2 * _MODEL_PAD
    height = max(len(include) * thumbnail + _MODEL_AXIS, n * _DETAIL_BOX + _DETAIL_EXTRA)
    return View(_make_offline(raw, title), int(height + 40))

