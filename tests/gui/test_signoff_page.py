"""The Sign-off page as an officer uses it (issue 17, items 2, 5 and 6), offscreen on a copy of a quick audit:
Save is never pressed without a finding and never leaves a stale "saved"; no due date is stored unless chosen;
the assignment is credited to its own "Assigned by"; a sign-off or rejection is confirmed first; every page
shows the new owner and sign-off state without a reload; the history is in Japanese; Tab reaches the editors."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from auditor import api
from auditor.messages import has, render
from auditor.views import EventView

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def opened(two_audits, make_window, tmp_path, monkeypatch):
    """The sign-off page on a copy (sqlite3 backup) of the first quick audit, with no identities (machine key)."""
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(tmp_path / "no-identities"))
    db = str(tmp_path / "copy.db")
    src, dst = sqlite3.connect(two_audits["db"]), sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.close()
    audit_id = two_audits["ids"][0]
    window = make_window(db)
    window.state.open_audit(audit_id)
    window.show_page("signoff")
    return window, window.signoff, db, audit_id


def _select(page, row: int = 0):
    box = page.assign_box
    box.findings.selectRow(row)
    return box, box.selected()


def _unassigned_row(page) -> int:
    return next(r for r, f in enumerate(page.assign_box._findings) if not f.owner and not f.due)


def test_save_is_disabled_without_a_finding_and_no_saved_line_goes_stale(opened):
    _window, page, db, audit_id = opened
    box = page.assign_box
    assert box.selected() is None
    assert not box.save_button.isEnabled()
    assert box.hint.text() == "Choose a finding in the table first." and not box.hint.isHidden()
    assert box.save_button.accessibleDescription() == box.hint.text() == box.save_button.toolTip()
    box.save()                                           # even called directly, nothing is written or said
    assert box.status.text() == "" and not [e for e in api.audit_view(audit_id, db).events if e.kind == "assigned"]
    row = _unassigned_row(page)
    box, finding = _select(page, row)
    box.by.setText("K. Tanaka")
    box.owner.setText("Risk team")
    box.owner.textEdited.emit("Risk team")
    assert box.save_button.isEnabled() and box.hint.isHidden()
    box.save_button.click()
    assert box.status.text() == f"Finding {finding.id} saved: owner Risk team (assigned by K. Tanaka)."
    assert box.selected().id == finding.id               # the re-read keeps the finding selected
    assert not box.save_button.isEnabled() and box.hint.text() == \
        "Nothing to save: change the owner or the due date first."
    box.findings.selectRow(next(r for r in range(box.findings.rowCount()) if r != row))
    assert box.status.text() == ""                       # another finding: the saved line is gone
    box.findings.clearSelection()
    assert box.status.text() == "" and not box.save_button.isEnabled()
    assert box.hint.text() == "Choose a finding in the table first."


def test_no_due_date_is_stored_unless_chosen(opened):
    _window, page, db, audit_id = opened
    box, finding = _select(page, _unassigned_row(page))
    assert not box.due_check.isChecked() and not box.due.isEnabled() and box.due.text() == "not set"
    box.by.setText("K. Tanaka")
    box.owner.setText("Risk team")
    box.owner.textEdited.emit("Risk team")
    box.save_button.click()
    stored = next(f for f in api.audit_view(audit_id, db).findings if f.id == finding.id)
    assert (stored.owner, stored.due) == ("Risk team", None)
    assert api.audit_view(audit_id, db).events[-1].detail == {"finding_id": finding.id, "owner": "Risk team"}
    box.due_check.setChecked(True)                       # chosen: a date is shown before anything is saved
    assert box.due.isEnabled() and box.status.text() == ""
    from PySide6.QtCore import QDate

    box.due.setDate(QDate(2030, 6, 30))
    box.save_button.click()
    assert next(f for f in api.audit_view(audit_id, db).findings if f.id == finding.id).due == "2030-06-30"
    assert "due 2030-06-30" in box.status.text()
    box.due_check.setChecked(False)                      # unticked again: the due date is removed
    box.save_button.click()
    assert next(f for f in api.audit_view(audit_id, db).findings if f.id == finding.id).due is None
    assert box.status.text() == f"Finding {finding.id} saved: no due date (assigned by K. Tanaka)."


def test_the_assignment_is_credited_to_assigned_by_not_the_signoff_name(opened):
    _window, page, db, audit_id = opened
    page.name.setText("S. Signer")                       # typed in the sign-off box
    box, finding = _select(page, _unassigned_row(page))
    box.owner.setText("Risk team")
    box.owner.textEdited.emit("Risk team")
    assert box.by.text() == "" and not box.save_button.isEnabled()
    assert box.hint.text() == "Enter who makes this assignment in “Assigned by”."
    box.by.setText("A. Assigner")
    box.by.textEdited.emit("A. Assigner")
    box.save_button.click()
    event = api.audit_view(audit_id, db).events[-1]
    assert (event.kind, event.actor) == ("assigned", "A. Assigner")


def test_a_signoff_and_a_rejection_are_confirmed_and_the_state_leads_the_page(opened, dialogs):
    window, page, db, audit_id = opened
    announced: list[str] = []
    window.state.audit_changed.connect(announced.append)
    assert page.signoff_state.text().count("not signed yet") == 3
    assert "Not approved yet; still to sign: preparer, reviewer, approver" in page.signoff_state.text()
    page.role.setCurrentIndex(page.role.findData("preparer"))
    page.name.setText("P. Preparer")
    page.sign_button.click()
    assert dialogs[-1] == ("question", "Record a sign-off", f"Sign audit {audit_id} as preparer (P. Preparer) with "
                           "the decision “Approve”? A sign-off is signed and permanent.")
    assert page.message.text() == "Signed as Preparer by P. Preparer." and announced == [audit_id]
    assert "still to sign: reviewer, approver" in page.signoff_state.accessibleDescription()
    assert re.search(r"Preparer: P\. Preparer — Approve, \d{4}-\d\d-\d\d \d\d:\d\d UTC", page.signoff_state.text())
    window.set_language("ja")
    page.role.setCurrentIndex(page.role.findData("reviewer"))
    page.decision.setCurrentIndex(page.decision.findData("reject"))
    page.name.setText("R. Reviewer")
    page.sign_button.click()
    assert dialogs[-1] == ("question", "署名の記録", f"監査 {audit_id} に審査者（R. Reviewer）として「却下」と"
                           "署名しますか？署名は電子署名され、取り消せません。")
    assert [(s.role, s.decision) for s in api.audit_view(audit_id, db).signoffs] == [("preparer", "approve"),
                                                                                     ("reviewer", "reject")]
    assert page.signoff_state.state == "rejected"
    assert re.search(r"審査者の R\. Reviewer が \d{4}-\d\d-\d\d \d\d:\d\d UTC に却下しました。",
                     page.signoff_state.accessibleDescription())


def test_other_pages_show_the_new_owner_without_a_reload(opened):
    from PySide6.QtWidgets import QLabel

    window, page, db, audit_id = opened
    announced: list[str] = []
    window.state.audit_changed.connect(announced.append)
    box, finding = _select(page, _unassigned_row(page))
    box.by.setText("K. Tanaka")
    box.owner.setText("Risk team")
    box.owner.textEdited.emit("Risk team")
    box.save_button.click()
    assert announced == [audit_id]                       # the one signal: every page showing the audit re-reads
    window.show_page("findings")
    window.findings.select_check(finding.check_id)
    cards = [label.text() for label in window.findings.detail.findChildren(QLabel)]
    assert any("Owner: Risk team" in text for text in cards), cards
    # a write elsewhere, announced by the one signal, is shown on this page without its own reload
    other = next(f for f in api.audit_view(audit_id, db).findings if f.id != finding.id and f.severity != "pass")
    api.assign_finding(audit_id, other.id, owner="Data team", actor="someone", db=db)
    window.state.changed(audit_id)
    owners = [page.findings.item(r, 3).text() for r in range(page.findings.rowCount())]
    assert "Data team" in owners and "Risk team" in owners


def test_the_history_in_japanese_has_no_raw_event_kinds_or_keys(opened, dialogs):
    window, page, db, audit_id = opened
    page.name.setText("P. Preparer")
    page.sign_button.click()
    box, finding = _select(page, _unassigned_row(page))
    box.by.setText("K. Tanaka")
    box.owner.setText("Risk team")
    box.owner.textEdited.emit("Risk team")
    box.save_button.click()
    window.set_language("ja")
    rows = [[page.history.item(r, c).text() for c in range(4)] for r in range(page.history.rowCount())]
    kinds = {e.kind for e in api.audit_view(audit_id, db).events}
    assert {"created", "completed", "signed", "assigned"} <= kinds
    for _at, _actor, event, detail in rows:
        assert event not in kinds and not re.search(r"[A-Za-z]", event), event
        assert not re.search(r"\b(finding_id|owner|due|template|verdict|role|decision|name)\b\s*:", detail), detail
    details = {event: detail for _at, _actor, event, detail in rows}
    assert details["所見の割り当て"] == f"所見 {finding.id}「{finding.title_in('ja')}」：担当者 Risk team"
    assert details["署名"] == "作成者 P. Preparer：承認"
    assert details["監査を開始"] == "テンプレート quick" and details["監査が完了"].startswith("判定：")
    assert {actor for _at, actor, _e, _d in rows} == {"auditor（本アプリ）", "P. Preparer", "K. Tanaka"}


# every event kind the app records, and where (auditor/, reports/): each needs words in the catalogue
KINDS = {"created", "completed", "signed", "assigned", "re-evaluated", "failed", "cancelled", "interrupted",
         "reported", "identity.revoked", "trust.added"}
SAMPLES = {"created": {"template": "standard"}, "completed": {"verdict": "warn", "fingerprint": "ab"},
           "signed": {"role": "approver", "name": "A. Approver", "decision": "approve with conditions"},
           "assigned": {"finding_id": 7, "owner": None, "due": "2030-06-30"},
           "re-evaluated": {"template": "standard", "verdict": "pass", "previous_verdict": "warn"},
           "failed": {"error": "RuntimeError: boom"}, "cancelled": {"error": "cancelled by the user"},
           "interrupted": {"error": "the process running it stopped", "reason": "process 12 is gone"},
           "reported": {"pdf_sha256": "ab", "kind": "board", "lang": "en", "file": "board.pdf"},
           "identity.revoked": {"name": "A. Approver", "fingerprint": "ab"},
           "trust.added": {"subject": "CN=Org CA", "fingerprint": "ab", "cert_pem": "..."}}


def test_every_recorded_event_kind_has_japanese_words_and_a_worded_detail():
    from gui.widgets.history import detail_message, event_key, event_word

    sources = [p.read_text(encoding="utf-8") for d in ("auditor", "reports") for p in (ROOT / d).rglob("*.py")]
    found = {k for text in sources for k in re.findall(r'add_event\([^()]*?,\s*"([\w.-]+)"', text)}
    found |= {k for text in sources for k in re.findall(r'_record\(args, "([\w.-]+)"', text)}
    found |= {k for text in sources for k in re.findall(r'fail_audit\([^)]*status="(\w+)"', text)} | {"failed"}
    assert found and found <= KINDS, found - KINDS
    expected = {"identity.revoked": "ID を失効", "re-evaluated": "再評価", "assigned": "所見の割り当て"}
    for kind in sorted(KINDS):
        assert has(event_key(kind)), kind
        assert not re.search(r"[A-Za-z]", event_word(kind, "ja").replace("ID", "")), kind
        assert event_word(kind, "ja") == expected.get(kind, event_word(kind, "ja"))
        detail = detail_message(EventView(1, "2030-01-01T00:00:00+00:00", "auditor", kind, SAMPLES[kind]), None, "ja")
        text = render(detail, "ja")
        assert not re.search(r"finding_id|pdf_sha256|previous_verdict|fingerprint|verdict|error:", text), text
    said = render(detail_message(EventView(1, "", "x", "assigned", SAMPLES["assigned"]), None, "ja"), "ja")
    assert said == "所見 7：担当者を解除、期限 2030-06-30"
    said = render(detail_message(EventView(1, "", "x", "failed", SAMPLES["failed"]), None, "ja"), "ja")
    assert said == "詳細: RuntimeError: boom"      # exception text verbatim after the Japanese word


def test_tab_leaves_the_tables_and_reaches_owner_due_and_save(opened, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    window, page, _db, _audit_id = opened
    box = page.assign_box
    for table in (box.findings, page.history, page.signoffs):
        assert not table.tabKeyNavigation()
    _select(page, _unassigned_row(page))
    box.by.setText("K. Tanaka")
    box.owner.setText("Risk team")
    box.owner.textEdited.emit("Risk team")
    box.due_check.setChecked(True)
    window.activateWindow()
    box.findings.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is box.findings)
    reached = []
    for _ in range(8):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    assert reached[:6] == [box.identity, box.by, box.owner, box.due_check, box.due, box.save_button]
    # Return on a findings row goes to its owner
    box.findings.setFocus()
    qtbot.keyClick(box.findings, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is box.owner


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_control_has_an_accessible_name_and_a_mnemonic(opened, lang):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLabel,
        QLineEdit,
        QTableWidget,
    )

    window, page, _db, _audit_id = opened
    window.set_language(lang)
    box = page.assign_box
    controls = (page.role, page.identity, page.name, page.decision, page.sign_button, page.tabs, page.signoffs,
                page.history, box.findings, box.identity, box.by, box.owner, box.due_check, box.due, box.save_button)
    for control in controls:
        assert control.accessibleName(), control
    for kind in (QAbstractButton, QComboBox, QLineEdit, QTableWidget):
        for widget in page.findChildren(kind):
            if widget.isVisibleTo(page) and not isinstance(widget.parent(), (QComboBox, QAbstractSpinBox)):
                assert widget.accessibleName(), (type(widget).__name__, getattr(widget, "text", lambda: "")())
    for button in (page.sign_button, box.save_button, box.due_check):
        assert "&" in button.text(), button.text()
    labels = {label.buddy(): label.text() for label in page.findChildren(QLabel) if label.buddy() is not None}
    for field in (page.role, page.identity, page.name, page.decision, box.identity, box.by, box.owner):
        assert "&" in labels[field], field
    if lang == "ja":
        assert labels[box.owner] == "担当者(&O)" and box.save_button.text() == "割り当てを保存(&V)"
