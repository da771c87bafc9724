"""Ranking and exclusion under constraints, what to relax when nothing fits, candidates from records (p95 bound),
precision drift, and the review pack: self-contained, escaped."""

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from benchmarks.analysis.advice import admitting
from benchmarks.analysis.candidate import Candidate, precision_flips
from benchmarks.analysis.constraints import Constraints
from benchmarks.analysis.cost import cost_per_million
from benchmarks.analysis.decision import decide, pareto_front
from benchmarks.analysis.review_pack import Provenance, frontier_figure, ranking_rows, review_pack
from benchmarks.harness.candidates import P95_BOUND, candidates
from tests.benchmark_fakes import result

GOLD = (1,) * 100


def _cand(role, variant, ms, right, mem=100.0, size=50.0, wrong_first=True):
    preds = (0,) * (100 - right) + (1,) * right if wrong_first else (1,) * right + (0,) * (100 - right)
    return Candidate(role, variant, f"{role} model", ms, "", (ms, ms * 1.02, ms * 0.98), mem, size, preds, GOLD)


CANDS = [
    _cand("teacher", "fp32", 100.0, 92, mem=400, size=400),
    _cand("student", "fp32", 50.0, 90, mem=250, size=250),
    _cand("student", "int8-dynamic", 30.0, 88, mem=200, size=70),
    _cand("teacher", "int8-dynamic", 60.0, 91, mem=300, size=110),
]


def test_ranking_and_exclusions_name_the_constraint():
    d = decide(CANDS, Constraints(8, 128, budget_ms=70, max_drop_pp=4.5))
    assert [v.candidate.name for v in d.ranked] == [
        "student · int8-dynamic",
        "student · fp32",
        "teacher · int8-dynamic",
    ]
    assert d.recommendation.candidate.name == "student · int8-dynamic"
    (teacher,) = d.excluded
    assert [f.constraint for f in teacher.failures] == ["budget"] and "100.0 ms > budget 70 ms" in teacher.failures[
        0
    ].text
    assert any("fastest of the 3 that fit" in r for r in d.reasons)
    assert any("McNemar p" in r and "the teacher (fp32)" in r for r in d.reasons)
    # a tighter drop excludes the int8 student (4 pp below), and the next fastest wins
    d = decide(CANDS, Constraints(8, 128, budget_ms=70, max_drop_pp=1.5))
    assert d.recommendation.candidate.name == "teacher · int8-dynamic"
    assert any(f.constraint == "max_drop" for v in d.excluded for f in v.failures)
    # other objectives
    assert decide(CANDS, Constraints(8, 128, objective="accuracy")).recommendation.candidate.name == "teacher · fp32"
    assert (
        decide(CANDS, Constraints(8, 128, objective="size")).recommendation.candidate.name == "student · int8-dynamic"
    )


def test_nothing_fits_says_what_to_relax_and_by_how_much():
    d = decide(CANDS, Constraints(8, 128, budget_ms=20, min_accuracy=95))
    assert d.recommendation is None and len(d.excluded) == 4
    assert d.relax and "No single change" in d.relax[0]  # every candidate fails two constraints
    d = decide(CANDS, Constraints(8, 128, budget_ms=20))
    assert d.relax == (
        "Raise the p50 latency budget from 20 ms to 30 ms (by 10 ms): then student · int8-dynamic fits.",
    )
    d = decide(CANDS, Constraints(8, 128, min_accuracy=93, max_size_mb=500))
    assert "Lower the minimum accuracy from 93 % to 92 %" in d.relax[0] and "teacher · fp32" in d.relax[0]
    no_acc = [replace(c, predictions=None) for c in CANDS]
    d = decide(no_acc, Constraints(8, 128, min_accuracy=50))
    assert "drop that constraint or measure it first" in d.relax[0]  # random weights: no relaxing helps


def test_pareto_front():
    assert pareto_front([(1, 0.8), (2, 0.9), (3, 0.85), (2, 0.8)]) == (True, True, False, False)
    slow = replace(CANDS[1], variant="bf16", latency_ms=70.0)  # slower than the int8 teacher and less accurate
    d = decide(CANDS + [slow], Constraints(8, 128))
    assert [v.candidate.name for v in d.verdicts if not v.pareto] == ["student · bf16"]


