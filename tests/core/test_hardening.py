"""Hardening: bad input in every text and model field, shared models hammered by threads, operator
limits, and a server that cannot write. Each bad input gets one clear sentence, the app keeps running,
and the cached models are neither reloaded nor changed (a normal input afterwards gives the same answer)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.core.inference import predict
from benchmarks.core.models import ModelLoadError, load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.core.settings import DATA_DIR, Settings, writable
from tests.conftest import REPO, plain, save_code_running_pickle

APP = str(REPO / "dashboard" / "app.py")
TEXT = "text-(type your own)"  # the Playground's free-text box (key built from the example choice)
NORMAL = "a good movie !"
PAGES = ["views/playground.py", "views/benchmarks.py", "views/attention.py", "views/distillation.py"]
# Text that reaches the server, bad on purpose. Lone surrogates never get here: a browser's protobuf
# encoder turns them into U+FFFD (that row), and the browser test below sends real ones.
# (id, text, where the one clear sentence appears: error / warning / None = both models answer, words in it)
BAD_TEXT = [
    ("empty", "", "error", "empty"),
    ("whitespace-only", " \n\t  \u3000 ", "error", "empty"),
    ("one-megabyte", "good movie " * 95_500, "error", "1,050,500 characters; the limit is 20,000"),  # refused, not cut
    ("ten-thousand-tokens", "!" * 10_000, "warning", "truncated"),  # BERT splits every '!' into a token
    ("control-characters-and-NUL", "a good\x00 movie\x07\x1b[31m !\x7f", None, ""),
    ("only-control-characters", "\x00\x01\x1f\x7f", "error", "control characters"),
    ("lone-surrogate-as-the-browser-sends-it", "good \ufffd movie", None, ""),
    ("emoji-CJK-right-to-left", "😀🎬 这部电影很好 הסרט מצוין الفيلم رائع \u202eevom doog", None, ""),
    ("html-and-js", "<script>alert(1)</script><img src=x onerror=alert(2)><iframe src=javascript:alert(3)>", None, ""),
    ("markdown-link", "[click me](javascript:alert(1)) **bold** <b>b</b>", None, ""),
]


def _loads(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "benchmarks.core.models" and r.getMessage().startswith("loaded ")
    ]


def _labels(at: AppTest) -> list[str]:
    return [m.value for m in at.metric if m.label == "Label"]


def _echoes(at: AppTest) -> list[str]:
    """Every piece of text the page rendered, other than the input widgets themselves."""
    kinds = (at.markdown, at.caption, at.error, at.warning, at.info, at.success, at.title, at.subheader)
    return [e.value for kind in kinds for e in kind] + [m.value for m in at.metric]


@pytest.fixture(scope="session")
def zoo(tmp_path_factory, tiny_pair_dirs) -> dict[str, Path]:
    """Model folders the app must refuse: pickle weights that would run code, and a config that asks for remote code."""
    root = tmp_path_factory.mktemp("zoo")
    teacher = tiny_pair_dirs[0]
    pickle_only = root / "pickle-only"
    shutil.copytree(teacher, pickle_only)
    for f in pickle_only.glob("*.safetensors"):
        f.unlink()
    marker = root / "remote-code-ran"
    save_code_running_pickle(pickle_only / "pytorch_model.bin", marker)
    remote = root / "remote-code"
    shutil.copytree(teacher, remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.Evil"}
    (remote / "config.json").write_text(json.dumps(config))
    (remote / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return {"root": root, "pickle_only": pickle_only, "remote": remote, "marker": marker}


@pytest.fixture
def app(monkeypatch, tiny_pair_dirs, zoo, caplog):
    """The dashboard on the tiny pair, with the tiny pair's folder and the zoo allowed; after one normal
    input, so the pair is loaded and cached. Returns (app, labels of the normal input)."""
    monkeypatch.setenv("KD_MODEL_ROOTS", os.pathsep.join([str(tiny_pair_dirs[0].parent), str(zoo["root"])]))
    caplog.set_level(logging.INFO, logger="benchmarks.core.models")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["pair"] = "custom"
    at.query_params["teacher"], at.query_params["student"] = str(tiny_pair_dirs[0]), str(tiny_pair_dirs[1])
    at.run()
    at.session_state[TEXT] = NORMAL
    at.run()
    labels = _labels(at)
    assert not at.exception and len(labels) == 2
    caplog.clear()
    return at, labels


def _still_works(at: AppTest, labels: list[str], caplog) -> None:
    """A normal input after the bad one: same answer from the same cached models, nothing reloaded."""
    at.session_state[TEXT] = NORMAL
    at.run()
    assert not at.exception
    assert _labels(at) == labels
    assert _loads(caplog) == [], "a bad input made the server reload a model"


@pytest.mark.parametrize("text, where, words", [pytest.param(t, w, s, id=i) for i, t, w, s in BAD_TEXT])
def test_bad_text_gets_one_clear_sentence(app, caplog, text, where, words):
    at, labels = app
    at.session_state[TEXT] = text
    at.run()
    at.button[0].click().run()
    assert not at.exception
    if where is None:
        assert len(_labels(at)) == 2 and not at.error
    else:
        messages = [plain(e.value) for e in getattr(at, where)]
        assert any(words in m for m in messages), messages
    assert all(len(m) < 400 for m in _echoes(at))  # one sentence, not a dump of the input
    assert not any(tag in m for m in _echoes(at) for tag in ("<script", "onerror", "javascript:"))  # never echoed
    _still_works(at, labels, caplog)


# (id, field value, words in the error); `{x}` is filled in from the fixtures
BAD_MODEL = [
    ("hub-id-that-does-not-exist", "nobody/does-not-exist", "not in the local cache"),
    ("not-a-hub-id", "<script>alert(1)</script>", "not a valid Hugging Face model id"),
    ("NUL-in-id", "nobody/\x00evil", "not a valid Hugging Face model id"),
    ("longest-id-the-field-takes", "x" * 300, "not a valid Hugging Face model id"),
    ("folder-outside-the-allowed-roots", "/etc", "not a model folder this server can load"),
    ("dot-dot-path", "{tiny}/../{tiny_name}/teacher", "not a model folder this server can load"),
    ("folder-without-a-model", "{tiny}", "no config.json"),
    ("pickle-weights-that-run-code", "{pickle_only}", "weights_only loader refused"),
    ("asks-for-remote-code", "{remote}", "remote code is never run"),
]


@pytest.mark.parametrize("field", [0, 1], ids=["teacher", "student"])
@pytest.mark.parametrize("value, words", [pytest.param(v, w, id=i) for i, v, w in BAD_MODEL])
def test_bad_model_field_gets_one_clear_sentence(app, caplog, tiny_pair_dirs, zoo, field, value, words):
    at, labels = app
    tiny = tiny_pair_dirs[0].parent
    value = value.format(tiny=tiny, tiny_name=tiny.name, pickle_only=zoo["pickle_only"], remote=zoo["remote"])
    box = at.sidebar.text_input[field]
    good = box.value
    box.input(value).run()
    assert not at.exception
    assert any(words in plain(e.value) for e in at.error), [e.value for e in at.error]
    assert not _labels(at)
    assert not zoo["marker"].exists(), "the model's own code ran"
    caplog.clear()  # a bad student still costs a load of its teacher: pairs are cached whole, not per model
    at.sidebar.text_input[field].input(good).run()
    _still_works(at, labels, caplog)


@pytest.mark.parametrize(
    "teacher", ["x" * 5_000, "nobody/\x00evil", "~no-such-user-here/model"], ids=["5000-chars", "NUL", "unknown-home"]
)
def test_shared_link_with_a_bad_model_gets_one_sentence(teacher):
    """Query parameters skip the field's 300-character cap: a long or odd id from a link must not crash."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["pair"], at.query_params["teacher"], at.query_params["student"] = (
        "custom",
        teacher,
        "nobody/student",
    )
    at.run()
    at.session_state[TEXT] = NORMAL
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and len(at.error[0].value) < 400, [e.value for e in at.error]


