"""What officers do after an audit: sign off, assign findings, re-evaluate under a template.

Every action is one short transaction that also appends an event, so the history a regulator
reads is complete; nothing here edits figures, and a re-evaluation adds an evaluation beside
the earlier ones instead of replacing them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlite_utils

from auditor.errors import BadInput
from auditor.store import queries, records

ROLES = ("preparer", "reviewer", "approver")
_MAX_TEXT = 500


def _clean(text: str | None, what: str, required: bool = False) -> str | None:
    if text is None or not str(text).strip():
        if required:
            raise BadInput(f"{what} must not be empty")
        return None
    text = " ".join(str(text).split())
    if len(text) > _MAX_TEXT:
        raise BadInput(f"{what} is longer than {_MAX_TEXT} characters")
    return text


def sign(db: sqlite_utils.Database, audit_id: str, role: str, name: str, decision: str | None = None,
         signer: Any = None) -> dict[str, Any]:
    """Records a sign-off of the audit's current evaluation (its fingerprint is part of the event), signed by
    `signer` (a person's identity; None: the machine key, and the name is then only what was typed)."""
    if role not in ROLES:
        raise BadInput(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    _check_identity(signer, role, name)
    audit = queries.audit_row(db, audit_id)
    if audit["status"] != "completed":
        raise BadInput(f"audit {audit['id']} is {audit['status']}; only a completed audit can be signed")
    _check_duties(db, audit["id"], role, name, decision, signer)
    evaluation = queries.latest_evaluation(db, audit["id"])
    detail = {"role": role, "name": _clean(name, "--name", required=True),
              "decision": _clean(decision, "--decision"),
              "evaluation_id": evaluation["id"] if evaluation else None,
              "fingerprint": evaluation["fingerprint"] if evaluation else None}
    with db.conn:
        records.add_event(db, audit["id"], "signed", detail, actor=detail["name"], signer=signer)
    return {"audit_id": audit["id"], **detail}


def _check_identity(signer: Any, role: str, name: str | None) -> None:
    """A person signs under their own name and in the role their certificate states."""
    if signer is None or getattr(signer, "machine", False):
        return
    if name is not None and " ".join(str(name).split()) != signer.name:
        raise BadInput(f"--name {name!r} is not the name of identity {signer.name!r}; sign under your own name")
    if signer.role != role:
        raise BadInput(f"identity {signer.name} is a {signer.role}; it cannot sign as {role}")


def _check_duties(db: sqlite_utils.Database, audit_id: str, role: str, name: str | None, decision: str | None,
                  signer: Any) -> None:
    """Separation of duties (auditor.duties): the rules the GUI shows before its button is pressed."""
    from auditor import duties
    from auditor.store.read_model import audit_view

    refused = duties.refusal(audit_view(db, audit_id), role, decision, duties.signer_facts(signer, name))
    if refused is not None:
        raise duties.DutyRefused(refused)


def actor_of(signer: Any, actor: str | None) -> str | None:
    """The recorded actor: a person's identity names them, whatever --actor says."""
    if signer is not None and not getattr(signer, "machine", False):
        return str(signer.name)
    return actor


def assign(db: sqlite_utils.Database, audit_id: str, finding_id: int, owner: str | None = None,
           due: str | None = None, actor: str | None = None, signer: Any = None) -> dict[str, Any]:
    """Sets the owner and/or due date of a finding of the audit's current evaluation."""
    audit = queries.audit_row(db, audit_id)
    evaluation = queries.latest_evaluation(db, audit["id"])
    rows = list(db["findings"].rows_where("id = ? AND audit_id = ?", [finding_id, audit["id"]], limit=1))
    if not rows or evaluation is None or rows[0]["evaluation_id"] != evaluation["id"]:
        raise BadInput(f"audit {audit['id']} has no finding {finding_id} in its current evaluation "
                       "(`auditor show ID --json` lists the finding IDs)")
    if owner is None and due is None:
        raise BadInput("give --owner, --due or both")
    changes: dict[str, Any] = {}
    if owner is not None:
        changes["owner"] = _clean(owner, "--owner")
    if due is not None:
        changes["due"] = _due(due)
    records.assign_finding(db, audit["id"], finding_id, changes,
                           actor=_clean(actor_of(signer, actor), "--actor") or "auditor", signer=signer)
    return {"audit_id": audit["id"], "finding_id": finding_id, **changes}


def _due(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise BadInput(f"--due must be a date written YYYY-MM-DD, not {text!r}")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadInput(f"--due {text} is not a real date") from None


def _decisive(evidence: dict[str, Any]) -> dict[str, Any]:
    """The parts of a check's stored evidence that findings.evaluate decides on, so a re-evaluation
    decides as the audit did: thin-evidence reasons and where the labels came from."""
    kept = {"insufficient": evidence.get("insufficient") or {}}
    kept.update({k: evidence[k] for k in ("label_source", "label_metrics") if k in evidence})
    if str(kept.get("label_source") or "").startswith("model predictions"):
        kept["label_source"] = "model_predictions"   # audits stored before the code replaced the prose
    return kept


def reevaluate(db: sqlite_utils.Database, audit_id: str, template_name: str | None,
               actor: str | None = None, signer: Any = None) -> dict[str, Any]:
    """Applies a template to the stored results as a new evaluation (the earlier ones stay)."""
    from auditor import findings as findings_mod
    from auditor.checks.base import CheckResult
    from auditor.store.read_model import audit_view
    from auditor.templates import load_template

    template = load_template(template_name)
    view = audit_view(db, audit_id)
    if view.status != "completed":
        raise BadInput(f"audit {view.audit_id} is {view.status}; only a completed audit can be re-evaluated")
    results = [CheckResult(check_id=c.id, outcome=c.outcome, summary=c.summary, metrics=c.metrics,
                           evidence=_decisive(dict(c.evidence)), duration_s=c.duration_s or 0.0,
                           sentences=c.sentences or (), intervals=c.intervals) for c in view.checks]
    stored = {r.check_id for r in results}
    missing = [c.id for c in template.checks if c.id not in stored]
    planned = {c.id for c in template.checks}
    found = findings_mod.evaluate(template, results, probe_count=view.probes.get("count"),
                                  probes_fed=bool(view.environment.get("probes_fed", True)),
                                  why_not_fed=findings_mod.why_not_fed(view.model.details or {}))
    verdict = findings_mod.audit_verdict([r for r in results if r.check_id in planned], found)
    previous = view.evaluation
    evaluation_id = record_evaluation(db, view.audit_id, template, results, found, verdict, reason="re-evaluated")
    seal = records.evaluation_seal(db, view.audit_id, evaluation_id)
    digest = seal["fingerprint"]
    with db.atomic():
        # the signed record of this evaluation (auditor.verify): its fingerprint, its findings' digest and
        # its statuses' and ratings' digest
        records.add_event(db, view.audit_id, "re-evaluated", {
            "evaluation_id": evaluation_id, "template": template.name, "template_version": template.version,
            "template_sha256": template.sha256, "verdict": verdict, "fingerprint": digest,
            "parts": {"evaluation": seal["parts"]["evaluation"]}, "read_model": seal["read_model"],
            "previous_evaluation_id": previous.id if previous else None,
            "previous_verdict": _text(previous.verdict) if previous else None,
            "checks_not_in_audit": missing}, actor=_clean(actor_of(signer, actor), "--actor") or "auditor",
            signer=signer)
    return {"audit_id": view.audit_id, "evaluation_id": evaluation_id, "verdict": verdict,
            "previous_verdict": _text(previous.verdict) if previous else None, "fingerprint": digest,
            "template": template.summary(), "checks_not_in_audit": missing}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def template_row(template: Any) -> dict[str, Any]:
    """A Template as the store keeps it with an audit or an evaluation."""
    return {k: getattr(template, k) for k in ("name", "version", "sha256", "source", "text")}


def record_evaluation(db: sqlite_utils.Database, audit_id: str, template: Any, results: Sequence[Any],
                      findings: Sequence[Any], verdict: str, reason: str) -> int:
    """Stores an evaluation: its findings, each check's status and the ratings, computed here once.

    The one place an evaluation is made (the audit's initial one and every re-evaluation), so
    `show`, reports and the GUI read statuses and ratings instead of recomputing them.
    """
    from auditor import findings as findings_mod
    from auditor.messages import to_json
    from auditor.ratings import rate

    statuses = {r.check_id: findings_mod.check_status(r, findings) for r in results}
    ratings = rate({"id": c, "status": s} for c, s in statuses.items())
    rows = [{**f.to_dict(), "sentences": to_json(getattr(f, "sentences", ()))} for f in findings]
    return records.store_evaluation(db, audit_id, template_row(template), rows, verdict, reason, statuses=statuses,
                                    ratings=[{"dimension": d, "rating": r["rating"], "checks": r["checks"]}
                                             for d, r in ratings.items()])
