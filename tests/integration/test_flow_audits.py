"""flow.smoothing and flow.pde on real models: the issue's quality bar on the pretrained MiniLM."""
import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum

L = 6


def _check(data, check_id):
    return next(c for c in data["checks"] if c["id"] == check_id)


def test_minilm_smoothing_has_every_layer(minilm_audit):
    check = _check(minilm_audit["json"], "flow.smoothing")
    assert check["status"] == "pass"
    for name in ("token_similarity", "rank_collapse_residual", "dirichlet_energy"):
        assert len(check["metrics"][name]) == L + 1 and None not in check["metrics"][name]
    # a trained encoder mixes tokens as depth grows, without collapsing them
    similarity = check["metrics"]["token_similarity"]
    assert similarity[-1] > similarity[0]
    assert check["metrics"]["rank_collapse_residual"][-1] > 0.5


def test_minilm_flow_surrogate_meets_the_quality_bar(minilm_audit):
    metrics = _check(minilm_audit["json"], "flow.pde")["metrics"]
    for name in ("pde_cos", "identity_cos", "pointwise_cos", "pde_r2", "share_diffusion", "share_attention",
                 "share_reaction", "kernel_attention_cos", "uniform_attention_cos"):
        assert len(metrics[name]) == L and None not in metrics[name], name
    assert len(metrics["rollout_cos"]) == L + 1 and metrics["rollout_cos"][0] == pytest.approx(1.0)
    # better than "nothing changes" on every step, and at least as good as the pointwise baseline overall
    assert all(p > i for p, i in zip(metrics["pde_cos"], metrics["identity_cos"], strict=True))
    assert np.mean(metrics["pde_cos"]) >= np.mean(metrics["pointwise_cos"])
    assert np.mean(metrics["pde_r2"]) >= np.mean(metrics["pointwise_r2"])
    # the fitted attention kernel never scores below uniform attention
    assert all(k >= u for k, u in zip(metrics["kernel_attention_cos"], metrics["uniform_attention_cos"],
                                      strict=True))
    shares = np.array([metrics["share_diffusion"], metrics["share_attention"], metrics["share_reaction"]])
    assert np.allclose(shares.sum(axis=0), 1.0) and (shares >= 0).all()


def test_minilm_flow_is_scored_on_held_out_probes(minilm_audit):
    import sqlite3

    data = minilm_audit["json"]
    conn = sqlite3.connect(minilm_audit["db"])
    evidence = json.loads(conn.execute("SELECT evidence_json FROM check_results WHERE audit_id = ? AND "
                                       "check_id = 'flow.pde'", [data["audit_id"]]).fetchone()[0])
    assert evidence["fit_probes"] + evidence["scored_probes"] == data["probes"]["count"]
    assert 0.25 < evidence["scored_probes"] / data["probes"]["count"] < 0.35
    assert len(evidence["attention_examples"]) == L
    example = evidence["attention_examples"][0]
    assert len(example["attention"]) == len(example["kernel"]) > 2
    assert len(evidence["kernel_parameters"]) == L and len(evidence["kernel_parameters"][0]) == 12


def test_onnx_export_gives_the_same_flow(tmp_path, minilm_bare, minilm_path, minilm_audit):
    result = run_cli("audit", str(minilm_bare), "--tokenizer", str(minilm_path), "--json", "--progress", "none",
                     db=tmp_path / "onnx.db")
    assert result.returncode == 0, result.stderr
    onnx = _check(json.loads(result.stdout), "flow.pde")["metrics"]
    torch = _check(minilm_audit["json"], "flow.pde")["metrics"]
    for name in ("pde_cos", "identity_cos", "kernel_attention_cos", "uniform_attention_cos"):
        assert onnx[name] == pytest.approx(torch[name], abs=2e-3), name


def test_vision_transformer_flow_on_the_patch_grid(tmp_path, tiny_vit):
    result = run_cli("audit", str(tiny_vit), "--probes", "builtin:images", "--limit", "60", "--json",
                     "--template", no_minimum(),
                     db=tmp_path / "vit.db")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    smoothing, pde = _check(data, "flow.smoothing"), _check(data, "flow.pde")
    assert len(smoothing["metrics"]["dirichlet_energy"]) == 3 and None not in smoothing["metrics"]["dirichlet_energy"]
    assert len(pde["metrics"]["pde_cos"]) == 2 and None not in pde["metrics"]["kernel_attention_cos"]


def test_causal_attention_is_recognised(tmp_path, tiny_gpt2):
    db = tmp_path / "gpt.db"
    result = run_cli("audit", str(tiny_gpt2), "--limit", "40", "--json", "--template", no_minimum(), db=db)
    assert result.returncode == 0, result.stderr
    import sqlite3

    audit_id = json.loads(result.stdout)["audit_id"]
    evidence = json.loads(sqlite3.connect(db).execute(
        "SELECT evidence_json FROM check_results WHERE audit_id = ? AND check_id = 'flow.pde'", [audit_id]).fetchone()[0])
    assert evidence["causal"] is True
