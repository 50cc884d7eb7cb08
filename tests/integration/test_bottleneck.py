"""bottleneck.information_plane on real audits: MiniLM (PyTorch and ONNX), a ViT, and unlabelled probes."""
import json
from pathlib import Path

import pytest

from auditor.store import open_db, queries
from tests.conftest import run_cli

CHECK = "bottleneck.information_plane"
CONTRACT = ("mi_xt_kde", "mi_ty_kde", "mi_xt_renyi", "mi_ty_renyi", "probe_accuracy", "mi_ty_probe_bound",
            "compression")


def _only_this_check(folder: Path) -> Path:
    """A template with just the information plane and the standard template's conditions for it."""
    path = folder / "information_plane.yaml"
    path.write_text(f"name: information-plane\nversion: '1'\ndescription: just the information plane\n"
                    f"checks:\n  - id: {CHECK}\n", encoding="utf-8")
    return path


def _audit(tmp_path: Path, model: Path, probes: str, *extra: str) -> tuple[dict, dict]:
    """(the check's entry in `audit --json`, its stored evidence) for a CLI audit with just this check."""
    db = tmp_path / "audits.db"
    result = run_cli("audit", str(model), "--probes", probes, "--template", str(_only_this_check(tmp_path)),
                     "--json", "--progress", "none", *extra, db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    check = next(c for c in data["checks"] if c["id"] == CHECK)
    stored = queries.stored_content(open_db(db), data["audit_id"], None)
    evidence = next(c["evidence"] for c in stored["checks"] if c["id"] == CHECK)
    return check, evidence


def _assert_every_layer(check: dict, layers: int) -> None:
    for name in CONTRACT:
        values = check["metrics"][name]
        assert isinstance(values, list) and len(values) == layers + 1, name
        assert all(isinstance(v, float) for v in values), name


def test_minilm_information_plane_in_the_standard_audit(minilm_audit):
    data = minilm_audit["json"]
    check = next(c for c in data["checks"] if c["id"] == CHECK)
    assert check["status"] in ("pass", "warn")
    _assert_every_layer(check, 6)
    metrics = check["metrics"]
    # the trained MiniLM tells the six domains apart far above chance (1/6), best at the last layer
    assert metrics["probe_accuracy"][-1] > 0.7
    assert metrics["probe_accuracy_over_chance"][-1] > 0.6
    assert metrics["mi_ty_probe_bound"][-1] == max(metrics["mi_ty_probe_bound"]) > 1.0
    assert metrics["task_information_drop"] == 0.0 and metrics["estimator_trend_agreement"] > 0.5
    # every estimator sees more task information at the end than at the embeddings, above its baseline
    for name in ("mi_ty_kde", "mi_ty_renyi", "mi_ty_probe_bound"):
        assert metrics[name][-1] > metrics[name][0], name
    assert all(a > b for a, b in zip(metrics["mi_ty_kde"], metrics["mi_ty_kde_shuffled"], strict=True))
    assert metrics["compression"][0] == pytest.approx(1.0)
    findings = [f for f in data["findings"] if f["check_id"] == CHECK]
    assert len(findings) == 3 and {f["severity"] for f in findings} == {"pass"}
    for finding in findings:
        assert finding["meaning"]["en"] and finding["meaning"]["ja"] and finding["action"] and finding["clauses"]


def test_minilm_evidence_holds_the_chart_settings_and_limitations(minilm_audit):
    data = minilm_audit["json"]
    stored = queries.stored_content(open_db(minilm_audit["db"]), data["audit_id"], None)
    evidence = next(c["evidence"] for c in stored["checks"] if c["id"] == CHECK)
    for estimator in ("kde", "renyi"):
        points = evidence["information_plane"][estimator]
        assert [p["layer"] for p in points] == list(range(7))
        assert all(isinstance(p["i_xt"], float) and isinstance(p["i_ty"], float) for p in points)
    assert evidence["label_source"] == "probe_labels" and len(evidence["label_names"]) == 6
    assert evidence["sigma"] > 0 and evidence["units"] == "bits" and evidence["k"] == 32
    assert evidence["sample_size"] == evidence["probe_count"] == data["probes"]["count"]
    assert evidence["chance_accuracy"] == pytest.approx(1 / 6, abs=0.02)
    assert "estimator" in evidence["limitations"] and "noise" in evidence["limitations"]


def test_onnx_minilm_shows_the_metrics(tmp_path, minilm_bare, minilm_path):
    check, evidence = _audit(tmp_path, minilm_bare, "builtin:text", "--tokenizer", str(minilm_path),
                             "--limit", "90")
    _assert_every_layer(check, 6)
    assert check["metrics"]["probe_accuracy"][-1] > 0.5
    assert evidence["sample_size"] == 90


def test_vision_transformer_shows_the_metrics(tmp_path, tiny_vit):
    check, evidence = _audit(tmp_path, tiny_vit, "builtin:images", "--limit", "60")
    _assert_every_layer(check, 2)
    # a ViT pools the class token, which at layer 0 is the same for every image: X is the mean-pooled
    # layer-0 patch states instead, and z_0 itself keeps nothing about the image
    assert evidence["input"].startswith("mean-pooled")
    assert check["metrics"]["mi_xt_kde"][0] == pytest.approx(0.0, abs=1e-9)
    assert evidence["input_information_kde"] > 0


def _unlabelled_csv(folder: Path) -> Path:
    words = ["credit", "bank", "fraud", "card", "risk", "debt", "job", "doctor"]
    path = folder / "unlabelled.csv"
    path.write_text("text\n" + "\n".join(f"the {v} claim of the {w}" for w in words
                                         for v in ("loan", "policy", "patient", "income", "score")) + "\n",
                    encoding="utf-8")
    return path


def test_headless_model_with_unlabelled_probes_is_skipped_with_a_reason(tmp_path, tiny_bert):
    check, _ = _audit(tmp_path, tiny_bert, str(_unlabelled_csv(tmp_path)))
    assert check["status"] == "skipped"
    assert "no labels" in check["summary"] and "output head" in check["summary"]


def test_unlabelled_probes_use_the_model_predictions_and_say_so(tmp_path, tiny_gpt2):
    check, evidence = _audit(tmp_path, tiny_gpt2, str(_unlabelled_csv(tmp_path)))
    assert check["status"] != "skipped", check["summary"]
    _assert_every_layer(check, 2)
    assert evidence["label_source"] == "model_predictions"
    assert "predict" in check["summary"]
