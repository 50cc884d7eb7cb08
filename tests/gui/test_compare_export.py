"""Compare and Export pages (issue 17, items 1 and 6): the comparison appears as soon as two audits are
chosen, "changes only" hides unchanged rows and counts them, rows lead with what got worse, Japanese shows
no metric or check ids, the export language follows the window's, and both pages work from the keyboard."""
from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QPushButton, QTableWidget

from gui.widgets.compare_rows import IMPORTANCE, UNCHANGED

SNAKE_OR_DOTTED = re.compile(r"[A-Za-z]+[_.][A-Za-z_.]+")   # consecutive_cos, flow.representation


def _cells(table: QTableWidget) -> list[str]:
    return [table.item(r, c).text() for r in range(table.rowCount()) for c in range(table.columnCount())]


def _unchanged(result: dict) -> int:
    return (sum(m["direction"] in UNCHANGED for m in result["metrics"])
            + sum(f["change"] in UNCHANGED for f in result["findings"])
            + sum(r["change"] in UNCHANGED for r in result["ratings"].values()))


def test_compare_shows_the_opened_audit_against_the_previous_one_without_a_button(make_window, two_audits, qtbot):
    old, new = two_audits["ids"]
    window = make_window(two_audits["db"])
    page = window.compare
    assert page.result is None      # nothing is compared at window start, behind another page
    window.state.open_audit(new)
    window.show_page("compare")
    # the opened audit is B, the previous audit of the same model A, and the result is on screen
    assert (page.a.currentData(), page.b.currentData()) == (old, new)
    assert (page.result["a"], page.result["b"]) == (old, new)
    assert page.findings.rowCount() > 0 and page.metrics.rowCount() > 0
    # choosing the pair in the lists compares at once as well
    page.b.setCurrentIndex(page.b.findData(old))
    page.a.setCurrentIndex(page.a.findData(new))
    assert (page.result["a"], page.result["b"]) == (new, old)
    # a write to either audit (sign-off, assignment, re-evaluation) compares again, once
    before = page.result
    window.state.changed(new)
    qtbot.waitUntil(lambda: page.result is not before, timeout=5000)
    assert (page.result["a"], page.result["b"]) == (new, old)


def test_changes_only_hides_unchanged_rows_and_counts_them(make_window, two_audits):
    old, new = two_audits["ids"]
    window = make_window(two_audits["db"])
    window.show_page("compare")
    page = window.compare
    page.set_pair(old, new)
    result = page.result
    hidden = _unchanged(result)
    assert page.changes_only.isChecked() and hidden > 0
    assert page.metrics.rowCount() == sum(m["direction"] not in UNCHANGED for m in result["metrics"])
    assert page.findings.rowCount() == sum(f["change"] not in UNCHANGED for f in result["findings"])
    assert page.hidden_label.text() == f"{hidden} unchanged rows hidden"
    shown = len(result["metrics"]) - sum(m["direction"] in UNCHANGED for m in result["metrics"])
    assert f"{shown} of {len(result['metrics'])} rows" in page.labels["metrics"].text()
    # not-compared rows are never hidden: they may hide a change
    assert sum(m["direction"] == "not_compared" for m in result["metrics"]) == sum(
        r.change == "not_compared" for r in page.shown["metrics"]) > 0
    window.set_language("ja")
    assert page.hidden_label.text() == f"変化のない {hidden} 行を非表示にしています"
    page.changes_only.setChecked(False)
    assert page.metrics.rowCount() == len(result["metrics"]) and page.findings.rowCount() == len(result["findings"])
    assert page.hidden_label.text() == f"すべての行を表示しています (変化なし {hidden} 行)"


def test_rows_lead_with_worse_then_not_compared_then_better(make_window, two_audits):
    old, new = two_audits["ids"]
    window = make_window(two_audits["db"])
    window.show_page("compare")
    page = window.compare
    page.set_pair(old, new)
    findings = [dict(f) for f in page.result["findings"]]
    assert len(findings) >= 3
    findings[0]["change"], findings[-1]["change"], findings[1]["change"] = "better", "worse", "same"
    page._show({**page.result, "findings": findings})
    changes = [r.change for r in page.shown["findings"]]
    assert changes[0] == "worse" and changes[-1] == "better" and "same" not in changes
    assert changes.index("not_compared") < changes.index("better")
    assert [IMPORTANCE[c] for c in changes] == sorted(IMPORTANCE[c] for c in changes)
    assert page.findings.item(0, 4).text() == window.state.tr("cmp.worse")


