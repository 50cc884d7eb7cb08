"""Signed PDF reports through the service, the signer's key staying on their own computer.

The server holds no one's key (docs/ARCHITECTURE.md, "The audit service"), so a signed report is made in
three steps:
1. POST /v1/audits/{id}/report/to-sign with the signer's certificate: the server checks it is the token's
   identity's registered certificate (valid, not revoked), renders the report with that signer's block on
   the decision page (reports.commands.render_to_sign), does NOT sign it, and records `report.served` with
   the rendered PDF's SHA-256 and length and the block's signing time;
2. the client signs the PDF with PAdES on its own computer (reports.commands.sign_rendered);
3. POST /v1/audits/{id}/reports with the signed PDF: the server checks its one PDF signature (intact over
   the whole file, by the token's identity's registered certificate, at the prepared time), that its
   unsigned part is byte for byte a PDF it prepared for that signer, and that the evidence is the audit's
   current fingerprint; then it records `reported` as a local signed report's, with the person as actor.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from auditor.service.app import Db, Who, refuse
from auditor.service.routes_audits import known_audit
from auditor.service.tokens import Caller

router = APIRouter(tags=["records"])
MAX_PDF_BYTES = 64 << 20       # a report is a few hundred KB; anything near this is not one
_FILE_RE = re.compile(r"^[^/\\\x00-\x1f]{1,200}\.pdf$", re.IGNORECASE)


class ToSignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["board", "full"] = "full"
    lang: Literal["en", "ja"] = "en"
    certificate: str = Field(description="the signer's certificate (PEM): the token's identity's")


class SignedReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pdf: str = Field(description="the signed PDF, base64")
    file: str | None = Field(None, description="the file name the client wrote it under (recorded)")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _signer_facts(db: str, cert_pem: str, who: Caller, at: datetime) -> dict[str, Any]:
    """The certificate's facts when it is the caller's registered certificate, valid at `at` and not revoked;
    403 (or 400 for what is not a certificate) otherwise: the sign-offs' rules."""
    from auditor import api
    from auditor.identity import certificate_facts, identity_cert
    from auditor.identity.certs import load_certificate, valid_now
    from auditor.store import chain

    facts = certificate_facts(cert_pem)           # IdentityError (400) when it is not a certificate
    if " ".join(str(facts["name"] or "").split()) != who.name:
        raise refuse(403, "forbidden", "service.api.statement.not_yours", name=facts["name"], caller=who.name)
    if certificate_facts(identity_cert(who.name))["fingerprint"] != facts["fingerprint"]:
        raise refuse(403, "forbidden", "service.api.statement.not_registered", name=who.name,
                     fingerprint=facts["fingerprint"][:16])
    if not valid_now(load_certificate(cert_pem), at):
        raise refuse(403, "forbidden", "service.api.statement.expired", name=who.name, not_after=facts["not_after"])
    with api.session(db) as handle:
        revoked = chain.revocations(handle).get(facts["fingerprint"])
    if revoked is not None:
        raise refuse(403, "forbidden", "service.api.identity_revoked", name=who.name, event=revoked)
    return facts