def test_allowed_sources_lock_a_classroom_server_to_the_pocket_pair(monkeypatch, tiny_pair_dirs):
    from dashboard import resources

    monkeypatch.setenv("KD_ALLOWED_SOURCES", "pocket")
    monkeypatch.setenv("KD_MODEL_ROOTS", str(tiny_pair_dirs[0].parent))
    resources.settings.clear()  # settings are cached per process; the operator sets them before start-up
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["pair"], at.query_params["teacher"], at.query_params["student"] = (
            "custom",
            *map(str, tiny_pair_dirs),
        )
        at.run()
        assert not at.exception
        assert at.selectbox(key="pair_choice").options == ["Pocket pair (offline, bundled)"]
        assert at.selectbox(key="pair_choice").value == "pocket"
        assert not at.sidebar.text_input  # no custom model fields to type into
        with pytest.raises(ModelLoadError, match="switched off"):  # and the library refuses on its own
            load_model(ModelSpec("local", str(tiny_pair_dirs[0]), "teacher"))
    finally:
        monkeypatch.undo()
        resources.settings.clear()


class _Gauge:
    """How many threads are inside a region at once; `most` is the high-water mark."""

    def __init__(self):
        self.inside = self.most = 0
        self._lock = threading.Lock()

    def enter(self, *_) -> None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def leave(self, *_) -> None:
        with self._lock:
            self.inside -= 1


