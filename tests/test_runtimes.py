"""Each runtime against eager fp32 on the tiny generated pair: same logits (fp32), same predictions (int8); a runtime
that is missing or fails is one sentence, never a crash; artefacts are cached by content."""

import sys

import pytest
import torch

from benchmarks.runtimes import registry
from benchmarks.runtimes.base import RuntimeUnavailable, example_inputs
from tests.conftest import make_tiny_pair

SHAPES = [(1, 8), (4, 16)]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from transformers import AutoModelForSequenceClassification

    folders = make_tiny_pair(tmp_path_factory.mktemp("rt"))
    return [AutoModelForSequenceClassification.from_pretrained(f).eval() for f in folders]


def _prepare(runtime, model, variant, tmp_path, shapes=SHAPES):
    return registry.prepare(runtime, model, variant, variant, device=torch.device("cpu"), threads=1, shapes=shapes,
                            cache_root=tmp_path, identity={"fingerprint": type(model).__name__})


def _inputs():
    ids, mask = example_inputs(4, 16)
    ids = torch.randint(5, 64, ids.shape, generator=torch.Generator().manual_seed(0))
    mask[1, 10:] = 0  # one padded row: the attention mask must reach the runtime
    return ids, mask


def _needs(runtime):
    reason = registry.unavailable_reason(runtime, "fp32", "cpu")
    return pytest.mark.skipif(reason is not None, reason=reason or "")


# Exporting takes ~8-12 s per model on an idle 2-core machine: the exporting runtimes count as slow.
@pytest.mark.parametrize("runtime", [pytest.param("eager")] + [pytest.param(r, marks=[_needs(r), pytest.mark.slow])
                                                               for r in ("onnxruntime", "openvino")])
def test_fp32_runtimes_match_eager(runtime, tiny_models, tmp_path):
    ids, mask = _inputs()
    for model in tiny_models if runtime != "onnxruntime" else tiny_models[1:]:  # the teacher's export: the int8 test
        with torch.inference_mode():
            expected = model(input_ids=ids, attention_mask=mask).logits
            prepared = _prepare(runtime, model, "fp32", tmp_path)
            got = prepared.model(input_ids=ids, attention_mask=mask).logits
            other_shape = prepared.model(input_ids=ids[:1, :7], attention_mask=mask[:1, :7]).logits
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
        assert other_shape.shape == (1, 2)  # one artefact serves every shape
        assert prepared.model.device == torch.device("cpu")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="inductor needs a C++ compiler")
def test_compiled_matches_eager_and_records_its_compile_time(tiny_models, tmp_path):
    ids, mask = _inputs()
    model = tiny_models[1]
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask).logits
        prepared = _prepare("compile", model, "fp32", tmp_path, shapes=[(4, 16)])
        got = prepared.model(input_ids=ids, attention_mask=mask).logits
        unseen = prepared.model(input_ids=ids[:2, :9], attention_mask=mask[:2, :9]).logits  # the dynamic graph
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(unseen, model(input_ids=ids[:2, :9], attention_mask=mask[:2, :9]).logits,
                               atol=1e-4, rtol=1e-4)
    assert prepared.export_s > 0


@_needs("onnxruntime")
def test_onnxruntime_int8_agrees_with_eager_and_caches_its_artefact(tiny_models, tmp_path):
    ids, mask = _inputs()
    model = tiny_models[0]
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask).logits
        first = _prepare("onnxruntime", model, "int8-dynamic", tmp_path)
        again = _prepare("onnxruntime", model, "int8-dynamic", tmp_path)
        got = first.model(input_ids=ids, attention_mask=mask).logits
    # int8 moves logits a little; on a random tiny model compare closeness, not exact predictions
    assert (got - expected).abs().max() < 0.1
    assert not first.reused and again.reused and again.export_s == first.export_s
    assert first.artefact_bytes > 0 and len(list((tmp_path / "onnxruntime").iterdir())) == 1


def _calibration(n=12):
    generator = torch.Generator().manual_seed(1)
    return [(torch.randint(5, 64, (1, 4 + i % 9), generator=generator), torch.ones(1, 4 + i % 9, dtype=torch.long))
            for i in range(n)]


@pytest.mark.slow
@pytest.mark.skipif(registry.unavailable_reason("openvino", "int8-static", "cpu") is not None,
                    reason=registry.unavailable_reason("openvino", "int8-static", "cpu") or "")
