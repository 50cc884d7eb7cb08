"""Compare and Export pages (issue 17, items 1 and 6): the comparison appears as soon as two audits are
chosen, "changes only" hides unchanged rows and counts them, rows lead with what got worse, Japanese shows
no metric or check ids, the export language follows the window's, and both pages work from the keyboard."""
from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QPushButton, QTableWidget

from gui.widgets.compare_rows import IMPORTANCE, UNCHANGED, fmt

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


def _db_with(two_audits, tmp_path, *extra):
    """A copy of the two tiny-BERT audits' database with `extra` synthetic audits added (newest last):
    "completed", "completed-renamed" (the same weights under another name), "cancelled" or "failed"."""
    import sqlite3

    from auditor.store import open_db, records
    from tests.fixtures.stored import make_audit

    db = tmp_path / "pair.db"
    src, dst = sqlite3.connect(two_audits["db"]), sqlite3.connect(str(db))
    src.backup(dst)
    src.close()
    dst.close()
    ids = []
    for kind in extra:
        audit_id = make_audit(db, complete=kind.startswith("completed"))
        handle = open_db(db)
        if kind == "completed-renamed":
            handle["audits"].update(audit_id, {"name": "synthetic, renamed"})
        elif kind in ("cancelled", "failed"):
            records.fail_audit(handle, audit_id, "stopped by the test", status=kind)
        handle.conn.close()
        ids.append(audit_id)
    return str(db), ids


def test_a_is_the_previous_audit_of_the_same_model_or_left_unchosen(make_window, two_audits, tmp_path):
    """Never two different models unasked (it compared tiny-bert 2 with MiniLM): A is the previous audit of
    B's model, by name or by the same weights (model SHA-256); without one, A stays unchosen and says so."""
    old, new = two_audits["ids"]
    db, (first, renamed) = _db_with(two_audits, tmp_path, "completed", "completed-renamed")
    window = make_window(db)
    window.show_page("compare")
    page = window.compare
    # at start the newest audit is B, and its previous audit is the same weights under another name
    assert (page.a.currentData(), page.b.currentData()) == (first, renamed) and page.result is not None
    window.state.open_audit(first)          # only other models' audits are older: A is left unchosen
    window.show_page("compare")
    assert page.b.currentData() == first and page.a.currentIndex() == -1 and page.a.currentData() is None
    assert page.result is None and page.findings.rowCount() == 0
    assert page.summary.text() == "No earlier audit of this model: choose one to compare with."
    assert page.a.placeholderText() == "Choose an audit to compare with"
    window.set_language("ja")
    assert page.summary.text() == "このモデルの以前の監査はありません。比較する監査を選んでください。"
    window.state.changed("")                # a re-read keeps A unchosen rather than picking the first row
    page.refresh()
    assert page.a.currentIndex() == -1 and page.b.currentData() == first
    page.a.setCurrentIndex(page.a.findData(new))   # the officer may still choose another model's audit
    assert page.result is not None and (page.result["a"], page.result["b"]) == (new, first)
    window.state.open_audit(new)
    window.show_page("compare")
    assert (page.a.currentData(), page.b.currentData()) == (old, new)


def test_an_empty_database_disables_the_controls_and_says_why(make_window):
    window = make_window()
    window.show_page("compare")
    page = window.compare
    assert not page.a.isEnabled() and not page.b.isEnabled() and not page.changes_only.isEnabled()
    assert page.summary.text().startswith("This database has no completed audit yet, so there is nothing to compare.")
    window.set_language("ja")
    assert page.summary.text().startswith("このデータベースには完了した監査がまだないため")


