"""perturbation.sensitivity on real models: MiniLM in both formats, GPT-2 and ViT, copies batched."""
import numpy as np
import pytest

from auditor.store import open_db, queries
from tests.fixtures.audits import audit, check

TEXT_KINDS = {"mask@0.05", "mask@0.10", "mask@0.20", "substitute@0.10", "delete@0.10"}


def _evidence(minilm_audit, check_id):
    stored = queries.stored_content(open_db(minilm_audit["db"]), minilm_audit["json"]["audit_id"], None)
    return next(c["evidence"] for c in stored["checks"] if c["id"] == check_id)


def test_minilm_perturbation_figures(minilm_audit):
    result = check(minilm_audit["json"], "perturbation.sensitivity")
    m = result["metrics"]
    assert result["status"] == "pass"
    assert len(m["amplification"]) == 7 and m["amplification"][0] == pytest.approx(1.0)
    assert len(m["layer_gain"]) == 6 and set(m["amplification_by_eps"]) == {"0.01", "0.05", "0.1"}
    assert set(m["output_cos_by_kind"]) == TEXT_KINDS
    assert 0.0 < m["output_cos"] < 1.0 and 0.0 <= m["flip_rate"] <= 1.0     # a probe head gives predictions
    assert m["output_cos_ci"][0] <= m["output_cos"] <= m["output_cos_ci"][1]
    # masking more tokens moves the output more
    assert m["output_cos_by_kind"]["mask@0.20"] < m["output_cos_by_kind"]["mask@0.05"]
    evidence = _evidence(minilm_audit, "perturbation.sensitivity")
    assert evidence["copies_per_input"] == 8 and evidence["seed"] == 0


def test_onnx_gets_input_level_perturbations_and_layer_amplification(minilm_folder, minilm_path):
    onnx = audit(str(minilm_folder), limit=40)
    torch_run = audit(str(minilm_path), limit=40)
    ours, theirs = (check(r, "perturbation.sensitivity")["metrics"] for r in (onnx, torch_run))
    assert ours["amplification_by_eps"] is None and len(ours["amplification"]) == 7
    assert "input-level" in onnx["evidence"]["perturbation.sensitivity"]["amplification_source"]
    # the same seeded copies through the same model in two formats give the same figures
    for kind in TEXT_KINDS:
        assert ours["output_cos_by_kind"][kind] == pytest.approx(theirs["output_cos_by_kind"][kind], abs=1e-4)
    assert ours["flip_rate"] == pytest.approx(theirs["flip_rate"])


def test_all_copies_of_a_batch_run_as_one_forward_pass(tiny_bert):
    from auditor.models.load import load_model
    from auditor.models.perturb import TEXT_PERTURBATIONS, PerturbationPlan
    from auditor.probes import load_probes

    adapter = load_model(tiny_bert, device="cpu")
    batch = next(adapter.batches(load_probes("builtin:text", limit=6), 6))
    calls = []
    forward = adapter.model.forward
    adapter.model.forward = lambda *a, **k: (calls.append(k["input_ids"].shape[0]), forward(*a, **k))[1]
    run = adapter.perturb(batch, PerturbationPlan(seed=0, inputs=TEXT_PERTURBATIONS))
    assert calls == [6 * 8]
    assert len(run.pooled) == 8 and set(run.hidden) == {"embedding@0.01", "embedding@0.05", "embedding@0.10"}


def test_gpt2_and_vit_audits_show_perturbations(tiny_gpt2, tiny_vit):
    gpt = check(audit(str(tiny_gpt2), limit=16), "perturbation.sensitivity")["metrics"]
    assert gpt["output_kl"] is not None and gpt["flip_rate"] is not None      # next-token predictions
    vit = check(audit(str(tiny_vit), probes="builtin:images", limit=24), "perturbation.sensitivity")["metrics"]
    assert set(vit["output_cos_by_kind"]) == {"noise@0.05", "noise@0.10", "occlude@0.10", "occlude@0.20",
                                              "occlude@0.30"}
    assert len(vit["amplification"]) == 3 and np.isfinite(vit["lyapunov"])
