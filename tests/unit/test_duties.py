"""Separation of duties (auditor.duties) on typed views built in memory: each rule refuses alone, in
English and Japanese, and an audit that meets every rule is approved."""
from __future__ import annotations

from dataclasses import replace

import pytest

from auditor import duties, messages
from auditor.messages import Message
from auditor.status import Status
from auditor.views import AuditView, EventView, FindingView, SignoffView, TemplateView

APPROVER = {"name": "A. Approver", "role": "approver", "fingerprint": "aa" * 32, "machine": False}
PREPARER_KEY = "bb" * 32
MACHINE_KEY = "cc" * 32


def _finding(fid: int, severity: str, owner: str | None = "Team", due: str | None = "2030-01-31") -> FindingView:
    return FindingView(id=fid, check_id="flow.representation", severity=Status(severity), title="t", detail="d",
                       meaning={"en": "m"}, clauses=(), action="a", owner=owner, due=due)


def _event(eid: int, kind: str, detail: dict, signer: str | None) -> EventView:
    return EventView(id=eid, at=f"2030-01-01T00:00:{eid:02d}+00:00", actor="x", kind=kind, detail=detail,
                     signer=signer)


def _ready() -> AuditView:
    """A completed standard audit with a warning (assigned), a preparer's and a reviewer's sign-off."""
    signed = [("preparer", "P. Preparer", PREPARER_KEY), ("reviewer", "R. Reviewer", "dd" * 32)]
    events = [_event(1, "created", {}, MACHINE_KEY), _event(2, "completed", {}, MACHINE_KEY)]
    events += [_event(3 + i, "signed", {"role": r, "name": n, "decision": "approve", "evaluation_id": 7}, key)
               for i, (r, n, key) in enumerate(signed)]
    template = TemplateView("standard", "2", "ef" * 32, "builtin:standard", approval_grade=True)
    return AuditView(
        audit_id="abc123", status="completed", verdict=Status.WARN, model=None, probes={}, environment={},  # type: ignore[arg-type]
        meta={"preparer": None}, template=template, audit_template=template, started_at=None, finished_at=None,
        error=None, checks=(), findings=(_finding(1, "pass", None, None), _finding(2, "warn")), evaluation_id=7,
        fingerprint="f" * 64, ratings=(), previous_audit_id=None, evaluation=None, evaluations=(),
        template_conditions=(),
        signoffs=tuple(SignoffView(role=r, name=n, decision="approve", at="t", evaluation_id=7) for r, n, _ in signed),
        events=tuple(events))


def _key(view: AuditView, role: str = "approver", decision: str | None = "approve", facts=None) -> str | None:
    found = duties.refusal(view, role, decision, APPROVER if facts is None else facts)
    if found is not None:   # every refusal renders in both languages
        assert messages.render(found, "en") and messages.render(found, "ja").endswith("。")
    return None if found is None else found.key


def test_an_audit_that_meets_every_rule_is_approved_also_when_it_fails():
    view = _ready()
    assert duties.refusal(view, "approver", "approve", APPROVER) is None
    assert duties.refusal(view, "approver", None, APPROVER) is None
    # approving a failing model is a decision the approver may take (with conditions)
    failing = replace(view, verdict=Status.FAIL, findings=(_finding(2, "fail"),))
    assert duties.refusal(failing, "approver", "approve with conditions", APPROVER) is None


@pytest.mark.parametrize("change, key", [
    (dict(status="interrupted"), "duties.not_completed"),
    (dict(template=TemplateView("quick", "2", "0" * 64, "builtin:quick")), "duties.not_approval_grade"),
    (dict(verdict=Status.INCONCLUSIVE), "duties.not_decided"),
    (dict(verdict=None), "duties.not_decided"),
    (dict(findings=(_finding(2, "warn", owner=None),)), "duties.unassigned"),
    (dict(findings=(_finding(2, "fail", due=None),)), "duties.unassigned"),
])
def test_each_rule_about_the_audit_refuses_an_approval(change, key):
    assert _key(replace(_ready(), **change)) == key


def test_the_reason_names_what_is_missing():
    view = replace(_ready(), findings=(_finding(4, "warn", owner=None), _finding(5, "fail", due=None),
                                       _finding(6, "inconclusive", None, None)))
    assert messages.render(duties.refusal(view, "approver", "approve", APPROVER), "en").startswith(
        "2 warning or fail finding(s) of audit abc123 have no owner or no due date (finding 4, 5)")
    quick = replace(_ready(), template=TemplateView("quick", "2", "0" * 64, "builtin:quick"))
    assert messages.render(duties.refusal(quick, "approver", "approve", APPROVER), "ja").startswith(
        "監査 abc123 はテンプレート quick で評価されており")


