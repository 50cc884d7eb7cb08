"""Findings dashboard, language switch, compare, sign-off and assignment, PDF export: real widgets offscreen."""
import html
import importlib.util

import pytest
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication, QTableWidget

from auditor import api
from auditor.messages import Message, render
from auditor.presentation import dimension_label
from gui.widgets.charts import BarChart, HeatMap, LineChart


def _open(window, audit_id):
    window.state.open_audit(audit_id)
    assert window.stack.currentWidget() is window.findings
    return window.findings


def test_findings_dashboard_shows_verdict_tiles_charts_and_thresholds(make_window, two_audits):
    window = make_window(two_audits["db"])
    page = _open(window, two_audits["ids"][1])
    data = api.show_audit(two_audits["ids"][1], two_audits["db"])
    assert page.verdict.property("status") == data["verdict"]
    assert "tiny-bert" in page.title.text()
    assert {t.property("rating") for t in page.tiles.values()} <= {"pass", "warn", "inconclusive", "fail",
                                                                   "not_assessed"}
    # version 1 sampled other probes (seed 1): no trend is claimed across different probe sets
    assert data["previous_audit_id"] == two_audits["ids"][0] and data["ratings"]["flow"]["trend"] is None
    assert not page.tiles["flow"].trend.text().strip()
    assert page.checks.count() == len(data["checks"])
    for check_id, kind in (("flow.representation", LineChart), ("attention.structure", HeatMap)):
        if any(c["id"] == check_id for c in data["checks"]):
            page.select_check(check_id)
            assert page.detail.findChildren(kind), check_id
    thresholded = next(f for f in data["findings"] if (f.get("condition") or {}).get("warn") is not None)
    page.select_check(thresholded["check_id"])
    text = " ".join(label.text() for label in page.detail.findChildren(type(page.title)))
    assert thresholded["title"] in text and thresholded["detail"] in text
    assert thresholded["meaning"]["en"] in text


def test_language_switch_uses_the_shipped_japanese_font(make_window, two_audits):
    window = make_window(two_audits["db"])
    page = _open(window, two_audits["ids"][0])
    window.language.setCurrentIndex(window.language.findData("ja"))
    assert window.state.lang == "ja"
    assert window.nav.item(2).text() == "所見" and page.tiles["flow"].name.text() == "<b>情報の流れ</b>"
    family = QApplication.instance().font().families()[0]
    shipped = {f for i in range(200) for f in QFontDatabase.applicationFontFamilies(i)}
    assert family == "IPAexGothic" and family in shipped
    view = page.view
    finding = view.findings_of(view.checks[page.checks.currentRow()].id)[0]
    text = " ".join(label.text() for label in page.detail.findChildren(type(page.title)))
    assert finding.meaning_in("ja") in text and finding.title_in("ja") in text
    # perturbation kinds (stored as mask@0.10) read as words in the bars and in the figures table
    page.select_check("perturbation.sensitivity")
    bars = [label for chart in page.detail.findChildren(BarChart) for label, _ in chart.items]
    cells = [table.item(r, 1).text() for table in page.detail.findChildren(QTableWidget)
             for r in range(table.rowCount())]
    masked = "マスクしたトークン 10%"
    assert masked in bars and any(masked in c for c in cells) and not any("@" in s for s in bars + cells)
    window.set_language("en")
    assert window.nav.item(2).text() == "Findings" and QApplication.instance().font().families()[0] == "DejaVu Sans"