def test_japanese_compare_shows_no_metric_or_check_ids(make_window, two_audits):
    old, new = two_audits["ids"]
    window = make_window(two_audits["db"])
    window.set_language("ja")
    window.show_page("compare")
    page = window.compare
    page.set_pair(old, new)
    page.changes_only.setChecked(False)
    result = page.result
    cells = _cells(page.metrics) + _cells(page.findings)
    ids = {m["name"] for m in result["metrics"]} | {f["check_id"] for f in result["findings"]}
    assert not [c for c in cells if any(i in c for i in ids)]
    assert not [c for c in cells if SNAKE_OR_DOTTED.search(c)], [c for c in cells if SNAKE_OR_DOTTED.search(c)]
    checks = {page.findings.item(r, 0).text() for r in range(page.findings.rowCount())}
    assert "層を通じた情報の流れ" in checks
    assert any("最も厳しい層" in page.metrics.item(r, 1).text() for r in range(page.metrics.rowCount()))
    headers = [t.horizontalHeaderItem(c).text() for t in (page.ratings, page.findings, page.metrics)
               for c in range(t.columnCount())]
    assert not [h for h in headers if re.search(r"[a-z]{2,}", h)], headers
    shown = re.sub(r"<[^>]+>|&\w+;", "", page.hidden_label.text() + page.labels["metrics"].text())
    assert not re.search(r"[a-z]{3,}", shown), shown


def test_compare_keyboard_and_accessible_names(make_window, two_audits, qtbot):
    old, new = two_audits["ids"]
    window = make_window(two_audits["db"])
    window.show_page("compare")
    page = window.compare
    page.set_pair(old, new)
    for table in (page.ratings, page.findings, page.metrics):
        assert not table.tabKeyNavigation() and table.accessibleName() and table.accessibleDescription()
    assert "&" in page.changes_only.text() and page.form.itemAt(0, page.form.ItemRole.LabelRole).widget().buddy()
    for lang in ("en", "ja"):
        window.set_language(lang)
        for kind in (QComboBox, QCheckBox, QPushButton, QTableWidget):
            for widget in page.findChildren(kind):
                assert widget.accessibleName(), (lang, widget)
    # Return on a finding row opens its check on the Findings page of the audit that has it; the pair stays
    row = page.shown["findings"][0]
    page.findings.setFocus()
    page.findings.setCurrentCell(0, 1)
    qtbot.keyClick(page.findings, Qt.Key.Key_Return)
    assert window.stack.currentWidget() is window.findings and window.state.audit_id == row.audit_id
    assert window.findings.view.checks[window.findings.checks.currentRow()].id == row.check_id
    assert (page.a.currentData(), page.b.currentData()) == (old, new)


def test_export_language_follows_the_ui_and_keeps_an_explicit_choice(make_window, two_audits, tmp_path):
    window = make_window(two_audits["db"])
    window.state.open_audit(two_audits["ids"][1])
    window.show_page("export")
    page = window.export
    assert page.lang.currentData() == "en"
    window.set_language("ja")
    assert page.lang.currentData() == "ja" and page.preview_button.text() == "プレビュー(&R)"
    page.lang.setCurrentIndex(page.lang.findData("en"))     # an explicit choice after the switch is kept
    window.retranslate()
    assert page.lang.currentData() == "en"
    window.set_language("en")
    window.set_language("ja")
    assert page.lang.currentData() == "ja"
    # a Japanese preview is not saved as if it were the English report the switch back asks for
    pdf = tmp_path / "preview.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    page.preview_path, page.built_for = pdf, (window.state.audit_id, "board", "ja")
    page._check_preview()
    assert page.save_button.isEnabled()
    window.set_language("en")
    assert page.lang.currentData() == "en" and not page.save_button.isEnabled()
    assert page.status.text() == window.state.tr("gui.export.stale")
    page.lang.setCurrentIndex(page.lang.findData("ja"))
    assert page.save_button.isEnabled()
    window.state.changed(window.state.audit_id)   # a sign-off after the preview: build it again
    assert not page.save_button.isEnabled() and page.status.text() == window.state.tr("gui.export.audit_changed")
    for lang in ("en", "ja"):
        window.set_language(lang)
        for widget in (page.kind, page.lang, page.preview_button, page.save_button, page.view):
            assert widget.accessibleName() and "&" not in widget.accessibleName(), (lang, widget)
        assert "&" in page.preview_button.text() and "&" in page.save_button.text()
        assert page.kind_label.buddy() is page.kind and page.lang_label.buddy() is page.lang
