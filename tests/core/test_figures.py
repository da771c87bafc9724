"""The one definition of throughput and size: every page's figure comes from it, with its conditions in words."""

import json

import pytest
import torch

from benchmarks.analysis import scoring
from benchmarks.analysis.metrics import Latency
from benchmarks.core.data import LabelledTexts
from benchmarks.core.figures import Conditions, Throughput, mib, size_label, throughput, weights_bytes
from benchmarks.core.models import load_model
from benchmarks.core.pairs import ModelSpec
from benchmarks.distill.live import DevScore, score_on_dev
from benchmarks.harness.results import CellResult
from benchmarks.harness.tables import cell_rows
from tests.benchmark_fakes import result as make_result


def test_throughput_is_the_sentences_of_a_pass_over_its_median_time():
    cond = Conditions(32, 2, tokens=128)
    figure = throughput(32, [0.5, 0.4, 2.0], cond)  # a slow outlier pass does not move the median
    assert figure.seconds == 0.5 and figure.per_second == 64 and figure.label == "64 sentences/s"
    assert figure.describe() == "64 sentences/s (batch 32 × 128 tokens, no padding, model only, 2 threads)"
    assert Throughput(1, 0.4, cond).label == "2.5 sentences/s"  # small figures keep a digit
    with pytest.raises(ValueError):
        throughput(32, [], cond)
    with pytest.raises(ValueError):
        Throughput(0, 1.0, cond)


def test_conditions_say_in_words_what_differs():
    padded = Conditions(64, 1, tokenizer=True, load_average=9.25)
    assert padded.describe() == ("batch 64, real sentence lengths padded to each batch's longest, tokenizer included, "
                                 "1 thread, host load average 9.2")
    assert Conditions(8, None, tokens=16).describe() == "batch 8 × 16 tokens, no padding, model only"
    assert Conditions(1, 2, tokenizer=True).describe() == ("batch 1, each sentence at its own length, tokenizer "
                                                           "included, 2 threads")
    with pytest.raises(ValueError):
        Conditions(0, 2)


def test_throughput_survives_json():
    figure = Throughput(872, 3.5, Conditions(64, 2, tokenizer=True, load_average=1.5))
    assert Throughput.from_dict(json.loads(json.dumps(figure.to_dict()))) == figure


def test_size_is_the_state_dict_in_its_running_precision():
    model = torch.nn.Linear(256, 256)  # 65,792 parameters
    fp32 = weights_bytes(model)
    assert 4 * 65_792 <= fp32 < 4 * 65_792 + 4096  # the tensors plus torch.save's small header
    bf16 = weights_bytes(model.to(torch.bfloat16))
    assert 2 * 65_792 <= bf16 < fp32 * 0.51 + 4096
    assert mib(3 * 2**20) == 3 and size_label(87 * 2**20, "fp32") == "87.0 MiB of fp32 weights"


def test_a_benchmark_cell_is_one_batch_over_its_p50_with_the_run_threads():
    result = make_result("teacher")  # measured at 2 threads
    cell = result.cells[0]
    figure = result.throughput(cell.batch, cell.seq_len)
    assert figure == cell.throughput("model", 2)
    assert figure.per_second == pytest.approx(cell.batch / (cell.model.p50 / 1e3))
    assert figure.conditions == Conditions(cell.batch, 2, tokens=cell.seq_len)
    e2e = result.throughput(cell.batch, cell.seq_len, "e2e")
    assert e2e.conditions.tokenizer and "tokenizer included" in e2e.describe()
    assert result.throughput(999, 999) is None
    scoring_pass = result.eval_throughput  # 872 sentences in 3 s, at the settings' scoring batch
    assert scoring_pass.per_second == pytest.approx(872 / 3) and scoring_pass.conditions == Conditions(64, 2,
                                                                                                      tokenizer=True)
    row = cell_rows([result])[0]
    assert row["sentences_per_s"] == figure.per_second and row["conditions"] == figure.conditions.describe()


def test_the_summary_and_the_live_table_use_the_same_definition(allow_tmp_models):
    teacher = load_model(ModelSpec("local", str(allow_tmp_models[0]), "teacher"))
    dev = LabelledTexts(tuple(f"good movie {i}" for i in range(20)), (1,) * 20, "tiny dev")
    score = score_on_dev("teacher", teacher.model, teacher.tokenizer, dev, teacher.labels, torch.ones(20), 32)
    assert score.throughput.sentences == 20 and score.throughput.conditions.tokenizer
    assert score.throughput.conditions.threads == torch.get_num_threads()
    assert score.weights_bytes == teacher.weights_bytes == weights_bytes(teacher.model)
    # a job stored as JSON reads back the same figure
    raw = json.loads(json.dumps({**score.__dict__, "throughput": score.throughput.to_dict()}))
    assert DevScore.from_dict(raw) == score
    # the Distillation summary's figure: the scoring pass, same definition
    run = scoring.ScoringRun("cpu", "CPU: test", 2, "2.13.0", 64, 128, "2026-01-01 00:00 UTC", 1.25)
    model = scoring.ModelScores("t", "t", ((0.0, 1.0),) * 10, 0.5)
    scores = scoring.DatasetScores("h", (1,) * 10, model, model, run)
    assert scores.throughput("teacher") == Throughput(10, 0.5, Conditions(64, 2, tokenizer=True, load_average=1.25,
                                                                          setup="PyTorch eager · fp32"))
    assert scores.throughput("teacher").describe().endswith("tokenizer included, PyTorch eager · fp32, 2 threads, host "
                                                            "load average 1.2)")


def test_a_live_job_stored_before_the_conditions_were_kept_still_reads():
    old = {"name": "teacher", "layers": 6, "params": 22_000_000, "accuracy": 0.9, "ci_low": 0.88, "ci_high": 0.92,
           "agreement": 1.0, "sentences_per_second": 218.0}
    score = DevScore.from_dict(old)
    assert score.throughput.per_second == pytest.approx(218.0) and score.throughput.conditions.threads is None
    assert score.weights_bytes == 0


def test_cell_conditions_match_the_cell():
    cell = CellResult(8, 16, 128, 1e9, Latency.from_values([10.0, 11.0, 12.0]), Latency.from_values([12.0, 13.0, 14.0]))
    assert cell.throughput("e2e", 1).per_second == pytest.approx(8 / 0.013)
