"""Templates, findings, sign-off, assignments, re-evaluation and comparison through the real CLI."""
import json
import shutil
import sqlite3
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import run_cli

STANDARD = Path(__file__).resolve().parents[2] / "templates" / "audits" / "standard.yaml"


def _copy_db(src: Path, dst: Path) -> Path:
    """A private copy (the session's MiniLM database is shared by other tests)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return dst


@pytest.fixture
def minilm_db(minilm_audit, tmp_path) -> Path:
    return _copy_db(minilm_audit["db"], tmp_path / "copy.db")


def _show(audit_id: str, db: Path) -> dict:
    result = run_cli("show", audit_id, "--json", db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_standard_findings_carry_both_languages_clauses_and_ratings(minilm_audit):
    data = minilm_audit["json"]
    evaluated = [f for f in data["findings"] if f["severity"] in ("pass", "warn", "fail")]
    assert len(evaluated) >= 15
    for f in data["findings"]:
        assert f["meaning"]["en"] and f["meaning"]["ja"] and f["clauses"] and f["action"]
        assert f["title_ja"] and f["action_ja"] and isinstance(f["id"], int)
    assert any(any(ord(ch) > 0x3000 for ch in f["meaning"]["ja"]) for f in data["findings"])
    assert set(data["ratings"]) == {"flow", "retention", "robustness", "trainability", "transparency", "integrity"}
    assert data["ratings"]["flow"]["rating"] in ("pass", "warn", "fail")
    assert data["evaluation"]["template_name"] == "standard" and data["template_conditions"]
    # no MiniLM head is below 0.1 x the mean head's importance (the weakest is 0.38 x): the opportunity rule is
    # evaluated and not raised, and it is never counted as a risk
    (opportunity,) = [f for f in data["findings"] if f.get("key") == "opportunity.prunable_heads"]
    assert opportunity["severity"] == "pass" and opportunity["value"] == 0.0


def test_reevaluation_with_a_changed_threshold_adds_an_evaluation(minilm_db, tmp_path):
    audit_id = _show(run_cli("list", "--json", db=minilm_db).stdout and json.loads(
        run_cli("list", "--json", db=minilm_db).stdout)["audits"][0]["audit_id"], minilm_db)["audit_id"]
    before = _show(audit_id, minilm_db)
    strict = tmp_path / "strict.yaml"
    # pde_r2 on MiniLM is .13-.39: a warning line at 0.9 must turn flow.pde into a warning
    strict.write_text(STANDARD.read_text(encoding="utf-8").replace("name: standard", "name: strict-copy")
                      .replace("metric: pde_r2\n        reduce: any_layer\n        warn: 0.10",
                               "metric: pde_r2\n        reduce: any_layer\n        warn: 0.9"), encoding="utf-8")
    result = run_cli("reevaluate", audit_id, "--template", str(strict), "--json", "--fail-on", "warn", db=minilm_db)
    assert result.returncode == 1, result.stderr          # the new verdict matches --fail-on warn
    outcome = json.loads(result.stdout)
    assert outcome["verdict"] == "warn"
    after = _show(audit_id, minilm_db)
    assert after["verdict"] == "warn" and after["evaluation"]["template_name"] == "strict-copy"
    assert [e["template_name"] for e in after["evaluations"]] == ["standard", "strict-copy"]
    assert after["fingerprint"] != before["fingerprint"]
    assert [c["status"] for c in after["checks"] if c["id"] == "flow.pde"] == ["warn"]
    assert any(e["kind"] == "re-evaluated" for e in after["events"])
    # the earlier evaluation and its findings are untouched
    with sqlite3.connect(minilm_db) as db:
        first = db.execute("SELECT verdict, fingerprint FROM evaluations ORDER BY id LIMIT 1").fetchone()
        counts = db.execute("SELECT evaluation_id, COUNT(*) FROM findings GROUP BY evaluation_id").fetchall()
    assert first == (before["verdict"], before["fingerprint"])
    assert len(counts) == 2 and counts[0][1] == counts[1][1]


def test_the_eu_template_is_stricter_and_maps_article_15(minilm_db):
    audit_id = json.loads(run_cli("list", "--json", db=minilm_db).stdout)["audits"][0]["audit_id"]
    result = run_cli("reevaluate", audit_id, "--template", "eu-ai-act-high-risk", "--json", db=minilm_db)
    assert result.returncode == 0, result.stderr
    data = _show(audit_id, minilm_db)
    risks = [f for f in data["findings"] if f["severity"] in ("pass", "warn", "fail")
             and not f["key"].startswith("opportunity.")]
    # accuracy and robustness rules map to Article 15; the counterfactual rules to Article 10 (bias examination)
    bias = [f for f in risks if f["key"].startswith("counterfactual.")]
    assert bias and all(any(c.startswith("EU AI Act Article 10(2)(f)") for c in f["clauses"]) for f in bias)
    assert all(any(c.startswith("EU AI Act Article 15") for c in f["clauses"]) for f in risks if f not in bias)
    assert all(any("Annex IV" in c for c in f["clauses"]) for f in risks)     # 2(g): validation and testing


def test_sign_off_and_assignment_are_events_and_do_not_change_the_evidence(minilm_db):
    audit_id = json.loads(run_cli("list", "--json", db=minilm_db).stdout)["audits"][0]["audit_id"]
    before = _show(audit_id, minilm_db)
    finding = next(f for f in before["findings"] if f["severity"] == "pass")
    result = run_cli("assign", audit_id, str(finding["id"]), "--owner", "ML platform team", "--due", "2027-03-31",
                     db=minilm_db)
    assert result.returncode == 0, result.stderr
    # an approval needs an approver's identity and every warning assigned (auditor.duties, test_duties_cli.py);
    # a rejection needs neither
    for role, name, decision in (("preparer", "Kenji Sato", "approve"), ("reviewer", "Aiko Tanaka", "approve"),
                                 ("approver", "María López", "reject")):
        result = run_cli("sign", audit_id, "--role", role, "--name", name, "--decision", decision, db=minilm_db)
        assert result.returncode == 0, result.stderr
    after = _show(audit_id, minilm_db)
    assigned = next(f for f in after["findings"] if f["id"] == finding["id"])
    assert (assigned["owner"], assigned["due"]) == ("ML platform team", "2027-03-31")
    assert [s["role"] for s in after["signoffs"]] == ["preparer", "reviewer", "approver"]
    assert after["signoffs"][2]["name"] == "María López"
    assert after["signoffs"][0]["fingerprint"] == after["fingerprint"] == before["fingerprint"]
    kinds = [e["kind"] for e in after["events"]]
    assert kinds.count("signed") == 3 and "assigned" in kinds
    with sqlite3.connect(minilm_db) as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM events WHERE kind = 'signed'")


@pytest.mark.parametrize("args, problem", [
    (["sign", "{id}", "--role", "reviewer", "--name", "  "], "must not be empty"),
    (["sign", "nosuchaudit", "--role", "reviewer", "--name", "x"], "no audit"),
    (["assign", "{id}", "999999", "--owner", "x"], "no finding 999999"),
    (["assign", "{id}", "{finding}", "--due", "31/12/2027"], "YYYY-MM-DD"),
    (["assign", "{id}", "{finding}"], "--owner, --due"),
    (["reevaluate", "{id}", "--template", "nosuch"], "unknown template"),
])
def test_bad_governance_input_is_one_line_and_exit_2(minilm_db, args, problem):
    data = _show(json.loads(run_cli("list", "--json", db=minilm_db).stdout)["audits"][0]["audit_id"], minilm_db)
    args = [a.format(id=data["audit_id"], finding=data["findings"][0]["id"]) for a in args]
    result = run_cli(*args, db=minilm_db)
    assert result.returncode == 2
    assert problem in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text, problem", [
    ("a: &a [1,2]\nb: *a\n", "anchors"),
    ("name: x\nversion: 1\nchecks:\n  - id: flow.smoothing\n    conditions:\n      - {condition: below, "
     "metric: rank_collapse_residual, reduce: last, warn: .inf}\n", "finite"),
    ("name: x\nversion: 1\nchecks:\n  - id: flow.smoothing\n    conditions:\n      - {condition: below, "
     "metric: rank_collapse_residual, reduce: last, warn: 123456789012345678901234567890}\n", "sensible size"),
    ("name: x\nversion: 1\nchecks: {id: flow.smoothing}\n", "non-empty list"),
    ("name: x\nversion: 1\nchecks:\n  - id: flow.smoothing\n    conditions:\n      - {condition: below, "
     "metric: nope, warn: 0.1}\n", "has no metric 'nope'"),
    ("name: x\nversion: 1\nchecks:\n  - id: no.such.check\n", "unknown check"),
    ("!!python/object/apply:os.system ['echo hacked']\n", "not valid YAML"),
])
def test_hostile_templates_are_refused_with_exit_2(minilm_db, tmp_path, text, problem):
    audit_id = json.loads(run_cli("list", "--json", db=minilm_db).stdout)["audits"][0]["audit_id"]
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("reevaluate", audit_id, "--template", str(path), db=minilm_db)
    assert result.returncode == 2, result.stderr
    assert problem in result.stderr and "Traceback" not in result.stderr


def test_junit_has_one_case_per_finding(minilm_audit, tmp_path):
    target = tmp_path / "findings.xml"
    result = run_cli("show", minilm_audit["json"]["audit_id"], "--junit", str(target), db=minilm_audit["db"])
    assert result.returncode == 0, result.stderr
    suite = ET.parse(target).getroot()
    cases = suite.findall("testcase")
    findings = minilm_audit["json"]["findings"]
    assert len(cases) == len(findings) == int(suite.get("tests"))
    assert int(suite.get("failures")) == sum(f["severity"] == "fail" for f in findings)


def _second_version(tiny_bert: Path, target: Path) -> Path:
    """The same architecture with its last block's weights scaled: a 'retrained' version 2."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_bert, target)
    weights = load_file(str(target / "model.safetensors"))
    for name in weights:
        if ".layer.2." in name and name.endswith("weight") and "LayerNorm" not in name:
            weights[name] = weights[name] * 4.0
    save_file({k: v.contiguous() for k, v in weights.items()}, str(target / "model.safetensors"),
              metadata={"format": "pt"})
    assert torch.is_tensor(next(iter(weights.values())))
    return target


