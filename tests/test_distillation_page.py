"""The Distillation page, headless (AppTest) on the tiny pair: live loss figures, the link round trip,
uploads good and bad, the cached dataset scores, and the messages for missing data and random weights."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.views.distillation import DEFAULT_SENTENCE, T_DEFAULT, read_sentence, read_temperature
from tests.conftest import REPO, needs_pocket, plain

APP = str(REPO / "dashboard" / "app.py")
PAGE = "views/distillation.py"
GOOD_FILE = (
    b"sentence\tlabel\na good movie\t1\nbad\t0\nthe awful movie !\t0\ngreat great great\t1\na\t1\nmovie w1 w2\t0\n"
)


@pytest.fixture
def state(monkeypatch, tmp_path):
    """A fresh state folder (so the scores cache starts empty) and fresh cached settings."""
    from dashboard import resources

    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path / "state"))
    resources.settings.clear()
    yield tmp_path / "state"
    monkeypatch.undo()
    resources.settings.clear()


def _page(tiny_pair_dirs, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(pair="custom", teacher=str(tiny_pair_dirs[0]), student=str(tiny_pair_dirs[1]), **params)
    at.run()
    return at.switch_page(PAGE).run()


def _table(at: AppTest, which: str):
    """AppTest's dataframes carry no key: they come in page order (2 x 2, disagreements, calibration bins)."""
    return at.dataframe[["two_by_two", "disagreements", "bins"].index(which)].value


def _metric(at: AppTest, prefix: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(prefix))


@pytest.mark.parametrize(
    "raw, value, warns",
    [(None, T_DEFAULT, False), ("5", 5.0, False), ("7.5", 7.5, False), ("50", 20.0, True), ("0.2", 1.0, True),
     ("3.3", 3.5, True), ("abc", T_DEFAULT, True), ("nan", T_DEFAULT, True), ("-inf", T_DEFAULT, True)],
)
def test_temperature_from_the_link_is_validated(raw, value, warns):
    got, warning = read_temperature(raw)
    assert got == value and (warning is not None) == warns


def test_sentence_from_the_link_is_cleaned_or_replaced():
    assert read_sentence(None, 100) == (DEFAULT_SENTENCE, None)
    assert read_sentence("a good\x00 movie", 100) == ("a good movie", None)
    text, warning = read_sentence("\x00\x01", 100)
    assert text == DEFAULT_SENTENCE and "not used" in warning
    assert read_sentence("x" * 101, 100)[1] is not None


def test_soft_targets_update_live_and_the_link_round_trips(allow_tmp_models, state):
    at = _page(allow_tmp_models, T="50", sentence="a good movie")
    assert not at.exception
    assert any("T = 50" in plain(w.value) and "using T = 20" in plain(w.value) for w in at.warning)
    assert at.slider(key="kd_T").value == 20.0 and at.query_params["T"] == "20"
    assert at.text_input(key="kd_sentence").value == "a good movie"
    assert len(at.latex) == 1 and any("T²" in m.value for m in at.markdown)

    loss_at_20 = _metric(at, "Distillation loss")
    at.slider(key="kd_T").set_value(1.5).run()
    at.text_input(key="kd_sentence").input("the awful movie !").run()
    assert _metric(at, "Distillation loss") != loss_at_20
    assert at.query_params["T"] == "1.5" and at.query_params["sentence"] == "the awful movie !"

    # Hard-label loss: the gold label defaults to the teacher's argmax; picking the other one raises it.
    teacher_gold = float(_metric(at, "Hard-label loss"))
    default = next(m.label for m in at.metric if m.label.startswith("Hard-label loss"))
    other = "NEGATIVE" if "POSITIVE" in default else "POSITIVE"
    at.radio(key="kd_gold").set_value(other).run()
    assert other in next(m.label for m in at.metric if m.label.startswith("Hard-label loss"))
    assert float(_metric(at, "Hard-label loss")) != teacher_gold

    shared = _page(allow_tmp_models, T="1.5", sentence="the awful movie !")  # a colleague opens the link
    assert not shared.warning
    assert shared.slider(key="kd_T").value == 1.5 and shared.text_input(key="kd_sentence").value == "the awful movie !"

    charts = [json.loads(c.proto.config) for c in at.get("plotly_chart")]
    assert charts and all(c["displayModeBar"] and c["toImageButtonOptions"]["format"] == "png" for c in charts)


