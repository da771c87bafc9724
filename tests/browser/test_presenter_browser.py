"""Presenter mode in headless Chromium at a projector's 1280 x 720: no sidebar, page links on top, everything larger,
the pair fixed, and the flag kept across page changes."""

import pytest

from dashboard.sections.presenter import ZOOM
from tests.conftest import needs_pocket

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_pocket]

SIDEBAR = ("() => { const s = document.querySelector('[data-testid=stSidebar]'); "
           "return s ? getComputedStyle(s).display : 'absent'; }")
FITS = """() => [...document.querySelectorAll('.stPlotlyChart')].every(c => {
    const svg = c.querySelector('.main-svg');
    return svg && svg.getBoundingClientRect().width <= c.getBoundingClientRect().width + 1;
})"""
ZOOMED = "() => getComputedStyle(document.querySelector('[data-testid=stMainBlockContainer]')).zoom"


def test_presenter_mode_in_chromium(live_app, chromium, tmp_path):
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{live_app}/?present=1&lesson=1", wait_until="networkidle")
    page.get_by_text("Predict first").wait_for(timeout=90_000)
    # The presenter style arrives as its own element, possibly after the text: wait until it applies, then check.
    page.wait_for_function(f"() => Math.abs(parseFloat(({ZOOMED})()) - {ZOOM}) < 1e-3", timeout=60_000)
    assert page.evaluate(SIDEBAR) in ("absent", "none")
    assert float(page.evaluate(ZOOMED)) == pytest.approx(ZOOM)
    assert page.get_by_role("combobox").count() == 0  # no pair or device selector anywhere
    page.get_by_role("button", name="Reveal the answers").click()
    page.get_by_role("button", name="A is the student").wait_for(timeout=120_000)
    for name in ("Model A", "Model B"):  # the answers come after the guess buttons on a slow machine: wait, then count
        page.get_by_text(name, exact=True).wait_for(timeout=60_000)
        assert page.get_by_text(name, exact=True).count() == 1
    assert "Traceback" not in page.inner_text("body")
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=60_000)  # both answers' bars
    page.wait_for_function(FITS, timeout=20_000)  # each chart fits its column once drawn: nothing spills or is clipped
    page.screenshot(path=str(tmp_path / "presenter-lesson.png"))
    page.get_by_text("Distillation", exact=True).first.click()
    page.get_by_text("Lesson mode: predict, then reveal").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert "present=1" in page.url and page.evaluate(SIDEBAR) in ("absent", "none")
    page.screenshot(path=str(tmp_path / "presenter-distillation.png"))
