"""Identities: who signs. ECDSA P-256 keys and X.509 certificates for people in a role, a machine key
for the installation, and the checks a verifier needs (a signature, a certificate's facts, a CA).

Imports no store, checks, reports or GUI module: the store receives a Signer (duck-typed) and
calls `sign(bytes)`. Files live in $AUDITOR_IDENTITY_DIR or <user data folder>/identities.
Refusals are IdentityError, a BadInput (exit 2, one line) carrying a catalogue Message.
"""
from __future__ import annotations

from auditor.identity.certs import PERSON_ROLES, ROLES, certificate_facts, issued_by, verify_signature
from auditor.identity.errors import IdentityError
from auditor.identity.folder import identity_dir
from auditor.identity.keystore import create_identity, identity_cert, list_identities, load_identity
from auditor.identity.machine import machine_signer
from auditor.identity.signer import Signer

__all__ = ["PERSON_ROLES", "ROLES", "IdentityError", "Signer", "certificate_facts", "create_identity",
           "identity_cert", "identity_dir", "issued_by", "list_identities", "load_identity", "machine_signer",
           "verify_signature"]