def test_openvino_static_int8_stays_close_to_eager_and_is_keyed_by_its_calibration(tiny_models, tmp_path):
    ids, mask = _inputs()
    model = tiny_models[1]
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask).logits
        first = registry.prepare("openvino", model, "int8-static", "int8", device=torch.device("cpu"), threads=1,
                                 shapes=SHAPES, cache_root=tmp_path, identity={"fingerprint": "s"},
                                 calibration=_calibration())
        got = first.model(input_ids=ids, attention_mask=mask).logits
    assert (got - expected).abs().max() < 0.1
    assert "int8" in first.dtype and "12 sentences" in first.dtype and first.artefact_bytes > 0
    with open(next((tmp_path / "openvino").glob("*/model.xml")), encoding="utf-8") as ir:
        assert "FakeQuantize" in ir.read()  # activations really are quantized, not only weights
    again = registry.prepare("openvino", model, "int8-static", "int8", device=torch.device("cpu"), threads=1,
                             shapes=SHAPES, cache_root=tmp_path, identity={"fingerprint": "s"},
                             calibration=_calibration(6))
    assert not again.reused  # other calibration data, another artefact
    with pytest.raises(RuntimeUnavailable, match="needs calibration sentences"):
        registry.prepare("openvino", model, "int8-static", "int8", device=torch.device("cpu"), threads=1,
                         shapes=SHAPES, cache_root=tmp_path / "none", identity={"fingerprint": "s"})


def test_static_int8_without_nncf_is_one_sentence(monkeypatch):
    monkeypatch.setattr(registry, "_installed", lambda module: module in ("torch", "openvino"))
    monkeypatch.setattr(registry, "library_version", lambda runtime: "1.0")
    assert registry.unavailable_reason("openvino", "int8-static", "cpu") == (
        "OpenVINO's int8 needs NNCF, which is not installed (pip install '.[runtimes]').")
    assert registry.unavailable_reason("openvino", "fp32", "cpu") is None
    assert "does not run int8-static" in registry.unavailable_reason("eager", "int8-static", "cpu")


def test_the_artefact_cache_keeps_its_size_dropping_the_least_recently_used(tmp_path):
    import os

    from benchmarks.runtimes.base import cached_artefact, prune_artefacts

    def build(folder):
        (folder / "graph.bin").write_bytes(b"x" * 400_000)  # three of them: 1.2 MiB

    folders = [tmp_path / "onnxruntime" / name for name in ("old", "used", "new")]
    for age, folder in enumerate(folders):
        cached_artefact(folder, build, lambda: 0.0)
        os.utime(folder / "artefact.json", (1000 + age, 1000 + age))
    cached_artefact(folders[1], build, lambda: 0.0)  # reused: now the most recently used
    (tmp_path / "onnxruntime" / "stray.tmp123").mkdir()  # a build in flight is no artefact: never touched
    assert prune_artefacts(tmp_path, 1, keep=folders[2]) == [folders[0]]  # the oldest use goes; 0.8 MiB stay
    assert not folders[0].exists() and (tmp_path / "onnxruntime" / "stray.tmp123").exists()
    # Over the cap even with one folder: the one just made stays, whatever its size.
    assert prune_artefacts(tmp_path, 0, keep=folders[2]) == [folders[1]]
    assert folders[2].exists()


def test_artefact_folders_differ_by_runtime_and_precision(tmp_path):
    from benchmarks.runtimes.base import artefact_folder

    names = {artefact_folder(tmp_path, r, {"fingerprint": "x", "variant": v}) for r in ("onnxruntime", "openvino")
             for v in ("fp32", "int8-dynamic")}
    assert len(names) == 4


def test_a_missing_runtime_is_one_sentence_not_a_crash(monkeypatch, tiny_models, tmp_path):
    monkeypatch.setattr(registry, "_installed", lambda module: module == "torch")
    reason = registry.unavailable_reason("openvino", "fp32", "cpu")
    assert reason == "OpenVINO is not installed (pip install '.[runtimes]')."
    with pytest.raises(RuntimeUnavailable, match="ONNX Runtime is not installed"):
        _prepare("onnxruntime", tiny_models[0], "fp32", tmp_path)
    assert registry.unavailable_reason("eager", "fp32", "cpu") is None
    assert "does not run int8-dynamic" in registry.unavailable_reason("compile", "int8-dynamic", "cpu")


def test_a_failing_export_is_one_sentence(monkeypatch, tiny_models, tmp_path):
    from benchmarks.runtimes import onnxruntime as onnx_runtime

    def broken(model, path):
        raise RuntimeError("unsupported operator aten::weird\nlong traceback text")

    monkeypatch.setattr(onnx_runtime, "export_onnx", broken)
    if registry.unavailable_reason("onnxruntime", "fp32", "cpu"):
        pytest.skip("onnxruntime not installed")
    with pytest.raises(RuntimeUnavailable) as info:
        _prepare("onnxruntime", tiny_models[0], "fp32", tmp_path)
    assert str(info.value) == ("ONNX Runtime could not prepare the model (fp32): unsupported operator aten::weird")
    assert not list((tmp_path / "onnxruntime").iterdir())  # no half-written artefact left behind
