"""The Decide page in headless Chromium: download the review pack and check it loads nothing from anywhere —
no external src/href/url() in its text, and not one request when a browser opens it with the network cut."""

from pathlib import Path

import pytest

from tests.analysis.test_decision import external_urls

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_review_pack_download_is_offline(live_app, chromium, tmp_path):
    page = chromium.new_page(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
    page.goto(f"{live_app}/decide?pair=pocket&batch=8&seq=128&budget=60&max_drop=1", wait_until="networkidle")
    button = page.get_by_role("button", name="Review pack (one offline HTML file)")
    button.wait_for(timeout=120_000)
    assert "student · int8-dynamic" in page.inner_text("body")
    with page.expect_download(timeout=120_000) as download:
        button.click()
    path = tmp_path / "pack.html"
    download.value.save_as(path)
    pack = path.read_text(encoding="utf-8")
    assert "Recommendation" in pack and "student · int8-dynamic" in pack and "McNemar" in pack
    assert external_urls(pack) == []

    requests: list[str] = []
    viewer = chromium.new_page()
    viewer.route("**/*", lambda route: (requests.append(route.request.url), route.abort())
                 if not route.request.url.startswith("file:") else route.continue_())
    viewer.goto(Path(path).as_uri(), wait_until="load")
    assert viewer.locator("svg").count() >= 1 and viewer.locator("img").evaluate("img => img.naturalWidth") > 0
    assert requests == []
