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
    window.show_page("signoff")          # a hidden page re-reads when it is next shown (opening an audit stays fast)
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
         "reported", "identity.revoked", "trust.added", "report.served", "token.created", "token.revoked"}
SAMPLES = {"created": {"template": "standard"}, "completed": {"verdict": "warn", "fingerprint": "ab"},
           "signed": {"role": "approver", "name": "A. Approver", "decision": "approve with conditions"},
           "assigned": {"finding_id": 7, "owner": None, "due": "2030-06-30"},
           "re-evaluated": {"template": "standard", "verdict": "pass", "previous_verdict": "warn"},
           "failed": {"error": "RuntimeError: boom"}, "cancelled": {"error": "cancelled by the user"},
           "interrupted": {"error": "the process running it stopped", "reason": "process 12 is gone"},
           "reported": {"pdf_sha256": "ab", "kind": "board", "lang": "en", "file": "board.pdf"},
           "identity.revoked": {"name": "A. Approver", "fingerprint": "ab"},
           "trust.added": {"subject": "CN=Org CA", "fingerprint": "ab", "cert_pem": "..."},
           "report.served": {"kind": "full", "lang": "ja", "draft": True, "pdf_sha256": "ab"},
           "token.created": {"token_id": "T-1a2b", "identity": "A. Approver", "fingerprint": "ab"},
           "token.revoked": {"token_id": "T-1a2b", "identity": "A. Approver"}}


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
        assert not re.search(r"[A-Za-z]", re.sub(r"\b(ID|API)\b", "", event_word(kind, "ja"))), kind
        assert event_word(kind, "ja") == expected.get(kind, event_word(kind, "ja"))
        detail = detail_message(EventView(1, "2030-01-01T00:00:00+00:00", "auditor", kind, SAMPLES[kind]), None, "ja")
        text = render(detail, "ja")
        assert not re.search(r"finding_id|pdf_sha256|previous_verdict|fingerprint|verdict|error:", text), text
    said = render(detail_message(EventView(1, "", "x", "assigned", SAMPLES["assigned"]), None, "ja"), "ja")
    assert said == "所見 7：担当者を解除、期限 2030-06-30"
    said = render(detail_message(EventView(1, "", "x", "failed", SAMPLES["failed"]), None, "ja"), "ja")
    assert said == "詳細: RuntimeError: boom"      # exception text verbatim after the Japanese word
    said = render(detail_message(EventView(1, "", "x", "report.served", SAMPLES["report.served"]), None, "ja"), "ja")
    assert said == "詳細報告書（日本語、草稿）"


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


# ---- round 2 (screenshot review): empty database, a failed audit, refused choices, the findings listed ----

def _copy(two_audits, tmp_path, name: str = "copy.db") -> str:
    db = str(tmp_path / name)
    with sqlite3.connect(two_audits["db"]) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return db


@pytest.fixture
def failed(make_window, tmp_path, monkeypatch):
    """The sign-off page on an audit whose run failed before anything was measured (written through the store)."""
    from auditor.store import open_db, records
    from tests.fixtures.stored import make_audit

    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(tmp_path / "no-identities"))
    db = tmp_path / "failed.db"
    audit_id = make_audit(db, complete=False)
    handle = open_db(db)
    records.fail_audit(handle, audit_id, "RuntimeError: out of memory")
    handle.conn.close()
    window = make_window(db)
    window.state.open_audit(audit_id)
    window.show_page("signoff")
    return window, window.signoff, str(db), audit_id


def test_an_empty_database_says_it_holds_no_audits_and_how_to_start_one(make_window, two_audits, tmp_path):
    window = make_window(tmp_path / "empty.db")
    window.show_page("signoff")
    page = window.signoff
    assert page.audit.text() == ("This database holds no audits yet, so there is nothing to sign. Start an audit on "
                                 "the New audit page (Ctrl+N), or open another database (Ctrl+O).")
    assert page.sign_box.isHidden() and page.assign_box.isHidden()     # no empty, greyed-out form below it
    window.set_language("ja")
    assert page.audit.text().startswith("このデータベースにはまだ監査がないため、署名するものがありません。")
    window = make_window(_copy(two_audits, tmp_path))                   # audits, none open: open one
    window.show_page("signoff")
    window.set_language("en")                                           # the settings file kept 日本語
    assert window.signoff.audit.text() == ("No audit is open: open one from the Audit library to sign it or to "
                                           "assign its findings.")