def test_compare_two_audits(make_window, two_audits):
    from gui.widgets.compare_rows import titled

    window = make_window(two_audits["db"])
    window.show_page("compare")
    page = window.compare
    a, b = two_audits["ids"]
    page.set_pair(a, b)
    page.changes_only.setChecked(False)   # every row ("changes only" is on by default: tests/gui/test_compare_export.py)
    # shown as soon as both audits are chosen, with no button to press
    assert page.result["a"] == a and page.result["b"] == b
    assert page.metrics.rowCount() == len(page.result["metrics"]) > 0
    assert page.findings.rowCount() == len(page.result["findings"]) > 0
    assert a in page.summary.text() and "improved" in page.summary.text()
    # both templates are named; the two audits sampled different probes (seeds 1 and 2), so they are
    # not comparable as a whole and the warning says why
    assert page.templates.text().count("template quick v2") == 2
    assert not page.result["comparable"] and page.warning.isVisibleTo(page)
    assert all(html.escape(render(titled(Message.from_json(m)), "en"), quote=False) in page.warning.text()
               for m in page.result["reason_messages"])      # checks by title, not id (test_compare_export)
    window.set_language("ja")
    words = [page.findings.item(r, 4).text() for r in range(page.findings.rowCount())]
    apart = [f for f in page.result["findings"] if f["change"] == "not_compared"]
    assert apart and words.count(window.state.tr("cmp.not_compared")) == len(apart)
    assert "比較対象外" in window.state.tr("cmp.not_compared") and not any("解消" in w for w in words)
    assert "全体としては比較できません" in page.warning.text()
    # reasons, dimensions and perturbation kinds come from the catalogue: the engine's messages, not its strings
    facts_only = {k: v for k, v in page.result.items() if k not in ("reasons", "reasons_ja")}
    for key in ("ratings", "metrics", "findings"):
        rows = facts_only[key].values() if key == "ratings" else facts_only[key]
        stripped = [{k: v for k, v in r.items() if k not in ("reason", "reason_ja")} for r in rows]
        facts_only[key] = dict(zip(facts_only[key], stripped, strict=True)) if key == "ratings" else stripped
    page._show(facts_only)
    for reason in page.result["reason_messages"]:
        assert html.escape(render(titled(Message.from_json(reason)), "ja"), quote=False) in page.warning.text()
    dims = {page.ratings.item(r, 0).text() for r in range(page.ratings.rowCount())}
    assert dims == {dimension_label(d, "ja") for d in page.result["ratings"]} and "情報の流れ" in dims
    why = [page.ratings.item(r, 4).text() for r in range(page.ratings.rowCount())]
    assert why == [render(titled(Message.from_json(r["reason_message"])), "ja") if r["reason_message"] else ""
                   for r in page.result["ratings"].values()]
    names = [page.metrics.item(r, 1).text() for r in range(page.metrics.rowCount())]
    assert any("マスクしたトークン 10%" in n for n in names) and not any("@" in n for n in names)
    page._show(page.result)
    # "changes only" hides unchanged rows and keeps every row that is not compared
    unchanged = sum(f["change"] == "same" for f in page.result["findings"])
    page.changes_only.setChecked(True)
    assert page.findings.rowCount() == len(page.result["findings"]) - unchanged
    assert page.metrics.rowCount() == sum(m["direction"] != "unchanged" for m in page.result["metrics"])
    page.changes_only.setChecked(False)
    window.set_language("en")
    page.set_pair(a, a)
    assert page.summary.text() == window.state.tr("cmp.need_two") and page.findings.rowCount() == 0


def test_sign_off_and_assign_a_finding(make_window, two_audits, tmp_path):
    import sqlite3

    db = str(tmp_path / "copy.db")          # a copy: the session's audits stay unsigned for the other tests
    with sqlite3.connect(two_audits["db"]) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    window = make_window(db)
    audit_id = two_audits["ids"][0]
    window.state.open_audit(audit_id)
    window.show_page("signoff")
    page = window.signoff
    page.sign_button.click()
    assert page.message.text() == window.state.tr("s.need_name")
    page.role.setCurrentIndex(page.role.findData("reviewer"))
    page.name.setText("R. Reviewer")
    page.decision.setCurrentIndex(page.decision.findData("approve with conditions"))
    page.sign_button.click()
    assert page.signoffs.rowCount() >= 1
    signed = api.show_audit(audit_id, db)["signoffs"]
    assert any(s["role"] == "reviewer" and s["name"] == "R. Reviewer" for s in signed)
    assert window.state.settings.get("signer") == "R. Reviewer"
    # the history names events in words, newest first: the sign-off just made, by its signer, with its details
    rows = [[page.history.item(r, c).text() for c in range(4)] for r in range(page.history.rowCount())]
    assert rows[0][1:] == ["R. Reviewer", "Signed", "Reviewer R. Reviewer: Approve with conditions"], rows
    assert [row[2] for row in rows[-2:]] == ["Audit completed", "Audit started"], rows
    box = page.assign_box                    # finding owners are assigned in their own box, by its own name
    box.findings.selectRow(0)
    finding = box.selected()
    box.by.setText("K. Tanaka")
    box.owner.setText("Model owner team")
    box.owner.textEdited.emit("Model owner team")
    box.save_button.click()
    assert box.status.text() == f"Finding {finding.id} saved: owner Model owner team (assigned by K. Tanaka).", \
        box.status.text()
    stored = {f["id"]: f["owner"] for f in api.show_audit(audit_id, db)["findings"]}
    assert stored[finding.id] == "Model owner team"
    assert box.findings.item(0, 3).text() == "Model owner team"


@pytest.mark.skipif(importlib.util.find_spec("reports.commands") is None, reason="reports.commands not built yet")
def test_export_board_pdf_with_preview_then_save(make_window, qtbot, two_audits, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = make_window(two_audits["db"])
    window.state.open_audit(two_audits["ids"][1])
    window.show_page("export")
    page = window.export
    assert not page.save_button.isEnabled()
    page.kind.setCurrentIndex(page.kind.findData("board"))
    page.lang.setCurrentIndex(page.lang.findData("ja"))
    page.preview_button.click()
    qtbot.waitUntil(lambda: not page.building, timeout=120000)
    assert page.preview_path is not None, page.status.text()
    assert page.document.pageCount() == 1 and page.save_button.isEnabled()
    target = tmp_path / "out" / "board"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PDF (*.pdf)"))
    page.save_button.click()
    saved = target.with_suffix(".pdf")
    assert saved.read_bytes() == page.preview_path.read_bytes() and saved.read_bytes().startswith(b"%PDF")
    assert window.state.settings.folder("reports") == str(saved.parent)
