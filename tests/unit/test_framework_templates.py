"""Framework templates (issue 19): japan-ai-guidelines maps every risk condition to the METI/MIC AI Guidelines
for Business and the J-AISI evaluation perspectives, Japanese first; every built-in template cites ISO/IEC 42001
and NIST AI RMF on every condition; the standard template's rules are the Japanese template's rules."""
from __future__ import annotations

import json
import re

import pytest

from auditor.checks import registry
from auditor.templates import list_templates, load_template
from tests.conftest import run_cli

GUIDELINES = "AI事業者ガイドライン 共通の指針"
AISI = "AISI「AIセーフティに関する評価観点ガイド」"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _rules(template):
    return [(spec, cond) for spec in template.checks for cond in spec.conditions]


def test_japan_template_loads_and_every_rule_names_a_metric_of_its_check():
    template = load_template("japan-ai-guidelines")
    assert (template.name, template.source) == ("japan-ai-guidelines", "builtin:japan-ai-guidelines")
    assert template.approval_grade and template.min_probes == load_template("standard").min_probes
    assert JAPANESE.search(template.describe("ja")) and "not that the model complies" in template.describe("en")
    known = registry.load_all()
    for spec, cond in _rules(template):
        assert cond.metric in known[spec.id].metric_names, (spec.id, cond.metric)


def test_japan_template_clauses_are_japanese_first_and_every_rationale_has_a_japanese_version():
    rules = _rules(load_template("japan-ai-guidelines"))
    assert len(rules) >= 22
    for spec, cond in rules:
        assert cond.clauses and all(c.strip() for c in cond.clauses), (spec.id, cond.finding)
        assert cond.rationale and JAPANESE.search(cond.rationale_ja), (spec.id, cond.finding)
        ours = [c for c in cond.clauses if c.startswith((GUIDELINES, AISI))]
        for clause in ours:               # "日本語 / English": the Japanese title first, then the English one
            ja, en = clause.split(" / ")
            assert JAPANESE.search(ja) and not JAPANESE.search(en), clause
        # the Japanese documents come before the international ones
        assert cond.clauses[:len(ours)] == tuple(ours), cond.clauses
        if not cond.finding.startswith("opportunity."):   # an efficiency opportunity is not a risk to map
            assert any(c.startswith(GUIDELINES) for c in cond.clauses), (spec.id, cond.finding)


def test_japan_template_cites_both_documents_and_the_principles_it_can_support():
    clauses = {c for _, cond in _rules(load_template("japan-ai-guidelines")) for c in cond.clauses}
    for principle in ("2) 安全性", "5) セキュリティ確保", "6) 透明性", "7) アカウンタビリティ"):
        assert any(c.startswith(f"{GUIDELINES} {principle} / ") for c in clauses), principle
    for perspective in ("ロバスト性", "説明可能性", "検証可能性"):
        assert any(c.startswith(f"{AISI} 評価観点：{perspective} / ") for c in clauses), perspective
    assert not any("プライバシー" in c for c in clauses)     # no check measures privacy: no clause claims it


def test_japan_template_has_the_standard_templates_rules():
    def rules(name):
        return [(s.id, s.required, s.requires_labels, dict(s.params), c.condition, c.metric, c.reduce, c.variant,
                 c.warn, c.fail, c.info, c.finding, c.decide_on) for s, c in _rules(load_template(name))]

    assert rules("japan-ai-guidelines") == rules("standard")


def test_counterfactual_rules_map_to_fairness_where_the_check_exists():
    template = load_template("japan-ai-guidelines")
    found = [cond for spec, cond in _rules(template) if spec.id == "perturbation.counterfactual"]
    if not any(spec.id == "perturbation.counterfactual" for spec in load_template("standard").checks):
        pytest.skip("the standard template has no perturbation.counterfactual rules yet")
    assert found          # the standard template's rules are the Japanese template's (test above)
    for cond in found:
        assert any(c.startswith(f"{GUIDELINES} 3) 公平性 / ") for c in cond.clauses), cond.clauses
        assert any(c.startswith(f"{AISI} 評価観点：公平性と包摂性 / ") for c in cond.clauses), cond.clauses


@pytest.mark.parametrize("template", [t.name for t in list_templates()])
def test_every_condition_of_every_builtin_cites_iso_42001_and_nist_ai_rmf(template):
    for spec, cond in _rules(load_template(template)):
        assert any(c.startswith("ISO/IEC 42001 A.") for c in cond.clauses), (template, spec.id, cond.finding)
        assert any(c.startswith("NIST AI RMF ") for c in cond.clauses), (template, spec.id, cond.finding)


def test_the_cli_lists_the_japan_template():
    listed = run_cli("templates")
    assert listed.returncode == 0 and "japan-ai-guidelines (version 1):" in listed.stdout
    data = json.loads(run_cli("templates", "--json").stdout)
    japan = next(t for t in data["templates"] if t["name"] == "japan-ai-guidelines")
    assert japan["approval_grade"] is True and JAPANESE.search(japan["description_ja"])
