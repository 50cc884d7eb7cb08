"""Separation of duties: who may sign off an audit, in which role, and when an approval is allowed.

The rules live here, engine-side, so the CLI (`auditor sign`), the GUI and any later service give
the same answer from the same typed view. `refusal` is pure: it reads an AuditView and the signer's
certificate facts and returns the first rule broken, as a catalogue Message (en and ja), or None.

The rules, checked in this order (the first broken one is the reason):
1. only a completed audit is signed (any role);
2. an approval (an approver's sign-off whose decision is not a rejection) needs
   a. an evaluation under a template marked `approval_grade: true` (standard, eu-ai-act-high-risk),
   b. a decided verdict: pass, warn or fail. Approving a failing model is allowed: that is the
      approver's decision to take, with conditions, and it is recorded as such;
   c. a preparer's and a reviewer's sign-off of the current evaluation, neither a rejection,
   d. an owner and a due date on every warn or fail finding of the current evaluation,
   e. a person's identity (the machine key cannot approve);
3. a person's identity signs only in the role its certificate states (any role);
4. the approver is not a preparer of the audit (any approver sign-off): not the same certificate as
   a preparer's sign-off or the audit's run, and not the same name as a preparer's sign-off or the
   preparer named in the audit (names compared with spacing and case folded, so a second
   certificate under the same name does not get round the rule).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.errors import BadInput
from auditor.messages import Message, render
from auditor.status import Status
from auditor.views import AuditView

DECIDED = (Status.PASS, Status.WARN, Status.FAIL)
NEEDS_OWNER = (Status.WARN, Status.FAIL)
PREREQUISITES = ("preparer", "reviewer")
_REJECTIONS = ("reject", "却下", "不承認")
# events whose signer ran (prepared) the audit
_PREPARING_EVENTS = ("created", "completed")


class DutyRefused(BadInput):
    """A sign-off the rules refuse: exit 2 with the reason in one line; `message` renders in en or ja."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(render(message, "en"))


def is_rejection(decision: str | None) -> bool:
    """A decision that rejects (reject / reject: reasons / 却下 / 不承認)."""
    return " ".join(str(decision or "").split()).casefold().startswith(_REJECTIONS)


def is_approval(role: str, decision: str | None) -> bool:
    """An approver's sign-off that does not reject (no decision written counts as an approval)."""
    return role == "approver" and not is_rejection(decision)


def signer_facts(signer: Any = None, name: str | None = None) -> dict[str, Any]:
    """The facts `refusal` reads about who signs: a Signer's name, role and fingerprint, or for the
    machine key (or no signer) only the name typed, with `machine` True."""
    if signer is None or getattr(signer, "machine", False):
        return {"name": name, "machine": True}
    return {"name": signer.name, "role": signer.role, "fingerprint": signer.fingerprint, "machine": False}


def identity_facts(identity_name: str | None) -> dict[str, Any]:
    """`signer_facts` of a stored identity from its certificate (no passphrase); {machine: True} for None.
    IdentityError (a BadInput with a Message) when there is no such identity."""
    if not identity_name:
        return {"name": None, "machine": True}
    from auditor.identity import certificate_facts, identity_cert

    facts = certificate_facts(identity_cert(identity_name))
    return {"name": facts["name"], "role": facts["role"], "fingerprint": facts["fingerprint"], "machine": False}


def refusal(view: AuditView, role: str, decision: str | None, signer_facts: Mapping[str, Any]) -> Message | None:
    """Why `signer_facts` may not sign `view` as `role` with `decision`; None when the rules allow it."""
    if view.status != "completed":
        return Message("duties.not_completed", {"audit_id": view.audit_id, "status": view.status})
    if is_approval(role, decision):
        reason = _approval_refusal(view) or _needs_identity(signer_facts)
        if reason is not None:
            return reason
    return _role_refusal(role, signer_facts) or (
        _preparer_refusal(view, signer_facts) if role == "approver" else None)


def _approval_refusal(view: AuditView) -> Message | None:
    """What the audit itself lacks for an approval, whoever approves."""
    if not view.template.approval_grade:
        from auditor.templates import approval_grade_names

        return Message("duties.not_approval_grade", {"audit_id": view.audit_id, "template": view.template.name,
                                                     "grades": approval_grade_names()})
    if view.verdict not in DECIDED:
        word = f"status.{view.verdict}" if view.verdict is not None else "status.none"
        return Message("duties.not_decided", {"audit_id": view.audit_id, "verdict": Message(word)})
    latest = {s.role: s for s in view.signoffs}
    for needed in PREREQUISITES:
        signoff = latest.get(needed)
        if signoff is None or signoff.evaluation_id != view.evaluation_id:
            return Message("duties.needs_signoff", {"audit_id": view.audit_id, "role": _role(needed)})
        if is_rejection(signoff.decision):
            return Message("duties.signoff_rejects", {"role": _role(needed), "name": signoff.name,
                                                      "decision": signoff.decision})
    open_ = [f.id for f in view.findings if f.severity in NEEDS_OWNER and not (f.owner and f.due)]
    if open_:
        return Message("duties.unassigned", {"audit_id": view.audit_id, "count": len(open_), "findings": open_})
    return None


def _needs_identity(facts: Mapping[str, Any]) -> Message | None:
    return Message("duties.approval_needs_identity") if _is_machine(facts) else None


def _role_refusal(role: str, facts: Mapping[str, Any]) -> Message | None:
    if _is_machine(facts) or facts.get("role") == role:
        return None
    return Message("duties.role_mismatch", {"name": facts.get("name"), "certificate_role": _role(facts.get("role")),
                                            "role": _role(role)})


def _preparer_refusal(view: AuditView, facts: Mapping[str, Any]) -> Message | None:
    fingerprints, names = preparers(view)
    name = _fold(facts.get("name"))
    same_key = not _is_machine(facts) and facts.get("fingerprint") in fingerprints
    if same_key or (name and name in names):
        return Message("duties.approver_is_preparer", {"audit_id": view.audit_id, "name": facts.get("name")})
    return None


def preparers(view: AuditView) -> tuple[set[str], set[str]]:
    """(certificate fingerprints, folded names) of whoever prepared the audit: every preparer sign-off (not
    only the latest), the signer of the audit's run, and the preparer named when it was run."""
    fingerprints: set[str] = set()
    names = {_fold(view.meta.get("preparer"))} - {""}
    for event in view.events:
        preparing = event.kind in _PREPARING_EVENTS
        if event.kind == "signed" and event.detail.get("role") == "preparer":
            preparing = True
            names.add(_fold(event.detail.get("name")))
        if preparing and event.signer:
            fingerprints.add(str(event.signer))
    return fingerprints, names - {""}


def _is_machine(facts: Mapping[str, Any]) -> bool:
    return bool(facts.get("machine")) or not facts.get("fingerprint") or facts.get("role") == "machine"


def _fold(name: Any) -> str:
    return " ".join(str(name or "").split()).casefold()


def _role(role: Any) -> Message:
    return Message(f"duties.role.{role}") if role in ("preparer", "reviewer", "approver", "admin", "machine") \
        else Message("text.verbatim", {"text": str(role)})
