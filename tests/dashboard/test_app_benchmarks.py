"""AppTest of the Benchmarks page: a fresh state folder shows the shipped reference results as charts;
filters narrow them; a cache that cannot be used still leaves the reference results on screen."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.harness.store import REFERENCE_DIR, reference_records
from tests.conftest import REPO, open_page, plain

APP = str(REPO / "dashboard" / "app.py")


def _benchmarks(pair: str) -> AppTest:
    return open_page("benchmarks", {"pair": pair})


@pytest.mark.parametrize("pair", ["pocket", "architecture"])
def test_fresh_dashboard_shows_reference_charts(state, pair):
    at = _benchmarks(pair)
    assert not at.exception and not at.error
    assert any("shipped reference" in c.value for c in at.caption)  # provenance names the source and the machine
    assert any("Host drift during these runs" in c.value for c in at.caption)  # the CPU reference keeps its sweeps
    speedup = next(fig for fig in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                   if fig["layout"]["title"]["text"].startswith("Student speed-up"))
    # The shipped records do not say whether teacher and student took turns in one run: unpaired, no whiskers.
    assert not any(bar["error_y"]["visible"] for bar in speedup["data"])
    assert any("unpaired, no whiskers" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    speedup = next(v for k, v in metrics.items() if k.startswith("Student speed-up"))
    assert 1.0 < float(speedup.rstrip("×")) < 3.0
    if pair == "pocket":
        assert metrics["Student accuracy vs teacher"].endswith("pp")
    else:
        assert metrics["Student accuracy vs teacher"] == "n/a"
    assert len(at.tabs) == 8
    variants = at.multiselect(key=next(k for k in at.session_state if str(k).startswith("bench_variants_")))
    assert "fp32" in variants.value and len(variants.value) >= 2


def test_variant_filter_and_an_empty_choice(state):
    at = _benchmarks("pocket")
    key = next(k for k in at.session_state if str(k).startswith("bench_variants_"))
    at.multiselect(key=key).set_value(["int8-dynamic"]).run()
    assert not at.exception
    assert any("int8-dynamic" in m.help for m in at.metric)  # the headline follows the chosen variant
    at.multiselect(key=key).set_value([]).run()
    assert not at.exception and any("at least one precision variant" in w.value for w in at.warning)


def test_end_to_end_speed_up_says_it_has_no_sweeps(state):
    at = _benchmarks("pocket")
    at.radio(key="bench_timing").set_value("e2e").run()
    assert not at.exception
    assert any("over the whole run" in c.value for c in at.caption)  # sweeps keep model-only p50s: no whiskers


def test_an_unreadable_cache_is_set_aside_and_the_page_still_shows_results(state):
    state.mkdir()
    (state / "results.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)  # a truncated, garbled database
    at = _benchmarks("pocket")
    assert not at.exception
    assert any("moved to results.sqlite.corrupt-" in plain(w.value) and str(state) not in w.value for w in at.warning)
    assert len(list(state.glob("results.sqlite.corrupt-*"))) == 1  # kept for inspection, not deleted
    assert at.metric and len(at.tabs) == 8  # rebuilt and re-seeded with the reference results


def test_an_unreachable_database_server_gets_one_sentence_and_the_shipped_results(state, monkeypatch, tmp_path):
    monkeypatch.setenv("KD_DATABASE_URL", f"postgresql+psycopg://kd:secret@/kd?host={tmp_path}&port=5449")
    at = _benchmarks("pocket")
    assert not at.exception
    [warning] = [plain(w.value) for w in at.warning if "cannot be reached" in plain(w.value)]
    assert warning.startswith("The results database (postgresql database kd on a local socket) cannot be reached")
    assert "secret" not in warning and str(tmp_path) not in warning and "measuring is off" in warning
    assert at.metric and len(at.tabs) == 8  # the shipped reference results, read from their files


def test_reference_files_are_labelled_with_their_hardware():
    for stored in reference_records():
        assert stored.record.hardware.cpu_model and stored.record.software.torch


def _ended_run(state, host: str, pair: str = "pocket") -> None:
    """A benchmark job for `pair` on this machine's CPU that did not finish: its process died (`host` "here"), or
    its machine stopped answering."""
    import time

    from benchmarks.core.pairs import BUILTIN_PAIRS
    from benchmarks.harness.runner import RunRequest
    from benchmarks.store import jobs as job_rows
    from benchmarks.store.database import Database

    board = job_rows.JobBoard(Database(state / "results.sqlite"))
    job, _ = board.submit("benchmark", RunRequest(BUILTIN_PAIRS[pair], "cpu").to_json(), "hw", "local")
    board.claim(job.id, "CPU: somewhere")
    dead_pid = 2**22 + 4321  # above pid_max: no such process
    board.update(job.id, host=job_rows.HOST if host == "here" else host, pid=dead_pid, done=2, total=6,
                 current="student · int8-dynamic")
    if host != "here":
        board.update(job.id, updated=time.time() - job_rows.STALE_S - 1)


@pytest.mark.parametrize("host, words", [
    ("here", "its process ended without finishing"),  # killed: its pid is gone, the row still says running
    ("gone-box", "its machine (gone-box) stopped answering"),  # a node that died: its heartbeat stopped
])
def test_a_run_that_ended_early_is_reported_with_where_it_stopped(state, host, words):
    _ended_run(state, host)
    at = _benchmarks("pocket")
    assert not at.exception
    [warning] = [plain(w.value) for w in at.warning if "did not finish" in plain(w.value)]
    assert words in warning and "at student · int8-dynamic (2 of 6 done)" in warning and "is kept" in warning
    assert at.metric  # the results already stored are still shown


def test_another_pairs_failed_run_stays_on_its_own_page(state):
    _ended_run(state, "here", "hub")  # a Hub run that did not finish
    for pair in ("pocket", "architecture"):
        at = _benchmarks(pair)
        assert not at.exception
        assert not [w for w in at.warning if "did not finish" in plain(w.value)]


def test_measure_is_not_offered_for_a_pair_that_cannot_load_now(state):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(pair="custom", teacher="nobody/not-in-any-cache", student="nobody/nor-this-one")
    at.run()
    at.switch_page("views/benchmarks.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "bench_start"]
    reason = next(i.value for i in at.info if i.value.startswith("Measuring is off for this pair now."))
    assert "Hub is unreachable" in plain(reason) and "not in the local cache" in plain(reason)


def test_runtime_filter_narrows_every_tab_and_names_the_runtime(state):
    from dataclasses import replace

    from benchmarks.harness.machines import Machine
    from benchmarks.harness.store import ResultStore
    from tests import benchmark_fakes as fake

    ort = [replace(r, accuracy=replace(r.accuracy, predictions="0" * 5 + r.accuracy.predictions[5:]), export_s=12.5,
                   artefact_bytes=3 * 2**20) for r in fake.pair_results(runtime="onnxruntime")]
    store = ResultStore(state / "results.sqlite")
    store.seed()
    store.put_many([*fake.pair_results(), *ort, fake.peak("fp32", 45.0)], "measured")
    at = _benchmarks("pocket")
    at.selectbox(key="bench_hw").set_value(Machine.of(fake.HARDWARE, "cpu", fake.SETTINGS.threads)).run()
    key = next(k for k in at.session_state if str(k).startswith("bench_runtimes_"))
    assert at.multiselect(key=key).value == ["eager", "onnxruntime"]
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    names = {trace.get("name") for fig in figures for trace in fig["data"]}
    assert {"teacher · fp32", "teacher · onnxruntime fp32"} <= names
    assert any(fig["layout"]["title"]["text"].startswith("Achieved FLOP/s") for fig in figures)
    frames = [df.value for df in at.dataframe]
    flips = next(f for f in frames if "flip rate [95 %]" in f.columns)
    assert list(flips["flipped"]) == ["5 of 872", "5 of 872"]
    costs = next(f for f in frames if "export / compile, s" in f.columns)
    assert list(costs["export / compile, s"]) == [12.5, 12.5]

    at.multiselect(key=key).set_value(["onnxruntime"]).run()
    assert not at.exception
    assert any("onnxruntime fp32" in m.help for m in at.metric if m.label.startswith("Student speed-up"))
    names = {t.get("name") for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]}
    assert "teacher · fp32" not in names and "teacher · onnxruntime fp32" in names
    at.multiselect(key=key).set_value([]).run()
    assert not at.exception and any("one runtime" in w.value for w in at.warning)


def test_throughput_and_size_carry_their_conditions(state):
    at = _benchmarks("pocket")
    note = next(c.value for c in at.caption if c.value.startswith("Throughput = "))
    assert "at batch × 128 tokens, no padding, model only, 2 threads" in note and "Distillation summary" in note
    bars = next(fig for fig in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                if fig["layout"]["title"]["text"].startswith("Throughput at 128"))
    assert all("batch 32 × 128 tokens, no padding" in str(bar["customdata"]) for bar in bars["data"])
    size = next(fig for fig in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                if fig["layout"]["title"]["text"].startswith("Weights in the precision they run in"))
    assert size["data"]
    table = next(df.value for df in at.dataframe if "conditions" in df.value.columns)
    assert all("tokenizer included" in c for c in table["conditions"])


def test_speed_up_whiskers_only_for_models_that_took_turns_in_one_run():
    from benchmarks.harness.speedups import speedups
    from dashboard.charts.benchmarks import speedup_chart, speedup_note
    from tests.benchmark_fakes import result

    def pair(teacher_run: str, student_run: str) -> list:
        return speedups([result("teacher", sweeps=(1.1, 1.2, 0.95), run_id=teacher_run),
                         result("student", speed=1.8, sweeps=(1.0, 1.0, 1.0), run_id=student_run)])

    turns = pair("r1", "r1")
    assert all(bar.error_y.visible for bar in speedup_chart(turns, "t").data)
    assert "taken in each sweep" in speedup_note(turns)
    for apart in (pair("r1", "r2"), pair("", "")):
        assert not any(bar.error_y.visible for bar in speedup_chart(apart, "t").data)
        assert "unpaired, no whiskers" in speedup_note(apart)


def _summary_rows():
    from benchmarks.harness.tables import cell_rows, summary_rows
    from tests.benchmark_fakes import result

    results = [result(role, variant, speed=1.0 if role == "teacher" else 2.0)
               for role in ("teacher", "student") for variant in ("fp32", "bf16", "int8-dynamic")]
    return cell_rows(results), summary_rows(results, (32, 128))


def test_latency_bands_never_cover_a_line():
    from dashboard.charts.benchmarks import BAND_OPACITY, latency_chart

    rows, _ = _summary_rows()
    fig = latency_chart([r for r in rows if r["seq_len"] == 128], "batch", "t")
    kinds = ["band" if t.fill or t.line.width == 0 else "line" for t in fig.data]
    assert kinds == ["band"] * 12 + ["line"] * 6  # every band first: each line is drawn above all of them
    assert all(t.fillcolor.endswith(f"{BAND_OPACITY})") for t in fig.data if t.fill)


def test_tradeoff_names_go_in_the_legend_not_on_the_bubbles():
    from dashboard.charts.benchmarks import tradeoff_chart

    _, summary = _summary_rows()
    fig = tradeoff_chart(summary, "t")
    assert all(t.mode == "markers" and not t.text for t in fig.data)  # no labels to pile up on close bubbles
    assert fig.layout.showlegend is not False and fig.layout.legend.itemsizing == "constant"
    assert sorted(t.name for t in fig.data) == sorted(r["series"] for r in summary)


def test_the_device_select_names_the_chip(state):
    from benchmarks.core.device import detect_hardware

    at = _benchmarks("pocket")
    select = at.selectbox(key="device")
    assert select.value == "cpu" and select.options[0] == f"CPU · {detect_hardware().cpu_model} · " \
                                                          f"{detect_hardware().physical_cores} cores"


def test_the_shipped_reference_results_are_there():
    # The pages open on them on a fresh machine; the tests above would say little against an empty folder.
    assert len(list(REFERENCE_DIR.glob("*.json"))) >= 2