def test_reasons_name_checks_by_their_titles_in_both_languages(make_window, two_audits):
    """The "not comparable" list and the ratings' reasons named checks by id (flow.representation)."""
    old, new = two_audits["ids"]
    window = make_window(two_audits["db"])
    window.show_page("compare")
    page = window.compare
    page.set_pair(old, new)
    ids = {c["id"] for c in page.result["checks"]}
    blocked = [m for m in page.result["reason_messages"] if m["key"] == "comparison.check_not_compared"]
    missing = [r for r in page.result["ratings"].values() if (r.get("reason_message") or {}).get("key")
               == "comparison.rating_missing_checks"]
    assert blocked and missing
    for lang, title in (("en", "Information flow through the layers"), ("ja", "層を通じた情報の流れ")):
        window.set_language(lang)
        warning = re.sub(r"<[^>]+>", "", page.warning.text())
        reasons = [page.ratings.item(r, 4).text() for r in range(page.ratings.rowCount())]
        for text in [warning, *reasons]:
            assert not [i for i in ids if i in text], (lang, text)
        assert title in warning and any(title in r or "情報" in r for r in reasons)
        assert any(page.ratings.item(r, 4).toolTip() == reasons[r] for r in range(len(reasons)) if reasons[r])


def test_compared_numbers_print_without_computer_notation(make_window, two_audits):
    old, new = two_audits["ids"]
    window = make_window(two_audits["db"])
    window.show_page("compare")
    page = window.compare
    page.set_pair(old, new)
    page.changes_only.setChecked(False)
    assert not [c for c in _cells(page.metrics) if re.search(r"\de[+-]\d", c)]
    metrics = [dict(m) for m in page.result["metrics"]]
    metrics[0].update(a=4.212e-07, b=2.271e07, delta=2.271e07, direction="worse")
    metrics[1].update(a=0.99992, b=0.99974, delta=-0.00018, direction="worse")   # as many digits as tell them apart
    page._show({**page.result, "metrics": metrics})
    row = next(r for r in range(page.metrics.rowCount()) if page.metrics.item(r, 2).text() == "4.21×10⁻⁷")
    assert page.metrics.item(row, 3).text() == "22.7 million" and page.metrics.item(row, 4).text() == "22.7 million"
    close = next(r for r in range(page.metrics.rowCount()) if page.metrics.item(r, 2).text() == "0.9999")
    assert page.metrics.item(close, 3).text() == "0.9997" and page.metrics.item(close, 4).text() == "-1.8×10⁻⁴"
    window.set_language("ja")
    page._show({**page.result, "metrics": metrics})
    assert page.metrics.item(row, 3).text() == "2,271万"
    assert (fmt(None), fmt(12), fmt(0.83333), fmt("n/a")) == ("–", "12", "0.833", "n/a")


def test_export_says_a_cancelled_or_failed_audit_gets_a_draft(make_window, two_audits, tmp_path, qtbot):
    """Beside Preview, before anything is built: the report of an audit that did not complete is a draft
    (reports.commands marks every page "DRAFT: not a final report; the audit is …")."""
    import subprocess

    db, (cancelled, failed) = _db_with(two_audits, tmp_path, "cancelled", "failed")
    window = make_window(db)
    window.state.open_audit(cancelled)
    window.show_page("export")
    page = window.export
    assert page.draft_note.isVisible() and page.draft_note.text() == (
        "This audit was cancelled: its report is a draft. Every page is marked “DRAFT: not a final report”, "
        "and it never verifies as a final report.")
    assert page.draft_note.accessibleName() == page.draft_note.text()
    # the note sits in the row of Preview, to its right
    assert page.draft_note.parentWidget() is page.preview_button.parentWidget()
    assert page.draft_note.geometry().left() > page.save_button.geometry().right()
    window.set_language("ja")
    assert page.draft_note.text().startswith("この監査は中止されました。報告書は下書きとして作成され")
    window.state.open_audit(failed)
    window.show_page("export")
    assert page.draft_note.text().startswith("この監査は失敗しました。")
    window.state.open_audit(two_audits["ids"][0])
    window.show_page("export")
    assert not page.draft_note.isVisible()
    # what the note says is what the report does
    window.set_language("en")
    window.state.open_audit(cancelled)
    window.show_page("export")
    page.build_preview()
    qtbot.waitUntil(lambda: page.preview_path is not None, timeout=60000)
    text = subprocess.run(["pdftotext", str(page.preview_path), "-"], capture_output=True, text=True).stdout
    assert "DRAFT: not a final report; the audit is cancelled" in text
