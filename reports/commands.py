"""Entry points the CLI hands `auditor report` and `auditor verify-report` to (imported lazily by auditor.cli)."""
from __future__ import annotations

import errno
import getpass
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import BadInput
from reports import signing
from reports.signature_block import SignatureBlock

if TYPE_CHECKING:
    from reports.data import ReportData

KINDS = ("board", "full")
# this module is the one door from the engine's CLI and service into reports (pyproject's import contract):
# what they need of the signing and evidence modules is named here
__all__ = ["KINDS", "SignatureBlock", "read_evidence", "signing"]


def read_evidence(pdf: Path) -> Any:
    """The evidence a report embeds (reports.evidence.read): its info and canonical content."""
    from reports.evidence import read

    return read(pdf)


def _meta(data: ReportData, t: dict[str, Any], kind: str) -> dict[str, str]:
    from reports.evidence import producer

    model = data.model
    title = t["board_title"] if kind == "board" else t["full_title"]
    return {"title": f"{title}: {model.name} {model.version or ''}".strip(),
            "author": data.view.meta.get("preparer") or "auditor",
            "subject": f"Audit {data.view.audit_id}, fingerprint {data.fingerprint}",
            "creator": producer()}


def _record(handle: Any, audit_id: str, detail: dict[str, Any], signer: Any = None) -> None:
    """The append-only 'reported' event with the PDF's own SHA-256, on the build's own handle; a signed
    report's event is signed by the report's signer (else by the machine key)."""
    from auditor import api

    try:
        actor = signer.name if signer is not None else getpass.getuser()
    except Exception:  # no user name in some containers
        actor = "auditor"
    api.add_event(handle, audit_id, "reported", detail, actor=actor, signer=signer)


