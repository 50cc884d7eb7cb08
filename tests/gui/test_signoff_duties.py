"""Separation of duties in the sign-off page (offscreen): the reason shown before the button is pressed (and
to a screen reader), the button enabled once the rules allow it, then a confirmation and the passphrase
before the identity signs."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from auditor import api
from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum

PASSPHRASE = "correct horse battery"
PEOPLE = (("P. Preparer", "preparer"), ("R. Reviewer", "reviewer"), ("A. Approver", "approver"))


@pytest.fixture(scope="module")
def standard(tmp_path_factory, tiny_bert):
    """Three identities and one standard audit of a tiny BERT with a decided verdict (80 probes)."""
    root = tmp_path_factory.mktemp("gui-duties")
    saved = os.environ.get("AUDITOR_IDENTITY_DIR")
    os.environ["AUDITOR_IDENTITY_DIR"] = str(root / "ids")
    try:
        from auditor.identity import create_identity

        for name, role in PEOPLE:
            create_identity(name, role, passphrase=PASSPHRASE)
        done = run_cli("audit", str(tiny_bert), "--template", no_minimum("standard"), "--limit", "80", "--json",
                       db=root / "audits.db")
        assert done.returncode in (0, 1), done.stderr
        yield {"db": root / "audits.db", "ids": root / "ids", "audit_id": json.loads(done.stdout)["audit_id"]}
    finally:
        os.environ.pop("AUDITOR_IDENTITY_DIR") if saved is None else os.environ.update(AUDITOR_IDENTITY_DIR=saved)


@pytest.fixture
def page_on(standard, make_window, tmp_path, monkeypatch):
    """The sign-off page on a copy of the standard audit's database."""
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(standard["ids"]))
    db = tmp_path / "copy.db"
    shutil.copy(standard["db"], db)

    def make(prepare=None):
        if prepare is not None:
            prepare(str(db))
        window = make_window(db)
        window.state.open_audit(standard["audit_id"])
        window.show_page("signoff")
        return window, window.signoff, str(db)
    return make


def _choose(page, role: str, decision: str = "approve") -> None:
    page.role.setCurrentIndex(page.role.findData(role))
    page.decision.setCurrentIndex(page.decision.findData(decision))


def _answers(monkeypatch, confirm: bool = True, passphrase: str | None = PASSPHRASE) -> list:
    from gui import dialogs

    asked: list = []
    monkeypatch.setattr(dialogs, "confirm", lambda _p, title, text: asked.append(("confirm", text)) or confirm)
    monkeypatch.setattr(dialogs, "passphrase", lambda _p, title, label: asked.append(("passphrase", label))
                        or passphrase)
    return asked


def test_approve_is_disabled_with_the_reason_on_a_quick_evaluation(page_on, standard):
    audit_id = standard["audit_id"]
    window, page, _db = page_on(lambda db: api.reevaluate(audit_id, no_minimum("quick"), db))
    _choose(page, "approver")
    assert page.identity.currentData() == "A. Approver" and page.name.text() == "A. Approver"
    reason = (f"audit {audit_id} was evaluated under the template quick, which is not marked approval_grade: true; "
              "only an audit evaluated under an approval-grade template (standard, eu-ai-act-high-risk) can be "
              "approved: run or re-evaluate it under one")
    assert not page.sign_button.isEnabled()
    assert page.reason.text() == reason and not page.reason.isHidden()
    # a screen reader reads the reason with the disabled button and names the label
    assert page.sign_button.accessibleDescription() == reason
    assert page.reason.accessibleName() == "Why this sign-off is not possible"
    window.set_language("ja")
    assert page.reason.text().startswith(f"監査 {audit_id} はテンプレート quick で評価されており")
    assert page.reason.accessibleName() == "この署名ができない理由"
    # a rejection is not an approval: permitted, so no reason is shown
    _choose(page, "approver", "reject")
    assert page.sign_button.isEnabled() and page.reason.text() == "" and page.reason.isHidden()


