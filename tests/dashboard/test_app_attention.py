"""AppTest of the Attention page on the tiny pair: every tab renders without an exception (AppTest cannot run
the bertviz JavaScript: tests/browser/test_attention_browser.py checks the drawing in Chromium)."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import open_page, tiny_query

TABS = ["Head view", "Model view", "Heatmap", "Head summary", "Aligned layers"]


def _attention_page(tiny_pair_dirs, tab: str) -> AppTest:
    return open_page("attention", tiny_query(tiny_pair_dirs), {"attention_tab": tab})


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders(allow_tmp_models, tab):
    at = _attention_page(allow_tmp_models, tab)
    assert not at.exception and not at.error
    assert any("not an explanation" in i.value for i in at.info)
    if tab == "Aligned layers":
        assert any(m.label.startswith("Student heads closest") for m in at.metric)
        assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 4  # 1 student layer x 4 heads


def test_long_input_shows_the_token_cap_notice(allow_tmp_models):
    at = _attention_page(allow_tmp_models, "Heatmap")
    at.number_input[0].set_value(8)
    at.text_area[0].input(" ".join(["good"] * 30)).run()
    assert not at.exception
    assert any("first 8" in w.value for w in at.warning)


def test_empty_input_gets_a_message(allow_tmp_models):
    at = _attention_page(allow_tmp_models, "Head view")
    at.text_area[0].input("   ").run()
    assert not at.exception and any("type a sentence" in i.value for i in at.info)
