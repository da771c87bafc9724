"""The offline bertviz views in headless Chromium with every non-localhost request aborted: the head view
must be drawn (a non-empty SVG) for teacher and student, and a hostile token must stay text."""

import time
from urllib.parse import urlparse

import numpy as np
import pytest

from benchmarks.analysis.attention import AttentionMaps, extract_pair
from benchmarks.analysis.bertviz_offline import head_view_html, model_view_html
from benchmarks.core.models import LoadedPair, load_model
from benchmarks.core.pairs import custom_pair
from benchmarks.core.settings import Settings
from tests.conftest import needs_pocket

pytestmark = pytest.mark.browser
XSS = "</script><script>alert(1)</script>"


def _offline(page) -> list[str]:
    """Abort every request that leaves localhost; return the list the aborted URLs are appended to."""
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("about:", "data:", "blob:")) or urlparse(url).hostname in ("localhost", "127.0.0.1"):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    page.route("**/*", route)
    return blocked


def _watch(page) -> list[str]:
    """Collect page errors and any dialog (an alert would mean injected script ran)."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return problems


def _drawn_lines(frame) -> int:
    return frame.locator("#vis svg line").count()


@pytest.fixture(scope="module")
def tiny_maps(tiny_pair_dirs):
    spec = custom_pair(str(tiny_pair_dirs[0]), str(tiny_pair_dirs[1]))
    settings = Settings(model_roots=(tiny_pair_dirs[0].parent.resolve(),))
    pair = LoadedPair(spec, *(load_model(m, "cpu", "eager", settings) for m in (spec.teacher, spec.student)))
    return extract_pair(pair, "the good movie !", 64)


@pytest.mark.parametrize("kind", ["head", "model"])
def test_generated_views_draw_offline_for_teacher_and_student(chromium, tiny_maps, kind):
    build = head_view_html if kind == "head" else model_view_html
    for role in ("teacher", "student"):
        maps = getattr(tiny_maps, role)
        page = chromium.new_page()
        blocked, problems = _offline(page), _watch(page)
        page.set_content(build(maps, f"{role} view").html)
        page.wait_for_function("document.querySelectorAll('#vis svg line').length > 0", timeout=15_000)
        # one line per (head, query, key): the head view draws one layer, the model view all of them
        assert _drawn_lines(page) >= maps.n_heads * len(maps.tokens) ** 2 * (1 if kind == "head" else maps.n_layers)
        if kind == "head":
            assert "good" in page.locator("#vis svg").text_content()
        assert not blocked and not problems, (blocked, problems)
        page.close()


def test_hostile_token_renders_as_text(chromium):
    tokens = ("[CLS]", XSS, "[SEP]")
    maps = AttentionMaps("m", tokens, (True, False, True), np.full((1, 2, 3, 3), 1 / 3, np.float32), 3)
    page = chromium.new_page()
    blocked, problems = _offline(page), _watch(page)
    page.set_content(head_view_html(maps, XSS).html)
    page.wait_for_function("document.querySelectorAll('#vis svg line').length > 0", timeout=15_000)
    page.wait_for_timeout(300)  # give an injected script the chance to run
    assert XSS in page.locator("#vis svg").text_content()  # shown, as text, on both sides
    assert page.locator("script").count() == 4  # d3, jQuery, shim, bertviz: nothing injected
    assert not blocked and not problems, (blocked, problems)
    page.close()


@pytest.mark.slow
@needs_pocket
def test_attention_page_draws_both_head_views_offline(live_app, chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    blocked, problems = _offline(page), _watch(page)
    start = time.monotonic()
    page.goto(f"{live_app}/attention", wait_until="domcontentloaded")
    drawn: dict[str, int] = {}
    while len(drawn) < 2 and time.monotonic() - start < 180:
        for frame in page.frames[1:]:
            role = frame.title().split(" ")[0]
            if role in ("Teacher", "Student") and _drawn_lines(frame) > 0:
                drawn[role] = _drawn_lines(frame)
        page.wait_for_timeout(250)
    print(f"\nAttention page, pocket pair: both head views drawn {time.monotonic() - start:.1f} s after navigation "
          f"(cold server)")
    assert set(drawn) == {"Teacher", "Student"}, drawn
    body = page.inner_text("body")
    assert "Attention is not an explanation" in body and "Traceback" not in body
    assert not problems and not [u for u in blocked if "cdnjs" in u], (problems, blocked)
