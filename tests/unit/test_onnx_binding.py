"""ONNX runs through IOBinding capture what session.run does; a CPU session after CUDA was asked for says why.

The bound path is device-generic, so on this machine (no GPU) it runs on the CPU provider with the
same binding calls the CUDA provider gets.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from auditor.errors import BadInput
from auditor.models import onnx_binding
from auditor.models.onnx_adapter import OnnxAdapter
from auditor.probes.types import ProbeSet
from tests.fixtures import onnx_models as om

TEXTS = ["the bank of the river", "a loan is risk", "the model audit report is data for the test",
         "fish in water", "this layer was a token", "an image of the report"]
ALL_POINTS = frozenset({"hidden", "attentions", "logits"})


def _probes(kind: str) -> ProbeSet:
    if kind == "image":
        return ProbeSet(spec="test:images", kind="image", sha256="0" * 64, images=om.random_images(5))
    return ProbeSet(spec="test:text", kind="text", sha256="0" * 64, texts=TEXTS)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("onnx_binding")
    return {"gpt2": om.export_tiny_gpt2(root / "gpt2"), "bert": om.export_tiny_bert(root / "bert"),
            "vit": om.export_tiny_vit(root / "vit")}


def _captures(adapter: OnnxAdapter, kind: str) -> list:
    return [adapter.capture(b, ALL_POINTS) for b in adapter.batches(_probes(kind), 4)]


@pytest.mark.parametrize(("name", "kind"), [("gpt2", "text"), ("bert", "text"), ("vit", "image")])
def test_bound_capture_matches_session_run(exports: dict[str, Path], name: str, kind: str) -> None:
    plain = OnnxAdapter(exports[name], device="cpu")
    bound = OnnxAdapter(exports[name], device="cpu", io_binding=True)
    calls: list[list[str]] = []
    runner = bound._bound
    assert runner is not None and plain._bound is None
    inner = runner.run
    runner.run = lambda fetch, feed: calls.append(list(fetch)) or inner(fetch, feed)   # type: ignore[method-assign]
    try:
        assert bound.identity.details["io_binding"] is True and plain.identity.details["io_binding"] is False
        expected, got = _captures(plain, kind), _captures(bound, kind)
        assert len(calls) == len(got) == 2            # every batch went through the binding
        compared = 0
        for a, b in zip(expected, got, strict=True):
            assert len(a.hidden) == len(b.hidden) > 0
            assert (a.logits is None) == (b.logits is None) and (a.attentions is None) == (b.attentions is None)
            pairs = [*zip(a.hidden, b.hidden, strict=True), *([(a.logits, b.logits)] if a.logits is not None else []),
                     *zip(a.attentions or [], b.attentions or [], strict=True)]
            for x, y in pairs:
                assert x is not None and y is not None and y.dtype == np.float32 and x.shape == y.shape
                np.testing.assert_allclose(y, x, rtol=0, atol=1e-6)
                compared += 1
        assert compared >= 2 * len(expected[0].hidden)
        # the model's own outputs (forward) take the same path
        batch = next(iter(bound.batches(_probes(kind), 4)))
        np.testing.assert_allclose(bound.forward(batch), plain.forward(batch), rtol=0, atol=1e-6)
    finally:
        plain.close()
        bound.close()


def _two_output_graph() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 3])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["b", 3]) for n in ("relu", "neg")]
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["relu"]), helper.make_node("Neg", ["x"], ["neg"])],
                              "g", [x], outs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


def test_runner_returns_outputs_in_fetch_order() -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(_two_output_graph(), providers=["CPUExecutionProvider"])
    x = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 6.0]], dtype=np.float32)
    runner = onnx_binding.BoundRunner(session, "cpu")
    for fetch in (["neg", "relu"], ["relu", "neg"], ["neg"]):
        got = runner.run(fetch, {"x": x})
        want = session.run(fetch, {"x": x})
        assert len(got) == len(fetch)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    # a second batch of another size reuses nothing from the first
    np.testing.assert_array_equal(runner.run(["neg"], {"x": x[:1]})[0], -x[:1])


def _cuda_really_starts(path: Path) -> bool:
    adapter = OnnxAdapter(path, device="auto")
    try:
        return adapter.device == "cuda"
    finally:
        adapter.close()


def test_cpu_after_auto_records_the_fallback_and_its_reason(exports: dict[str, Path]) -> None:
    import onnxruntime as ort

    adapter = OnnxAdapter(exports["gpt2"], device="auto")
    try:
        details = adapter.identity.details
        if adapter.device == "cuda":
            pytest.skip("a CUDA session starts on this machine: no fallback to record")
        assert details["providers"] == ["CPUExecutionProvider"] and details["io_binding"] is False
        fallback = details["provider_fallback"]
        assert fallback["requested"] == "auto" and fallback["ran"] == "CPUExecutionProvider"
        assert fallback["reason"] == onnx_binding.why_not_cuda(ort.get_available_providers())
    finally:
        adapter.close()
    cpu = OnnxAdapter(exports["gpt2"], device="cpu")
    try:
        assert "provider_fallback" not in cpu.identity.details    # the CPU asked for is no fallback
    finally:
        cpu.close()


def test_cuda_asked_for_without_one_is_refused_with_the_reason(exports: dict[str, Path]) -> None:
    import onnxruntime as ort

    if _cuda_really_starts(exports["gpt2"]):
        pytest.skip("a CUDA session starts on this machine")
    with pytest.raises(BadInput) as refused:
        OnnxAdapter(exports["gpt2"], device="cuda")
    reason = onnx_binding.why_not_cuda(ort.get_available_providers())
    assert str(refused.value) == (f"--device cuda was asked for but onnxruntime could not start a CUDA session "
                                  f"({reason}); use --device auto or cpu")


def test_reasons_name_the_missing_piece() -> None:
    assert "onnxruntime-gpu" in onnx_binding.why_not_cuda(["CPUExecutionProvider"])
    failed = onnx_binding.why_not_cuda([onnx_binding.CUDA, "CPUExecutionProvider"], "libcublasLt.so.12 not found")
    assert failed == "onnxruntime's CUDA provider failed to start: libcublasLt.so.12 not found"
    silent = onnx_binding.why_not_cuda([onnx_binding.CUDA, "CPUExecutionProvider"])
    assert silent and "onnxruntime-gpu" not in silent

