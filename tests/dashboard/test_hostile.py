"""Hostile links and files, headless (AppTest): every place a URL parameter or an upload field reaches a
page, with Markdown, image, directive, LaTeX, HTML and </script> payloads, must show them as text; exports
are neutralised; limits say what they do; a benchmark start is atomic; a hung load is abandoned."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.core.csv_export import to_csv
from benchmarks.core.data import read_labelled_file
from benchmarks.core.settings import REPO_ROOT, Settings
from dashboard import safe
from dashboard.sections.decide_url import URL_FIELDS
from tests.conftest import REPO, plain

APP = str(REPO / "dashboard" / "app.py")
PAGES = ["views/playground.py", "views/benchmarks.py", "views/attention.py", "views/distillation.py", "views/decide.py",
         "views/explain.py"]


@pytest.fixture
def limits(monkeypatch):
    """Set KD_* variables for one test: the dashboard reads its limits once per process, so the cached settings are
    cleared before the test and again after it."""
    from dashboard import resources

    def set_env(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        resources.settings.clear()

    resources.settings.clear()
    yield set_env
    resources.settings.clear()


def custom_pair_app(models, timeout: int = 90) -> AppTest:
    """The app, run once, on the tiny pair loaded as a custom pair from local folders."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(pair="custom", teacher=str(models[0]), student=str(models[1]))
    return at.run()
# Each payload carries the marker EVIL; `UNSAFE` finds any of them left live in text Streamlit renders.
PAYLOADS = {
    "markdown-link": "[EVIL](https://evil.example/login) click",
    "remote-image": "![EVIL](https://evil.example/px.png)",
    "colour-directive": ":red[**EVIL** SECURITY ALERT]",
    "latex": "$EVIL^2$ and $$\\int EVIL$$",
    "html": "<b>EVIL</b><img src=https://evil.example/x.png>",
    "script-close": "</script><script>EVIL()</script>",
    "bare-url-and-mail": "EVIL www.evil.example https://evil.example me@evil.example",
}
UNSAFE = re.compile(
    r"(?<!\\)[\[$>]EVIL|(?<!\\)!(?=\\?\[)|(?<!\\)\*\*EVIL|(?<!\\)<(?:b|img|/?script)\b|https?://|www\.|@evil|evil\.example|:red\[",
    re.IGNORECASE,  # some messages lower-case what they quote
)
# Elements whose text Streamlit renders as Markdown (widget values and dataframes are shown as plain text).
RENDERED = (
    "markdown",
    "caption",
    "error",
    "warning",
    "info",
    "success",
    "exception",
    "title",
    "header",
    "subheader",
    "toast",
)


def _rendered(at: AppTest) -> list[str]:
    texts = [e.value for kind in RENDERED for e in at.get(kind)]
    texts += [t for m in at.metric for t in (m.label, m.value, m.proto.help)]
    texts += [
        w.label
        for kind in ("button", "selectbox", "text_input", "text_area", "file_uploader", "radio", "slider")
        for w in at.get(kind)
    ]
    return texts


