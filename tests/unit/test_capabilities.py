"""Adapter capabilities as types: each optional method set is a protocol tied to a Capability, the runner
trusts a declared capability only when the adapter implements it, and every reason an adapter gives for a
missing capability is a catalogue sentence in English and Japanese."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from auditor.checks.base import AuditContext, Check, CheckResult
from auditor.findings import why_not_fed
from auditor.messages import Message, render
from auditor.models.base import (
    PROTOCOLS,
    Capability,
    GradientCapable,
    ModelBatch,
    ModelIdentity,
    Occludable,
    Perturbable,
    Reinitialisable,
    capture_points,
    supported,
)
from auditor.probes.types import ProbeSet
from auditor.runner import run_checks
from auditor.trace import Trace, TraceBatch
from tests.unit.test_check_sentences_engine import english_words


@pytest.fixture(scope="module")
def unfed_onnx(tmp_path_factory):
    """A real ONNX graph that reads neither text nor images (a file-type CNN over a float tensor)."""
    from auditor.models.onnx_adapter import OnnxAdapter
    from tests.fixtures.odd_models import make_filetype_cnn

    adapter = OnnxAdapter(make_filetype_cnn(tmp_path_factory.mktemp("cnn") / "filetype.onnx"), device="cpu")
    yield adapter
    adapter.close()


def test_onnx_is_not_gradient_capable_nor_reinitialisable_and_torch_is(unfed_onnx, tiny_bert):
    from auditor.models.load import load_model

    for protocol in (GradientCapable, Reinitialisable, Occludable):
        assert not isinstance(unfed_onnx, protocol)
    # onnxruntime runs input-level perturbed copies (no embedding noise): the graph is Perturbable, but one
    # that nothing can be fed to does not claim the capability
    assert isinstance(unfed_onnx, Perturbable) and Capability.PERTURBATIONS not in unfed_onnx.capabilities
    torch_adapter = load_model(tiny_bert, device="cpu")
    try:
        for capability, protocol in PROTOCOLS.items():
            assert isinstance(torch_adapter, protocol) and capability in torch_adapter.capabilities
        assert supported(torch_adapter) == torch_adapter.capabilities
    finally:
        torch_adapter.close()
    # a claim the adapter cannot back is dropped: an ONNX graph has no backward pass
    assert supported(unfed_onnx, {Capability.GRADIENTS, Capability.LOGITS}) == {Capability.LOGITS}


def test_capture_points_are_capabilities():
    assert capture_points({"hidden", "attentions", Capability.GRADIENTS}) == {
        Capability.HIDDEN_STATES, Capability.ATTENTIONS, Capability.GRADIENTS}
    with pytest.raises(ValueError):
        capture_points({"hiden"})
    from auditor.checks import registry

    for check in registry.load_all().values():   # one vocabulary: what is captured is what a model supplies
        assert all(isinstance(point, Capability) for point in check.captures), check.id


def test_adapter_reasons_are_messages_stored_beside_their_english(unfed_onnx):
    why = unfed_onnx.unavailable_messages["hidden_states"]
    assert why.key == "adapter.onnx.unfed" and why.params["file"] == "filetype.onnx"
    assert unfed_onnx.unavailable["hidden_states"] == render(why, "en")
    details = unfed_onnx.identity.details
    assert details["unavailable_messages"]["hidden_states"] == why.to_json()
    assert Message.from_json(details["unavailable_messages"]["logits"]) == why
    # the English stays beside it for readers of strings; findings.why_not_fed takes the message
    assert details["unavailable"]["hidden_states"].startswith("filetype.onnx takes no text or images (inputs: ")
    assert Message.from_json(why_not_fed(details)) == why
    ja = render(why, "ja")
    assert ja.startswith("filetype.onnx はテキストも画像も入力に取りません（入力：")
    assert not english_words(ja.replace(why.params["inputs"], ""))    # the graph's own input names stay


class _NeedsAll(Check):
    id = "test.needs_all"
    requires = frozenset({Capability.HIDDEN_STATES, Capability.ATTENTIONS, Capability.LOGITS})

    def run(self, ctx):
        raise AssertionError("must not run")


class _NeedsGradients(_NeedsAll):
    id = "test.needs_gradients"
    requires = frozenset({Capability.GRADIENTS})


def test_runner_skips_with_the_adapters_reason_said_once(unfed_onnx):
    probes = ProbeSet(spec="test", kind="text", sha256="0" * 64, texts=["a", "b"])
    ctx = AuditContext(identity=unfed_onnx.identity, capabilities=unfed_onnx.capabilities, trace=Trace(),
                       probes=probes, model_path=Path("."), adapter=unfed_onnx)
    needs_all, gradients = run_checks([_NeedsAll(), _NeedsGradients()], ctx)
    reasons = needs_all.sentences[0].params["reasons"]
    assert needs_all.outcome == "skipped" and [r.key for r in reasons] == ["adapter.onnx.unfed"]
    assert needs_all.summary == "skipped: " + unfed_onnx.unavailable["hidden_states"]
    assert render(needs_all.sentences, "ja").startswith("対象外：filetype.onnx はテキストも画像も")
    assert gradients.summary == "skipped: the model format has no gradients (ONNX runtimes run inference only)"
    assert render(gradients.sentences, "ja") == "対象外：このモデル形式では勾配を得られません（ONNXランタイムは推論のみを実行します）。"


class _Claims:
    """An adapter that declares gradients and perturbations but implements neither."""

    identity = ModelIdentity(format="test", architecture="fixed", model_type="test", parameters=0, layers=1,
                             dtype="float32", sha256="0" * 64)
    capabilities = frozenset({Capability.HIDDEN_STATES, Capability.GRADIENTS, Capability.PERTURBATIONS})
    device = "cpu"

    def batches(self, probes, batch_size):
        yield ModelBatch(index=np.arange(probes.count), inputs={}, mask=np.ones((probes.count, 2), bool))

    def capture(self, batch, points):
        h = np.ones((batch.size, 2, 3), dtype=np.float32)
        return TraceBatch(index=batch.index, mask=batch.mask, hidden=[h, h])


def test_runner_trusts_a_capability_only_with_its_protocol():
    from auditor.checks.perturbation import PerturbationSensitivity

    adapter = _Claims()
    probes = ProbeSet(spec="test", kind="text", sha256="0" * 64, texts=["a", "b"])
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                       probes=probes, model_path=Path("."), adapter=adapter)
    perturbation, gradients = run_checks([PerturbationSensitivity(), _NeedsGradients()], ctx)
    assert perturbation.summary == "skipped: the model adapter cannot run perturbed copies"
    assert render(perturbation.sentences, "ja") == "対象外：このモデルのアダプタでは摂動を加えた入力を実行できません。"
    assert "no gradients" in gradients.summary and ctx.capabilities == {Capability.HIDDEN_STATES}


@pytest.mark.parametrize("capability", list(Capability))
def test_every_missing_capability_has_a_reason_in_both_languages(capability):
    result = CheckResult.skipped("x", Message(f"capability.missing.{capability.value}"))
    en, ja = result.summary, render(result.sentences, "ja")
    assert en.startswith("skipped: the model") and ja.startswith("対象外：") and ja.endswith("。")
    assert not english_words(ja), ja