def test_compare_two_versions_of_a_model(tiny_bert, tmp_path):
    db = tmp_path / "versions.db"
    v2 = _second_version(tiny_bert, tmp_path / "tiny-bert-v2")
    ids = []
    for path, version in ((tiny_bert, "1.0"), (v2, "2.0")):
        result = run_cli("audit", str(path), "--template", "quick", "--name", "tiny-bert", "--model-version", version,
                         "--users", "test suite", "--decision-requested", "approve v2", "--json",
                         "--progress", "none", db=db)
        assert result.returncode == 0, result.stderr
        ids.append(json.loads(result.stdout)["audit_id"])
    second = _show(ids[1], db)
    assert second["previous_audit_id"] == ids[0]
    assert second["meta"]["users"] == "test suite" and second["meta"]["decision_requested"] == "approve v2"
    assert all(r["trend"] in ("better", "worse", "same", None) for r in second["ratings"].values())
    result = run_cli("compare", ids[0], ids[1], "--json", db=db)
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["same_model_name"] and not diff["same_artifact"]
    moved = [m for m in diff["metrics"] if m["direction"] in ("improved", "worse", "changed")]
    assert moved, "scaling a block's weights must move some figures"
    # flow.representation's norm growth is ruled `above`: a rise is worse
    growth = [m for m in diff["metrics"] if m["name"] == "norm_growth"]
    assert growth and all((m["direction"] == "worse") == (m["b"] > m["a"] * 1.01) for m in growth
                          if m["direction"] != "unchanged")
    assert sum(diff["summary"].values()) == len(diff["metrics"])
    # same template, same probes: everything both audits decided is compared; a check whose rules are
    # inconclusive in both (on this tiny model, an interval straddling its threshold) is named, not compared
    undecided = {r.split(":")[0] for r in diff["reasons"]}
    assert all(r.endswith("inconclusive in A; inconclusive in B.") for r in diff["reasons"]), diff["reasons"]
    assert diff["comparable"] is (not undecided)
    assert all(m["check_id"] in undecided for m in diff["metrics"] if m["direction"] == "not_compared")
    text = run_cli("compare", ids[0], ids[1], db=db)
    assert text.returncode == 0 and "Ratings:" in text.stdout and "Figures:" in text.stdout
    assert "template quick v2" in text.stdout and ("WARNING" in text.stdout) is bool(undecided)