def _assert_inert(at: AppTest, where: str) -> list[str]:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    texts = _rendered(at)
    live = [t for t in texts if UNSAFE.search(t)]
    assert not live, f"{where}: live markup rendered: {live}"
    return [t for t in texts if "EVIL" in t.upper()]


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_safe_text_leaves_no_live_markup(payload):
    shown = safe.text(payload)
    assert not UNSAFE.search(shown) and "EVIL" in shown
    assert plain(shown) == payload  # nothing lost but the markup


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_a_hostile_shared_link_renders_as_text_on_every_page(payload):
    """Every URL parameter at once: the pair's teacher and student, the Distillation page's T and sentence, the
    Decide page's constraints."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(pair="custom", teacher=payload, student=payload, T=payload, sentence=payload,
                           **{key: payload for key in URL_FIELDS})
    at.run()
    echoed = []
    for page in PAGES:
        at.switch_page(page).run()
        echoed += _assert_inert(at, page)
    assert echoed, "the payload never reached a page: this test would pass vacuously"


GOOD_ROWS = "a good movie\t1\nbad\t0\nthe awful movie !\t0\ngreat great great\t1\n"
EVIL = PAYLOADS["markdown-link"] + " " + PAYLOADS["colour-directive"] + " " + PAYLOADS["latex"]


@pytest.mark.parametrize(
    "name, content",
    [
        pytest.param(f"{EVIL}.tsv", "sentence\tlabel\n" + GOOD_ROWS, id="file-name"),
        pytest.param("header.csv", f"sentence,{EVIL}\nfine,1\n", id="header"),
        pytest.param("label.tsv", f"sentence\tlabel\nfine\t{EVIL}\n", id="label"),
        pytest.param("sentences.tsv", "sentence\tlabel\n" + "".join(f"{p} {w}\t{i % 2}\n" for i, (p, w) in enumerate(
            zip(PAYLOADS.values(), ["good", "bad", "movie", "great", "awful", "the", "a"]))), id="sentences"),
    ],
)
def test_a_hostile_upload_renders_as_text(allow_tmp_models, limits, tmp_path, name, content):
    limits(KD_STATE_DIR=str(tmp_path / "state"))
    at = custom_pair_app(allow_tmp_models)
    at.switch_page("views/distillation.py").run()
    at.file_uploader(key="kd_upload").upload(name, content.encode(), "text/plain").run()
    echoed = _assert_inert(at, "after upload")
    if [b for b in at.button if b.key == "kd_score"]:
        at.button(key="kd_score").click().run()
        echoed += _assert_inert(at, "after scoring")
    assert echoed or name == "sentences.tsv", "the payload never reached a message"


def test_csv_exports_neutralise_formulas():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "sentence": ['=HYPERLINK("https://evil.example")', "+1", "-cmd", "@SUM(A1)", "\tx", "\rx", "fine", "a=b"],
            "p": [0.5, -0.25, 1, 2, 3, 4, 5, 6],
        }
    )
    rows = list(csv.reader(io.StringIO(to_csv(frame, index=False).decode())))
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("https://evil.example")',
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "fine",
        "a=b",
    ]
    assert [r[1] for r in rows[1:3]] == ["0.5", "-0.25"]  # numbers stay numbers


def test_upload_limits_say_what_they_do():
    with pytest.raises(ValueError, match=r"has 30,001 rows; the limit is 20,000 \(KD_MAX_UPLOAD_ROWS\)"):
        read_labelled_file(b"sentence,label\n" + b"a,1\n" * 30_001, "big.csv", max_rows=20_000)
    with pytest.raises(ValueError, match=r"line 2: 4,000,002 characters; a field holds at most 131,072"):
        read_labelled_file(b"sentence,label\n" + b"x" * 4_000_000 + b",1\n", "long.csv")
    # The browser counts the widget's MB as 1,000,000 bytes; the server's maxUploadSize and the app's own
    # check (KD_MAX_UPLOAD_MB) must name the same number.
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Settings().max_upload_mb


def test_upload_over_the_byte_limit_names_both_sizes(allow_tmp_models, limits):
    limits(KD_MAX_UPLOAD_MB="1")
    at = custom_pair_app(allow_tmp_models)
    at.switch_page("views/distillation.py").run()
    at.file_uploader(key="kd_upload").upload(
        "big.tsv", b"sentence\tlabel\n" + b"x" * 1_000_000 + b"\t1\n", "text/plain"
    ).run()
    assert [plain(e.value) for e in at.error] == ["big.tsv is 1,000,018 bytes; the limit is 1,000,000 bytes (1 MB, "
                                                  "KD_MAX_UPLOAD_MB)."]


def test_over_long_text_is_refused_with_its_length_and_the_limit(allow_tmp_models, limits):
    limits(KD_MAX_CHARS="50")
    at = custom_pair_app(allow_tmp_models)
    at.session_state["text-(type your own)"] = "good " * 20
    at.run()
    at.button[0].click().run()
    assert any("100 characters; the limit is 50" in plain(e.value) for e in at.error), [e.value for e in at.error]


def test_stored_score_files_are_capped_oldest_first(tmp_path):
    from benchmarks.analysis.scoring import prune

    for i in range(5):
        (tmp_path / f"{i}.json").write_text("{}")
        time.sleep(0.01)
    assert prune(tmp_path, 3) == 2
    assert sorted(f.name for f in tmp_path.glob("*.json")) == ["2.json", "3.json", "4.json"]


def test_two_tabs_starting_a_run_at_once_start_one(tmp_path):
    """Eight simultaneous starts: one job, and every caller is shown that job."""
    from benchmarks.store.database import Database
    from benchmarks.store.jobs import JobBoard

    board = JobBoard(Database(tmp_path / "r.sqlite"))
    results = []
    barrier = threading.Barrier(8)

    def press() -> None:
        barrier.wait()
        results.append(board.submit("benchmark", '{"pair": "--force"}', "this-box", "local", single=True))

    threads = [threading.Thread(target=press) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(started for _, started in results) == 1
    assert len({job.id for job, _ in results}) == 1 and len(board.jobs("benchmark", active=True)) == 1


@pytest.mark.parametrize("teacher", ["--force", "-h", "nobody/\x00evil"], ids=["--force", "-h", "NUL"])
def test_flag_like_or_invalid_model_refs_start_nothing(limits, tmp_path, teacher):
    limits(KD_STATE_DIR=str(tmp_path / "state"))
    at = custom_pair_app((teacher, "nobody/student"), timeout=60)
    at.switch_page("views/benchmarks.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "bench_start"]  # no button for a run bound to fail: why, instead
    assert [i.value for i in at.info if "not a valid Hugging Face model id" in i.value]
    from benchmarks.store.database import Database
    from benchmarks.store.jobs import JobBoard

    assert JobBoard(Database(tmp_path / "state" / "results.sqlite")).jobs() == []  # no job was queued


def test_a_hung_load_is_abandoned_dropped_from_the_cache_and_blocks_no_other_pair(monkeypatch):
    from benchmarks.core.models import ModelLoadError
    from benchmarks.core.pairs import BUILTIN_PAIRS
    from dashboard import resources

    release = threading.Event()
    calls: list[str] = []

    def fake_load(spec, device, attn):
        calls.append(spec.source)
        if spec.source == "hub":
            release.wait(30)  # hangs, like a load stuck on a slow disk or network
        return spec.source

    monkeypatch.setattr(resources, "load_model", fake_load)
    monkeypatch.setenv("KD_LOAD_TIMEOUT_S", "1")
    resources.settings.clear()
    resources._loading.clear()
    try:
        started = time.monotonic()
        with pytest.raises(ModelLoadError, match=r"longer than 1 s \(KD_LOAD_TIMEOUT_S\)"):
            resources.pair(BUILTIN_PAIRS["hub"])
        assert time.monotonic() - started < 5
        assert resources.pair(BUILTIN_PAIRS["pocket"]).teacher == "pocket"  # not stuck behind the hung load
        with pytest.raises(ModelLoadError):
            resources.pair(BUILTIN_PAIRS["hub"])
        assert calls.count("hub") == 4, "the hung loads were kept in the cache instead of being dropped"
    finally:
        release.set()
        resources._loading.clear()
        resources.settings.clear()


def test_the_cli_answers_a_hostile_folder_in_one_line_without_paths(tiny_pair_dirs, tmp_path, monkeypatch, capsys):
    import os
    import shutil

    from benchmarks.cli import main

    root = tmp_path / "models"
    shutil.copytree(tiny_pair_dirs[0], root / "fifo")
    (root / "fifo" / "model.safetensors").unlink()
    os.mkfifo(root / "fifo" / "model.safetensors")
    monkeypatch.setenv("KD_MODEL_ROOTS", str(root))
    code = main(
        [
            "run",
            "--quick",
            "--db",
            str(tmp_path / "r.sqlite"),
            f"--teacher={root / 'fifo'}",
            f"--student={tiny_pair_dirs[1]}",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "not a regular file" in err
    assert str(tmp_path) not in err and "Traceback" not in err, err
