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
              "only an audit evaluated under an approval-grade template (eu-ai-act-high-risk, japan-ai-guidelines, "
              "standard) can be approved: run or re-evaluate it under one")
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


# ---- each separation-of-duties rule through the page (the CLI has the same rules in tests/integration) ----

STRICT = ("name: strict\nversion: '1'\napproval_grade: true\nchecks:\n- id: artifact.integrity\n"
          "- id: artifact.parity\n  required: true\n")


def _backup(source, target) -> None:
    """A consistent copy of an audit database (sqlite3's online backup, not a file copy)."""
    import sqlite3

    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture(scope="module")
def stages(standard, tmp_path_factory):
    """The standard audit at three stages, signed once per module (unlocking a key costs 600k PBKDF2 rounds):
    `base` (nothing signed), `prepared` (the preparer signed), `ready` (preparer and reviewer signed, every
    warn/fail finding assigned: an approval is allowed) and `self_prepared` (as ready, but the preparer
    signed without an identity under the approver's name)."""
    from auditor.identity import load_identity

    root = tmp_path_factory.mktemp("gui-duties-stages")
    saved = os.environ.get("AUDITOR_IDENTITY_DIR")
    os.environ["AUDITOR_IDENTITY_DIR"] = str(standard["ids"])
    try:
        audit_id = standard["audit_id"]
        signers = {name: load_identity(name, PASSPHRASE) for name in ("P. Preparer", "R. Reviewer")}
        dbs = {"base": standard["db"]}
        for stage, preparer, identity in (("prepared", "P. Preparer", True), ("ready", "P. Preparer", True),
                                          ("self_prepared", "A.  approver", False)):
            db = str(root / f"{stage}.db")
            _backup(standard["db"], db)
            api.sign_audit(audit_id, "preparer", preparer, "approve", db,
                           signer=signers[preparer] if identity else None)
            if stage != "prepared":
                api.sign_audit(audit_id, "reviewer", "R. Reviewer", "approve", db, signer=signers["R. Reviewer"])
                for finding in api.audit_view(audit_id, db).findings:
                    if finding.severity in ("warn", "fail"):
                        api.assign_finding(audit_id, finding.id, owner="ML platform", due="2030-06-30", db=db,
                                           signer=signers["R. Reviewer"])
            dbs[stage] = db
        yield {"dbs": dbs, "signers": signers, "root": root}
    finally:
        os.environ.pop("AUDITOR_IDENTITY_DIR") if saved is None else os.environ.update(AUDITOR_IDENTITY_DIR=saved)


@pytest.fixture
def page_at(standard, stages, make_window, tmp_path, monkeypatch):
    """The sign-off page on a copy (sqlite3 backup) of one stage's database, changed by `prepare(db)` first."""
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(standard["ids"]))

    def make(stage: str, prepare=None):
        db = str(tmp_path / f"{stage}-copy.db")
        _backup(stages["dbs"][stage], db)
        if prepare is not None:
            prepare(db)
        window = make_window(db)
        window.state.open_audit(standard["audit_id"])
        window.show_page("signoff")
        return window, window.signoff, db
    return make


def _interrupted(db: str) -> None:
    """The audit's run died before completing: how the lease check marks it (auditor/store/lease.py)."""
    import sqlite3

    with sqlite3.connect(db) as handle:
        handle.execute("UPDATE audits SET status = 'interrupted'")
    handle.close()


def _reevaluated(template: str):
    def change(db: str) -> None:
        api.reevaluate(api.audit_view(_only_audit(db), db).audit_id, template, db)
    return change


def _only_audit(db: str) -> str:
    import sqlite3

    with sqlite3.connect(db) as handle:
        (audit_id,), = handle.execute("SELECT id FROM audits").fetchall()
    handle.close()
    return audit_id


def _reviewer_rejects(stages):
    def change(db: str) -> None:
        api.sign_audit(_only_audit(db), "reviewer", "R. Reviewer", "reject", db,
                       signer=stages["signers"]["R. Reviewer"])
    return change


def _one_due_date_cleared(db: str) -> None:
    audit_id = _only_audit(db)
    first = next(f for f in api.audit_view(audit_id, db).findings if f.severity in ("warn", "fail"))
    api.assign_finding(audit_id, first.id, due="", db=db)


def _assert_refused(page, sentence: str) -> None:
    """Disabled, with exactly this sentence beside the button, in its tooltip and to a screen reader."""
    assert not page.sign_button.isEnabled(), sentence
    assert page.reason.text() == sentence and not page.reason.isHidden()
    assert page.reason.accessibleDescription() == sentence
    assert page.sign_button.accessibleDescription() == sentence and page.sign_button.toolTip() == sentence


def _assert_allowed(page) -> None:
    assert page.sign_button.isEnabled(), page.reason.text()
    assert page.reason.text() == "" and page.reason.isHidden() and page.sign_button.accessibleDescription() == ""


def test_an_audit_that_did_not_complete_cannot_be_signed_in_any_role(page_at, standard):
    audit_id = standard["audit_id"]
    window, page, _db = page_at("ready", _interrupted)
    for role in ("preparer", "reviewer", "approver"):
        _choose(page, role)
        _assert_refused(page, f"audit {audit_id} has not completed: its run state is “interrupted (its process "
                        "stopped)”; only a completed audit can be signed")
    window.set_language("ja")
    _assert_refused(page, f"監査 {audit_id} は完了していません。状態は「中断（実行中のプロセスが停止）」です。"
                    "署名できるのは完了した監査だけです。")


