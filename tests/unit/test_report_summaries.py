"""Japanese check summaries composed from stored metrics (reports/summaries.py), on the session MiniLM audit."""
from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest

from reports.summaries import reason, summary
from tests.conftest import ROOT

NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ALL_CHECKS = {"artifact.integrity", "flow.representation", "flow.smoothing", "flow.pde",
              "bottleneck.information_plane", "perturbation.sensitivity", "gradients.flow", "attention.structure",
              "sanity.randomization", "artifact.parity"}


@pytest.fixture(scope="module")
def checks(minilm_audit) -> list[dict]:
    from auditor import api

    return api.show_audit(minilm_audit["json"]["audit_id"], str(minilm_audit["db"]))["checks"]


def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def test_every_check_reads_in_japanese_with_the_english_figures(checks):
    assert {c["id"] for c in checks} == ALL_CHECKS
    for check in checks:
        en, ja = summary(check, "en"), summary(check, "ja")
        assert en == check["summary"]
        assert ja != en and JAPANESE.search(ja), (check["id"], ja)
        assert numbers(en) <= numbers(ja), (check["id"], numbers(en) - numbers(ja), ja)
        assert not re.search(r"\b(the|of|and|at)\b", ja), (check["id"], ja)   # no English sentence left behind


def test_known_skip_reason_is_translated_and_unknown_falls_back(checks):
    parity = next(c for c in checks if c["id"] == "artifact.parity")
    assert parity["status"] == "skipped"
    assert summary(parity, "ja").startswith("対象外：") and "--reference" in summary(parity, "ja")
    assert reason(parity, "en") == parity["summary"].removeprefix("skipped: ")
    assert JAPANESE.search(reason(parity, "ja"))
    odd = {**parity, "summary": "skipped: a reason nobody has translated yet"}
    assert summary(odd, "ja") == odd["summary"]
    assert reason(odd, "ja") == "a reason nobody has translated yet"
    gradients = {"id": "gradients.flow", "status": "skipped", "metrics": {},
                 "summary": "skipped: the model format has no gradients (ONNX runtimes run inference only)"}
    assert "勾配" in summary(gradients, "ja")


def test_unknown_check_error_and_broken_metrics_fall_back_to_the_stored_sentence(checks):
    first = checks[1]
    unknown = {**first, "id": "new.check"}
    assert summary(unknown, "ja") == first["summary"]
    error = {**first, "status": "error", "summary": "error: RuntimeError: boom"}
    assert summary(error, "ja") == error["summary"]
    for check in checks:
        if not check["metrics"]:
            continue
        for broken in ({}, {k: "garbage" for k in check["metrics"]}, {k: ["x"] for k in check["metrics"]}):
            damaged = {**copy.deepcopy(check), "metrics": broken}
            assert summary(damaged, "ja") == check["summary"], check["id"]
        missing = {**copy.deepcopy(check), "metrics": None}
        assert summary(missing, "ja") == check["summary"]
    assert summary({}, "ja") == "" and summary(None, "ja") == ""   # type: ignore[arg-type]


def test_facts_read_from_the_english_sentence_fall_back_when_it_is_unrecognised(checks):
    for check_id in ("artifact.integrity", "bottleneck.information_plane"):
        check = next(c for c in checks if c["id"] == check_id)
        reworded = {**check, "summary": "a sentence in a form this module does not know"}
        assert summary(reworded, "ja") == reworded["summary"]


def test_module_stays_light_for_the_gui():
    """The GUI imports this module: it must not pull in reportlab, Qt or the model runtimes."""
    code = ("import sys, reports.summaries; "
            "print(sorted({'reportlab', 'PySide6', 'torch', 'transformers', 'onnxruntime'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _attention_check(summary_en: str, heads: int = 3, share: float = 3 / 72) -> dict:
    metrics = {"entropy": [[0.5] * 12] * 6, "sink_share": [[0.4] * 12] * 6, "mean_entropy": 0.5,
               "redundant_heads": heads, "prunable_attention_share": share}
    return {"id": "attention.structure", "status": "pass", "metrics": metrics, "summary": summary_en}


def test_attention_rule_is_read_back_from_the_english_sentence():
    from auditor.checks.attention import _summary

    for relative in (0.1, 0.25):
        check = _attention_check(_summary(_attention_check("")["metrics"], relative))
        ja = summary(check, "ja")
        assert f"平均的なヘッドの{relative:g}倍未満" in ja and "アテンションFLOPsの4%" in ja, ja
        assert "測定していません" in ja and "1%" not in ja
        assert numbers(check["summary"]) <= numbers(ja), (numbers(check["summary"]) - numbers(ja), ja)
    # an audit stored under the old rule (1% of the total) keeps its own wording
    old = _attention_check("mean attention entropy 0.50 (0 = one token, 1 = uniform); 40% of attention on "
                           "special/first tokens; 3 of 72 heads below 1% of total importance (4% of attention compute)")
    assert "重要度が全体の1%未満" in summary(old, "ja")
    assert numbers(old["summary"]) <= numbers(summary(old, "ja"))
    unknown = _attention_check("mean attention entropy 0.50; 3 of 72 heads in a wording this module does not know")
    assert summary(unknown, "ja") == unknown["summary"]
    without = {**_attention_check("mean attention entropy 0.50"), "metrics": {
        **_attention_check("")["metrics"], "redundant_heads": None, "prunable_attention_share": None}}
    assert "エントロピー" in summary(without, "ja") and "ヘッド" not in summary(without, "ja")
