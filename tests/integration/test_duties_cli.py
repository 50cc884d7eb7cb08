"""Separation of duties through `auditor sign` on a real audit: each rule refuses an approval with exit 2
and its reason in one line, and preparer, reviewer and approver in turn approve a standard audit.

One standard audit of a tiny BERT (80 probes: enough held-out probes for a decided verdict, here a
fail with warnings) is made once; each test signs on its own copy of the database.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum

PASSPHRASE = "correct horse battery"
PEOPLE = (("P. Preparer", "preparer"), ("R. Reviewer", "reviewer"), ("A. Approver", "approver"))


@pytest.fixture(scope="module")
def audited(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("duties")
    saved = {k: os.environ.get(k) for k in ("AUDITOR_IDENTITY_DIR", "AUDITOR_PASSPHRASE")}
    os.environ.update(AUDITOR_IDENTITY_DIR=str(root / "ids"), AUDITOR_PASSPHRASE=PASSPHRASE)
    try:
        from auditor.identity import create_identity

        for name, role in PEOPLE:
            create_identity(name, role, passphrase=PASSPHRASE)
        db = root / "audits.db"
        done = run_cli("audit", str(tiny_bert), "--template", no_minimum("standard"), "--limit", "80", "--json",
                       db=db)
        assert done.returncode in (0, 1), done.stderr
        data = json.loads(done.stdout)
        assert data["verdict"] in ("pass", "warn", "fail"), data["verdict"]
        yield {"db": db, "audit_id": data["audit_id"], "signers": {}}
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.update({key: value})


@pytest.fixture
def db(audited, tmp_path) -> Path:
    copy = tmp_path / "copy.db"
    shutil.copy(audited["db"], copy)
    return copy


def _sign(db: Path, audit_id: str, role: str, name: str, identity: str | None = None, decision: str = "approve"):
    """A sign-off through the CLI (the command under test)."""
    args = ["sign", audit_id, "--role", role, "--name", name, "--decision", decision, "--db", str(db)]
    return run_cli(*args, *(["--identity", identity] if identity else []))


def _refused(result, line: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.splitlines() == [f"auditor: {line}"], result.stderr


def _signer(audited: dict, name: str):
    from auditor.identity import load_identity

    if name not in audited["signers"]:      # unlocking a key costs 600k PBKDF2 rounds: once per name
        audited["signers"][name] = load_identity(name, PASSPHRASE)
    return audited["signers"][name]


def _prepare_and_review(audited: dict, db: Path, preparer: str = "P. Preparer", identity: bool = True,
                        review: str = "approve") -> None:
    """The preparer's and the reviewer's sign-offs, made in-process (the setup, not what is tested)."""
    from auditor import api

    audit_id = audited["audit_id"]
    api.sign_audit(audit_id, "preparer", preparer, "approve", str(db),
                   signer=_signer(audited, preparer) if identity else None)
    api.sign_audit(audit_id, "reviewer", "R. Reviewer", review, str(db), signer=_signer(audited, "R. Reviewer"))


def _assign_all(audited: dict, db: Path) -> list[int]:
    from auditor import api

    audit_id = audited["audit_id"]
    ids = [f.id for f in api.audit_view(audit_id, str(db)).findings if f.severity in ("warn", "fail")]
    assert ids      # the tiny model warns and fails: the owner rule has something to check
    for fid in ids:
        api.assign_finding(audit_id, fid, owner="ML platform", due="2030-06-30", db=str(db),
                           signer=_signer(audited, "R. Reviewer"))
    return ids


def _approve(db: Path, audit_id: str, identity: str | None = "A. Approver", decision: str = "approve"):
    return _sign(db, audit_id, "approver", "A. Approver", identity=identity, decision=decision)


def _show(db: Path, audit_id: str) -> dict:
    from auditor import api

    return api.show_audit(audit_id, str(db))


def test_preparer_reviewer_approver_approve_a_standard_audit(audited, db):
    audit_id = audited["audit_id"]
    _prepare_and_review(audited, db)
    _assign_all(audited, db)
    done = _approve(db, audit_id, decision="approve with conditions")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Audit {audit_id} signed by A. Approver as approver: approve with conditions")
    data = _show(db, audit_id)
    assert data["verdict"] == "fail"      # approving a failing model, with conditions, is the approver's call
    assert [(s["name"], s["role"]) for s in data["signoffs"]] == list(PEOPLE)
    assert data["signoffs"][2]["decision"] == "approve with conditions"
    assert data["template"]["approval_grade"] is True
    approval = [e for e in data["events"] if e["kind"] == "signed"][-1]
    assert approval["signer"] == _signer(audited, "A. Approver").fingerprint
    assert run_cli("verify", audit_id, "--db", str(db)).returncode == 0


def test_approval_needs_the_preparer_and_the_reviewer_first(audited, db):
    from auditor import api

    audit_id = audited["audit_id"]
    _assign_all(audited, db)
    _refused(_approve(db, audit_id), f"audit {audit_id} has no preparer sign-off of its current evaluation; "
                                     "the preparer and the reviewer sign before the approver")
    api.sign_audit(audit_id, "preparer", "P. Preparer", "approve", str(db), signer=_signer(audited, "P. Preparer"))
    _refused(_approve(db, audit_id), f"audit {audit_id} has no reviewer sign-off of its current evaluation; "
                                     "the preparer and the reviewer sign before the approver")
    api.sign_audit(audit_id, "reviewer", "R. Reviewer", "reject", str(db), signer=_signer(audited, "R. Reviewer"))
    _refused(_approve(db, audit_id), "the reviewer R. Reviewer signed with the decision reject; an approval needs "
                                     "a reviewer sign-off that does not reject")
    assert "approver" not in [s["role"] for s in _show(db, audit_id)["signoffs"]]      # nothing was recorded


def test_every_warning_and_failure_needs_an_owner_and_a_due_date(audited, db):
    from auditor import api

    audit_id = audited["audit_id"]
    _prepare_and_review(audited, db)
    ids = _assign_all(audited, db)
    api.assign_finding(audit_id, ids[0], due="", db=str(db))       # its due date cleared again
    _refused(_approve(db, audit_id), f"1 warning or fail finding(s) of audit {audit_id} have no owner or no due "
                                     f"date (finding {ids[0]}); assign them first (auditor assign AUDIT_ID "
                                     "FINDING_ID --owner NAME --due YYYY-MM-DD)")


def test_the_approver_is_not_the_preparer(audited, db):
    audit_id = audited["audit_id"]
    # the preparer signed without an identity, under the approver's name: compared by name
    _prepare_and_review(audited, db, preparer="A.  approver", identity=False)
    _assign_all(audited, db)
    _refused(_approve(db, audit_id), f"A. Approver prepared audit {audit_id}; the approver must be someone other "
                                     "than its preparer")


def test_approval_needs_an_approver_identity_in_that_role(audited, db):
    audit_id = audited["audit_id"]
    _prepare_and_review(audited, db)
    _assign_all(audited, db)
    _refused(_approve(db, audit_id, identity=None),
             "an approval must be signed with a person's identity in the approver role (--identity NAME; "
             "`auditor identity create --role approver` makes one); the machine key cannot approve")
    _refused(_sign(db, audit_id, "approver", "R. Reviewer", identity="R. Reviewer"),
             "identity R. Reviewer is a reviewer; it cannot sign as approver")


def test_a_quick_evaluation_is_not_approval_grade(audited, db):
    audit_id = audited["audit_id"]
    done = run_cli("reevaluate", audit_id, "--template", no_minimum("quick"), "--db", str(db))
    assert done.returncode in (0, 1), done.stderr
    _refused(_approve(db, audit_id), f"audit {audit_id} was evaluated under the template quick, which is not "
                                     "marked approval_grade: true; only an audit evaluated under an approval-grade "
                                     "template (eu-ai-act-high-risk, japan-ai-guidelines, standard) can be approved: "
                                     "run or re-evaluate "
                                     "it under one")
    # a rejection is not an approval: the approver may reject a quick audit
    assert _approve(db, audit_id, decision="reject").returncode == 0


def test_an_inconclusive_audit_cannot_be_approved(audited, db, tmp_path):
    audit_id = audited["audit_id"]
    # the format parity check was skipped (no reference model): required, it makes the verdict inconclusive
    template = tmp_path / "strict.yaml"
    template.write_text("name: strict\nversion: '1'\napproval_grade: true\nchecks:\n- id: artifact.integrity\n"
                        "- id: artifact.parity\n  required: true\n", encoding="utf-8")
    done = run_cli("reevaluate", audit_id, "--template", str(template), "--json", "--db", str(db))
    assert json.loads(done.stdout)["verdict"] == "inconclusive", done.stderr
    _refused(_approve(db, audit_id), f"audit {audit_id} has the verdict Inconclusive; only a pass, warning or fail "
                                     "verdict can be approved (an inconclusive audit needs more evidence first)")
