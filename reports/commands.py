"""Entry points the CLI hands `auditor report` and `auditor verify-report` to (imported lazily by auditor.cli)."""
from __future__ import annotations

import getpass
import hashlib
import os
from pathlib import Path
from typing import Any

from auditor.errors import BadInput

KINDS = ("board", "full")


def _meta(data: Any, t: dict[str, Any], kind: str) -> dict[str, str]:
    from reports.evidence import producer

    model = data.model
    title = t["board_title"] if kind == "board" else t["full_title"]
    return {"title": f"{title}: {model.get('name')} {model.get('version') or ''}".strip(),
            "author": (data.audit.get("meta") or {}).get("preparer") or "auditor",
            "subject": f"Audit {data.audit.get('audit_id')}, fingerprint {data.fingerprint}",
            "creator": producer()}


def _record(audit_id: str, detail: dict[str, Any], db: str | None) -> None:
    """The append-only 'reported' event with the PDF's own SHA-256."""
    try:
        actor = getpass.getuser()
    except Exception:  # no user name in some containers
        actor = "auditor"
    from auditor import api

    if hasattr(api, "record_event"):
        api.record_event(audit_id, "reported", detail, actor, db)
        return
    from auditor.store import open_db, records

    records.add_event(open_db(db), audit_id, "reported", detail, actor=actor)


def build_report(audit_id: str, out: Path, kind: str = "full", lang: str = "en", db: str | None = None) -> Path:
    """Write the PDF (board or full, en or ja), embed its evidence, record the event; returns the path."""
    from reports import board, evidence, full
    from reports import data as data_mod
    from reports.strings import text

    if kind not in KINDS:
        raise BadInput(f"--kind {kind}: choose board or full")
    t = text(lang)
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise BadInput(f"--out {out}: the file name must end in .pdf")
    if out.is_dir():
        raise BadInput(f"--out {out} is a folder; give a file name ending in .pdf")
    out.parent.mkdir(parents=True, exist_ok=True)
    data = data_mod.load(audit_id, db, lang)
    meta = _meta(data, t, kind)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        if kind == "board":
            board.build(data, t, tmp, meta)
        else:
            full.build(data, t, tmp, meta, db)
        evidence.embed(tmp, data.content, {"fingerprint": data.fingerprint, "audit_id": data.audit["audit_id"],
                                           "report_id": data.report_id, "kind": kind, "lang": lang}, meta)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    _record(data.audit["audit_id"], {"pdf_sha256": digest, "kind": kind, "lang": lang, "file": out.name,
                                     "report_id": data.report_id, "fingerprint": data.fingerprint}, db)
    return out


def page_count(pdf: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(pdf)).pages)


def cmd_report(args: Any) -> int:
    out = build_report(args.audit_id, Path(args.out), kind=getattr(args, "kind", None) or "full",
                       lang=getattr(args, "lang", None) or "en", db=getattr(args, "db", None))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    from reports.evidence import read

    info = read(out).info
    print(f"Report:      {out} ({info.get('kind')}, {info.get('lang')}, {page_count(out)} page(s))")
    print(f"Report ID:   {info.get('report_id')}")
    print(f"Fingerprint: {info.get('fingerprint')}")
    print(f"PDF SHA-256: {digest}")
    return 0


def cmd_verify_report(args: Any) -> int:
    from reports.verify import verify

    db = getattr(args, "db", None)
    if db and not Path(db).is_file():
        raise BadInput(f"--db {db}: no such database file")
    result = verify(Path(args.pdf), db)
    print("\n".join(result.lines))
    print("Result:    " + ("everything matches" if result.ok else "MISMATCH: do not rely on this report"))
    return result.exit_code


def write_demo_reports(audit_id: str, out_dir: Path, db: str | None) -> list[Path]:
    """Board and full reports in English and Japanese (what `auditor demo` writes)."""
    out_dir = Path(out_dir)
    return [build_report(audit_id, out_dir / f"report-{kind}-{lang}.pdf", kind=kind, lang=lang, db=db)
            for kind in KINDS for lang in ("en", "ja")]
