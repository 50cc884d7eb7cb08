"""What officers do after an audit: sign off, assign findings, re-evaluate under a template.

Every action is one short transaction that also appends an event, so the history a regulator
reads is complete; nothing here edits figures, and a re-evaluation adds an evaluation beside
the earlier ones instead of replacing them.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

import sqlite_utils

from auditor.errors import BadInput
from auditor.store import queries, records
from auditor.store.fingerprint import fingerprint_of

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


def sign(db: sqlite_utils.Database, audit_id: str, role: str, name: str, decision: str | None = None) -> dict[str, Any]:
    """Records a sign-off of the audit's current evaluation (its fingerprint is part of the event)."""
    if role not in ROLES:
        raise BadInput(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    audit = queries.audit_row(db, audit_id)
    if audit["status"] != "completed":
        raise BadInput(f"audit {audit['id']} is {audit['status']}; only a completed audit can be signed")
    evaluation = queries.latest_evaluation(db, audit["id"])
    detail = {"role": role, "name": _clean(name, "--name", required=True),
              "decision": _clean(decision, "--decision"),
              "evaluation_id": evaluation["id"] if evaluation else None,
              "fingerprint": evaluation["fingerprint"] if evaluation else None}
    with db.conn:
        records.add_event(db, audit["id"], "signed", detail, actor=detail["name"])
    return {"audit_id": audit["id"], **detail}


def assign(db: sqlite_utils.Database, audit_id: str, finding_id: int, owner: str | None = None,
           due: str | None = None, actor: str | None = None) -> dict[str, Any]:
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
    with db.conn:
        db["findings"].update(finding_id, changes)
        records.add_event(db, audit["id"], "assigned", {"finding_id": finding_id, **changes},
                          actor=_clean(actor, "--actor") or "auditor")
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
               actor: str | None = None) -> dict[str, Any]:
    """Applies a template to the stored results as a new evaluation (the earlier ones stay)."""
    from auditor import findings as findings_mod
    from auditor.checks.base import CheckResult
    from auditor.store import metrics as metric_rows
    from auditor.templates import load_template

    template = load_template(template_name)
    audit = queries.audit_row(db, audit_id)
    if audit["status"] != "completed":
        raise BadInput(f"audit {audit['id']} is {audit['status']}; only a completed audit can be re-evaluated")
    metrics = metric_rows.from_rows(list(db["metrics"].rows_where("audit_id = ?", [audit["id"]])))
    results = [CheckResult(check_id=r["check_id"], outcome=r["outcome"], summary=r["summary"],
                           metrics=metrics.get(r["check_id"], {}),
                           evidence=_decisive(queries.load_json(r["evidence_json"], {})),
                           duration_s=r["duration_s"] or 0.0)
               for r in db["check_results"].rows_where("audit_id = ?", [audit["id"]], order_by="position")]
    stored = {r.check_id for r in results}
    missing = [c.id for c in template.checks if c.id not in stored]
    planned = {c.id for c in template.checks}
    environment = queries.load_json(audit["environment_json"], {})
    probe_count = db["probe_sets"].get(audit["probe_set_id"])["count"]
    found = findings_mod.evaluate(template, results, probe_count=probe_count,
                                  probes_fed=bool(environment.get("probes_fed", True)),
                                  why_not_fed=findings_mod.why_not_fed(queries.load_json(
                                      db["models"].get(audit["model_id"])["identity_json"], {}).get("details") or {}))
    verdict = findings_mod.audit_verdict([r for r in results if r.check_id in planned], found)
    previous = queries.latest_evaluation(db, audit["id"])
    evaluation_id = records.store_evaluation(db, audit["id"], template, found, verdict, reason="re-evaluated")
    digest = fingerprint_of(queries.stored_content(db, audit["id"], evaluation_id))
    with db.conn:
        db["evaluations"].update(evaluation_id, {"fingerprint": digest})
        records.add_event(db, audit["id"], "re-evaluated", {
            "evaluation_id": evaluation_id, "template": template.name, "template_version": template.version,
            "template_sha256": template.sha256, "verdict": verdict,
            "previous_evaluation_id": previous["id"] if previous else None,
            "previous_verdict": previous["verdict"] if previous else None,
            "checks_not_in_audit": missing}, actor=_clean(actor, "--actor") or "auditor")
    return {"audit_id": audit["id"], "evaluation_id": evaluation_id, "verdict": verdict,
            "previous_verdict": previous["verdict"] if previous else None, "fingerprint": digest,
            "template": template.summary(), "checks_not_in_audit": missing}
