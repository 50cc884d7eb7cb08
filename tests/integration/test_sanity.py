"""sanity.randomization: the trained MiniLM is told apart from its re-initialised copy."""
import numpy as np

from tests.fixtures.audits import audit, check


def test_trained_minilm_differs_from_its_randomised_copy(minilm_audit):
    result = check(minilm_audit["json"], "sanity.randomization")
    m = result["metrics"]
    assert result["status"] == "pass"
    assert set(m["rank_correlation"]) == {"head_importance", "entropy", "sink_share", "grad_norm_hidden",
                                          "update_ratio"}
    assert m["informative_share"] >= 0.6
    assert m["rank_correlation"]["head_importance"] < 0.8 and m["randomization_delta"]["head_importance"] > 0.2
    assert m["randomization_delta"]["entropy"] > 0.1


def test_randomised_copy_is_fresh_and_leaves_the_model_alone(tiny_bert):
    from auditor.models.load import load_model

    adapter = load_model(tiny_bert, device="cpu")
    before = [p.detach().clone() for p in adapter.model.parameters()]
    copy = adapter.randomized(seed=0)
    assert copy.model is not adapter.model and len(copy.blocks) == len(adapter.blocks)
    assert copy.head_projections is not None and copy.head_projections[0] is not adapter.head_projections[0]
    weights = [(a, b) for a, b in zip(adapter.model.parameters(), copy.model.parameters(), strict=True)
               if a.dim() == 2]
    assert all(not np.allclose(a.detach().numpy(), b.detach().numpy()) for a, b in weights)
    assert all((p == q).all() for p, q in zip(adapter.model.parameters(), before, strict=True))
    again = adapter.randomized(seed=0)
    assert all((p == q).all() for p, q in zip(copy.model.parameters(), again.model.parameters(), strict=True))


def test_onnx_models_skip_the_sanity_check(minilm_folder):
    result = check(audit(str(minilm_folder), limit=40), "sanity.randomization")
    assert result["status"] == "skipped" and "ONNX" in result["summary"]
