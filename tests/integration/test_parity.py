"""artifact.parity: a model and its own ONNX export agree; without --reference the check is skipped."""
import numpy as np

from tests.fixtures.audits import audit, check, template


def test_model_and_its_onnx_export_agree(minilm_path, minilm_bare):
    # a bare .onnx without tokenizer files reads the probes with the main model's tokenizer
    result = audit(str(minilm_path), limit=24, template=template("artifact.parity"), reference=str(minilm_bare))
    parity = check(result, "artifact.parity")
    m = parity["metrics"]
    assert parity["status"] == "pass", parity["summary"]
    assert m["output_cos"] > 0.99999 and m["max_abs_diff"] < 1e-3 and m["max_rel_diff"] < 1e-4
    assert len(m["layer_max_abs_diff"]) == 7 and max(m["layer_max_abs_diff"]) < 1e-3
    assert m["prediction_agreement"] is None                                 # a headless encoder
    assert result["evidence"]["artifact.parity"]["reference"]["format"] == "onnx"
    assert result["environment"]["reference"] == str(minilm_bare)


def test_a_different_model_does_not_agree(tiny_gpt2, tmp_path):
    import shutil

    import torch
    from transformers import GPT2LMHeadModel

    other = tmp_path / "other-gpt2"                                          # same shapes, other weights
    model = GPT2LMHeadModel.from_pretrained(str(tiny_gpt2))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(str(other))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(tiny_gpt2 / name, other / name)
    result = audit(str(tiny_gpt2), limit=8, template=template("artifact.parity"), reference=str(other))
    m = check(result, "artifact.parity")["metrics"]
    assert m["output_cos"] < 0.999 and 0.0 <= m["prediction_agreement"] <= 1.0


def test_outputs_of_other_widths_are_refused(tiny_gpt2, onnx_root):
    from tests.fixtures import onnx_models as om

    other = om.export_tiny_gpt2(onnx_root / "gpt2-other-vocabulary")        # another vocabulary
    result = check(audit(str(tiny_gpt2), limit=8, template=template("artifact.parity"),
                         reference=str(other.parent)), "artifact.parity")
    assert result["status"] == "error" and "not the same model" in result["summary"]


def test_parity_is_skipped_without_a_reference(minilm_audit):
    result = check(minilm_audit["json"], "artifact.parity")
    assert result["status"] == "skipped" and "--reference" in result["summary"]
    assert np.isfinite(len(result["summary"]))
