"""AppTest of the Explain page on the tiny pair: every tab renders, numbers come with their labels, hostile
tokens stay text, and head importance shows an estimate before a run and the grids after one."""

import dataclasses
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.analysis import heads
from benchmarks.analysis.attribution import TokenAttribution
from benchmarks.core.data import load_sst2
from benchmarks.core.models import load_pair
from benchmarks.core.pairs import custom_pair
from dashboard import resources
from dashboard.charts.explain import attribution_bars, shared_range
from tests.conftest import REPO, plain

APP = str(REPO / "dashboard" / "app.py")


def _explain_page(tiny_pair_dirs, tab: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["pair"] = "custom"
    at.query_params["teacher"] = str(tiny_pair_dirs[0])
    at.query_params["student"] = str(tiny_pair_dirs[1])
    at.run()
    at.switch_page("views/explain.py")
    at.session_state["explain_tab"] = tab
    return at.run()


def test_layer_similarity_tab(allow_tmp_models):
    at = _explain_page(allow_tmp_models, "Layer similarity")
    assert not at.exception and not at.error
    captions = " ".join(c.value for c in at.caption)
    assert (
        "Highest similarity: student embeddings → teacher" in captions
        and "Linear CKA" in captions
        and "threads" in captions
    )


@pytest.mark.slow
def test_token_attributions_tab_escapes_tokens_and_shows_the_delta(allow_tmp_models):
    at = _explain_page(allow_tmp_models, "Token attributions")
    at.text_area[0].input("<b>good</b> movie </script>").run()
    assert not at.exception and not at.error
    assert any("Convergence delta" in c.value for c in at.caption)
    assert {m.label for m in at.metric} >= {"Rank agreement (Spearman, |attribution|)", "Top-3 words in common"}
    assert len(at.get("plotly_chart")) == 2
    at.toggle(key="ig_sample").set_value(True).run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "Mean Spearman between the two models" in text and "deleting as many random words" in text


def test_attribution_bars_show_tokens_as_escaped_text():
    """Plotly reads a subset of HTML in tick labels: a token must never become markup."""
    tokens = ("[CLS]", "<b>", "</script>", "[SEP]")
    attr = TokenAttribution(
        "m",
        (2, 5, 6, 3),
        tokens,
        (True, False, False, True),
        np.array([0, 0.3, -0.1, 0]),
        1,
        "POSITIVE",
        0.9,
        0.2,
        0.0,
        50,
    )
    fig = attribution_bars(attr, "#1f77b4")
    assert list(fig.layout.yaxis.ticktext) == ["[CLS]", "&lt;b&gt;", "&lt;/script&gt;", "[SEP]"]
    assert "<b>" not in fig.to_json() and "</script>" not in fig.to_json()


def test_rollout_tab(allow_tmp_models):
    at = _explain_page(allow_tmp_models, "Attention rollout")
    assert not at.exception and not at.error
    assert any("Abnar & Zuidema" in c.value for c in at.caption)
    at.radio(key="rollout_mode").set_value("Raw attention (mean over heads)").run()
    assert not at.exception


@pytest.fixture
def state(monkeypatch, tmp_path):
    """A fresh state folder; settings are cached per process, so cleared before and after."""
    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path))
    resources.settings.clear()
    yield tmp_path
    resources.settings.clear()


def test_head_importance_estimates_first_then_shows_cached_grids(allow_tmp_models, state):
    at = _explain_page(allow_tmp_models, "Head importance")
    assert not at.exception and not at.error
    assert any("Compute head importance" in b.label for b in at.button)
    assert any("min** on this machine" in m.value for m in at.markdown)
    pair = load_pair(custom_pair(*map(str, allow_tmp_models)))
    fake = heads.PairHeadImportance(
        heads.HeadImportance("t", 0.8, np.full((2, 4), 0.75), 0.7, np.full((2, 4), 0.6), 1.0),
        heads.HeadImportance("s", 0.7, np.array([[0.7, 0.6, 0.72, 0.7]]), 0.7, np.array([[0.7, 0.6, 0.72, 0.7]]), 1.0),
        200,
        "SST-2 dev, first 200 sentences",
        "test box",
        "2026-01-01 00:00 UTC",
    )
    dev = load_sst2("validation").head(200)
    heads.save(heads.cache_file(state, pair.teacher.fingerprint, pair.student.fingerprint, dev), fake)
    at.run()
    assert not at.exception and not at.error
    tables = [d.value for d in at.dataframe]
    assert (
        len(tables) == 2
        and list(tables[1]["head"][:1]) == ["L0.H1"]
        and tables[1]["accuracy drop (pp)"][0] == pytest.approx(10.0)
    )
    assert any("One sentence = 0.50 pp" in c.value for c in at.caption)


