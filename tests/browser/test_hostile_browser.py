"""Hostile shared links and uploads in a real browser (headless Chromium): on every page nothing may load from
another host and no foreign link or image may appear, in the page or any frame. Also: a lone surrogate typed
into a box does not freeze the tab, and SIGTERM stops the server within 10 s while it is scoring."""

from __future__ import annotations

import os
import signal
import time
from urllib.parse import urlencode, urlparse

import pytest

from benchmarks.loadtest.browser import LOCALHOST
from benchmarks.loadtest.server import free_port, start_server, wait_healthy
from tests.conftest import needs_pocket

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_pocket]
HOSTILE = {
    "pair": "custom",
    "teacher": "[EVIL login](https://evil.example/login) :red[**SECURITY ALERT**]",
    "student": "![EVIL](https://evil.example/px.png) $EVIL^2$ <img src=https://evil.example/i.png>",
    "T": "[EVIL](https://evil.example/t)",
    "sentence": "</script><script>alert('EVIL')</script> www.evil.example",
}
HOSTILE_UPLOAD = (
    "sentence\tlabel\n"
    "[EVIL](https://evil.example/a) a great movie\t1\n"
    "![EVIL](https://evil.example/b.png) an awful movie\t0\n"
    ":red[EVIL] =HYPERLINK(\"https://evil.example\") good\t1\n"
    "$EVIL$ <b>bad</b> https://evil.example\t0\n"
)


def _is_local(url: str) -> bool:
    return url.startswith(("about:", "data:", "blob:")) or urlparse(url).hostname in LOCALHOST


def _guard(page) -> tuple[list[str], list[str]]:
    """Record (and abort) every request that would leave localhost, and every page error or dialog."""
    foreign: list[str] = []
    problems: list[str] = []

    def route(r):
        if _is_local(r.request.url):
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return foreign, problems


def _foreign_links(page) -> list[str]:
    """href/src/srcset values in every frame that point off localhost (or run script)."""
    found = []
    for frame in page.frames:
        for url in frame.eval_on_selector_all(
            "[href], [src], [srcset], [action], [formaction]",
            "els => els.flatMap(e => ['href', 'src', 'srcset', 'action', 'formaction'].map(a => "
            "e.getAttribute(a)).filter(Boolean))",
        ):
            absolute = url if "://" in url or url.startswith(("javascript:", "data:", "mailto:")) else ""
            if absolute.startswith(("javascript:", "mailto:")) or (absolute and not _is_local(absolute)):
                found.append(url)
    return found


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=90_000)


def test_a_hostile_shared_link_stays_on_localhost_on_every_page(live_app, chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    foreign, problems = _guard(page)
    query = urlencode(HOSTILE)
    for path in ("", "benchmarks", "attention", "explain", "distillation", "decide"):
        page.goto(f"{live_app}/{path}?{query}", wait_until="networkidle")
        page.get_by_text("Teacher vs student").first.wait_for(timeout=60_000)
        if path == "":
            page.locator("textarea").first.fill("a good movie")
            page.get_by_role("button", name="Compare").click()
        page.get_by_text("EVIL", exact=False).first.wait_for(timeout=60_000)  # the payload reached the page, as text
        _settle(page)
        assert not _foreign_links(page), path
    assert not foreign and not problems, (foreign, problems)
    page.close()


def test_a_hostile_upload_and_link_on_the_pocket_pair_stay_text(live_app, chromium, tmp_path):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    foreign, problems = _guard(page)
    query = urlencode({"pair": "pocket", "T": HOSTILE["T"], "sentence": HOSTILE["sentence"]})
    page.goto(f"{live_app}/distillation?{query}", wait_until="networkidle")
    page.locator("input[type=file]").wait_for(state="attached", timeout=120_000)
    page.locator("input[type=file]").set_input_files(
        files=[
            {
                "name": "[EVIL](https:evil.example).tsv",
                "mimeType": "text/tab-separated-values",
                "buffer": HOSTILE_UPLOAD.encode(),
            }
        ]
    )
    page.get_by_role("button", name="Score the 4 sentences with both models").click(timeout=90_000)
    page.get_by_text("Who is right").wait_for(timeout=120_000)
    _settle(page)
    body = page.inner_text("body")
    assert "[EVIL](https:evil.example).tsv" in body.replace("\u2060", "")  # the file name, shown as typed
    assert not _foreign_links(page)
    assert not foreign and not problems, (foreign, problems)
    page.screenshot(path=str(tmp_path / "hostile-upload.png"), full_page=True)
    page.close()


def test_a_lone_surrogate_does_not_freeze_the_tab(live_app, chromium):
    """Without the page's guard Streamlit drops the whole message ('String field had bad UTF-8') and the
    Compare click is never answered."""
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live_app}/?pair=pocket", wait_until="networkidle")
    box = page.locator("textarea").first
    box.wait_for(timeout=60_000)
    box.fill("a good movie ")
    page.evaluate("() => document.execCommand('insertText', false, 'half an emoji \\ud83d')")
    page.get_by_role("button", name="Compare").click()
    page.get_by_text("Student speed-up").wait_for(timeout=90_000)
    assert "\ufffd" in box.input_value()  # the half became U+FFFD, as Python's decoders would make it
    page.close()


def test_sigterm_stops_the_server_within_10_s_while_it_scores(chromium, tmp_path):
    port = free_port()
    env = {**os.environ, "KD_STATE_DIR": str(tmp_path / "state")}
    server = start_server(port, tmp_path / "server.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 90)
        page = chromium.new_page()
        page.goto(f"{url}/distillation?pair=pocket", wait_until="networkidle")
        # a fresh server loads the pair first
        page.locator("input[type=file]").wait_for(state="attached", timeout=120_000)
        rows = "".join(f"a fine and long enough movie review number {i}\t{i % 2}\n" for i in range(20_000))
        page.locator("input[type=file]").set_input_files(
            files=[{"name": "many.tsv", "mimeType": "text/plain", "buffer": ("sentence\tlabel\n" + rows).encode()}]
        )
        page.get_by_role("button", name="Score the 20,000 sentences with both models").click(timeout=120_000)
        page.get_by_text("Teacher:", exact=False).first.wait_for(timeout=60_000)  # the scoring job is running
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        stopped_in = time.monotonic() - started
        assert stopped_in < 10, f"SIGTERM took {stopped_in:.1f} s"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
