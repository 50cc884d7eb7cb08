"""`auditor --server URL sign`: a sign-off statement signed on this computer with the identity's own key.

The service's policy (auditor.service.statements, docs/ARCHITECTURE.md): the server holds no one's key;
the client signs the canonical JSON of {audit_id, fingerprint, role, decision, comment, at} with the
identity's key and sends it with the certificate; the server checks it against the token's identity
and applies the duties rules. The fingerprint signed is the audit's current evaluation's, read from the
service just before signing, so a sign-off can never be of figures the signer has not been shown.
"""
from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from auditor.client_http import Service
from auditor.errors import BadInput


def signed_statement(service: Service, args: argparse.Namespace) -> dict[str, Any]:
    """The POST /v1/audits/{id}/signoffs body; the identity is unlocked (its passphrase asked) first, as a
    local `auditor sign --identity` does, and checked against --name and --role before anything is sent."""
    from auditor.identity import load_identity

    signer = load_identity(args.identity)
    if signer.machine:
        raise BadInput("the machine key signs nobody's sign-off; name a person's identity with --identity")
    if " ".join(str(args.name).split()) != signer.name:
        raise BadInput(f"--name {args.name!r} is not the name of identity {signer.name!r}; sign under your own name")
    return signed_for(service, signer, args.audit_id, args.role, args.decision)


def signed_for(service: Service, signer: Any, audit_id: str, role: str, decision: str | None) -> dict[str, Any]:
    """The signed body for an unlocked identity (`signer`): the desktop client's service mode calls this
    after its own passphrase dialog; the fingerprint is the audit's as the service shows it now."""
    from auditor.service.statements import make_statement, signed_request

    if signer.role != role:
        raise BadInput(f"identity {signer.name} is a {signer.role}; it cannot sign as {role}")
    audit = service.get("/v1/audits/" + quote(audit_id, safe=""))
    if audit.get("status") != "completed":
        raise BadInput(f"audit {audit['audit_id']} is {audit.get('status')}; only a completed audit can be signed")
    statement = make_statement(audit["audit_id"], audit["fingerprint"], role, decision)
    return signed_request(signer, statement)