# errors of the output place that the user can fix: permissions, read-only media, a full disk or quota
_PLACE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def _prepare_out(out: Path) -> None:
    """BadInput (exit 2) unless a PDF can be written at `out`; checked before any work is done."""
    if out.suffix.lower() != ".pdf":
        raise BadInput(f"--out {out}: the file name must end in .pdf")
    if out.is_dir():
        raise BadInput(f"--out {out} is a folder; give a file name ending in .pdf")
    blocker = next((p for p in (out.parent, *out.parent.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise BadInput(f"--out {out}: {blocker} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot create the folder {out.parent}: {exc.strerror or exc}") from None
    if not os.access(out.parent, os.W_OK):
        raise BadInput(f"--out {out}: the folder {out.parent} is not writable; choose another folder")


def build_report(audit_id: str, out: Path, kind: str = "full", lang: str = "en", db: str | None = None,
                 draft: bool = False, signer: Any = None) -> Path:
    """Write the PDF (board or full, en or ja), embed its evidence, sign it when `signer` (an identity's
    Signer) is given, record the event; returns the path.

    An audit that is not completed gets a report only as a draft (`draft=True`): every page is
    marked DRAFT, the metadata says so, and verify-report never accepts it as a final report.
    The database is opened once, writable (the report is recorded in the audit's history: a
    database that cannot take that is refused before any work), and the audit read once from it.
    """
    from auditor import api
    from reports import data as data_mod
    from reports.strings import text

    if kind not in KINDS:
        raise BadInput(f"--kind {kind}: choose board or full")
    if signer is not None and draft:
        from auditor.messages import Message, render

        raise BadInput(render(Message("signing.refused.draft"), "en"))
    t = text(lang)
    out = Path(out)
    _prepare_out(out)
    with api.session(db, write=True) as handle:
        data = data_mod.read(handle, audit_id, lang)
        status = data.view.status
        if status != "completed" and not draft:
            raise BadInput(f"audit {data.view.audit_id} is {status}, not completed; a report of it can only be "
                           "a draft: add --draft (every page is marked DRAFT and it never verifies as a final report)")
        data.draft = draft      # read by the page furniture (reports.layout), which marks every page
        if signer is not None:  # read by reports.signature_block on the decision page
            data.signature = signing.block_for(signer)
        _write(data, t, kind, out, signer)
        digest = hashlib.sha256(out.read_bytes()).hexdigest()
        try:
            _record(handle, data.view.audit_id, {
                "pdf_sha256": digest, "kind": kind, "lang": lang, "file": out.name, "report_id": data.report_id,
                "fingerprint": data.fingerprint, **({"draft": True} if draft else {}),
                **(_signed_detail(data.signature) if signer is not None else {})}, signer)
        except BaseException:
            out.unlink(missing_ok=True)   # a report not in the audit's history would never verify: none is left
            raise
    return out


def _signed_detail(block: Any) -> dict[str, Any]:
    return {"signed_by": {"name": block.name, "role": block.role, "fingerprint": block.fingerprint},
            "signed_at": block.at.isoformat().replace("+00:00", "Z")}


def _write(data: ReportData, t: dict[str, Any], kind: str, out: Path, signer: Any = None) -> None:
    """The PDF with its evidence and metadata (and, last, its signature), written beside `out` and moved
    into place whole."""
    from reports import board, evidence, full

    meta = _meta(data, t, kind)
    if data.draft:
        meta["title"] = f"{t['draft_mark']}: {meta['title']}"
    info = {"fingerprint": data.fingerprint, "audit_id": data.view.audit_id, "report_id": data.report_id,
            "kind": kind, "lang": data.lang, **({"draft": "true"} if data.draft else {})}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        (board if kind == "board" else full).build(data, t, tmp, meta)
        evidence.embed(tmp, data.evidence_json, info, meta)
        if signer is not None:   # last: the signature covers the pages, the evidence and the metadata
            signing.sign_pdf(tmp, signer, data.signature, _reason(data.report_id, data.view.audit_id,
                                                                  data.fingerprint, data.lang))
        os.replace(tmp, out)
    except OSError as exc:
        if exc.errno not in _PLACE_ERRORS:
            raise
        raise BadInput(f"--out {out}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _reason(report_id: str, audit_id: str, fingerprint: str, lang: str) -> str:
    """The PDF signature's /Reason: which report of which audit, with the evidence's short fingerprint."""
    from auditor.messages import Message, render

    return render(Message("signing.reason", {"report_id": report_id, "audit_id": audit_id,
                                             "fingerprint": fingerprint[:16]}), lang)


def render_to_sign(audit_id: str, out: Path, block: SignatureBlock, kind: str = "full", lang: str = "en",
                   db: str | None = None) -> dict[str, str]:
    """The report of a completed audit with `block` drawn on its decision page, NOT signed and not recorded:
    the audit service renders it for a signer whose key stays on their own computer (`sign_rendered` there,
    then the service records it). Fills in the block's page and box; returns the PDF's evidence info."""
    from auditor import api
    from reports import data as data_mod
    from reports.strings import text

    if kind not in KINDS:
        raise BadInput(f"--kind {kind}: choose board or full")
    out = Path(out)
    _prepare_out(out)
    with api.session(db) as handle:
        data = data_mod.read(handle, audit_id, lang)
        if data.view.status != "completed":
            raise BadInput(_en("service.report.not_completed", audit_id=data.view.audit_id, status=data.view.status))
        data.draft = False
        data.signature = block     # drawn by reports.signature_block, which records its page and box
        _write(data, text(lang), kind, out)
    return {"fingerprint": data.fingerprint, "audit_id": data.view.audit_id, "report_id": data.report_id,
            "kind": kind, "lang": lang}


def sign_rendered(pdf: Path, signer: Any, block: SignatureBlock) -> None:
    """Sign, in place, a report rendered by `render_to_sign` (on another machine): the same PAdES signature
    and /Reason a local `auditor report --sign` makes, the key never leaving `signer`."""
    from reports.evidence import read

    info = read(Path(pdf)).info
    signing.sign_pdf(Path(pdf), signer, block, _reason(str(info.get("report_id")), str(info.get("audit_id")),
                                                       str(info.get("fingerprint")), str(info.get("lang"))))


def _en(key: str, **params: Any) -> str:
    from auditor.messages import Message, render

    return render(Message(key, params), "en")


def page_count(pdf: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(pdf)).pages)


def cmd_report(args: Any) -> int:
    draft = bool(getattr(args, "draft", False))
    db = getattr(args, "db", None)
    signer = None
    if getattr(args, "sign", None):
        if draft:
            from auditor.messages import Message, render

            raise BadInput(render(Message("signing.refused.draft"), "en"))
        _prepare_out(Path(args.out))   # a bad --out is refused before the passphrase is asked
        signer = signing.load_signer(args.sign, db)
    out = build_report(args.audit_id, Path(args.out), kind=getattr(args, "kind", None) or "full",
                       lang=getattr(args, "lang", None) or "en", db=db, draft=draft, signer=signer)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    from reports.evidence import read

    info = read(out).info
    print(f"Report:      {out} ({info.get('kind')}, {info.get('lang')}, {page_count(out)} page(s))")
    print(f"Report ID:   {info.get('report_id')}")
    print(f"Fingerprint: {info.get('fingerprint')}")
    print(f"PDF SHA-256: {digest}")
    if draft:
        print("Draft:       every page is marked DRAFT; `auditor verify-report` never accepts it as a final report")
    if signer is not None:
        from auditor.messages import Message, render

        sig = signing.read_signatures(out.read_bytes())[-1]
        at = sig.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if sig.signed_at else "?"
        print(render(Message("signing.printed", {"name": signer.name, "role": signer.role, "at": at,
                                                 "fingerprint": signer.fingerprint}), "en"))
    return 0


def cmd_verify_report(args: Any) -> int:
    from reports.verify import verify

    db = getattr(args, "db", None)
    if db and not Path(db).is_file():
        raise BadInput(f"--db {db}: no such database file")
    result = verify(Path(args.pdf), db)
    print("\n".join(result.lines))
    if result.draft:
        print("Result:    NOT A FINAL REPORT: a draft, or a report of an audit that did not complete, never "
              "verifies; do not rely on it as the audit's report")
    else:
        print("Result:    " + ("everything matches" if result.ok else "MISMATCH: do not rely on this report"))
    return result.exit_code


def write_demo_reports(audit_id: str, out_dir: Path, db: str | None) -> list[Path]:
    """Board and full reports in English and Japanese (what `auditor demo` writes)."""
    out_dir = Path(out_dir)
    return [build_report(audit_id, out_dir / f"report-{kind}-{lang}.pdf", kind=kind, lang=lang, db=db)
            for kind in KINDS for lang in ("en", "ja")]