def test_candidates_from_records_and_p95_bound():
    results = [result("teacher", sweeps=(1.0, 1.02, 0.99), run_id="r1"),
               result("student", speed=2.0, sweeps=(1.0, 0.98, 1.01), run_id="r1")]
    cands = candidates(results, 8, 64, "p95")
    assert cands[0].latency_ms == pytest.approx(results[0].cell(8, 64).model.p99) and cands[0].latency_note == P95_BOUND
    assert candidates(results, 8, 64, "p50")[1].latency_ms == pytest.approx(0.05 * 8 * 64 / 2)
    assert cands[0].accuracy.value == pytest.approx(780 / 872)
    sp = next(v.speedup for v in decide(cands, Constraints(8, 64)).verdicts if v.candidate.role == "student")
    assert sp.paired and sp.ratio == pytest.approx(2.0, rel=0.05) and sp.low > 1.0
    assert cands[1].run_id == "r1"
    assert cands[1].sentences_per_s == pytest.approx(results[1].throughput(8, 64).per_second)
    # The same records from two runs (or from a shipped file that does not say) do not pair their sweeps.
    for other in ("r2", ""):
        apart = candidates([results[0], replace(results[1], run_id=other)], 8, 64, "p50")
        sp = next(v.speedup for v in decide(apart, Constraints(8, 64)).verdicts if v.candidate.role == "student")
        assert not sp.paired and sp.ratio == pytest.approx(2.0, rel=0.05) and "unpaired" in sp.interval()
    own = {("teacher", "fp32"): ((1, 0, 1), (1, 1, 1))}
    mine = candidates(results, 8, 64, "p50", own)
    assert mine[0].accuracy.value == pytest.approx(2 / 3) and mine[1].accuracy is None  # not scored: no accuracy


def test_precision_flips():
    base = _cand("student", "fp32", 50.0, 90)
    low = replace(base, variant="int8-dynamic", predictions=(1,) * 100)
    (f,) = precision_flips([base, low, _cand("teacher", "fp32", 100.0, 92)])
    assert f.candidate == "student · int8-dynamic" and f.reference == "student · fp32" and f.indices == tuple(range(10))


def test_runtimes_are_candidates_against_eager_fp32():
    eager = result("teacher", sweeps=(1.0, 1.0, 1.0))
    ort = result("teacher", speed=2.0, sweeps=(1.0, 1.0, 1.0), runtime="onnxruntime")
    student = result("student", variant="int8-dynamic", speed=3.0, sweeps=(1.0, 1.0, 1.0), runtime="onnxruntime")
    cands = candidates([eager, ort, student], 8, 64, "p50")
    assert [c.name for c in cands] == [
        "teacher · fp32", "teacher · onnxruntime fp32", "student · onnxruntime int8-dynamic"
    ]
    assert cands[1].runtime == "onnxruntime" and cands[1].runtime_label == "ONNX Runtime"
    verdicts = {v.candidate.name: v for v in decide(cands, Constraints(8, 64)).verdicts}
    # The teacher's own ONNX Runtime copy is compared with eager fp32, not taken for the reference; runs of
    # different runtimes never took turns, so their speed-up is unpaired.
    sp = verdicts["teacher · onnxruntime fp32"].speedup
    assert sp.ratio == pytest.approx(2.0, rel=0.05) and not sp.paired
    flips = precision_flips(cands)
    assert {f.candidate for f in flips} == {"teacher · onnxruntime fp32"}  # the student has no eager fp32 here
    assert flips[0].reference == "teacher · fp32"
    own = {("teacher", "fp32"): ((1, 0, 1), (1, 1, 1))}
    assert candidates([eager, ort], 8, 64, "p50", own)[1].accuracy is None  # a file is scored eagerly only


