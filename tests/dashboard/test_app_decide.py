"""AppTest of the Decide page on the shipped reference results: a link reproduces the view, the widgets write the
URL back, a link with hostile values is answered with fixed sentences, and an impossible budget says what to relax."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, plain

APP = str(REPO / "dashboard" / "app.py")


def _decide(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["pair"] = "pocket"
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("views/decide.py")
    return at.run()


def _reference_machine(pair: str, device: str = "cpu", isa: str = "AVX512") -> str:
    """The key of a shipped machine: by default the 2-thread AVX512 sweep (a machine like the one measuring the AVX2
    reference would otherwise open on that one, as on its own results)."""
    from benchmarks.harness.machines import machine_of
    from benchmarks.harness.results import BenchmarkResult
    from benchmarks.harness.store import reference_records

    return next(machine_of(s.record).key for s in reference_records() if isinstance(s.record, BenchmarkResult)
                and s.record.config.pair == pair and s.record.device.startswith(device)
                and (device != "cpu" or isa in s.record.hardware.label()))


def _full_sweep_machine() -> str:
    return _reference_machine("pocket")


def _chart(at: AppTest) -> dict:
    (chart,) = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def test_a_link_reproduces_the_decision_and_the_widgets_write_the_url(state):
    at = _decide(hw=_full_sweep_machine(), batch="8", seq="128", pct="p95", budget="60", max_drop="1")
    assert not at.exception and not at.error
    assert at.selectbox(key="dk_batch").value == 8 and at.selectbox(key="dk_pct").value == "p95"
    assert at.number_input(key="dk_budget").value == 60 and at.number_input(key="dk_max_drop").value == 1
    (success,) = at.success
    assert "student · int8-dynamic" in plain(success.value)
    reasons = next(plain(m.value) for m in at.markdown if "meets every constraint" in plain(m.value))
    assert "exact McNemar p = 0.603 on 27 vs 32 discordant sentences of 872" in reasons and "within noise" in reasons
    assert any("p99, an upper bound, stands in" in plain(c.value) for c in at.caption)  # the references predate p95
    # The shipped records do not say whether teacher and student took turns in one run: the page says unpaired.
    assert "unpaired: the two were not measured taking turns in one run" in reasons
    assert any("t-interval on log ratios over the sweeps' p50s — unpaired" in plain(c.value) for c in at.caption)
    assert len(at.expander) == 4  # precision drift: bf16 and int8 of both models against their fp32
    at.number_input(key="dk_budget").set_value(20.0).run()
    assert at.query_params["budget"] == "20" and at.query_params["pct"] == "p95"
    (warning,) = at.warning
    assert "Raise the p95 latency budget from 20 ms to" in plain(warning.value)
    at.selectbox(key="pair_choice").set_value("architecture").run()  # random weights: latency decides, accuracy cannot
    assert not at.exception and not at.error
    assert all("no accuracy to compare with the teacher" in plain(why) for why in at.table[0].value["excluded by"])
    assert "drop that constraint or measure it first" in plain(at.warning[0].value)


def test_a_hostile_link_gets_fixed_sentences(state):
    at = _decide(budget="<img src=x onerror=alert(1)>", batch="3", hw="**nope**", rank="evil")
    assert not at.exception and not at.error
    notes = [plain(w.value) for w in at.warning]
    assert len(notes) == 4 and not any(("<img" in n or "nope" in n or "evil" in n) for n in notes)
    assert at.number_input(key="dk_budget").value is None and at.selectbox(key="dk_batch").value in (1, 8)
    assert at.success  # the page still decides, on the defaults


def test_a_pair_without_accuracy_is_decided_on_latency_memory_and_size(state):
    """The random-weight pair on the shipped CPU sweep and on the shipped H100 (whose records keep no sweeps)."""
    for machine in (_reference_machine("architecture"), _reference_machine("architecture", "cuda")):
        at = _decide(pair="architecture", hw=machine)
        assert not at.exception and not at.error and at.selectbox(key="dk_hw").value == machine
        (success,) = at.success
        assert "student" in plain(success.value)
        reasons = next(plain(m.value) for m in at.markdown if "meets every constraint" in plain(m.value))
        assert "Accuracy cannot be judged here" in reasons and "memory–latency Pareto frontier" in reasons
        assert "Speed-up over the teacher (fp32), model only at 1×128: " in reasons
        table = at.table[0].value
        assert "accuracy [95 %]" not in table.columns and len(table) == 6
        spec = _chart(at)
        points = [t for t in spec["data"] if t.get("mode") == "markers"]
        assert len(points) == 6 and spec["layout"]["yaxis"]["title"]["text"].startswith("peak memory")
        assert all(t["y"][0] > 1 for t in points)  # MiB, not a share of sentences: the axis fits what is plotted
        assert any("sets peak memory against latency" in plain(c.value) for c in at.caption)
    assert "no interval: no sweeps kept" in reasons  # the H100 records predate per-sweep timings


def test_hardware_options_say_what_tells_them_apart(state):
    at = _decide(pair="pocket")
    options = at.selectbox(key="dk_hw").options
    assert len(options) == len(set(options)) >= 2
    assert any("CPU AVX2 · 1 thread · AMD EPYC" in o for o in options)  # ("This machine: " leads on one of them)
    assert any("CPU AVX512 · 2 threads · AMD EPYC" in o for o in options)


def test_chart_names_only_the_frontier_and_the_recommendation(state):
    at = _decide(hw=_reference_machine("pocket", isa="AVX2"))  # 14 runtime x precision setups
    spec = _chart(at)
    points = [t for t in spec["data"] if t.get("mode") == "markers"]
    named = {a["text"] for a in spec["layout"]["annotations"]}
    assert len(points) == 14 and 1 <= len(named) < len(points)
    assert all(t["hovertemplate"].startswith(t["name"]) for t in points)  # hover names every point
    front = {plain(c) for c, p in zip(at.table[0].value["configuration"], at.table[0].value["Pareto"]) if p == "yes"}
    (success,) = at.success
    recommended = next(n for n in named if n in plain(success.value))
    assert named == front | {recommended}
    configurations = [plain(c) for c in at.table[0].value["configuration"]]
    assert "student · onnxruntime int8-dynamic" in configurations  # whole names, not cut off


def test_an_hourly_price_gives_a_cost_per_million_sentences_and_goes_in_the_link(state):
    at = _decide(hw=_full_sweep_machine(), batch="8", seq="128")
    assert at.number_input(key="dk_price").value is None and "price" not in at.query_params  # none by default
    assert "cost / 1M sentences" not in at.table[0].value.columns
    at.number_input(key="dk_price").set_value(2.5).run()
    assert at.query_params["price"] == "2.5"
    costs = [plain(c) for c in at.table[0].value["cost / 1M sentences"]]
    assert all(c != "–" and float(c.replace(",", "")) > 0 for c in costs)
    note = next(plain(c.value) for c in at.caption if "Cost per million sentences" in plain(c.value))
    assert "2.5 per hour" in note and "2 threads on CPU: AMD EPYC" in note and "batch 8 × 128" in note
    assert any(plain(m.value).find("per million sentences at 2.5 per hour") >= 0 for m in at.markdown)
    again = _decide(hw=_full_sweep_machine(), price="2.5")  # the link carries it
    assert again.number_input(key="dk_price").value == 2.5
