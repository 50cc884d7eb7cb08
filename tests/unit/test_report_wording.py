"""Reports say everything about a check or a finding through the catalogue (issue 15): no English is rebuilt
or parsed in reports/, charts come from the checks' declarations, and the missing-evidence block reads the
findings' stored sentences."""
from __future__ import annotations

import ast
import re

import pytest

from auditor import messages
from auditor.checks import registry
from auditor.messages import Message, verbatim
from auditor.presentation import missing_evidence, presentation
from auditor.status import Status
from auditor.views import AuditView, CheckView, FindingView
from reports.data import ReportData
from reports.figures import check_figures
from reports.strings import en, ja, text
from reports.wording import check_words, not_run_reason
from tests.conftest import ROOT

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _keys(table: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in table.items():
        out.add(f"{prefix}{key}")
        if isinstance(value, dict):
            out |= _keys(value, f"{prefix}{key}.")
    return out


def test_every_declared_chart_has_a_title_axis_and_series_names_in_both_languages():
    checks = registry.load_all()
    assert checks
    for check_id in checks:
        shown = presentation(check_id)
        assert messages.has(shown.title_key) and messages.has(shown.why_key) and messages.has(shown.meaning_key)
        for chart in shown.charts:
            keys = [f"chart.{check_id}.{chart.name}", f"axis.{chart.axis}"]
            # a line chart names each series in its legend; bars and heatmaps show the values' own keys
            keys += [f"metric.{m}" for m in chart.metrics if chart.kind in ("line", "shares", "plane")]
            for key in keys:
                assert messages.has(key), (check_id, chart.name, key)
                assert messages.render(Message(key), "en") and messages.render(Message(key), "ja")


def test_report_chrome_is_complete_in_japanese_and_holds_no_check_sentences():
    assert _keys(en.TEXT) == _keys(ja.TEXT)
    for moved in ("checks", "chart_titles", "series", "axis", "rule", "verdict", "dimensions", "dimension_hint"):
        assert moved not in en.TEXT and moved not in ja.TEXT   # now catalogue keys


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_status_and_dimension_words_come_from_the_catalogue(lang):
    words = text(lang)
    for status in Status:
        assert words["verdict"][status.value] == messages.render(Message(f"status.{status.value}"), lang)
    assert words["verdict"]["none"] == messages.render(Message("status.none"), lang)
    assert words["dimensions"]["integrity"] == messages.render(Message("dimension.integrity"), lang)
    assert words["dimension_hint"]["flow"] == messages.render(Message("dimension.flow.hint"), lang)


def test_nothing_in_reports_parses_an_english_sentence():
    for path in sorted((ROOT / "reports").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                    for a in n.names} | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "re" not in imported, path
    assert not (ROOT / "reports" / "summaries.py").exists()


def _finding(check_id: str, sentences: tuple[Message, ...] | None, detail: str = "stored English",
             key: str = "check.required_missing") -> FindingView:
    return FindingView(id=1, check_id=check_id, severity=Status.INCONCLUSIVE, title="Evidence missing",
                       detail=detail, meaning={"en": "m", "ja": "意味"}, clauses=(), action="Do this",
                       title_ja="証拠の欠如", action_ja="これを行う", key=key, sentences=sentences)


def test_missing_evidence_reads_the_stored_sentences_in_japanese():
    skip = Message("check.skipped", {"reasons": (Message("check.artifact.parity.skip.no_reference"),)})
    required = _finding("artifact.parity", (Message("finding.required_missing", {"reasons": (skip,)}),))
    thin = Message("evidence.too_few_scored.probe", {"count": 3, "needed": 10})
    rules = [_finding("bottleneck.information_plane", (Message("finding.not_decided", {"name": name, "reason": thin}),),
                      key="evidence.insufficient") for name in ("probe_accuracy_over_chance", "task_information_drop")]
    items = missing_evidence([required, *rules], "ja")
    assert len(items) == 2          # one cause of one check is said once, without the figure's name
    parity, probe = items
    assert parity.reason.startswith("実行されませんでした：") and "--reference" in parity.reason
    assert parity.title == "証拠の欠如" and parity.action == "これを行う"
    assert probe.scopes == ["bottleneck.information_plane"] and "3件" in probe.reason
    assert "probe_accuracy" not in probe.reason
    english = missing_evidence([required], "en")[0].reason
    assert english.startswith("did not run: ") and "skipped" not in english


def test_audits_stored_before_the_catalogue_show_their_stored_english():
    legacy = _finding("flow.pde", None, detail="required by the template; skipped: an old reason")
    assert missing_evidence([legacy], "ja")[0].reason == legacy.detail
    check = CheckView(id="flow.pde", status=Status.SKIPPED, outcome="skipped", summary="skipped: an old reason")
    assert not_run_reason(check, "ja") is None and check.summary_in("ja") == check.summary


def test_why_a_check_did_not_run_comes_from_its_sentences():
    skipped = CheckView(id="artifact.parity", status=Status.SKIPPED, outcome="skipped", summary="skipped: x",
                        sentences=(Message("check.skipped", {"reasons": (Message("check.artifact.parity.skip."
                                                                                 "no_reference"),)}),))
    why = not_run_reason(skipped, "ja")
    assert why and not why.startswith("対象外") and JAPANESE.search(why)
    failed = CheckView(id="flow.pde", status=Status.ERROR, outcome="error", summary="error: boom",
                       sentences=(Message("check.error", {"detail": verbatim("RuntimeError: boom")}),))
    assert not_run_reason(failed, "ja") == "RuntimeError: boom"
    words = check_words("new.check", "ja", text("ja"))
    assert words["title"] == "new.check" and words["why"] == text("ja")["generic_check_why"]


def _data(checks: tuple[CheckView, ...], lang: str) -> ReportData:
    model = {"name": "m", "version": "1", "format": "transformers", "sha256": "0" * 64}
    template = {"name": "quick", "version": "2", "sha256": "0" * 64, "source": "builtin:quick"}
    view = AuditView.from_json({"audit_id": "A", "status": "completed", "verdict": "pass", "model": model,
                                "probes": {}, "environment": {}, "meta": {}, "template": template,
                                "audit_template": template, "checks": [], "findings": []})
    view = AuditView(**{**vars(view), "checks": checks})
    return ReportData(view=view, evidence_json=b"{}", fingerprint="0" * 64, comparison=None, report_id="R",
                      generated_at="", lang=lang)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_charts_follow_the_declaration_titled_from_the_catalogue(lang):
    metrics = {"update_ratio": [0.4, 0.5, 0.6], "consecutive_cos": [0.9, 0.8, 0.7],
               "norm_growth": [1.0, 1.1, 1.2, 1.3]}   # no effective_rank: that chart is left out
    check = CheckView(id="flow.representation", status=Status.PASS, outcome="ok", summary="", metrics=metrics)
    figures = check_figures(_data((check,), lang), "flow.representation", text(lang), 240)
    titles = [title for title, _ in figures]
    declared = presentation("flow.representation").charts
    assert titles == [messages.render(Message(f"chart.flow.representation.{c.name}"), lang) for c in declared[:2]]
    if lang == "ja":
        assert all(JAPANESE.search(t) for t in titles)



@pytest.mark.parametrize("lang", ["en", "ja"])
def test_perturbation_kinds_are_worded_in_bars_and_the_figures_table(lang):
    from reportlab.graphics.shapes import String

    from reports.layout import styles
    from reports.results import results_story

    by_kind = {"mask@0.10": 0.2, "delete@0.10": 0.3}
    check = CheckView(id="perturbation.sensitivity", status=Status.PASS, outcome="ok", summary="",
                      metrics={"flip_rate_by_kind": by_kind, "output_cos_by_kind": {"mask@0.10": 0.9}})
    data = _data((check,), lang)
    figures = dict(check_figures(data, "perturbation.sensitivity", text(lang), 240))
    title = messages.render(Message("chart.perturbation.sensitivity.changed_predictions"), lang)
    labels = [s.text for s in figures[title].getContents() if isinstance(s, String)]
    masked = messages.render(Message("perturbation.kind.mask", {"size": 0.1}), lang)
    assert masked in labels and not any("@" in label for label in labels)
    story = results_story(data, text(lang), styles(lang))
    cells = " ".join(str(getattr(f, "_cellvalues", "")) for f in story)
    assert masked in cells and messages.render(Message("metric.flip_rate_by_kind"), lang) in cells


SHARED = ("status", "trend", "trend_unmeasured", "missing_title", "missing_intro", "missing_how", "audit_scope",
          "decision_options", "missing_not_run", "missing_failed")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_words_shared_with_the_gui_come_from_the_catalogue_once(lang):
    """Run states, trends, the missing-evidence lines, 'audit as a whole' and the sign-off words are catalogue
    sentences (templates/sentences/presentation.yaml); the report tables hold no copy of them."""
    from auditor.presentation import audit_status_label, role_label, trend_label

    for key in SHARED:
        assert key not in en.TEXT and key not in ja.TEXT, key
    assert "roles" not in en.TEXT["signoff"] and "roles" not in ja.TEXT["signoff"]
    words = text(lang)
    assert words["status"]["running"] == audit_status_label("running", lang) == \
        messages.render(Message("audit.status.running"), lang)
    assert words["trend"]["worse"] == trend_label("worse", lang) and words["trend"][None] == trend_label(None, lang)
    assert words["missing_title"] == messages.text("missing.title", lang)
    assert words["audit_scope"] == messages.text("scope.audit", lang)
    assert words["signoff"]["roles"]["reviewer"] == role_label("reviewer", lang)
    assert words["decision_options"][1] == messages.text("signoff.decision.conditions", lang)
    assert role_label("reviewer", "ja") == "審査者"    # the one word for the reviewer, in the GUI too
