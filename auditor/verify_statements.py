"""The people's own signatures inside sign-offs recorded by the audit service (part of `auditor verify`).

A sign-off sent to the service is a statement signed on the person's computer with their own key
(auditor.service.statements); the service records it as a `signed` event signed by its machine key, with
the statement, its signature and the fingerprint of the person's certificate inside (the certificate itself
goes into the database's `certificates` table). The machine key's signature shows the service recorded the
event; only the statement's signature shows the person decided it. So for every such event `verify` checks,
offline: the certificate is held, the statement's signature verifies with it, the certificate was not
revoked before the event, and the statement says what the event says (audit, evaluation fingerprint, role,
decision, comment, name).
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from auditor.messages import Message


def check_statements(by_audit: dict[str, list[dict[str, Any]]], certificates: dict[str, dict[str, Any]],
                     revoked: dict[str, int], bad_ids: set[int]) -> tuple[list[Message], int]:
    """(problems, how many statements verified) over the `signed` events that carry a client statement.
    Events already found broken (bad_ids: edited, unlinked, badly signed) are not judged twice."""
    problems: list[Message] = []
    verified = 0
    for audit_id, events in by_audit.items():
        for event in events:
            detail = event["detail"]
            if event["kind"] != "signed" or "statement" not in detail or event["id"] in bad_ids:
                continue
            problem = _problem(audit_id, event["id"], detail, certificates, revoked)
            if problem is None:
                verified += 1
            else:
                problems.append(problem)
    return problems, verified


def _problem(audit_id: str, event_id: int, detail: dict[str, Any], certificates: dict[str, dict[str, Any]],
             revoked: dict[str, int]) -> Message | None:
    from auditor.identity import verify_signature
    from auditor.service.statements import statement_bytes

    where = {"event": event_id, "name": str(detail.get("name") or "?")}
    statement = detail.get("statement")
    holder = str(detail.get("statement_certificate") or "")
    cert = certificates.get(holder)
    if not isinstance(statement, dict):
        return Message("verify.statement.mismatch", {**where, "field": "statement"})
    if cert is None or cert.get("problem") is not None:
        return Message("verify.statement.no_certificate", {**where, "signer": holder[:16] or "?"})
    try:
        signature = base64.b64decode(str(detail.get("statement_signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if not signature or not verify_signature(cert["cert_pem"], statement_bytes(statement), signature):
        return Message("verify.statement.signature", where)
    if holder in revoked and revoked[holder] < event_id:
        return Message("verify.statement.revoked", {**where, "revoked": revoked[holder]})
    wrong = _mismatch(audit_id, detail, statement, cert)
    return None if wrong is None else Message("verify.statement.mismatch", {**where, "field": wrong})


def _clean(text: Any) -> str | None:
    return " ".join(str(text).split()) or None if text else None


def _mismatch(audit_id: str, detail: dict[str, Any], statement: dict[str, Any], cert: dict[str, Any]) -> str | None:
    """The first field where the recorded event says something the person's statement does not."""
    if not str(statement.get("audit_id") or "-").strip() or not audit_id.startswith(str(statement.get("audit_id"))):
        return "audit_id"
    for field in ("fingerprint", "role"):
        if statement.get(field) != detail.get(field):
            return field
    for field in ("decision", "comment"):
        if _clean(statement.get(field)) != detail.get(field):
            return field
    if " ".join(str(cert.get("name") or "").split()) != " ".join(str(detail.get("name") or "").split()):
        return "name"
    return None
