"""Fast by default: the chooser takes the fastest setup measured here that changes no SST-2 dev answer."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.harness.fastest import EAGER, fastest_equivalent
from benchmarks.harness.machines import Machine
from tests.benchmark_fakes import GPU_BOX, HARDWARE, result

HERE = Machine.of(HARDWARE, "cpu", 2)
ALL = {EAGER, ("onnxruntime", "fp32"), ("openvino", "fp32"), ("eager", "int8-dynamic")}


def _flipped(r, n: int = 1):
    predictions = r.accuracy.predictions
    changed = "".join("0" if c == "1" else "1" for c in predictions[:n]) + predictions[n:]
    return replace(r, accuracy=replace(r.accuracy, predictions=changed))


def test_the_fastest_setup_with_the_same_answers_wins():
    records = [
        result(), result(runtime="onnxruntime", speed=2.5), result(runtime="openvino", speed=2.0),
        _flipped(result(variant="int8-dynamic", speed=5.0)),  # fastest, but one answer changed: never the default
    ]
    choice = fastest_equivalent(records, "abc123", HERE, ALL)
    assert choice.setup == ("onnxruntime", "fp32")
    assert "0.40× eager fp32's time" in choice.why and "changes none of the 872 SST-2 dev answers" in choice.why
    # Not installed here now: the next one that is
    assert fastest_equivalent(records, "abc123", HERE, ALL - {("onnxruntime", "fp32")}).setup == ("openvino", "fp32")


def test_eager_when_nothing_is_measured_here_or_nothing_is_faster():
    records = [result(), result(runtime="onnxruntime", speed=2.5)]
    elsewhere = Machine.of(GPU_BOX, "cpu", 2)
    assert fastest_equivalent(records, "abc123", elsewhere, ALL).setup == EAGER
    assert "no setup of this model was measured" in fastest_equivalent(records, "abc123", elsewhere, ALL).why
    assert fastest_equivalent(records, "another-model", HERE, ALL).setup == EAGER
    assert fastest_equivalent(records, "abc123", Machine.of(HARDWARE, "cpu", 1), ALL).setup == EAGER  # other threads
    slower = [result(), result(runtime="onnxruntime", speed=0.8)]
    assert "nothing measured on this machine" in fastest_equivalent(slower, "abc123", HERE, ALL).why
    no_answers = [replace(result(), accuracy=None), result(runtime="onnxruntime", speed=2.5)]
    assert fastest_equivalent(no_answers, "abc123", HERE, ALL).setup == EAGER


def test_setups_are_compared_with_eager_of_their_own_run_only():
    from tests.benchmark_fakes import SETTINGS

    other_run = replace(SETTINGS, batch_sizes=(1, 32), seq_lens=(16, 64))
    records = [
        result(speed=4.0),  # a quiet run of eager alone: faster in absolute terms than anything below
        result(settings=other_run), result(runtime="openvino", speed=2.0, settings=other_run),  # a busier run
    ]
    choice = fastest_equivalent(records, "abc123", HERE, ALL)
    assert choice.setup == ("openvino", "fp32") and "0.50× eager fp32's time in the same run" in choice.why


def test_the_scoring_cell_can_choose_differently():
    fast_at_one = result(runtime="openvino", speed=2.0)
    records = [result(), fast_at_one]
    assert fastest_equivalent(records, "abc123", HERE, ALL, cell=(32, 64)).setup == ("openvino", "fp32")
    assert fastest_equivalent(records, "abc123", HERE, ALL, cell=(3, 3)).setup == EAGER  # no such cell measured