def test_a_quick_evaluation_cannot_be_approved_even_when_everything_else_is_ready(page_at, standard):
    audit_id = standard["audit_id"]
    _window, page, _db = page_at("ready", _reevaluated(no_minimum("quick")))
    _choose(page, "approver")
    _assert_refused(page, f"audit {audit_id} was evaluated under the template quick, which is not marked "
                          "approval_grade: true; only an audit evaluated under an approval-grade template "
                          "(eu-ai-act-high-risk, japan-ai-guidelines, standard) can be approved: run or re-evaluate it "
                          "under one")


def test_an_inconclusive_audit_cannot_be_approved(page_at, standard, stages):
    audit_id = standard["audit_id"]
    template = stages["root"] / "strict.yaml"        # a required check that was skipped: inconclusive
    template.write_text(STRICT, encoding="utf-8")
    window, page, db = page_at("ready", _reevaluated(str(template)))
    assert api.audit_view(audit_id, db).verdict == "inconclusive"
    _choose(page, "approver")
    _assert_refused(page, f"audit {audit_id} has the verdict Inconclusive; only a pass, warning or fail verdict "
                          "can be approved (an inconclusive audit needs more evidence first)")
    window.set_language("ja")
    assert page.reason.text().startswith(f"監査 {audit_id} の判定は「") and \
        page.reason.text().endswith("」です。承認できるのは合格・警告・不合格のいずれかの判定だけです（判定不能の監査には、"
                                    "まず追加の証拠が必要です）。")
    assert not page.sign_button.isEnabled() and page.sign_button.accessibleDescription() == page.reason.text()


def test_approval_needs_the_preparer_then_the_reviewer_sign_off(page_at, standard):
    audit_id = standard["audit_id"]
    window, page, _db = page_at("base")
    _choose(page, "approver")
    _assert_refused(page, f"audit {audit_id} has no preparer sign-off of its current evaluation; the preparer and "
                          "the reviewer sign before the approver")
    _choose(page, "preparer")           # the preparer may sign: the rule is about approvals only
    _assert_allowed(page)
    window, page, _db = page_at("prepared")
    _choose(page, "approver")
    _assert_refused(page, f"audit {audit_id} has no reviewer sign-off of its current evaluation; the preparer and "
                          "the reviewer sign before the approver")
    window.set_language("ja")
    _assert_refused(page, f"監査 {audit_id} の現在の評価には審査者の署名がありません。承認者の前に作成者と審査者が"
                          "署名してください。")


def test_a_rejecting_reviewer_blocks_the_approval(page_at, stages):
    _window, page, _db = page_at("prepared", _reviewer_rejects(stages))
    _choose(page, "approver")
    _assert_refused(page, "the reviewer R. Reviewer signed with the decision reject; an approval needs a reviewer "
                          "sign-off that does not reject")


def test_every_warning_and_failure_needs_an_owner_and_a_due_date(page_at, standard):
    audit_id = standard["audit_id"]
    _window, page, db = page_at("ready", _one_due_date_cleared)
    cleared = [f.id for f in api.audit_view(audit_id, db).findings if f.severity in ("warn", "fail") and not f.due]
    assert len(cleared) == 1
    _choose(page, "approver")
    _assert_refused(page, f"1 warning or fail finding(s) of audit {audit_id} have no owner or no due date "
                          f"(finding {cleared[0]}); assign them first (auditor assign AUDIT_ID FINDING_ID "
                          "--owner NAME --due YYYY-MM-DD)")


def test_the_machine_key_cannot_approve_a_ready_audit(page_at):
    window, page, _db = page_at("ready")
    _choose(page, "approver")
    assert page.identity.currentData() == "A. Approver"
    _assert_allowed(page)                            # ready: only the identity chosen below is refused
    page.identity.setCurrentIndex(page.identity.findData(None))
    page.name.setText("A. Approver")
    sentence = ("an approval must be signed with a person's identity in the approver role (--identity NAME; "
                "`auditor identity create --role approver` makes one); the machine key cannot approve")
    _assert_refused(page, sentence)
    window.set_language("ja")
    # retranslating refills the identities and picks the approver's again (gui/pages/signoff.py): choose none again
    page.identity.setCurrentIndex(page.identity.findData(None))
    _assert_refused(page, "承認には承認者の役割を持つ個人の ID で署名する必要があります（--identity NAME。"
                          "`auditor identity create --role approver` で作成します）。マシン鍵では承認できません。")
    _choose(page, "approver", "reject")              # a rejection is not an approval: the machine key may sign it
    _assert_allowed(page)


def test_an_identity_signs_only_in_the_role_of_its_certificate(page_at):
    _window, page, _db = page_at("ready")
    _choose(page, "approver")
    page.identity.setCurrentIndex(page.identity.findData("R. Reviewer"))
    assert page.name.text() == "R. Reviewer" and page.name.isReadOnly()
    sentence = "identity R. Reviewer is a reviewer in its certificate; it cannot sign as approver"
    _assert_refused(page, sentence)
    _choose(page, "approver", "reject")              # any decision: the certificate's role is not the role signed
    assert page.identity.currentData() == "R. Reviewer"
    _assert_refused(page, sentence)


def test_the_approver_is_not_the_preparer(page_at, standard):
    audit_id = standard["audit_id"]
    window, page, _db = page_at("self_prepared")
    _choose(page, "approver")
    assert page.identity.currentData() == "A. Approver"
    sentence = f"A. Approver prepared audit {audit_id}; the approver must be someone other than its preparer"
    _assert_refused(page, sentence)
    _choose(page, "approver", "reject")              # a rejection by the preparer is refused too (any approver)
    _assert_refused(page, sentence)
    window.set_language("ja")
    _assert_refused(page, f"A. Approver は監査 {audit_id} の作成者です。承認者は作成者以外の人でなければなりません。")