def test_empty_sentence_gets_one_sentence_not_a_traceback(allow_tmp_models, state):
    at = _page(allow_tmp_models)
    at.text_input(key="kd_sentence").input("   ").run()
    assert not at.exception and any("empty" in e.value for e in at.error)


def test_uploaded_file_is_scored_once_then_served_from_the_cache(allow_tmp_models, state):
    at = _page(allow_tmp_models)
    at.file_uploader(key="kd_upload").upload("mine.tsv", GOOD_FILE, "text/tab-separated-values").run()
    assert any("uploaded file mine.tsv, 6 sentences" in plain(c.value) for c in at.caption)
    assert at.button(key="kd_score").label == "Score the 6 sentences with both models"
    at.button(key="kd_score").click().run()
    assert not at.exception
    assert {"Agreement", "Teacher accuracy", "Student accuracy", "Teacher ECE", "Student ECE"} <= {
        m.label for m in at.metric
    }
    two_by_two = _table(at, "two_by_two")
    assert int(two_by_two.to_numpy().sum()) == 6
    assert {b.proto.label for b in at.download_button} >= {
        "2 × 2 table (CSV)",
        "Calibration bins (CSV)",
        "Summary for a model-selection review (HTML)",
    }
    assert len(list((state / "scores").glob("*.json"))) == 1

    again = _page(allow_tmp_models)  # a new session: the scores come from disk, no button, no rescoring
    again.file_uploader(key="kd_upload").upload("renamed.csv", GOOD_FILE.replace(b"\t", b","), "text/csv").run()
    assert not again.exception and not [b for b in again.button if b.key == "kd_score"]
    assert _metric(again, "Agreement") == _metric(at, "Agreement")


def test_disagreements_are_searchable_and_one_loads_into_the_soft_target_view(allow_tmp_models, state):
    at = _page(allow_tmp_models)
    at.file_uploader(key="kd_upload").upload("mine.tsv", GOOD_FILE, "text/tab-separated-values").run()
    at.button(key="kd_score").click().run()
    table = _table(at, "disagreements")
    assert len(table) > 0, "the tiny pair disagrees on these sentences"
    assert list(table.columns[:4]) == ["sentence", "wrong", "teacher", "teacher conf."]
    wrong_conf = [
        row["teacher conf."] if row["wrong"] == "teacher" else row["student conf."] for _, row in table.iterrows()
    ]
    assert wrong_conf == sorted(wrong_conf, reverse=True)
    first = table["sentence"].iloc[0]
    at.text_input(key="kd_search").input(first.split()[-1]).run()
    assert first in list(_table(at, "disagreements")["sentence"])
    at.text_input(key="kd_search").input("no such words here").run()
    assert len(_table(at, "disagreements")) == 0
    pick = at.selectbox(key="kd_pick")
    pick.select(pick.options[0]).run()
    assert at.text_input(key="kd_sentence").value == first


@pytest.mark.parametrize(
    "name, content, words",
    [("latin1.tsv", "sentence\tlabel\ncaf\xe9\t1\n".encode("latin-1"), "not UTF-8"),
     ("nolabel.csv", b"text,score\nfine,1\n", "needs a header"),
     ("badlabel.tsv", b"sentence\tlabel\nfine\tpositive\n", "label must be 0 or 1"),
     ("empty.csv", b"sentence,label\n", "no rows")],
)
def test_bad_upload_gets_one_clear_sentence(allow_tmp_models, state, name, content, words):
    at = _page(allow_tmp_models)
    at.file_uploader(key="kd_upload").upload(name, content, "text/plain").run()
    assert not at.exception
    assert [e.value for e in at.error if words in plain(e.value)] and len(at.error) == 1
    assert not [b for b in at.button if b.key == "kd_score"]


def test_upload_over_the_limit_is_refused(allow_tmp_models, state, monkeypatch):
    monkeypatch.setenv("KD_MAX_UPLOAD_MB", "1")
    at = _page(allow_tmp_models)
    at.file_uploader(key="kd_upload").upload(
        "big.tsv", b"sentence\tlabel\n" + b"good movie\t1\n" * 90_000, "text/plain"
    ).run()
    assert not at.exception and any("the limit is 1,000,000 bytes (1 MB" in plain(e.value) for e in at.error)


