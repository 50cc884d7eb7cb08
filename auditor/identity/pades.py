"""A pyHanko signer backed by an identity's Signer, so a PDF is signed (PAdES) without the private key
ever leaving the Signer: pyHanko builds the CMS structure and asks `Signer.sign` for the raw ECDSA
signature. The signer's certificate (and its organisation CA's, if any) travels in the PDF."""
from __future__ import annotations

from typing import Any

from asn1crypto import algos, pem, x509
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from auditor.identity.signer import Signer

DER_SIGNATURE_MAX = 72       # an ECDSA P-256 signature in DER is at most 72 bytes


def _asn1_cert(cert_pem: str) -> x509.Certificate:
    _, _, der = pem.unarmor(cert_pem.encode("ascii"))
    return x509.Certificate.load(der)


class IdentityPdfSigner(signers.Signer):
    """pyHanko's Signer for one of our identities (ECDSA with SHA-256 only)."""

    def __init__(self, signer: Signer) -> None:
        cert = _asn1_cert(signer.cert_pem)
        chain = [cert] + ([_asn1_cert(signer.issuer_pem)] if signer.issuer_pem else [])
        super().__init__(signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs(chain),
                         signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}))
        self._identity = signer

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm != "sha256":
            raise ValueError(f"identities sign with sha256, not {digest_algorithm}")
        if dry_run:
            return bytes(DER_SIGNATURE_MAX)
        return self._identity.sign(data)


def pdf_signer(signer: Signer) -> Any:
    """The pyHanko Signer to pass to pyhanko.sign.signers.PdfSigner / sign_pdf."""
    return IdentityPdfSigner(signer)
