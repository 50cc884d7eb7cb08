"""perturbation.counterfactual through the real CLI: a tiny BERT under the standard template with user pairs,
stored, evaluated and verified; an image model skipped with the reason; a bad --pairs file refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.audits import audit, check

CHECK = "perturbation.counterfactual"
METRICS = {"counterfactual_shift", "counterfactual_output_cos", "counterfactual_output_kl", "counterfactual_flip_rate"}

# words of the tiny BERT's vocabulary (tests/fixtures/torch_models.py): every member reaches the model as itself
FRAMES = ["the applicant {w} review the loan", "the {w} is on the policy", "a claim for the {w} was urgent",
          "the {w} report with income", "the {w} of the account is a risk", "deny the card to the {w}"]
SWAPS = [("doctor", "nurse", "gender"), ("patient", "applicant", "age"), ("bank", "insurance", "religion")]


def _pairs_file(folder: Path) -> Path:
    rows = [{"text_a": f.format(w=a), "text_b": f.format(w=b), "attribute": attr, "domain": "credit"}
            for f in FRAMES for a, b, attr in SWAPS]
    rows.append({"text_a": "the zzz approve", "text_b": "the yyy approve", "attribute": "gender", "domain": "credit"})
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stored(tiny_bert, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("cf")
    db = folder / "audits.db"
    result = run_cli("audit", str(tiny_bert), "--probes", "builtin:text", "--template", "standard",
                     "--pairs", str(_pairs_file(folder)), "--json", "--progress", "none", "--device", "cpu", db=db)
    assert result.returncode in (0, 1), result.stderr
    return {"db": db, "json": json.loads(result.stdout)}


def test_standard_audit_stores_the_figures_and_findings_and_verifies(stored):
    data = stored["json"]
    found = check(data, CHECK)
    assert found["status"] != "skipped", found
    metrics = found["metrics"]
    assert set(metrics) == METRICS
    assert set(metrics["counterfactual_shift"]) == {"overall", "gender", "age", "religion"}
    assert len(metrics["counterfactual_shift"]["overall"]) == 4          # tiny BERT: 3 blocks, 4 boundaries
    assert 0.0 <= metrics["counterfactual_flip_rate"]["overall"] <= 1.0  # through the probe head (no own head)
    rules = [f for f in data["findings"] if f["check_id"] == CHECK]
    assert {f["metric"] for f in rules} == {"counterfactual_shift", "counterfactual_flip_rate"}
    assert all(f["severity"] in ("pass", "info", "warn", "inconclusive") for f in rules), rules
    # the [UNK] pair (zzz/yyy) is left out and said so
    assert "18 of 19 pairs compared (1 left out" in found["summary"]
    verified = run_cli("verify", data["audit_id"], db=stored["db"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_stored_evidence_names_the_pairs_file_and_the_output_source(stored):
    from auditor.store import open_db, queries

    content = queries.stored_content(open_db(stored["db"]), stored["json"]["audit_id"], None)
    evidence = next(c["evidence"] for c in content["checks"] if c["id"] == CHECK)
    assert evidence["pairs"]["spec"].endswith("pairs.jsonl") and evidence["pairs"]["count"] == 19
    assert evidence["excluded_token_identical"] == 1 and evidence["outputs"] == "probe_head"
    assert len(evidence["largest_output_moves"]) == 5


def test_image_models_are_skipped_with_the_reason(tiny_vit):
    found = check(audit(str(tiny_vit), probes="builtin:images", limit=24), CHECK)
    assert found["status"] == "skipped"
    assert "image pairs are out of scope" in found["summary"]


@pytest.mark.parametrize("content, name, said", [
    (None, "missing.jsonl", "no such file"),
    ('{"text_a": "a", "text_b": "b"\n', "broken.jsonl", "line 1: not valid JSON"),
    ("text_a,text_b\nx,y\n", "noattr.csv", "no `attribute` column"),
    ("a\tb\n", "pairs.txt", "a pairs file is .csv or .jsonl"),
])
def test_a_bad_pairs_file_is_one_line_and_exit_2(tiny_bert, tmp_path, content, name, said):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli("audit", str(tiny_bert), "--pairs", str(path), "--progress", "none", db=tmp_path / "a.db")
    assert result.returncode == 2 and said in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "a.db").exists() or "running" not in run_cli("list", db=tmp_path / "a.db").stdout


def test_pairs_with_server_is_refused_not_dropped(tiny_bert, tmp_path):
    path = _pairs_file(tmp_path)
    result = run_cli("--server", "http://127.0.0.1:9", "audit", str(tiny_bert), "--pairs", str(path))
    assert result.returncode == 2 and result.stderr.strip() == (
        "auditor: --pairs is not available with --server: the service runs the audit with its own files")
