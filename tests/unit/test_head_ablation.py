"""Masking attention heads (models.head_mask) and attention.structure's ablation of its candidate heads."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from auditor.checks.attention import AttentionStructure, _sentences
from auditor.checks.base import AuditContext
from auditor.estimators.attention import ablation_effect, little_effect, output_cosine
from auditor.messages import Message, render
from auditor.models.base import HeadMaskable
from auditor.models.head_mask import find_projections, layer_gates
from auditor.models.hooks import block_boundaries, head_gates
from auditor.models.torch_grad import torch_pool
from auditor.runner import run_checks
from auditor.trace import Trace


@pytest.fixture(scope="module")
def bert(tiny_bert):
    from auditor.models.load import load_model

    adapter = load_model(tiny_bert, device="cpu")
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def bert_classifier(tmp_path_factory):
    from auditor.models.load import load_model
    from tests.fixtures.torch_models import make_tiny_bert

    adapter = load_model(make_tiny_bert(tmp_path_factory.mktemp("bert_cls"), classifier=True), device="cpu")
    yield adapter
    adapter.close()


def _batch(adapter, count: int = 6):
    from auditor.probes import load_probes

    return next(iter(adapter.batches(load_probes("builtin:text", limit=count), count)))


def _pooled(adapter, batch) -> np.ndarray:
    """The unmasked pooled final state, computed without any head hook."""
    inputs = adapter._inputs(batch)
    with torch.inference_mode(), block_boundaries(adapter.blocks) as seen:
        adapter.model(**inputs, return_dict=True)
    last = seen[f"blocks.{len(adapter.blocks)}.out"]
    return torch_pool(last, inputs["attention_mask"].bool(), adapter.pooling).float().numpy()


def test_masking_a_head_equals_zeroing_its_output_by_hand(bert, monkeypatch):
    batch = _batch(bert)
    masked = bert.mask_heads(batch, [(1, 2)]).pooled
    # by hand: the self-attention module of block 1 returns its context with head 2's slice set to zero
    attention = bert.blocks[1].attention.self
    width = attention.attention_head_size
    original = attention.forward

    def zeroed(*args, **kwargs):
        context, weights = original(*args, **kwargs)
        context = context.clone()
        context[..., 2 * width:3 * width] = 0.0
        return context, weights

    monkeypatch.setattr(attention, "forward", zeroed)
    by_hand = _pooled(bert, batch)
    monkeypatch.undo()
    assert np.abs(masked - by_hand).max() < 1e-6
    assert np.abs(masked - _pooled(bert, batch)).max() > 1e-4          # the head mattered: the test can fail


def test_masking_no_head_gives_the_unmasked_output_and_cosine_exactly_one(bert):
    batch = _batch(bert)
    masked = bert.mask_heads(batch, []).pooled
    clean = _pooled(bert, batch)
    assert np.array_equal(masked, clean)
    assert np.all(output_cosine(clean, masked) == 1.0)
    assert ablation_effect(clean, masked, None, None) == (1.0, None)


def test_masking_every_head_of_a_layer_gives_the_layer_without_attention(bert):
    batch = _batch(bert)
    projections, problem = find_projections(bert.blocks, bert.identity.heads)
    assert problem is None
    heads = [(1, h) for h in range(bert.identity.heads)]
    gates = layer_gates(heads, len(projections), bert.identity.heads, batch.size, "cpu")
    with torch.inference_mode(), block_boundaries(bert.blocks) as seen, \
            head_gates(projections, gates, bert.identity.heads):
        bert.model(**bert._inputs(batch), return_dict=True)
        # block 1 without attention: its attention sublayer adds only the output projection's bias
        layer, x = bert.blocks[1], seen["blocks.1.out"]
        after_attention = layer.attention.output.LayerNorm(x + layer.attention.output.dense.bias)
        expected = layer.output(layer.intermediate(after_attention), after_attention)
    assert torch.abs(seen["blocks.2.out"] - expected).max() < 1e-6


def test_the_projection_is_found_by_name_and_an_unknown_block_is_refused(bert, tiny_gpt2):
    from auditor.models.load import load_model

    projections, _ = find_projections(bert.blocks, bert.identity.heads)
    named = {id(m): n for n, m in bert.model.named_modules()}
    assert [named[id(p)] for p in projections] == [f"encoder.layer.{i}.attention.output.dense" for i in range(3)]
    gpt2 = load_model(tiny_gpt2, device="cpu")
    try:
        found, _ = find_projections(gpt2.blocks, gpt2.identity.heads)
        names = {id(m): n for n, m in gpt2.model.named_modules()}
        assert [names[id(p)] for p in found] == ["transformer.h.0.attn.c_proj", "transformer.h.1.attn.c_proj"]
    finally:
        gpt2.close()
    odd = [nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8)) for _ in range(2)]
    found, reason = find_projections(odd, 2)
    assert found is None and reason.key == "check.attention.structure.ablation.unknown_projection"
    assert "Sequential blocks is not one this version recognises" in render(reason, "en")


def test_onnx_models_cannot_mask_heads_and_the_ablation_is_none_with_a_reason(tmp_path):
    from auditor.models.load import load_model
    from auditor.probes import load_probes
    from tests.fixtures.onnx_models import export_tiny_bert

    adapter = load_model(export_tiny_bert(tmp_path / "bert"), device="cpu")
    try:
        assert not isinstance(adapter, HeadMaskable)
        probes = load_probes("builtin:text", limit=8)
        ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(), probes=probes,
                           model_path=tmp_path, adapter=adapter)
        (result,) = run_checks([AttentionStructure(relative_importance=1.0)], ctx, batch_size=4)
    finally:
        adapter.close()
    assert result.outcome == "ok", result.summary
    m = result.metrics
    assert m["ablation_output_cos"] is None and m["ablation_flip_rate"] is None
    assert m["low_effect_attention_share"] is None                   # not measured, so not zero
    assert result.evidence["ablation"] == "heads can only be masked through PyTorch hooks, which a model in onnx " \
                                          "format does not offer"
    assert "little effect" not in result.summary


def _audit(adapter, **params):
    from auditor.probes import load_probes

    probes = load_probes("builtin:text", limit=16)
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(), probes=probes,
                       model_path=adapter.folder, adapter=adapter)
    (result,) = run_checks([AttentionStructure(**params)], ctx, batch_size=4)
    return result, ctx


def test_the_check_masks_the_candidates_on_held_out_probes_and_says_little_effect_only_when_measured(bert_classifier):
    result, ctx = _audit(bert_classifier, relative_importance=1.0)
    m, ablation = result.metrics, result.evidence["ablation"]
    _fit, score = ctx.fit_score_split()
    assert ablation["probes"] == len(score) and ablation["predictions"] == "the model's own head"
    assert sorted(map(tuple, ablation["heads"])) == sorted(map(tuple, result.evidence["redundant"]))
    assert len(ablation["heads"]) == m["redundant_heads"] > 0
    # the figures are the masked run of exactly those heads on exactly the held-out probes
    batch = next(iter(bert_classifier.batches(ctx.probes.subset(score), len(score))))
    heads = [tuple(h) for h in ablation["heads"]]
    out, clean = bert_classifier.mask_heads(batch, heads), bert_classifier.mask_heads(batch, [])
    cos, flips = ablation_effect(clean.pooled, out.pooled, clean.logits.argmax(-1), out.logits.argmax(-1))
    assert abs(m["ablation_output_cos"] - cos) < 1e-6 and m["ablation_flip_rate"] == flips
    little = m["ablation_output_cos"] >= 0.99 and m["ablation_flip_rate"] <= 0.01
    assert ablation["little_effect"] == little
    assert m["low_effect_attention_share"] == (m["prunable_attention_share"] if little else 0.0)
    assert ("little effect (at least 0.99 and at most 1%)" in result.summary) == little
    # a stricter rule than the measurement supports: the same figures, and no "little effect"
    strict, _ = _audit(bert_classifier, relative_importance=1.0, min_output_cos=1.0)
    assert strict.metrics["ablation_output_cos"] == pytest.approx(m["ablation_output_cos"], abs=1e-9)
    assert strict.metrics["ablation_output_cos"] < 1.0 and strict.metrics["low_effect_attention_share"] == 0.0
    assert "more than a little effect (needs at least 1 and at most 1%)" in strict.summary
    assert ": little effect" not in strict.summary and strict.evidence["ablation"]["little_effect"] is False


def test_no_candidate_heads_gives_no_ablation_and_a_measured_zero_share(bert):
    result, _ = _audit(bert, relative_importance=1e-9)
    m = result.metrics
    assert m["redundant_heads"] == 0 and m["ablation_output_cos"] is None and m["ablation_flip_rate"] is None
    assert m["low_effect_attention_share"] == 0.0
    assert result.evidence["ablation"] == "no head is a candidate, so there is nothing to remove"
    assert "masking" not in result.summary


def test_little_effect_rule_is_inclusive_at_its_bounds():
    assert little_effect(0.99, 0.01, 0.99, 0.01) and little_effect(0.995, None, 0.99, 0.01)
    assert not little_effect(np.nextafter(0.99, 0.0), 0.0, 0.99, 0.01)
    assert not little_effect(1.0, np.nextafter(0.01, 1.0), 0.99, 0.01)
    assert output_cosine(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),
                         np.array([[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]])).tolist() == [0.0, 1.0, 0.0]
    assert output_cosine(np.array([[3.0, 4.0]]), np.array([[4.0, 3.0]]))[0] == pytest.approx(24 / 25, abs=1e-15)


BASE = {"entropy": np.full((2, 2), 0.5), "sink_share": np.full((2, 2), 0.4), "mean_entropy": 0.5,
        "redundant_heads": 2, "prunable_attention_share": 0.5}
PARAMS = {"relative_importance": 0.1, "min_output_cos": 0.99, "max_flip_rate": 0.01}


@pytest.mark.parametrize(("cos", "flips", "en", "ja"), [
    (0.998, 0.0, "masking the 2 candidate heads together keeps output cosine 0.998 on held-out probes and changes "
                 "0.0% of predictions: little effect (at least 0.99 and at most 1%)",
     "候補の2個のヘッドをまとめてマスクしても、検証用プローブでの出力のコサイン類似度は0.998、予測が変わった割合は"
     "0.0%であり、影響は小さいと言えます（基準：0.99以上かつ1%以下）。"),
    (0.998, 0.03, "masking the 2 candidate heads together gives output cosine 0.998 on held-out probes and changes "
                  "3.0% of predictions: more than a little effect (needs at least 0.99 and at most 1%)",
     "候補の2個のヘッドをまとめてマスクすると、検証用プローブでの出力のコサイン類似度は0.998、予測が変わった割合は"
     "3.0%であり、影響は小さいとは言えません（基準：0.99以上かつ1%以下）。"),
    (0.95, None, "masking the 2 candidate heads together gives output cosine 0.950 on held-out probes (no prediction "
                 "head to count changed predictions): more than a little effect (needs at least 0.99)",
     "候補の2個のヘッドをまとめてマスクすると、検証用プローブでの出力のコサイン類似度は0.950であり、影響は小さいとは"
     "言えません（基準：0.99以上。予測を出す出力層がないため、予測の変化は数えていません）。"),
    (0.999, None, "masking the 2 candidate heads together keeps output cosine 0.999 on held-out probes (no prediction "
                  "head to count changed predictions): little effect (at least 0.99)",
     "候補の2個のヘッドをまとめてマスクしても、検証用プローブでの出力のコサイン類似度は0.999であり、影響は小さいと"
     "言えます（基準：0.99以上。予測を出す出力層がないため、予測の変化は数えていません）。"),
])
def test_the_ablation_sentence_in_english_and_japanese(cos, flips, en, ja):
    said = _sentences({**BASE, "ablation_output_cos": cos, "ablation_flip_rate": flips}, PARAMS)
    assert render(said[-1], "en") == en and render(said[-1], "ja") == ja
    assert render(said, "en").endswith("2 of 4 heads have gradient importance below 0.1 x the mean head (50% of "
                                       "attention FLOPs); " + en)


def test_an_unmeasured_ablation_says_why_in_both_languages():
    reason = Message("check.attention.structure.ablation.no_hooks", {"format": "onnx"})
    said = _sentences({**BASE, "ablation_output_cos": None, "ablation_flip_rate": None}, PARAMS, reason)
    assert render(said[-1], "en") == ("the effect of the candidate heads on the outputs was not measured: heads can "
                                      "only be masked through PyTorch hooks, which a model in onnx format does not "
                                      "offer")
    assert render(said[-1], "ja") == ("候補のヘッドが出力に与える影響は測定していません。理由：ヘッドのマスクには"
                                      "PyTorchのフックが必要ですが、onnx形式のモデルにはありません。")
    assert "little effect" not in render(said, "en")
