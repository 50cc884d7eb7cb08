"""A rule whose figure rests on other measurements states them in its finding (evidence["backing"])."""
from __future__ import annotations

import re

from auditor.checks.base import CheckResult
from auditor.findings import evaluate
from auditor.messages import Message, render
from auditor.templates import load_template

_MASKED = Message("check.attention.structure.ablation.little",
                  {"count": 7, "cos": 0.9987, "flips": 0.004, "min_cos": 0.99, "max_flips": 0.01})


def _prunable(share: float | None, backing: bool):
    evidence = {"backing": {"low_effect_attention_share": [_MASKED.to_json()]}} if backing else {}
    result = CheckResult("attention.structure", "ok", sentences=(Message("text.verbatim", {"text": "x"}),),
                         metrics={"low_effect_attention_share": share}, evidence=evidence)
    found = evaluate(load_template("standard"), [result])
    return next(f for f in found if f.metric == "low_effect_attention_share")


def test_the_prunable_heads_finding_states_the_masked_measurement():
    finding = _prunable(0.15, backing=True)
    assert finding.severity == "info"
    assert finding.detail.startswith("low_effect_attention_share = 0.15")
    assert "masking the 7 candidate heads together keeps output cosine 0.999" in finding.detail
    assert "changes 0.4% of predictions" in finding.detail
    japanese = render(finding.sentences, "ja")
    assert "候補の7個のヘッド" in japanese and not re.search(r"[A-Za-z]{4,} [A-Za-z]{4,}", japanese)


def test_without_backing_or_without_a_decision_nothing_is_appended():
    assert "masking" not in _prunable(0.15, backing=False).detail
    undecided = _prunable(None, backing=True)     # not computed for this model: no measurement to state
    assert undecided.severity == "info" and "masking" not in undecided.detail
