"""gradients.flow on real models: the gradient pass against plain autograd, losses, skips."""
import numpy as np
import pytest

from tests.fixtures.audits import audit, check, template


def test_gradient_pass_matches_plain_autograd(tiny_gpt2):
    """Per-probe ||dLoss_b/dH_l|| from the capture pass equals autograd on each probe's own LM loss."""
    import torch
    import torch.nn.functional as F

    from auditor.checks._tasks import ProbeTask
    from auditor.models.load import load_model
    from auditor.probes import load_probes

    adapter = load_model(tiny_gpt2, device="cpu")
    batch = next(adapter.batches(load_probes("builtin:text", limit=4), 4))

    def hooks():
        return [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in adapter.model.modules()]

    adapter.capture(batch, frozenset({"hidden"}))           # transformers adds hooks of its own on a first run
    before = hooks()
    trace = adapter.capture(batch, frozenset({"hidden", "gradients"}), task=ProbeTask("causal_lm", np.ones(4, bool), None))
    assert hooks() == before and all(p.requires_grad for p in adapter.model.parameters())
    inputs = {k: torch.from_numpy(v) for k, v in batch.inputs.items()}
    out = adapter.model(**inputs, output_hidden_states=True)
    mask = torch.from_numpy(batch.mask)
    for row in range(4):
        valid = (mask[row, 1:] & mask[row, :-1]).float()
        tokens = F.cross_entropy(out.logits[row, :-1], inputs["input_ids"][row, 1:], reduction="none")
        loss = (tokens * valid).sum() / valid.sum()
        # transformers' last hidden state has ln_f applied; boundaries 0..L-1 are the block inputs
        grads = torch.autograd.grad(loss, out.hidden_states[:-1], retain_graph=True)
        expected = [float((g[row] * mask[row, :, None]).norm()) for g in grads]
        assert trace.grad_hidden[row, :-1] == pytest.approx(expected, rel=1e-4)
        assert trace.loss[row] == pytest.approx(float(loss.detach()), rel=1e-5)
    assert all(p.grad is not None for p in adapter.blocks[0].parameters())
    assert adapter.model.transformer.wte.weight.grad is None                  # only blocks take gradients
    norms = adapter.parameter_gradient_norms()
    assert len(norms) == 2 and min(norms) > 0 and adapter.blocks[0].attn.c_attn.weight.grad is None


def test_minilm_gradient_flow(minilm_audit):
    result = check(minilm_audit["json"], "gradients.flow")
    m = result["metrics"]
    assert result["status"] == "pass"
    assert len(m["grad_norm_hidden"]) == 7 and len(m["grad_norm_params"]) == 6
    assert min(m["grad_norm_hidden"]) > 0 and min(m["grad_norm_params"]) > 0
    assert m["grad_ratio"] >= 1 and m["grad_attenuation"] == pytest.approx(m["grad_norm_hidden"][0] /
                                                                          m["grad_norm_hidden"][-1])


def test_onnx_gradients_are_skipped_with_the_reason(minilm_folder):
    result = check(audit(str(minilm_folder), limit=40), "gradients.flow")
    assert result["status"] == "skipped" and "no gradients" in result["summary"]


def test_headless_encoder_with_unlabelled_probes_is_skipped(tiny_bert, tmp_path):
    probes = tmp_path / "unlabelled.csv"
    probes.write_text("text\nthe loan is approved\nthe claim was denied\nurgent patient triage\n")
    result = audit(str(tiny_bert), probes=str(probes), template=template("gradients.flow", "attention.structure"))
    grads = check(result, "gradients.flow")
    assert grads["status"] == "skipped" and "no output head" in grads["summary"] and "labels" in grads["summary"]
    attention = check(result, "attention.structure")
    assert attention["status"] == "pass" and attention["metrics"]["head_importance"] is None


def test_loss_follows_the_model(tiny_gpt2, tiny_vit):
    gpt = audit(str(tiny_gpt2), limit=16)
    assert gpt["evidence"]["gradients.flow"]["loss_kind"] == "causal_lm"
    assert gpt["evidence"]["gradients.flow"]["label_source"] is None          # next tokens, not labels
    vit = audit(str(tiny_vit), probes="builtin:images", limit=24)
    assert vit["evidence"]["gradients.flow"]["loss_kind"] == "head"
    assert "own predictions" in vit["evidence"]["gradients.flow"]["loss"]   # shape names are not its classes
    assert "the probe labels are not the model's classes" in vit["evidence"]["gradients.flow"]["loss"]
    assert vit["evidence"]["gradients.flow"]["label_source"] == "model_predictions"
    assert len(check(vit, "gradients.flow")["metrics"]["grad_norm_hidden"]) == 3