class _Refs(HTMLParser):
    """Every attribute value a browser could fetch from."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [
            v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "srcset", "action", "poster", "data")
        ]


def external_urls(page: str) -> list[str]:
    """What a browser would fetch from elsewhere: src/href not data: or #fragment, CSS url() and @import.
    XML namespace names (xmlns) are identifiers, never fetched, so they do not count."""
    parser = _Refs()
    parser.feed(page)
    bad = [r for r in parser.refs if not r.startswith(("data:", "#"))]
    bad += [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", page) if not u.startswith(("data:", "#"))]
    return bad + re.findall(r"@import", page)


def test_review_pack_is_self_contained_and_escapes_names():
    evil = '<script>alert("x")</script>'
    cands = [replace(c, model=evil) for c in CANDS]
    d = decide(cands, Constraints(8, 128, budget_ms=70))
    page = review_pack(
        d, precision_flips(cands), Provenance(f"CPU {evil}", "abc", "torch 2.13", f"file {evil}.tsv", "feed")
    )
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    assert external_urls(page) == []
    assert "<svg" in page and 'src="data:image/png;base64,' in page
    assert (
        "student · int8-dynamic" in page
        and "McNemar" in page
        and "fingerprint abc" in page
        and "content hash feed" in page
    )
    nothing = review_pack(decide(CANDS, Constraints(8, 128, budget_ms=1)), [], Provenance("CPU", "abc", "t", "d", "h"))
    assert "Nothing measured meets these constraints" in nothing and "Raise the p50 latency budget" in nothing


def test_relaxing_rounds_toward_admitting_and_keeps_units():
    slow = [replace(CANDS[0], latency_ms=308.931, memory_mb=70.123), replace(CANDS[2], latency_ms=400.0)]
    d = decide(slow, Constraints(8, 128, budget_ms=300))
    # 308.9 would shut out a p50 of 308.931 ms: the advice rounds up, and following it admits the candidate.
    assert d.relax == ("Raise the p50 latency budget from 300 ms to 309 ms (by 9 ms): then teacher · fp32 fits.",)
    assert decide(slow, Constraints(8, 128, budget_ms=309)).recommendation.candidate.name == "teacher · fp32"
    d = decide(slow, Constraints(8, 128, max_memory_mb=60))
    assert d.relax == ("Raise the memory cap from 60 MiB to 70.13 MiB (by 10.1 MiB): then teacher · fp32 fits.",)
    assert decide(slow, Constraints(8, 128, max_memory_mb=70.13)).recommendation is not None
    thirds = replace(CANDS[0], predictions=(1, 1, 0), labels=(1, 1, 1))  # 66.666… % accurate
    (relax,) = decide([thirds], Constraints(8, 128, min_accuracy=70)).relax
    assert "to 66.66 %" in relax  # rounded down, not to 66.67
    assert decide([thirds], Constraints(8, 128, min_accuracy=66.66)).recommendation is not None
    assert admitting(1.15, "max_mem") == 1.15 and admitting(0.0012345, "budget") == 0.001235


def test_latency_ties_go_to_the_more_accurate_before_the_smaller():
    small = _cand("student", "int8-dynamic", 30.0, 85, size=40)
    accurate = _cand("student", "bf16", 30.0, 90, size=120)  # as fast, more accurate: small is dominated
    d = decide([CANDS[0], small, accurate], Constraints(8, 128))
    assert d.recommendation.candidate.name == "student · bf16"
    assert decide([CANDS[0], small, accurate], Constraints(8, 128, objective="size")).recommendation.candidate is small


NO_ACCURACY = [replace(c, predictions=None, labels=None, sweep_p50s=(), p50_ms=c.latency_ms) for c in CANDS]


def test_without_accuracy_the_decision_rests_on_latency_memory_and_size():
    d = decide(NO_ACCURACY, Constraints(1, 128))
    assert d.axis == "memory" and d.recommendation.candidate.name == "student · int8-dynamic"
    assert any("Accuracy cannot be judged" in r for r in d.reasons)
    assert any("memory–latency Pareto frontier" in r for r in d.reasons)
    # The shipped GPU records keep no sweeps: the speed-up still shows, as the ratio of the two p50s.
    assert any(r.startswith("Speed-up over the teacher") and "3.33× (no interval: no sweeps kept)" in r
               for r in d.reasons)
    heavy_fast = replace(NO_ACCURACY[1], variant="bf16", latency_ms=20.0, memory_mb=500)  # fastest, heaviest
    front = {v.candidate.name for v in decide(NO_ACCURACY + [heavy_fast], Constraints(1, 128)).verdicts if v.pareto}
    assert front == {"student · int8-dynamic", "student · bf16"}
    by_accuracy = decide(NO_ACCURACY, Constraints(1, 128, objective="accuracy"))  # nothing to rank by: the fastest
    assert by_accuracy.recommendation.candidate.name == "student · int8-dynamic"
    assert any("falls back to the fastest" in r for r in by_accuracy.reasons)
    lightest = decide(NO_ACCURACY, Constraints(1, 128, objective="memory")).recommendation.candidate
    assert lightest.name == "student · int8-dynamic"


def test_cost_per_million_sentences_from_an_hourly_price():
    assert cost_per_million(3.6, 1000.0) == pytest.approx(1.0)  # 3.6 an hour, 3.6 M sentences an hour
    priced = [replace(c, sentences_per_s=8 / c.latency_ms * 1e3) for c in CANDS]
    assert all(v.cost is None for v in decide(priced, Constraints(8, 128)).verdicts)  # none by default
    assert "cost / 1M sentences" not in ranking_rows(decide(priced, Constraints(8, 128)))[0]
    d = decide(priced, Constraints(8, 128, price_per_hour=2.0))
    best = d.recommendation
    assert best.cost == pytest.approx(2.0 / (8 / 30.0 * 1e3 * 3600) * 1e6)
    assert any(r.startswith("Cost: 2.083 per million sentences at 2 per hour") for r in d.reasons)
    assert ranking_rows(d)[0]["cost / 1M sentences"] == "2.083"
    pack = review_pack(d, [], Provenance("CPU: Test CPU", "abc", "torch", "SST-2", "feed"))
    assert "2.083" in pack and "measured on CPU: Test CPU (model-only p50 at batch 8 × 128 tokens)" in pack


def test_review_pack_without_accuracy_plots_memory_and_drops_empty_columns():
    d = decide(NO_ACCURACY, Constraints(1, 128))
    rows = ranking_rows(d)
    assert "accuracy [95 %]" not in rows[0] and rows[0]["speed-up vs teacher fp32 (eager) [95 %]"].startswith("3.33×")
    fig = frontier_figure(d)
    assert fig.axes[0].get_ylabel() == "peak memory while running (MiB)"
    named = {t.get_text() for t in fig.axes[0].texts}
    assert named == {v.candidate.name for v in d.verdicts if v.pareto or v is d.recommendation}
    pack = review_pack(d, [], Provenance("GPU", "abc", "torch", "no labelled set", "–"))
    assert "sets peak memory against latency" in pack and "95 % t-interval on log ratios" in pack
