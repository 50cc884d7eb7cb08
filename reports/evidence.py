"""The evidence inside each PDF: the canonical audit JSON as an embedded file, plus PDF metadata."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from auditor.errors import BadInput

ATTACHMENT = "audit-evidence.json"
KEYS = {"fingerprint": "/AuditorFingerprint", "audit_id": "/AuditorAuditId", "report_id": "/AuditorReportId",
        "kind": "/AuditorReportKind", "lang": "/AuditorReportLang", "draft": "/AuditorDraft"}


def producer() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import pypdf
    import reportlab

    try:
        tool = version("transformer-auditor")
    except PackageNotFoundError:
        tool = "?"
    return f"transformer-auditor {tool} (reportlab {reportlab.Version}, pypdf {pypdf.__version__})"


def pdf_date(when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    return when.strftime("D:%Y%m%d%H%M%S+00'00'")


def embed(pdf: Path, evidence_json: bytes, info: dict[str, str], meta: dict[str, str]) -> None:
    """Attach the audit's canonical JSON (api.StoredAudit.evidence_json, the bytes its fingerprint hashes)
    and write metadata, replacing the file in place (atomically)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(str(pdf)))
    writer.add_attachment(ATTACHMENT, evidence_json)
    writer.add_metadata({"/Title": meta["title"], "/Author": meta["author"], "/Subject": meta["subject"],
                         "/Creator": meta["creator"], "/Producer": producer(), "/CreationDate": pdf_date(),
                         **{KEYS[k]: v for k, v in info.items() if k in KEYS}})
    tmp = pdf.with_name(pdf.name + ".tmp")
    with open(tmp, "wb") as handle:
        writer.write(handle)
    os.replace(tmp, pdf)


@dataclass
class PdfEvidence:
    attachment: bytes
    info: dict[str, str]
    pages_text: list[str]
    sha256: str


def read(pdf: Path) -> PdfEvidence:
    """The embedded evidence, our metadata keys and each page's text; BadInput if this is not our PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not pdf.is_file():
        raise BadInput(f"{pdf}: no such file")
    raw = pdf.read_bytes()
    if not raw.startswith(b"%PDF"):
        raise BadInput(f"{pdf.name} is not a PDF file")
    try:
        reader = PdfReader(str(pdf))
        attachments = reader.attachments
        metadata = reader.metadata or {}
        texts = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise BadInput(f"{pdf.name} cannot be read as a PDF: {exc}") from None
    if ATTACHMENT not in attachments:
        raise BadInput(f"{pdf.name} carries no embedded audit evidence ({ATTACHMENT}); was it made by `auditor report`?")
    info = {k: str(metadata.get(v)) for k, v in KEYS.items() if metadata.get(v) is not None}
    if "fingerprint" not in info:
        raise BadInput(f"{pdf.name} carries no audit fingerprint in its metadata")
    return PdfEvidence(attachments[ATTACHMENT][0], info, texts, hashlib.sha256(raw).hexdigest())