@pytest.mark.parametrize("role", ["preparer", "reviewer"])
def test_approval_needs_preparer_and_reviewer_sign_offs_of_the_current_evaluation(role):
    view = _ready()
    missing = replace(view, signoffs=tuple(s for s in view.signoffs if s.role != role))
    assert _key(missing) == "duties.needs_signoff"
    older = replace(view, signoffs=tuple(replace(s, evaluation_id=6) if s.role == role else s
                                         for s in view.signoffs))
    assert _key(older) == "duties.needs_signoff"
    rejected = replace(view, signoffs=tuple(replace(s, decision="reject: figures unclear") if s.role == role else s
                                            for s in view.signoffs))
    assert _key(rejected) == "duties.signoff_rejects"


def test_the_approver_is_not_the_preparer_by_certificate_or_by_name():
    view = _ready()
    same_key = {**APPROVER, "name": "Someone Else", "fingerprint": PREPARER_KEY}
    assert _key(view, facts=same_key) == "duties.approver_is_preparer"
    same_name = {**APPROVER, "name": "  p.  PREPARER ", "fingerprint": "ee" * 32}   # a second certificate
    assert _key(view, facts=same_name) == "duties.approver_is_preparer"
    named_in_run = replace(view, meta={"preparer": "A. Approver"})
    assert _key(named_in_run) == "duties.approver_is_preparer"
    ran_it = replace(view, events=(_event(1, "created", {}, APPROVER["fingerprint"]),) + view.events[1:])
    assert _key(ran_it) == "duties.approver_is_preparer"
    # an earlier preparer sign-off counts too, not only the latest
    earlier = replace(view, events=view.events + (_event(9, "signed", {"role": "preparer", "name": "A. Approver"},
                                                         MACHINE_KEY),))
    assert _key(earlier) == "duties.approver_is_preparer"
    # also a rejection: the approver role is never the preparer's
    assert _key(view, decision="reject", facts=same_key) == "duties.approver_is_preparer"


def test_the_signer_role_must_be_the_certificate_role_and_approval_needs_a_person():
    view = _ready()
    reviewer = {**APPROVER, "role": "reviewer"}
    assert _key(view, facts=reviewer) == "duties.role_mismatch"
    assert _key(view, "preparer", facts=APPROVER) == "duties.role_mismatch"
    assert messages.render(duties.refusal(view, "approver", "approve", reviewer), "en") == \
        "identity A. Approver is a reviewer in its certificate; it cannot sign as approver"
    machine = duties.signer_facts(None, "A. Approver")
    assert _key(view, facts=machine) == "duties.approval_needs_identity"
    assert _key(view, facts={"name": "M", "role": "machine", "fingerprint": MACHINE_KEY}) == \
        "duties.approval_needs_identity"
    # without an identity, preparers and reviewers still sign (machine-signed, the name as typed)
    assert _key(view, "reviewer", facts=machine) is None


def test_a_rejection_is_not_an_approval():
    quick = replace(_ready(), template=TemplateView("quick", "2", "0" * 64, "builtin:quick"), signoffs=(),
                    verdict=Status.INCONCLUSIVE)
    assert duties.is_rejection("Reject: not enough probes") and duties.is_rejection("却下")
    assert not duties.is_rejection("approve with conditions") and not duties.is_rejection(None)
    assert _key(quick, decision="reject") is None
    assert _key(quick, decision="approve") == "duties.not_approval_grade"


def test_a_refusal_is_a_one_line_bad_input():
    from auditor.errors import BadInput

    error = duties.DutyRefused(Message("duties.approval_needs_identity"))
    assert isinstance(error, BadInput) and "\n" not in str(error) and str(error).startswith("an approval must")


def test_templates_declare_approval_grade_as_a_boolean(tmp_path):
    from auditor.errors import BadInput
    from auditor.templates import load_template

    assert [load_template(n).approval_grade for n in ("standard", "eu-ai-act-high-risk", "quick")] == \
        [True, True, False]
    body = "name: mine\nversion: '1'\nchecks:\n- id: artifact.integrity\n"
    (tmp_path / "plain.yaml").write_text(body, encoding="utf-8")
    assert load_template(str(tmp_path / "plain.yaml")).approval_grade is False       # silent: not approval grade
    (tmp_path / "bad.yaml").write_text(body + "approval_grade: 'yes'\n", encoding="utf-8")
    with pytest.raises(BadInput) as refused:
        load_template(str(tmp_path / "bad.yaml"))
    assert str(refused.value) == "template bad.yaml: approval_grade must be true or false, not 'yes'"