@router.post("/audits/{audit_id}/report/to-sign", summary="The report rendered for its signer, unsigned")
def to_sign(audit_id: str, body: ToSignBody, db: Db, who: Who) -> dict[str, Any]:
    """The PDF (base64) with the signer's block drawn, and where the block is: the client signs it there."""
    from auditor import api
    from auditor.service.routes_records import _REPORT_LOCK
    from reports.commands import SignatureBlock, render_to_sign

    target = known_audit(db, audit_id)
    if not body.certificate.strip():
        raise refuse(400, "bad_input", "service.report.no_certificate")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    facts = _signer_facts(db, body.certificate, who, now)
    block = SignatureBlock(name=facts["name"], role=facts["role"], org=facts["org"],
                           fingerprint=facts["fingerprint"], at=now)
    name = f"audit-{target}-{body.kind}-{body.lang}-signed.pdf"
    with tempfile.TemporaryDirectory(prefix="auditor-report-") as tmp:
        out = Path(tmp) / name
        with _REPORT_LOCK:
            info = render_to_sign(target, out, block, kind=body.kind, lang=body.lang, db=db)
        data = out.read_bytes()
    with api.session(db, write=True) as handle:
        api.add_event(handle, target, "report.served", {
            "kind": body.kind, "lang": body.lang, "draft": False, "pdf_sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data), "to_sign": {"fingerprint": facts["fingerprint"], "at": _iso(now)}}, actor=who.name)
    return {**info, "file": name, "pdf": base64.b64encode(data).decode("ascii"),
            "signature_block": {"name": block.name, "role": block.role, "org": block.org,
                                "fingerprint": block.fingerprint, "at": _iso(now), "page": block.page,
                                "box": list(block.box or ())}}


@router.post("/audits/{audit_id}/reports", status_code=201, summary="Record a report signed on the client")
def signed_report(audit_id: str, body: SignedReportBody, db: Db, who: Who) -> dict[str, Any]:
    """Checks the signed PDF (one intact whole-file PAdES signature by the caller's registered certificate,
    over a PDF this server prepared for them, of the audit's current evaluation) and records `reported`."""
    from reports.commands import signing

    target = known_audit(db, audit_id)
    try:
        raw = base64.b64decode(body.pdf, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not raw.startswith(b"%PDF-") or len(raw) > MAX_PDF_BYTES:
        raise refuse(400, "bad_input", "service.report.not_a_pdf")
    if body.file is not None and not _FILE_RE.match(body.file):
        raise refuse(400, "bad_input", "service.report.bad_file_name", file=body.file)
    signatures = signing.read_signatures(raw)       # BadInput (400) when it cannot be parsed that far
    if len(signatures) != 1:
        raise refuse(400, "bad_input", "service.report.signatures", count=len(signatures))
    sig = signatures[0]
    if not (sig.intact and sig.whole_file) or sig.signed_at is None:
        raise refuse(403, "forbidden", "service.report.bad_signature")
    facts = _signer_facts(db, sig.cert_pem, who, sig.signed_at)
    with tempfile.TemporaryDirectory(prefix="auditor-signed-") as tmp:
        pdf = Path(tmp) / "signed.pdf"
        pdf.write_bytes(raw)
        from reports.commands import read_evidence as read

        info = read(pdf).info
    return _record(db, target, raw, info, facts, sig, body.file, who)


def _record(db: str, audit_id: str, raw: bytes, info: dict[str, str], facts: dict[str, Any], sig: Any,
            file: str | None, who: Caller) -> dict[str, Any]:
    """The checks that need the audit's history, and the `reported` event, on one writable handle."""
    from auditor import api
    from auditor.store import chain, queries
    from auditor.store.read_model import audit_view

    with api.session(db, write=True) as handle:
        named = str(info.get("audit_id") or "")
        if not named or queries.audit_row(handle, named)["id"] != audit_id:
            raise refuse(400, "bad_input", "service.report.wrong_audit", named=named or "?", audit_id=audit_id)
        if info.get("draft") == "true":
            raise refuse(400, "bad_input", "service.report.draft")
        served = _prepared(handle, audit_id, raw, facts["fingerprint"], _iso(sig.signed_at))
        if served is None:
            raise refuse(403, "forbidden", "service.report.not_prepared", name=who.name)
        view = audit_view(handle, audit_id)
        if view.fingerprint != info.get("fingerprint"):
            raise refuse(409, "conflict", "service.report.changed", audit_id=audit_id, fingerprint=view.fingerprint)
        digest = hashlib.sha256(raw).hexdigest()
        earlier = _reported(handle, audit_id, digest)
        if earlier is not None:
            raise refuse(409, "conflict", "service.report.duplicate", event=earlier)
        detail = {"pdf_sha256": digest, "kind": info.get("kind"), "lang": info.get("lang"),
                  "file": file or f"audit-{audit_id}-{info.get('kind')}-{info.get('lang')}-signed.pdf",
                  "report_id": info.get("report_id"), "fingerprint": info.get("fingerprint"),
                  "signed_by": {"name": facts["name"], "role": facts["role"], "fingerprint": facts["fingerprint"]},
                  "signed_at": _iso(sig.signed_at), "via": "service", "token_id": who.token_id,
                  "prepared_event": served}
        # the person's certificate stays with the chain, as for a sign-off made through the service
        chain.remember_certificate(handle, facts["fingerprint"], sig.cert_pem, facts["name"], facts["role"])
        api.add_event(handle, audit_id, "reported", detail, actor=facts["name"])
        event = _reported(handle, audit_id, digest)
    return {"audit_id": audit_id, "event": event, **{k: detail[k] for k in (
        "pdf_sha256", "kind", "lang", "file", "report_id", "fingerprint", "signed_by", "signed_at")}}


def _prepared(handle: Any, audit_id: str, raw: bytes, fingerprint: str, signed_at: str) -> int | None:
    """The `report.served` event of a PDF prepared for this signer, at this signing time, that the signed
    file extends byte for byte (a PAdES signature is an incremental update appended to it), or None."""
    for event_id, detail_json in handle.execute("SELECT id, detail_json FROM events WHERE audit_id = ? AND "
                                                "kind = 'report.served' ORDER BY id DESC", [audit_id]).fetchall():
        detail = json.loads(detail_json or "{}") or {}
        to_sign, size = detail.get("to_sign") or {}, detail.get("bytes")
        if (to_sign.get("fingerprint") == fingerprint and to_sign.get("at") == signed_at
                and isinstance(size, int) and 0 < size < len(raw)
                and hashlib.sha256(raw[:size]).hexdigest() == detail.get("pdf_sha256")):
            return int(event_id)
    return None


def _reported(handle: Any, audit_id: str, digest: str) -> int | None:
    """The `reported` event that records a PDF with this SHA-256, or None."""
    for event_id, detail_json in handle.execute("SELECT id, detail_json FROM events WHERE audit_id = ? AND "
                                                "kind = 'reported' ORDER BY id", [audit_id]).fetchall():
        if (json.loads(detail_json or "{}") or {}).get("pdf_sha256") == digest:
            return int(event_id)
    return None
