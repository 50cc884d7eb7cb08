"""Client-signed sign-off statements: the service's sign-off policy (docs/ARCHITECTURE.md, "The audit service").

The server never holds a person's key. A sign-off sent to the service is a statement signed on the
client by the identity's own key (ECDSA P-256 over SHA-256 of the canonical JSON of exactly FIELDS),
sent with that signature (base64 DER) and the identity's certificate (PEM). The server accepts it when
the signature verifies with the certificate, the certificate is the one registered on the server for
the token's identity (same name, same fingerprint), valid now and not revoked, and the statement was
signed within MAX_SKEW of the server's clock; the duties rules and the audit's current fingerprint are
checked by the route (auditor.service.routes_records). This module imports no web framework, so the
client (`auditor --server ... sign`) builds the same bytes with `make_statement` and `signed_request`.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta, timezone
from typing import Any

from auditor.errors import BadInput
from auditor.messages import Message, render

FIELDS = ("audit_id", "fingerprint", "role", "decision", "comment", "at")
MAX_SKEW = timedelta(minutes=10)      # a statement older (or further ahead) than this is signed again
MAX_TEXT = 500


class StatementRefused(BadInput):
    """A statement the policy refuses; `status` 400 (malformed) or 403 (not this caller's to make)."""

    def __init__(self, status: int, key: str, **params: Any) -> None:
        self.status = status
        self.message = Message(key, params)
        super().__init__(render(self.message, "en"))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def make_statement(audit_id: str, fingerprint: str, role: str, decision: str | None = None,
                   comment: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """The statement a person signs: which audit and evaluation (its fingerprint), in which role, deciding
    what, and when (UTC, seconds)."""
    moment = (at or _now()).astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"audit_id": audit_id, "fingerprint": fingerprint, "role": role, "decision": decision,
            "comment": comment, "at": moment}


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of the statement's FIELDS (sorted keys, no spaces)."""
    from auditor.store.fingerprint import canonical_json

    return canonical_json({k: statement.get(k) for k in FIELDS})


def signed_request(signer: Any, statement: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /v1/audits/{id}/signoffs: the statement signed by `signer` (an unlocked identity)."""
    signature = base64.b64encode(signer.sign(statement_bytes(statement))).decode("ascii")
    return {"statement": statement, "signature": signature, "certificate": signer.cert_pem}


def _check_fields(statement: Any) -> dict[str, Any]:
    if not isinstance(statement, dict):
        raise StatementRefused(400, "service.api.statement.not_an_object")
    extra = sorted(set(statement) - set(FIELDS))
    missing = [k for k in ("audit_id", "fingerprint", "role", "at") if not isinstance(statement.get(k), str)]
    if extra or missing:
        raise StatementRefused(400, "service.api.statement.fields", fields=list(FIELDS), wrong=extra + missing)
    for key in ("decision", "comment"):
        value = statement.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise StatementRefused(400, "service.api.statement.text", field=key, limit=MAX_TEXT)
    return {k: statement.get(k) for k in FIELDS}


def signed_at(statement: dict[str, Any], now: datetime | None = None) -> datetime:
    """The statement's `at`, refused when it is not an ISO time or is more than MAX_SKEW from `now`."""
    now = now or _now()
    try:
        moment = datetime.fromisoformat(str(statement["at"]).replace("Z", "+00:00"))
    except ValueError:
        raise StatementRefused(400, "service.api.statement.bad_time", at=statement["at"]) from None
    if moment.tzinfo is None:
        raise StatementRefused(400, "service.api.statement.bad_time", at=statement["at"])
    if abs(now - moment) > MAX_SKEW:
        raise StatementRefused(400, "service.api.statement.stale", at=statement["at"],
                               now=now.isoformat(timespec="seconds"), minutes=int(MAX_SKEW.total_seconds() // 60))
    return moment


def verify_request(body: dict[str, Any], caller_name: str, registered_cert_pem: str,
                   now: datetime | None = None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(statement, certificate facts, signature base64) of a signed sign-off from `caller_name`, whose
    certificate on the server is `registered_cert_pem`; StatementRefused otherwise."""
    from auditor.identity import certificate_facts, verify_signature
    from auditor.identity.certs import load_certificate, valid_now

    statement = _check_fields(body.get("statement"))
    signature_b64 = body.get("signature")
    cert_pem = body.get("certificate")
    try:
        signature = base64.b64decode(str(signature_b64 or ""), validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if not signature:
        raise StatementRefused(400, "service.api.statement.no_signature")
    if not isinstance(cert_pem, str) or not cert_pem.strip():
        raise StatementRefused(400, "service.api.statement.no_certificate")
    facts = certificate_facts(cert_pem)          # IdentityError (400) when it is not a certificate
    if not verify_signature(cert_pem, statement_bytes(statement), signature):
        raise StatementRefused(403, "service.api.statement.bad_signature", name=facts["name"])
    if " ".join(str(facts["name"] or "").split()) != caller_name:
        raise StatementRefused(403, "service.api.statement.not_yours", name=facts["name"], caller=caller_name)
    registered = certificate_facts(registered_cert_pem)
    if registered["fingerprint"] != facts["fingerprint"]:
        raise StatementRefused(403, "service.api.statement.not_registered", name=caller_name,
                               fingerprint=facts["fingerprint"][:16])
    if not valid_now(load_certificate(cert_pem), now):
        raise StatementRefused(403, "service.api.statement.expired", name=caller_name,
                               not_after=facts["not_after"])
    signed_at(statement, now)
    return statement, facts, base64.b64encode(signature).decode("ascii")
