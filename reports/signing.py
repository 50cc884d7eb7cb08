"""PAdES signatures on reports (`auditor report --sign IDENTITY`) and what a verifier reads back from them.

Signing happens last, after the evidence and metadata are embedded: pyHanko appends an incremental
update with a PAdES baseline B-B signature (ETSI.CAdES.detached, signing-certificate-v2, the signer's
certificate and its organisation CA's embedded) whose byte range covers the whole file but the
signature itself. The private key never leaves the identity's Signer (auditor.identity.pades). Nothing
is fetched: there is no timestamp authority, OCSP or CRL (the app never opens a connection).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from auditor.errors import BadInput
from auditor.messages import Message, render
from reports.signature_block import SignatureBlock

FIELD = "AuditorSignature"


def load_signer(name: str, db: str | None) -> Any:
    """The identity to sign with, its passphrase asked now (before any work); a revoked one is refused."""
    from auditor import api
    from auditor.identity import load_identity

    signer = load_identity(name)
    if signer.machine:
        raise BadInput(render(Message("signing.refused.machine"), "en"))
    try:
        revoked = api.revoked_identities(db)
    except BadInput:
        revoked = {}      # no database yet: the report command says so in its own words
    if signer.fingerprint in revoked:
        raise BadInput(render(Message("signing.refused.revoked", {"name": name, "event": revoked[signer.fingerprint]}),
                              "en"))
    return signer


def block_for(signer: Any) -> SignatureBlock:
    """The visible block's content; its time (to the second) is the signature's own signing time."""
    return SignatureBlock(name=signer.name, role=signer.role, org=signer.org, fingerprint=signer.fingerprint,
                          at=datetime.now(timezone.utc).replace(microsecond=0))


def _frame_style() -> Any:
    """A widget appearance that is only a thin frame: the block's text is in the page itself (drawn with the
    report's embedded fonts), so the appearance needs no font, and pdffonts finds no unembedded one."""
    from pyhanko.stamp.base import BaseStamp, BaseStampStyle

    class _Frame(BaseStamp):
        def _render_inner_content(self) -> list:
            return []

    class _FrameStyle(BaseStampStyle):
        def create_stamp(self, writer: Any, box: Any, text_params: dict) -> BaseStamp:
            return _Frame(writer, self, box)

    return _FrameStyle(border_width=1, background=None)


def sign_pdf(pdf: Path, signer: Any, block: SignatureBlock, reason: str) -> None:
    """Sign `pdf` in place (atomically) with a visible PAdES signature over the block's rectangle."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from auditor.identity.pades import pdf_signer

    if block.page is None or block.box is None:
        raise RuntimeError("the signature block was not drawn on the decision page")
    at = block.at

    class _AtBlockTime(signers.PdfSigner):
        # the time printed in the block is the signature's signing time (/M), to the second
        def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
            session = super().init_signing_session(pdf_out, existing_fields_only)
            session.system_time = at
            return session

    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha256", reason=reason,
                                        name=block.name, subfilter=fields.SigSeedSubFilter.PADES)
    spec = fields.SigFieldSpec(sig_field_name=FIELD, on_page=block.page, box=block.box)
    tmp = pdf.with_name(pdf.name + ".signing")
    try:
        with open(pdf, "rb") as source, open(tmp, "wb") as out:
            writer = IncrementalPdfFileWriter(source, strict=False)
            _AtBlockTime(meta, signer=pdf_signer(signer), stamp_style=_frame_style(),
                         new_field_spec=spec).sign_pdf(writer, output=out)
        os.replace(tmp, pdf)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class PdfSignature:
    """What a report's PDF signature says, checked by pyHanko offline."""

    intact: bool              # the digest over the signed byte range matches and the CMS signature verifies
    whole_file: bool          # the byte range covers the whole file but the signature's own /Contents
    coverage: str
    cert_pem: str
    chain_pems: list[str]     # every certificate embedded with the signature (the signer's first)
    signed_at: datetime | None


def read_signatures(raw: bytes) -> list[PdfSignature]:
    """Every PDF signature in the file, validated; [] when there is none. BadInput when the file cannot
    be parsed far enough to find them (then nothing about a signature can be said)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        found = PdfFileReader(io.BytesIO(raw), strict=False).embedded_signatures
    except Exception as exc:  # noqa: BLE001 - any parse failure: the signature cannot be checked
        raise BadInput(render(Message("verify_report.unreadable", {"detail": _one_line(exc)}), "en")) from None
    return [_validate(sig) for sig in found]


def _validate(sig: Any) -> PdfSignature:
    from asn1crypto import pem
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko_certvalidator import ValidationContext

    def to_pem(cert: Any) -> str:
        return pem.armor("CERTIFICATE", cert.dump()).decode("ascii")

    cert = sig.signer_cert
    others = [c for c in sig.other_embedded_certs if c.sha256 != cert.sha256]
    # trusting what the file carries makes this a check of integrity, not of trust; who the signer is
    # is judged from the certificate's facts (self-signed or by which CA) and the audit's history
    roots = [c for c in [cert, *others] if c.self_signed]
    context = ValidationContext(trust_roots=roots or [cert], allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(sig, context)
        intact, coverage = bool(status.intact and status.valid), status.coverage
    except (SignatureValidationError, ValueError, KeyError) as exc:
        intact, coverage = False, _one_line(exc)
    whole = coverage == SignatureCoverageLevel.ENTIRE_FILE
    signed_at = sig.self_reported_timestamp
    return PdfSignature(intact=intact, whole_file=whole, coverage=getattr(coverage, "name", str(coverage)).lower(),
                        cert_pem=to_pem(cert), chain_pems=[to_pem(c) for c in [cert, *others]],
                        signed_at=signed_at.astimezone(timezone.utc) if signed_at else None)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
