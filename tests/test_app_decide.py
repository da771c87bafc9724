"""AppTest of the Decide page on the shipped reference results: a link reproduces the view, the widgets write the
URL back, a link with hostile values is answered with fixed sentences, and an impossible budget says what to relax."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, plain
from tests.test_app_benchmarks import needs_reference, state  # noqa: F401  (the fresh-state fixture)

APP = str(REPO / "dashboard" / "app.py")


def _decide(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["pair"] = "pocket"
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("views/decide.py")
    return at.run()


def _full_sweep_machine() -> str:
    """The key of the shipped 2-thread AVX512 sweep: a machine like the one measuring the AVX2 reference would
    otherwise open on that one, as on its own results."""
    from benchmarks.harness.comparison import machine_of
    from benchmarks.harness.results import BenchmarkResult
    from benchmarks.harness.store import reference_records

    return next(machine_of(s.record).key for s in reference_records() if isinstance(s.record, BenchmarkResult)
                and s.record.config.pair == "pocket" and "AVX512" in s.record.hardware.label())


@needs_reference
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
    assert len(at.expander) == 4  # precision drift: bf16 and int8 of both models against their fp32
    at.number_input(key="dk_budget").set_value(20.0).run()
    assert at.query_params["budget"] == "20" and at.query_params["pct"] == "p95"
    (warning,) = at.warning
    assert "Raise the p95 latency budget from 20 ms to" in plain(warning.value)
    at.selectbox(key="pair_choice").set_value("architecture").run()  # random weights: latency decides, accuracy cannot
    assert not at.exception and not at.error
    assert all("no accuracy to compare with the teacher" in why for why in at.dataframe[0].value["excluded by"])
    assert "drop that constraint or measure it first" in plain(at.warning[0].value)


@needs_reference
def test_a_hostile_link_gets_fixed_sentences(state):
    at = _decide(budget="<img src=x onerror=alert(1)>", batch="3", hw="**nope**", rank="evil")
    assert not at.exception and not at.error
    notes = [plain(w.value) for w in at.warning]
    assert len(notes) == 4 and not any(("<img" in n or "nope" in n or "evil" in n) for n in notes)
    assert at.number_input(key="dk_budget").value is None and at.selectbox(key="dk_batch").value in (1, 8)
    assert at.success  # the page still decides, on the defaults