class _GaugedTokenizer:
    def __init__(self, inner, gauge: _Gauge):
        self.inner, self.gauge = inner, gauge

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, *args, **kwargs):
        self.gauge.enter()
        try:
            time.sleep(0.002)  # widen the window in which an unlocked second caller would overlap
            return self.inner(*args, **kwargs)
        finally:
            self.gauge.leave()


def test_predict_on_one_shared_model_is_thread_safe(tiny_pair_dirs):
    """Streamlit serves each session on its own thread, all sharing one cached LoadedModel."""
    settings = Settings(model_roots=(tiny_pair_dirs[0].parent,))
    loaded = load_model(ModelSpec("local", str(tiny_pair_dirs[0]), "teacher"), settings=settings)
    texts = [f"{w} movie {'!' * i}" for i in range(6) for w in ("good", "bad", "the great", "an awful")]
    expected = {t: predict(loaded, [t]).predictions[0] for t in texts}
    in_tokenizer, in_forward = _Gauge(), _Gauge()
    loaded.tokenizer = _GaugedTokenizer(loaded.tokenizer, in_tokenizer)  # this instance is private to the test
    loaded.model.register_forward_pre_hook(in_forward.enter)
    loaded.model.register_forward_hook(in_forward.leave)
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda t: (t, predict(loaded, [t]).predictions[0]), texts * 10))
    assert len(got) == 240
    for text, pred in got:
        assert pred.label == expected[text].label and pred.tokens == expected[text].tokens
        assert pred.probs == pytest.approx(expected[text].probs, abs=1e-5)
    assert in_tokenizer.most == 1 and in_forward.most == 1, "two threads were inside one model at once"


def test_writable(tmp_path):
    assert writable(tmp_path) and writable(tmp_path / "not" / "yet" / "made")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert not writable(blocker) and not writable(blocker / "var")
    assert not writable(Path("/proc/kd-state"))  # a read-only file system, even for root


def _serve_every_page(app: AppTest) -> list[str]:
    """Run the app, then every page; return the sidebar warnings, or fail on the first exception."""
    app.run()
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, f"{page}: {[e.value for e in app.exception]}"
    return [w.value for w in app.sidebar.warning]


def test_read_only_state_folder_still_serves_and_says_where(monkeypatch, tmp_path, allow_tmp_models):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("KD_STATE_DIR", str(blocker / "var"))  # can never be created, whoever runs the tests
    from dashboard import resources

    resources.settings.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["pair"], at.query_params["teacher"], at.query_params["student"] = (
            "custom",
            *map(str, allow_tmp_models),
        )
        warnings = _serve_every_page(at)
    finally:
        monkeypatch.undo()
        resources.settings.clear()
    assert any("`var`" in w and "cannot write" in w and str(tmp_path) not in w for w in warnings), warnings


_IN_READ_ONLY_MOUNTS = """
import json, sys
from streamlit.testing.v1 import AppTest
from tests.core.test_hardening import APP, _serve_every_page
at = AppTest.from_file(APP, default_timeout=120)
at.query_params["pair"], at.query_params["teacher"], at.query_params["student"] = "custom", sys.argv[1], sys.argv[2]
print(json.dumps(_serve_every_page(at)))
"""


@pytest.mark.slow
def test_read_only_mounts_of_data_and_state_still_serve(tmp_path, allow_tmp_models):
    """The real thing: data/ and the state folder bind-mounted read-only in a private mount namespace."""
    state = tmp_path / "state"
    state.mkdir()
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private mount namespace here: {probe.stderr.decode().strip()}")
    mounts = " && ".join(f"mount --bind -o ro {p} {p}" for p in (DATA_DIR, state))
    env = {**os.environ, "KD_STATE_DIR": str(state)}
    run = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f'{mounts} && exec "$0" -c "$1" "$2" "$3"',
            sys.executable,
            _IN_READ_ONLY_MOUNTS,
            *map(str, allow_tmp_models),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = json.loads(run.stdout.strip().splitlines()[-1])
    assert any(f"`{state.name}`" in w and "`data`" in w for w in warnings), warnings  # shown relative, never absolute