def test_missing_sst2_says_how_to_point_at_it_and_still_takes_uploads(allow_tmp_models, state, monkeypatch, tmp_path):
    from dashboard import resources

    monkeypatch.setenv("SST2_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resources.sst2_dev.clear()
    try:
        at = _page(allow_tmp_models)
        assert not at.exception and any("SST2_DIR" in plain(w.value) and "upload" in w.value for w in at.warning)
        at.file_uploader(key="kd_upload").upload("mine.tsv", GOOD_FILE, "text/plain").run()
        assert at.button(key="kd_score").label == "Score the 6 sentences with both models"
    finally:
        resources.sst2_dev.clear()


def test_sst2_dev_is_the_default_data_set_with_a_progress_bar(allow_tmp_models, state):
    at = _page(allow_tmp_models)
    assert any("SST-2 validation" in plain(c.value) and "872 sentences" in c.value for c in at.caption)
    at.button(key="kd_score").click().run()
    assert not at.exception and _table(at, "two_by_two").to_numpy().sum() == 872
    assert any("Scores measured on cpu" in c.value and "torch threads" in c.value for c in at.caption)


@needs_pocket
@pytest.mark.slow
def test_architecture_pair_explains_why_agreement_is_meaningless(state):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["pair"] = "architecture"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any("random weights" in i.value and "untrained" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "kd_score"] and not at.file_uploader


SECTIONS = ["1 · Soft targets", "2 · Agreement over a data set", "3 · Calibration", "4 · Share and export",
            "5 · Distil it yourself"]


def test_sections_are_numbered_the_same_before_and_after_scoring(allow_tmp_models, state):
    at = _page(allow_tmp_models)
    at.file_uploader(key="kd_upload").upload("mine.tsv", GOOD_FILE, "text/tab-separated-values").run()
    assert [h.value for h in at.header] == SECTIONS
    assert sum("Needs the data set of section 2 scored." in c.value for c in at.caption) == 2
    at.button(key="kd_score").click().run()
    assert not at.exception and [h.value for h in at.header] == SECTIONS


def test_the_disagreement_table_wraps_whole_sentences(allow_tmp_models, state):
    at = _page(allow_tmp_models)
    at.file_uploader(key="kd_upload").upload("mine.tsv", GOOD_FILE, "text/tab-separated-values").run()
    at.button(key="kd_score").click().run()
    table = at.dataframe[1]
    assert table.proto.row_height > 64  # Streamlit wraps cell text only in rows taller than 4rem
    config = json.loads(table.proto.columns)
    assert config["sentence"]["width"] == "large"


def test_scoring_runs_in_the_fastest_setup_measured_here_and_says_so(allow_tmp_models, state):
    """With a stored run showing ONNX Runtime fp32 faster than eager with the same SST-2 dev answers on this machine,
    the data set is scored there, and the page names where."""
    import torch

    from benchmarks.core.device import detect_hardware
    from benchmarks.core.models import load_model
    from benchmarks.core.pairs import ModelSpec
    from benchmarks.harness.results import BenchmarkSettings
    from benchmarks.harness.store import ResultStore
    from benchmarks.runtimes.registry import unavailable_reason
    from tests.benchmark_fakes import result

    if unavailable_reason("onnxruntime", "fp32", "cpu"):
        pytest.skip("onnxruntime is not installed")
    records = []
    for role, folder in zip(("teacher", "student"), allow_tmp_models):
        fingerprint = load_model(ModelSpec("local", str(folder), role)).fingerprint
        here = {"hardware": detect_hardware(), "fingerprint": fingerprint,
                "settings": BenchmarkSettings(threads=torch.get_num_threads())}
        records += [result(role, **here), result(role, runtime="onnxruntime", speed=2.5, **here)]
    ResultStore(state / "results.sqlite").put_many(records)
    at = _page(allow_tmp_models)
    at.file_uploader(key="kd_upload").upload("mine.tsv", GOOD_FILE, "text/tab-separated-values").run()
    at.button(key="kd_score").click().run(timeout=180)
    assert not at.exception and not at.error
    assert any("Scores measured on" in plain(c.value) and "ONNX Runtime · fp32" in plain(c.value) for c in at.caption)