def test_a_failed_audit_is_worded_as_failed_not_is_failed_in_both_languages(failed):
    window, page, _db, audit_id = failed
    assert page.signoff_state.accessibleDescription().startswith("Not approved: the audit failed, so it cannot be "
                                                                 "signed ")
    assert page.reason.text() == (f"audit {audit_id} has not completed: its run state is “failed”; only a "
                                  "completed audit can be signed") and not page.reason.isHidden()
    window.set_language("ja")
    assert page.signoff_state.accessibleDescription().startswith("未承認です。この監査は失敗したため、署名できません。")
    assert page.reason.text() == (f"監査 {audit_id} は完了していません。状態は「失敗」です。署名できるのは完了した"
                                  "監査だけです。")
    from auditor.messages import Message
    from gui.widgets.signoff_state import stopped_message

    for status in ("failed", "cancelled", "interrupted", "running", "odd"):   # every run state: no "is failed"
        for lang in ("en", "ja"):
            said = render(stopped_message(status, lang), lang)
            assert not re.search(r"\bis (failed|cancelled|interrupted)\b", said), said
            assert lang == "en" or not re.search(r"failed|cancelled|interrupted|running", said), said
    assert render(Message("duties.not_completed", {"audit_id": "A", "status": "failed"}), "en") == \
        "audit A has not completed: its run state is “failed”; only a completed audit can be signed"


def test_the_choosers_are_disabled_only_when_no_choice_could_sign(failed, opened):
    _window, page, _db, _audit_id = failed
    choosers = (page.role, page.identity, page.name, page.decision)
    assert not page.sign_button.isEnabled() and not page.reason.isHidden() and page.reason.text()
    assert not any(w.isEnabled() for w in choosers)           # not completed: refused whatever is chosen
    _window, page, _db, audit_id = opened                     # a quick audit: an approval is refused ...
    page.role.setCurrentIndex(page.role.findData("approver"))
    assert not page.sign_button.isEnabled() and "approval_grade" in page.reason.text()
    assert all(w.isEnabled() for w in (page.role, page.identity, page.name, page.decision))
    page.decision.setCurrentIndex(page.decision.findData("reject"))     # ... a rejection is not: pick it
    assert page.sign_button.isEnabled() and page.reason.isHidden()


def test_an_empty_findings_table_says_there_is_nothing_to_assign(failed, make_window, two_audits, tmp_path):
    _window, page, _db, _audit_id = failed
    box = page.assign_box
    assert box.findings.rowCount() == 0 and not box.save_button.isEnabled()
    assert box.hint.text() == "There are no findings to assign: the audit did not complete, so it has none."
    assert not any(w.isEnabled() for w in (box.identity, box.by, box.owner, box.due_check, box.due))
    assert box.caption.isHidden()
    db = _copy(two_audits, tmp_path, "passed.db")             # every finding passed: none is listed
    with sqlite3.connect(db) as handle:
        handle.execute("UPDATE findings SET severity = 'pass'")
    handle.close()
    window = make_window(db)
    window.state.open_audit(two_audits["ids"][0])
    window.show_page("signoff")
    box = window.signoff.assign_box
    assert box.findings.rowCount() == 0
    assert box.hint.text() == "There are no findings to assign: every finding of this audit passed."
    window.set_language("ja")
    assert box.hint.text() == "割り当てる所見はありません。この監査の所見はすべて合格です。"


def test_only_findings_that_did_not_pass_are_listed_those_needing_an_owner_first(opened):
    window, page, db, audit_id = opened
    findings = api.audit_view(audit_id, db).findings
    assert {"pass", "warn"} <= {f.severity for f in findings}
    last = max((f for f in findings if f.severity not in ("pass", "warn", "fail")), key=lambda f: f.id)
    with sqlite3.connect(db) as handle:                       # a fail stored last is listed first
        handle.execute("UPDATE findings SET severity = 'fail' WHERE id = ?", (last.id,))
    handle.close()
    window.state.changed(audit_id)
    box = page.assign_box
    listed = [f.severity for f in box._findings]
    shown = [box.findings.item(r, 0).text() for r in range(box.findings.rowCount())]
    stored = api.audit_view(audit_id, db).findings
    assert {f.id for f in box._findings} == {f.id for f in stored if f.severity != "pass"}
    assert "pass" not in listed and listed[0] == "fail" and box._findings[0].id == last.id
    needing = [s in ("warn", "fail") for s in listed]
    assert needing == sorted(needing, reverse=True), listed   # warnings and fails before the rest
    assert shown[0].endswith("Fail") and len(shown) == len(listed)
    count = sum(needing)
    assert box.caption.text() == (f"Warnings and fails need an owner and a due date before the audit can be "
                                  f"approved: {count} of {count} still need them. They are listed first, then the "
                                  "other findings that did not pass; passed findings are not listed.")
    window.set_language("ja")
    assert f"{count} 件中 {count} 件が未設定" in box.caption.text() and "合格の所見は表示しません" in box.caption.text()
