"""The Distillation page's "Distil it yourself" panel, headless: α follows the hard-label switch, and a finished job's
table gives throughput and size by the one definition, with the conditions beside them."""

import json
import shutil
import time

from streamlit.testing.v1 import AppTest

from benchmarks.core.figures import Conditions, Throughput
from benchmarks.distill.live import DevScore, LiveConfig, StepLoss
from benchmarks.distill.live_jobs import Job
from benchmarks.jobs.kinds import LiveRequest
from benchmarks.store.database import Database
from benchmarks.store.jobs import JobBoard
from tests.conftest import REPO, SST2

APP = str(REPO / "dashboard" / "app.py")


def _page(pair_dirs) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(pair="custom", teacher=str(pair_dirs[0]), student=str(pair_dirs[1]))
    at.run()
    return at.switch_page("views/distillation.py").run()


def test_alpha_is_off_without_labels(allow_tmp_models, state, monkeypatch, tmp_path):
    monkeypatch.setenv("SST2_DIR", str(SST2))  # dev only: no train.tsv, so no gold labels to train on
    at = _page(allow_tmp_models)
    assert at.toggle(key="live_hard").disabled and at.slider(key="live_alpha").disabled


def test_alpha_follows_the_hard_label_switch(allow_tmp_models, state, monkeypatch, tmp_path):
    folder = tmp_path / "sst2"
    folder.mkdir()
    shutil.copy(SST2 / "dev.tsv", folder / "dev.tsv")
    (folder / "train.tsv").write_text("sentence\tlabel\na good movie\t1\n")
    monkeypatch.setenv("SST2_DIR", str(folder))
    at = _page(allow_tmp_models)
    assert not at.toggle(key="live_hard").disabled
    assert at.slider(key="live_alpha").disabled  # the switch starts off: α weighs nothing
    at.toggle(key="live_hard").set_value(True).run()
    assert not at.exception and not at.slider(key="live_alpha").disabled
    at.toggle(key="live_hard").set_value(False).run()
    assert at.slider(key="live_alpha").disabled


def test_a_finished_job_states_the_conditions_of_its_throughput(allow_tmp_models, state):
    conditions = Conditions(64, 1, tokenizer=True, load_average=3.0)
    scores = (
        DevScore("teacher", 6, 22_000_000, 0.9, 0.88, 0.92, 1.0, Throughput(872, 4.0, conditions), 87 * 2**20),
        DevScore("this student", 2, 9_000_000, 0.8, 0.77, 0.83, 0.85, Throughput(872, 2.0, conditions), 35 * 2**20),
    )
    board = JobBoard(Database(state / "results.sqlite"))
    row, _ = board.submit("live", LiveRequest(("local", str(allow_tmp_models[0])), {}).to_json(), "hw", "local")
    board.claim(row.id, "CPU: test")
    done = Job(row.id, ("local", str(allow_tmp_models[0])), LiveConfig(), time.time(), state="finished",
               losses=(StepLoss(1, 0.5, 0.4, 0.5),), scores=scores, seconds=100, cpu_seconds=90,
               measured_on="CPU: test · 1 torch thread")
    board.end(row.id, "finished", "finished in 100 s", detail=json.loads(done.to_json()))
    at = _page(allow_tmp_models)
    assert not at.exception
    table = next(df.value for df in at.dataframe if "throughput" in df.value.columns)
    assert list(table["throughput"]) == ["218 sentences/s", "436 sentences/s"]
    assert list(table["weights"]) == ["87.0 MiB", "35.0 MiB"]
    caption = next(c.value for c in at.caption if "Throughput: one timed pass" in c.value)
    assert "batch 64, real sentence lengths padded to each batch's longest, tokenizer included, 1 thread" in caption
