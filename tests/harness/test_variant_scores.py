"""Own-data accuracy per precision variant: scored once through the dataset-scoring cache, keyed by the data's
content, and never converting the shared (cached) model in place."""

from benchmarks.core.data import LabelledTexts
from benchmarks.core.models import load_pair
from benchmarks.core.pairs import custom_pair
from benchmarks.harness.variant_scores import cached_variant_scores, score_variants


def test_variants_are_scored_once_and_the_shared_model_stays_fp32(allow_tmp_models, tmp_path):
    teacher, student = allow_tmp_models
    pair = load_pair(custom_pair(str(teacher), str(student)))
    data = LabelledTexts(("good movie", "awful movie !", "the great a", "bad ."), (1, 0, 1, 0), "uploaded file x.tsv")
    assert cached_variant_scores(pair, data, ["fp32", "int8-dynamic"], tmp_path) == {}
    seen = []
    scores = score_variants(pair, data, ["fp32", "int8-dynamic"], tmp_path, progress=lambda f, msg: seen.append(f))
    assert set(scores) == {"fp32", "int8-dynamic"} and seen and max(seen) <= 1.0
    assert scores["int8-dynamic"].teacher.fingerprint == f"{pair.teacher.fingerprint}+int8-dynamic"
    assert scores["fp32"].data_hash == scores["int8-dynamic"].data_hash  # one data set, keyed by its content
    assert type(pair.teacher.model.classifier).__name__ == "Linear"  # the shared model was not quantized
    assert len(list(tmp_path.glob("*.json"))) == 2
    again = cached_variant_scores(pair, data, ["fp32", "int8-dynamic"], tmp_path)
    assert again == scores  # read back, nothing recomputed
    other = LabelledTexts(data.texts, (1, 1, 1, 0), "uploaded file x.tsv")  # same name, other content: a miss
    assert cached_variant_scores(pair, other, ["fp32"], tmp_path) == {}