def test_approve_is_enabled_after_the_prerequisites_then_confirmed_and_signed(page_on, standard, monkeypatch,
                                                                                 dialogs):
    audit_id = standard["audit_id"]
    window, page, db = page_on()
    _choose(page, "approver")
    assert not page.sign_button.isEnabled() and "has no preparer sign-off" in page.reason.text()
    asked = _answers(monkeypatch)
    for role, name in (("preparer", "P. Preparer"), ("reviewer", "R. Reviewer")):     # signed through the page
        _choose(page, role)
        assert page.identity.currentData() == name and page.sign_button.isEnabled(), page.reason.text()
        page.sign_button.click()
    assert [(s.role, s.name) for s in api.audit_view(audit_id, db).signoffs] == [("preparer", "P. Preparer"),
                                                                                 ("reviewer", "R. Reviewer")]
    assert [kind for kind, _ in asked] == ["confirm", "passphrase"] * 2
    _choose(page, "approver")
    assert not page.sign_button.isEnabled() and "have no owner or no due date" in page.reason.text()
    for finding in api.audit_view(audit_id, db).findings:
        if finding.severity in ("warn", "fail"):
            api.assign_finding(audit_id, finding.id, owner="ML platform", due="2030-06-30", db=db)
    page.reload()
    assert page.sign_button.isEnabled() and page.reason.isHidden()
    # cancelled at the confirmation: nothing is signed and no passphrase is asked
    asked = _answers(monkeypatch, confirm=False)
    page.sign_button.click()
    assert asked == [("confirm", f"Sign audit {audit_id} as approver (A. Approver) with the decision “Approve”? "
                                 "A sign-off is signed and permanent.")]
    assert page.message.text() == "Nothing was signed." and len(api.audit_view(audit_id, db).signoffs) == 2
    # a wrong passphrase: one sentence in a dialog, nothing signed
    _answers(monkeypatch, passphrase="not the passphrase")
    page.sign_button.click()
    assert dialogs[-1][0] == "warning" and dialogs[-1][2] == "wrong passphrase for A. Approver"
    assert len(api.audit_view(audit_id, db).signoffs) == 2
    asked = _answers(monkeypatch)
    page.sign_button.click()
    view = api.audit_view(audit_id, db)
    assert [kind for kind, _ in asked] == ["confirm", "passphrase"] and asked[1][1] == \
        "Passphrase of the identity A. Approver:"
    assert [(s.role, s.name, s.decision) for s in view.signoffs][-1] == ("approver", "A. Approver", "approve")
    from auditor.identity import certificate_facts, identity_cert

    assert view.events[-1].signer == certificate_facts(identity_cert("A. Approver"))["fingerprint"]
    assert page.signoffs.rowCount() == 3          # the page shows the stored sign-offs after signing


def test_the_dialogs_confirm_with_ok_and_ask_the_passphrase_hidden(qtbot, monkeypatch):
    from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

    from gui import dialogs

    parent = QWidget()
    qtbot.addWidget(parent)
    seen: list = []

    def question(_parent, title, text, buttons, default):
        seen.append((buttons, default))
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    answer = QMessageBox.StandardButton.Ok
    assert dialogs.confirm(parent, "t", "sure?") is True
    answer = QMessageBox.StandardButton.Cancel
    assert dialogs.confirm(parent, "t", "sure?") is False
    ok_cancel = QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel
    assert seen[0] == (ok_cancel, QMessageBox.StandardButton.Cancel)      # Cancel is the default
    modes: list = []
    monkeypatch.setattr(QInputDialog, "getText", lambda _p, _t, _l, mode: modes.append(mode) or ("s3cret", True))
    assert dialogs.passphrase(parent, "t", "passphrase") == "s3cret"
    assert modes == [QLineEdit.EchoMode.Password]
    monkeypatch.setattr(QInputDialog, "getText", lambda *_a: ("typed", False))
    assert dialogs.passphrase(parent, "t", "passphrase") is None