def test_an_over_long_paste_is_refused_with_its_length_and_the_limit(allow_tmp_models):
    at = _explain_page(allow_tmp_models, "Token attributions")
    at.text_area[0].input("good " * 5_000).run()  # 25,000 characters: the browser no longer drops it silently
    assert not at.exception
    assert [plain(e.value) for e in at.error] == ["The text has 25,000 characters; the limit is 20,000 (KD_MAX_CHARS)."]
    assert not at.get("plotly_chart")  # nothing computed on it


@pytest.mark.slow
def test_attributions_say_when_the_text_was_truncated_and_share_one_x_scale(allow_tmp_models):
    at = _explain_page(allow_tmp_models, "Token attributions")
    at.text_area[0].input("good movie " * 30).run()  # 62 tokens with [CLS]/[SEP]; the tiny pair takes 32
    assert not at.exception and not at.error
    warnings = [w.value for w in at.warning]
    assert ("The text has 62 tokens for the teacher; its attributions cover the first 32 (truncated, [SEP] kept at "
            "the end).") in warnings
    teacher, student = (json.loads(c.proto.spec)["layout"]["xaxis"]["range"] for c in at.get("plotly_chart"))
    assert teacher == student and teacher[1] > 0


def test_shared_range_covers_both_models_and_keeps_zero():
    def attr(scores):
        return TokenAttribution("m", (1, 2), ("a", "b"), (False, False), np.array(scores), 1, "POSITIVE", 0.9, 0.2,
                                0.0, 50)

    low, high = shared_range(attr([0.1, 0.5]), attr([0.02, 0.05]))
    assert high == pytest.approx(0.54) and -0.03 < low < 0  # all positive: zero stays at the left edge
    low, high = shared_range(attr([0.1, -0.9]), attr([0.3, 0.05]))
    assert (low, high) == pytest.approx((-0.972, 0.972))
    assert not attr([0.1, 0.2]).truncated and dataclasses.replace(attr([0.1, 0.2]), full_length=5).truncated


def test_rollout_says_when_the_text_was_cut_to_the_token_cap(allow_tmp_models, monkeypatch):
    monkeypatch.setenv("KD_ATTENTION_MAX_TOKENS", "8")
    resources.settings.clear()
    try:
        at = _explain_page(allow_tmp_models, "Attention rollout")
        at.text_area[0].input("good movie " * 10).run()
        assert not at.exception
        assert any("rollout shows the first 8 (token cap 8" in w.value for w in at.warning)
    finally:
        monkeypatch.undo()
        resources.settings.clear()


@pytest.mark.parametrize("own", [True, False])
def test_a_failed_head_importance_run_shows_only_on_its_own_pair(allow_tmp_models, state, own):
    from benchmarks.core.pairs import HUB_PAIR, custom_pair
    from benchmarks.jobs.kinds import HeadsRequest
    from benchmarks.store.database import Database
    from benchmarks.store.jobs import JobBoard

    pair = custom_pair(*map(str, allow_tmp_models)) if own else HUB_PAIR
    board = JobBoard(Database(resources.settings().results_db))
    job, _ = board.submit("heads", HeadsRequest(pair, 200, "cpu").to_json(), "", "local")
    board.end(job.id, "failed", "out of memory")
    at = _explain_page(allow_tmp_models, "Head importance")
    assert not at.exception
    shown = [w.value for w in at.warning if "did not finish" in w.value]
    assert shown == (["The last head-importance run did not finish: out of memory"] if own else [])
