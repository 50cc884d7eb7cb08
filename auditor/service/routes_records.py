"""Routes after an audit: the PDF report, sign-offs, finding assignments, and the model inventory.

Each state change is a signed chain event whose actor is the authenticated identity: a sign-off
(`signed`, with the client's signed statement inside, auditor.service.statements), an assignment
(`finding.assigned` through auditor.governance), a report (`reported`, written by reports.commands as
`auditor report` writes it, then `report.served` naming who downloaded it). Events are signed by this
server's machine key; a person's own signature travels inside the sign-off's statement.
"""
from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from auditor.service.app import Db, Who, refuse
from auditor.service.errors import ApiError
from auditor.service.routes_audits import known_audit
from auditor.service.tokens import Caller

router = APIRouter(tags=["records"])
# reportlab keeps module-level state (fonts, caches): one report is built at a time
_REPORT_LOCK = threading.Lock()


class SignoffBody(BaseModel):
    """A sign-off statement signed on the client (auditor.service.statements.signed_request)."""

    model_config = ConfigDict(extra="forbid")
    statement: dict[str, Any] = Field(description="audit_id, fingerprint, role, decision, comment, at")
    signature: str = Field(description="base64 DER ECDSA P-256/SHA-256 over the statement's canonical JSON")
    certificate: str = Field(description="the identity's certificate (PEM)")


class AssignmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    finding_id: int
    owner: str | None = None
    due: str | None = Field(None, description="YYYY-MM-DD; an empty text clears it")


