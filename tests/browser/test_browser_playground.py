"""The real app in headless Chromium: type a sentence, see both models answer."""

import pytest

from tests.conftest import needs_pocket

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_pocket]


def test_playground_in_chromium(live_app, chromium, tmp_path):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(live_app, wait_until="networkidle")
    box = page.locator("textarea").first
    box.wait_for(timeout=60_000)
    box.fill("A warm, funny and beautifully acted film.")
    page.get_by_role("button", name="Compare").click()
    page.get_by_text("Student speed-up").wait_for(timeout=90_000)
    body = page.inner_text("body")
    assert "Teacher" in body and "Student" in body
    assert body.count("POSITIVE") >= 2
    assert "Traceback" not in body
    page.screenshot(path=str(tmp_path / "playground.png"), full_page=True)
