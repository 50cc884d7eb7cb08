"""Signer: one identity's certificate facts and the power to sign with its key, the key itself hidden.

The store, the reports and the GUI receive a Signer and call `sign(bytes)`; none of them sees the
private key, `repr`/`str` never show it, and it cannot be pickled (so not sent to a worker process).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from auditor.identity import certs
from auditor.identity.errors import IdentityError


@dataclass(frozen=True)
class Signer:
    """An identity that can sign: name, role (preparer|reviewer|approver|admin|machine), org, the
    certificate (PEM) and its fingerprint (hex SHA-256 of the DER), and whether it is the machine key."""

    name: str
    role: str
    org: str | None
    fingerprint: str
    cert_pem: str = field(repr=False)
    machine: bool
    _key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)
    issuer_pem: str | None = field(default=None, repr=False)    # the organisation CA's certificate, if any

    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 over SHA-256 of `data`; the DER-encoded signature."""
        return self._key.sign(bytes(data), ec.ECDSA(hashes.SHA256()))

    def __reduce__(self) -> Any:
        # a Signer never travels to another process or a file: the key would travel with it
        raise TypeError("a Signer cannot be pickled or copied out of its process")


def signer_for(key: Any, cert_pem: str, *, machine: bool = False, what: str = "the identity",
               issuer_pem: str | None = None) -> Signer:
    """A Signer from a private key and its certificate (checked to belong together and valid now)."""
    cert = certs.load_certificate(cert_pem, what)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise IdentityError("identity.not_a_key", what=what)
    if key.public_key() != cert.public_key():
        raise IdentityError("identity.key_mismatch", what=what)
    certs.require_valid_now(cert, what)
    facts = certs.certificate_facts(cert_pem)
    return Signer(name=facts["name"] or "", role="machine" if machine else (facts["role"] or ""), org=facts["org"],
                  fingerprint=facts["fingerprint"], cert_pem=cert_pem, machine=machine, _key=key,
                  issuer_pem=issuer_pem)