@router.get("/audits/{audit_id}/report", summary="The PDF report", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def report(audit_id: str, db: Db, who: Who, kind: Literal["board", "full"] = "full",
           lang: Literal["en", "ja"] = "en",
           draft: bool = Query(False, description="a report of an audit that is not completed, marked DRAFT")) -> Response:
    """Built as `auditor report AUDIT --kind K --lang L [--draft]` builds it, recorded in the audit's history."""
    from auditor import api
    from reports.commands import build_report

    target = known_audit(db, audit_id)
    name = f"audit-{target}-{kind}-{lang}{'-draft' if draft else ''}.pdf"
    with tempfile.TemporaryDirectory(prefix="auditor-report-") as tmp:
        out = Path(tmp) / name
        with _REPORT_LOCK:
            build_report(target, out, kind=kind, lang=lang, db=db, draft=draft)
        data = out.read_bytes()
    with api.session(db, write=True) as handle:
        api.add_event(handle, target, "report.served", {"kind": kind, "lang": lang, "draft": draft,
                                                        "pdf_sha256": hashlib.sha256(data).hexdigest()},
                      actor=who.name)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/audits/{audit_id}/signoffs", status_code=201, summary="Record a client-signed sign-off")
def signoff(audit_id: str, body: SignoffBody, db: Db,
            who: Who) -> dict[str, Any]:
    """Verifies the statement (auditor.service.statements), applies the duties rules (auditor.duties) and
    records the sign-off; 403 with the rule's sentence when it is refused."""
    from auditor.identity import identity_cert
    from auditor.service.statements import StatementRefused, verify_request

    target = known_audit(db, audit_id)
    try:
        statement, facts, signature = verify_request(body.model_dump(), who.name, identity_cert(who.name))
    except StatementRefused as exc:
        raise ApiError(exc.status, "forbidden" if exc.status == 403 else "bad_input", str(exc),
                       sentence=exc.message) from None
    return _record_signoff(db, target, statement, {**facts, "cert_pem": body.certificate}, signature, who)


def _record_signoff(db: str, audit_id: str, statement: dict[str, Any], facts: dict[str, Any], signature: str,
                    who: Caller) -> dict[str, Any]:
    """The checks that need the audit (which audit, which evaluation, the duties rules, revocation, replay)
    and the `signed` event, on one writable handle."""
    from auditor import api, duties
    from auditor.governance import ROLES
    from auditor.store import chain, queries
    from auditor.store.read_model import audit_view

    if statement["role"] not in ROLES:
        raise ApiError(400, "bad_input", f"--role must be one of {', '.join(ROLES)}, not {statement['role']!r}")
    with api.session(db, write=True) as handle:
        if queries.audit_row(handle, statement["audit_id"])["id"] != audit_id:
            raise refuse(400, "bad_input", "service.api.wrong_audit", named=statement["audit_id"], audit_id=audit_id)
        revoked = chain.revocations(handle).get(facts["fingerprint"])
        if revoked is not None:
            raise refuse(403, "forbidden", "service.api.identity_revoked", name=who.name, event=revoked)
        view = audit_view(handle, audit_id)
        signer_facts = {"name": facts["name"], "role": facts["role"], "fingerprint": facts["fingerprint"],
                        "machine": False}
        refused = duties.refusal(view, statement["role"], statement["decision"], signer_facts)
        if refused is not None:
            raise duties.DutyRefused(refused)
        if view.fingerprint != statement["fingerprint"]:
            raise refuse(409, "conflict", "service.api.changed", audit_id=audit_id, fingerprint=view.fingerprint)
        earlier = _same_statement(handle, audit_id, signature)
        if earlier is not None:
            raise refuse(409, "conflict", "service.api.duplicate", event=earlier)
        detail = {"role": statement["role"], "name": facts["name"],
                  "decision": _clean(statement["decision"]), "comment": _clean(statement["comment"]),
                  "evaluation_id": view.evaluation_id, "fingerprint": view.fingerprint,
                  "statement": statement, "statement_signature": signature,
                  "statement_certificate": facts["fingerprint"], "via": "service", "token_id": who.token_id}
        # the person's certificate stays with the chain, so `auditor verify` checks their own signature offline
        chain.remember_certificate(handle, facts["fingerprint"], facts["cert_pem"], facts["name"], facts["role"])
        api.add_event(handle, audit_id, "signed", detail, actor=facts["name"])
    return {"audit_id": audit_id, **{k: detail[k] for k in ("role", "name", "decision", "comment",
                                                              "evaluation_id", "fingerprint")},
            "statement_certificate": facts["fingerprint"]}


def _clean(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def _same_statement(handle: Any, audit_id: str, signature: str) -> int | None:
    """The event that already records this signed statement (a replay), or None."""
    import json

    for event_id, detail in handle.execute("SELECT id, detail_json FROM events WHERE audit_id = ? AND "
                                           "kind = 'signed'", [audit_id]).fetchall():
        if (json.loads(detail or "{}") or {}).get("statement_signature") == signature:
            return int(event_id)
    return None


@router.post("/audits/{audit_id}/assignments", status_code=201, summary="Set a finding's owner and due date")
def assign(audit_id: str, body: AssignmentBody, db: Db,
           who: Who) -> dict[str, Any]:
    """As `auditor assign AUDIT FINDING --owner --due`, recorded with the caller as the actor."""
    from auditor import api

    return api.assign_finding(known_audit(db, audit_id), body.finding_id, owner=body.owner, due=body.due,
                              actor=who.name, db=db)


@router.get("/models", summary="The model inventory")
def models(db: Db, _who: Who) -> dict[str, Any]:
    """Every model audited here (by name and version), with its number of audits and its latest audit."""
    from auditor import api

    inventory: dict[tuple[str, str], dict[str, Any]] = {}
    for row in api.list_audits(db):         # newest first: the first row of a model is its latest audit
        key = (str(row["name"] or ""), str(row["version"] or ""))
        entry = inventory.get(key)
        if entry is None:
            inventory[key] = entry = {
                "name": row["name"], "version": row["version"], "model_sha256": row["model_sha256"],
                "format": row["format"], "architecture": row["architecture"], "audits": 0,
                "latest_audit": {k: row[k] for k in ("audit_id", "status", "verdict", "template", "started_at",
                                                     "finished_at", "signoffs")},
                "latest_completed_audit_id": None}
        entry["audits"] += 1
        if entry["latest_completed_audit_id"] is None and row["status"] == "completed":
            entry["latest_completed_audit_id"] = row["audit_id"]
    return {"models": sorted(inventory.values(), key=lambda m: (str(m["name"]).casefold(), str(m["version"])))}


# signed reports (the signer's key stays on their computer) are auditor.service.routes_reports'; served
# with these routes, so create_app needs no line of its own for them
from auditor.service import routes_reports  # noqa: E402  (after `router`: it imports this module's neighbours)

router.include_router(routes_reports.router)
