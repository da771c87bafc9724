"""AppTest of lesson mode: the answers stay hidden until revealed, then the class guesses which one is the student."""

import html
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.analysis.lesson import read_rounds
from benchmarks.distill.live import LiveConfig
from benchmarks.distill.live_jobs import META, Job
from tests.conftest import REPO, needs_pocket

APP = str(REPO / "dashboard" / "app.py")


def _lesson_app(tiny_pair_dirs) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(pair="custom", teacher=str(tiny_pair_dirs[0]), student=str(tiny_pair_dirs[1]), lesson="1")
    return at


def _models(at: AppTest) -> list[str]:
    return [m.label for m in at.metric if m.label.startswith("Model ")]


def _sentences(at: AppTest) -> str:
    return " ".join(str(h.proto.body) for h in at.get("html"))


def test_reveal_then_guess_keeps_a_session_score(allow_tmp_models):
    at = _lesson_app(allow_tmp_models).run()
    assert not at.exception
    first = html.escape(read_rounds()[0].sentence)  # shown escaped: data, never markup
    assert first in _sentences(at) and _models(at) == []  # the sentence, and no answer yet
    at.button(key="playground-reveal").click().run()
    assert _models(at) == ["Model A", "Model B"]
    assert any("Latency" in c.value and "ms" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "playground-reveal"]
    at.button(key="playground-guess-a").click().run()
    verdict = (at.success or at.warning)[0].value
    assert "is the student (1 layers" in verdict or "is the student (1 layer" in verdict
    right = verdict.startswith("Right")
    assert any(f"Score this session: {int(right)} of 1" in c.value for c in at.caption)
    at.button(key="playground-next").click().run()
    assert _models(at) == [] and html.escape(read_rounds()[1].sentence) in _sentences(at)


def test_the_distillation_lesson_is_about_soft_targets_not_the_playground_game(allow_tmp_models):
    at = _lesson_app(allow_tmp_models)
    at.run()
    at.switch_page("views/distillation.py").run()
    assert not at.exception and at.toggle(key="kd_lesson").value
    assert _models(at) == [] and not [b for b in at.button if "student" in b.label.lower()]  # no "which is it?" game
    assert html.escape(read_rounds()[0].sentence) in _sentences(at)
    prompt = " ".join(m.value for m in at.markdown)
    assert "Predict:" in prompt and "at T = 2, how much probability will the teacher give" in prompt
    band = at.radio(key="kd-lesson-band")
    assert band.options == ["under 5%", "5% to 20%", "20% to 40%", "40% to 50%"] and band.value is None
    assert not at.get("plotly_chart")  # nothing revealed yet
    band.set_value(1).run()
    at.button(key="kd-lesson-reveal").click().run()
    assert not at.exception
    verdict = (at.success or at.warning)[0].value
    assert verdict.startswith(("Right: the teacher gives", "Not this time: the teacher gives"))
    assert "at T = 2" in verdict
    assert any(f"right this session: {int(verdict.startswith('Right'))} of 1" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1 and "dark knowledge" in " ".join(m.value for m in at.markdown)
    at.button(key="kd-lesson-next").click().run()
    assert not at.get("plotly_chart") and at.radio(key="kd-lesson-band").value is None
    assert any("T = 4" in c.value for c in at.caption)  # the next round raises the temperature
    at.button(key="kd-lesson-reveal").click().run()  # revealing without a prediction scores nothing
    assert at.info and at.info[0].value.startswith("No prediction this time")
    assert any("of 1" in c.value for c in at.caption)


@pytest.fixture
def state_dir(monkeypatch, tmp_path):
    """A fresh state folder, and settings re-read (they are cached per process)."""
    from dashboard import resources

    monkeypatch.setenv("KD_STATE_DIR", str(tmp_path))
    resources.settings.clear()
    yield tmp_path
    monkeypatch.undo()
    resources.settings.clear()


def test_a_live_distilled_student_can_be_picked_in_the_sidebar(allow_tmp_models, state_dir):
    teacher, student = allow_tmp_models
    folder = state_dir / "live" / "students" / "abc12345"
    shutil.copytree(student, folder)
    job = Job("abc12345", ("local", str(teacher)), LiveConfig(layers=1), 0.0, state="finished", updated=1.0)
    (folder / META).write_text(job.to_json())
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["pair"] = "custom"
    at.run()
    at.selectbox(key="live_student").select("abc12345").run()
    assert not at.exception
    assert at.text_input(key="teacher_ref").value == str(teacher)  # as the visitor who queued the job typed it
    # The student by an id relative to the state folder, in the sidebar and in the link (issue 26.12, 28.4).
    assert at.text_input(key="student_ref").value == "live/students/abc12345"
    assert at.query_params["student"] == "live/students/abc12345"
    at.text_area[0].input("a good movie").run()
    assert [m.value for m in at.metric if m.label == "Label"]  # the distilled student loads as the pair's student


@needs_pocket
def test_a_live_student_of_the_pocket_teacher_puts_no_server_path_in_the_link(allow_tmp_models, state_dir):
    folder = state_dir / "live" / "students" / "def67890"
    shutil.copytree(allow_tmp_models[1], folder)
    job = Job("def67890", ("pocket", "teacher"), LiveConfig(layers=1), 0.0, state="finished", updated=1.0)
    (folder / META).write_text(job.to_json())
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["pair"] = "custom"
    at.run()
    at.selectbox(key="live_student").select("def67890").run()
    assert not at.exception
    assert at.text_input(key="teacher_ref").value == "data/pocket/teacher"
    link = {k: str(at.query_params[k]) for k in at.query_params}
    assert link["student"] == "live/students/def67890" and link["teacher"] == "data/pocket/teacher"
    assert not any(str(state_dir) in v or str(REPO) in v for v in link.values()), link
