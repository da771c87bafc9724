"""benchmarks.analysis.bertviz_offline: self-contained bertviz HTML, no CDN, user tokens escaped."""

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from benchmarks.analysis import bertviz_offline
from benchmarks.analysis.attention import AttentionMaps
from benchmarks.analysis.bertviz_offline import (
    OfflineAssetError,
    escape_json_for_script,
    head_view_html,
    model_view_html,
)
from tests.conftest import REPO

XSS = "</script><script>alert(1)</script>"
TOKENS = ("[CLS]", XSS, "<!--", "a&amp;b", "\u2028", "[SEP]")


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>, as a browser would split them."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _maps(tokens=TOKENS, layers=2, heads=3) -> AttentionMaps:
    n = len(tokens)
    w = np.random.default_rng(0).random((layers, heads, n, n))
    w /= w.sum(-1, keepdims=True)
    return AttentionMaps("m", tokens, tuple(t in ("[CLS]", "[SEP]") for t in tokens), w.astype(np.float32), n)


def _params(document: str) -> dict:
    line = re.search(r"const params = (.*);$", document, re.MULTILINE)
    return json.loads(line.group(1))


@pytest.fixture(scope="module", params=["head", "model"])
def view(request):
    maps = _maps()
    return (
        head_view_html(maps, "Teacher <i>x</i>")
        if request.param == "head"
        else model_view_html(maps, "Teacher <i>x</i>")
    )


def test_no_script_is_fetched(view):
    elements = _Elements(view.html)
    assert not [attrs for tag, attrs in elements.tags if "src" in attrs or "href" in attrs]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", view.html)
    assert "cdnjs" not in view.html and "require.config" not in view.html
    assert "v5.7.0" in view.html and "jQuery v3" in view.html  # inlined d3 and jQuery
    assert "default-src 'none'" in view.html  # the CSP forbids fetches even if something tried


def test_tokens_cannot_break_out_of_the_script(view):
    elements = _Elements(view.html)
    # d3, jQuery, the require shim, bertviz: the user's "</script><script>" opened no fifth script.
    assert [tag for tag, _ in elements.tags].count("script") == 4
    assert "alert(1)</script>" not in view.html and "<!--" not in view.html
    assert "<i>x</i>" not in view.html and "&lt;i&gt;x&lt;/i&gt;" in view.html  # title escaped too
    params = json.loads(re.search(r"const params = (.*);$", elements.scripts[-1], re.MULTILINE).group(1))
    assert tuple(params["attention"][0]["left_text"]) == TOKENS  # and JavaScript gets the exact text back


def test_weights_are_rounded_to_keep_the_payload_small(view):
    attn = np.array(_params(view.html)["attention"][0]["attn"])
    assert attn.shape == (2, 3, len(TOKENS), len(TOKENS))
    np.testing.assert_allclose(attn * 100, np.round(attn * 100), atol=1e-9)
    np.testing.assert_allclose(attn.sum(-1), 1.0, atol=0.05)
    assert view.height > len(TOKENS) * 7


def test_model_view_draws_only_the_chosen_layers():
    view = model_view_html(_maps(layers=4), "t", layers=[3, 1])
    params = _params(view.html)
    assert params["include_layers"] == [1, 3] and len(params["attention"][0]["attn"]) == 2


def test_payload_for_a_bert_base_sized_view_stays_modest():
    n = 64
    head = head_view_html(_maps(tuple(f"w{i}" for i in range(n)), layers=12, heads=12), "t")
    assert len(head.html) < 4_000_000  # 12 x 12 x 64² weights at 2 decimals plus ~330 kB of d3 + jQuery


def test_escaped_json_round_trips():
    value = {"tokens": [XSS, "<!--", "&", "\u2028", "é"], "x": [0.5, 1]}
    text = escape_json_for_script(json.dumps(value))
    assert not set("<>&") & set(text) and text.isascii()
    assert json.loads(text) == value
    with pytest.raises(ValueError):
        escape_json_for_script(json.dumps(value, ensure_ascii=False))


def test_a_missing_asset_package_is_a_clear_error():
    for package, relative in (("no_such_package_for_kd_tests", "x.js"), ("mpld3", "js/no-such-file.js")):
        with pytest.raises(OfflineAssetError, match="pip install") as err:
            bertviz_offline._package_file(package, relative, "some-dist")
        assert "/" + relative not in str(err.value) and "site-packages" not in str(err.value)  # no absolute path


def test_the_javascript_comes_from_declared_dependencies():
    """A plain `pip install .` must bring both libraries: no side install step."""
    import tomllib

    declared = {
        d.split("==")[0].lower()
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    for package, relative, distribution in bertviz_offline._LIBRARIES:
        assert distribution.lower() in declared
        assert bertviz_offline._package_file(package, relative, distribution).stat().st_size > 50_000
