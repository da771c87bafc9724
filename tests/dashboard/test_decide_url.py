"""The Decide link: constraints survive the round trip through query parameters, and hostile values fall back or
are clamped with a fixed note that never echoes them."""

from benchmarks.analysis.constraints import Constraints
from dashboard.sections.decide_url import from_query, to_query


def test_url_round_trip_and_hostile_values():
    k = Constraints(8, 64, "p95", budget_ms=12.5, min_accuracy=88, max_drop_pp=1, max_memory_mb=300, max_size_mb=70.5,
                    objective="size", machine="abc:cpu", price_per_hour=2.48)
    default = Constraints(1, 128, machine="abc:cpu")
    back, notes = from_query(to_query(k), ["abc:cpu"], [1, 8, 32], [16, 64, 128], default)
    assert back == k and notes == ()
    hostile = {"hw": "<script>", "batch": "7", "seq": "x", "pct": "p42", "budget": "nan", "min_acc": "1e9",
               "max_drop": "-5", "max_mem": "inf", "rank": "**bold**", "price": "<b>cheap</b>"}
    got, notes = from_query(hostile, ["abc:cpu"], [1, 8, 32], [16, 64, 128], default)
    assert got == Constraints(8, 128, machine="abc:cpu", min_accuracy=100.0, max_drop_pp=0.0)
    assert len(notes) == 10
    assert not any(v in n for n in notes for v in ("<script>", "**bold**", "p42", "1e9", "cheap"))
