"""A figure's 95% interval beside its value in the full report (issue 14): the figures table states the
decided value with its interval in words, the all-figures table beneath the value, and the per-layer
line charts draw the band; an audit without intervals reads as before. The audit is written through the
store (no model run) and evaluated by the real template engine, so the tests take seconds."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from auditor import api
from auditor.messages import Message
from auditor.presentation import interval_bounds, interval_range, layer_band, with_interval
from auditor.views import CheckView

UPDATE = [0.62, 0.48, 0.46, 0.50, 0.51, 0.76]
LOW, HIGH = [v - 0.01 for v in UPDATE], [v + 0.012 for v in UPDATE]
TEMPLATE = """name: intervals
version: '1'
checks:
- id: flow.representation
  conditions:
  - {condition: below, metric: update_ratio, reduce: any_layer, warn: 0.05, fail: 0.01, finding: flow.idle_block}
- id: perturbation.sensitivity
  conditions:
  - {condition: below, metric: output_cos, warn: 0.25, fail: 0.2, finding: perturbation.output_stability}
"""


def stored_audit(db: Path, tmp_path: Path, *, intervals: bool) -> str:
    """flow.representation (per-step update_ratio) and perturbation.sensitivity (scalar output_cos and
    flip_rate) written through the store, then evaluated under a two-rule template."""
    from auditor.store import open_db, records

    handle = open_db(db)
    template = dict(name="intervals", version="1", sha256="0" * 64, source="builtin", text=TEMPLATE)
    audit_id = records.create_audit(
        handle, identity={"sha256": "ab" * 32, "format": "transformers", "architecture": "BertModel",
                          "parameters": 10, "layers": 6},
        probes={"spec": "builtin:text", "sha256": "cd" * 32, "count": 300}, template=template, meta={},
        environment={}, seed=0, device="cpu", name="synthetic", model_version="1")
    ci = {"flow.representation": {"update_ratio": {"ci_low": LOW, "ci_high": HIGH}},
          "perturbation.sensitivity": {"output_cos": {"ci_low": 0.297, "ci_high": 0.319},
                                       "flip_rate": {"ci_low": 0.137, "ci_high": 0.24}}}
    results = [{"check_id": "flow.representation", "outcome": "ok", "summary": "figures stored",
                "metrics": {"update_ratio": UPDATE}},
               {"check_id": "perturbation.sensitivity", "outcome": "ok", "summary": "figures stored",
                "metrics": {"output_cos": 0.309, "flip_rate": 0.181}}]
    records.store_results(handle, audit_id, [{**r, "intervals": ci[r["check_id"]] if intervals else {}}
                                             for r in results])
    records.store_evaluation(handle, audit_id, template, [], "pass", reason="initial")
    records.mark_finished_at(handle, audit_id)
    records.finish_audit(handle, audit_id, verdict="pass", fingerprint=None)
    handle.conn.close()
    path = tmp_path / "intervals.yaml"
    path.write_text(TEMPLATE)
    api.reevaluate(audit_id, str(path), db=str(db))   # the findings, by the real rule engine
    return audit_id


def _compact(text: str) -> str:
    """Without white space: table cells wrap their lines wherever their column ends (-raw keeps each cell's
    lines together, in the order they are drawn)."""
    return re.sub(r"\s+", "", text)


def _pdf_text(pdf: Path) -> str:
    return _compact(subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)


def _report(audit_id: str, db: Path, out: Path, lang: str) -> str:
    from reports.commands import build_report

    build_report(audit_id, out, kind="full", lang=lang, db=str(db))
    return _pdf_text(out)


def test_a_value_explained_in_words_carries_its_interval():
    assert with_interval(0.309, (0.297, 0.319), "en") == "0.309 (95% CI 0.297 to 0.319)"
    assert with_interval(0.309, (0.297, 0.319), "ja") == "0.309（95%信頼区間 0.297〜0.319）"
    block = Message("condition.place.block", {"block": 3})
    assert with_interval(0.46, (0.45, 0.472), "en", block) == "0.46 at block 3 (95% CI 0.45 to 0.472)"
    assert with_interval(0.46, None, "en", block) == "0.46 (block 3)" and with_interval(0.46, None, "ja") == "0.46"
    assert interval_range(None, "en") == "" and interval_range((1.0, 2.0), "ja") == "95%信頼区間 1〜2"
    assert interval_range((1.0, 2.0), "en", block) == "block 3: 95% CI 1 to 2"
    assert interval_bounds((0.297, 0.319), "en") == "0.297–0.319" and interval_bounds(None, "ja") == ""


def test_a_per_layer_band_is_read_from_the_stored_bounds():
    check = CheckView(id="flow.representation", status="pass", outcome="ok", summary="",
                      metrics={"update_ratio": UPDATE}, intervals={"update_ratio": {"ci_low": LOW, "ci_high": HIGH}})
    assert layer_band(check, "update_ratio", len(UPDATE)) == (LOW, HIGH)
    assert layer_band(check, "effective_rank", 7) is None
    assert layer_band(CheckView(id="x", status="pass", outcome="ok", summary=""), "update_ratio", 6) is None


WORDS = {  # what each table cell says, in each language
    "en": ["0.309 (95% CI 0.297 to 0.319)", "0.46 at block 3 (95% CI 0.45 to 0.472)", "95% CI 0.137 to 0.24",
           "block 6: 95% CI 0.75 to 0.772", "shaded: 95% CI"],
    "ja": ["0.309（95%信頼区間 0.297〜0.319）", "0.46（ブロック3、95%信頼区間 0.45〜0.472）", "95%信頼区間 0.137〜0.24",
           "ブロック6：95%信頼区間 0.75〜0.772", "網掛け：95%信頼区間"],
}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_full_report_states_each_interval_beside_its_value(tmp_path, lang):
    db = tmp_path / "audits.db"
    audit_id = stored_audit(db, tmp_path, intervals=True)
    text = _report(audit_id, db, tmp_path / "full.pdf", lang)
    # the figures table: the decided value with its interval in words (output_cos; update_ratio at its worst
    # block); the all-figures table: a scalar's interval beneath it, a per-layer list's at its last block;
    # the per-layer chart says what its shading is
    for words in WORDS[lang]:
        assert _compact(words) in text, words


def test_without_intervals_the_report_reads_as_before(tmp_path):
    db = tmp_path / "audits.db"
    audit_id = stored_audit(db, tmp_path, intervals=False)
    text = _report(audit_id, db, tmp_path / "full.pdf", "en")
    assert "95%CI" not in text and "shaded" not in text
    assert "0.309" in text and "0.46(block3)" in text
