"""attention.structure on real models: a silenced head has zero importance; formats agree."""
import numpy as np
import pytest

from tests.fixtures.audits import audit, check


def test_a_head_whose_output_is_zero_has_zero_importance(tiny_gpt2):
    import torch

    from auditor.checks._tasks import ProbeTask
    from auditor.models.load import load_model
    from auditor.probes import load_probes

    adapter = load_model(tiny_gpt2, device="cpu")
    d = adapter.identity.hidden_size
    head = d // adapter.identity.heads
    with torch.no_grad():   # GPT-2's c_attn holds q, k, v side by side: silence head 0's values in block 0
        adapter.blocks[0].attn.c_attn.weight[:, 2 * d:2 * d + head] = 0.0
        adapter.blocks[0].attn.c_attn.bias[2 * d:2 * d + head] = 0.0
    batch = next(adapter.batches(load_probes("builtin:text", limit=6), 6))
    trace = adapter.capture(batch, frozenset({"hidden", "attentions", "gradients"}),
                            task=ProbeTask("causal_lm", np.ones(6, bool), None))
    assert trace.head_grad.shape == (6, 2, 2)
    assert np.all(trace.head_grad[:, 0, 0] == 0.0)
    assert np.all(trace.head_grad[:, 0, 1] > 0) and np.all(trace.head_grad[:, 1, :] > 0)


def test_minilm_attention_structure(minilm_audit):
    result = check(minilm_audit["json"], "attention.structure")
    m = result["metrics"]
    assert result["status"] == "pass"
    for name in ("entropy", "distance", "sink_share", "head_importance"):
        assert np.asarray(m[name]).shape == (6, 12), name
    entropy = np.asarray(m["entropy"])
    assert entropy.min() >= 0 and entropy.max() <= 1 and 0.2 < m["mean_entropy"] < 0.9
    assert np.asarray(m["head_importance"]).min() >= 0
    assert m["prunable_attention_share"] == pytest.approx(m["redundant_heads"] / 72)
    importance = np.asarray(m["head_importance"])      # the rule: below 0.1 x the mean head (quick's default)
    assert m["redundant_heads"] == int((importance < 0.1 * importance.mean()).sum())
    from auditor.store import open_db, queries

    stored = queries.stored_content(open_db(minilm_audit["db"]), minilm_audit["json"]["audit_id"], None)
    evidence = next(c["evidence"] for c in stored["checks"] if c["id"] == "attention.structure")
    assert evidence["importance_rule"] == "importance below 0.1 x the mean head importance"
    assert evidence["importance_threshold"] == pytest.approx(0.1 * importance.mean())


def test_onnx_attention_matches_pytorch(minilm_folder, minilm_path):
    onnx = check(audit(str(minilm_folder), limit=40), "attention.structure")["metrics"]
    torch_run = check(audit(str(minilm_path), limit=40), "attention.structure")["metrics"]
    for name in ("entropy", "distance", "sink_share"):
        assert np.asarray(onnx[name]) == pytest.approx(np.asarray(torch_run[name]), abs=1e-4), name
    assert onnx["head_importance"] is None and torch_run["head_importance"] is not None


def test_causal_and_vision_attention(tiny_gpt2, tiny_vit):
    gpt = audit(str(tiny_gpt2), limit=16)
    assert gpt["evidence"]["attention.structure"]["causal"] is True
    assert np.asarray(check(gpt, "attention.structure")["metrics"]["entropy"]).shape == (2, 2)
    vit = audit(str(tiny_vit), probes="builtin:images", limit=24)
    assert vit["evidence"]["attention.structure"]["causal"] is False
    assert np.asarray(check(vit, "attention.structure")["metrics"]["head_importance"]).shape == (2, 2)
