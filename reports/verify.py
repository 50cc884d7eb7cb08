"""`auditor verify-report`: does the PDF's embedded evidence match its printed fingerprint, and the database?"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from auditor.errors import BadInput
from reports import evidence, signing


@dataclass
class Verification:
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    draft: bool = False     # a draft (or a report of an audit that never completed) is never a final report
    signer: dict | None = None   # the PDF signature's certificate facts, when the report is signed

    def note(self, tag: str, text: str) -> None:
        self.lines.append(f"{tag:<10}{text}")

    def check(self, passed: bool, good: str, bad: str) -> None:
        self.lines.append(("OK        " if passed else "MISMATCH  ") + (good if passed else bad))
        self.ok = self.ok and passed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _compact(text: str) -> str:
    return "".join(text.split())


def verify(pdf: Path, db: str | None = None) -> Verification:
    """Without a database: the PDF signature (if any) and the evidence against the printed fingerprint. With
    one: the stored rows, the report's event and the audit's signed record too."""
    pdf = Path(pdf)
    result = Verification()
    raw = pdf.read_bytes() if pdf.is_file() else b""
    signatures = _signatures(result, raw)
    try:
        ev = evidence.read(pdf)
    except BadInput:
        if signatures is None or (signatures and not all(s.intact for s in signatures)):
            # a signed file damaged past reading: the signature's verdict is the answer, not "bad input"
            result.check(False, "", _en("verify_report.unreadable_report"))
            return result
        raise
    fp = ev.info["fingerprint"]
    result.lines.append(f"Report    {ev.info.get('report_id', '?')} ({ev.info.get('kind', '?')}, "
                        f"{ev.info.get('lang', '?')}) for audit {ev.info.get('audit_id', '?')}")
    digest = hashlib.sha256(ev.attachment).hexdigest()
    result.check(digest == fp, f"embedded evidence hashes to the fingerprint {fp[:16]}…",
                 f"embedded evidence hashes to {digest[:16]}…, the PDF states {fp[:16]}…")
    text = [_compact(t) for t in ev.pages_text]
    result.check(any(fp in t for t in text), "the full fingerprint is printed in the report",
                 "the full fingerprint in the metadata is not printed in the report")
    short_ok = all(fp[:16] in t for t in text)
    result.check(short_ok, f"every page ({len(text)}) carries the short fingerprint {fp[:16]}",
                 "some pages do not carry the short fingerprint")
    marked = ev.info.get("draft") == "true" or any(m in t for t in text for m in _draft_markers())
    result.check(not marked, "the report is not marked DRAFT",
                 "the report is marked DRAFT: a draft is never verified as a final report")
    evaluated = _has_evaluation(ev.attachment)
    result.check(evaluated, "the embedded evidence holds the audit's evaluation",
                 "the embedded evidence holds no evaluation: the audit did not complete, so this is not a final report")
    result.draft = marked or not evaluated
    if signatures:
        _check_signature(result, signatures, ev)
    elif signatures == []:
        result.note("NOTE", _en("verify_report.not_signed"))
    if db is None:
        result.lines.append("(no database given: the stored rows were not compared)")
        return result
    audit_id = ev.info.get("audit_id")
    if not audit_id:
        raise BadInput(f"{Path(pdf).name} does not name its audit")
    _compare_with_database(result, ev, audit_id, db)
    return result


def _compare_with_database(result: Verification, ev: evidence.PdfEvidence, audit_id: str, db: str) -> None:
    """The stored rows, the recorded fingerprint and the audit's history against the PDF, on one read-only handle."""
    from auditor import api

    fp = ev.info["fingerprint"]
    with api.session(db) as handle:
        # the evaluation the report was made from: a later re-evaluation adds rows, it changes none
        stored = api.read_stored(handle, audit_id, _evaluation_of(ev.attachment))
    view = stored.view
    result.check(view.status == "completed", "the audit is completed in the database",
                 f"the audit is {view.status} in the database, not completed: this is not a final report")
    result.draft = result.draft or view.status != "completed"
    now = stored.fingerprint
    latest = view.evaluations[-1] if view.evaluations else None
    if latest is not None and latest.id != view.evaluation_id:
        result.lines.append(f"NOTE      the audit has a newer evaluation ({latest.id}, verdict {latest.verdict}) "
                            f"than the one this report shows ({view.evaluation_id})")
    result.check(now == fp, "the stored rows still hash to the printed fingerprint",
                 f"the stored rows changed since the report was made (they now hash to {now[:16]}…)")
    if view.fingerprint:
        result.check(view.fingerprint == now, "the fingerprint recorded with the audit matches its rows",
                     f"the fingerprint recorded with the audit ({view.fingerprint[:16]}…) does not match its rows")
    reported = {e.detail.get("pdf_sha256"): e for e in view.events if e.kind == "reported"}
    result.check(ev.sha256 in reported,
                 f"this file (SHA-256 {ev.sha256[:16]}…) is recorded in the audit's history",
                 f"this file's SHA-256 ({ev.sha256[:16]}…) is not recorded in the audit's history: it was changed "
                 "after it was made, or made from another database")
    if result.signer is not None:
        event = reported.get(ev.sha256)
        recorded = ((event.detail.get("signed_by") or {}).get("fingerprint") if event is not None else None)
        fpr = result.signer["fingerprint"]
        result.check(recorded == fpr, _en("verify_report.event_signer"),
                     _en("verify_report.event_signer_differs", fingerprint=fpr[:16] + "…"))
    _check_record(result, audit_id, db)


def _check_record(result: Verification, audit_id: str, db: str) -> None:
    """The audit's signed chain, signatures and fingerprints, as `auditor verify AUDIT_ID` checks them."""
    from auditor import api

    # an audit recorded before signing existed is a note, as for a report made then: it keeps verifying
    record = api.verify_audit(audit_id, db, allow_unsigned=True)
    first = record.problems[0] if record.problems else None
    for note in record.notes:
        result.note("NOTE", _en("verify_report.record_note", text=note))
    result.check(record.ok, _en("verify_report.record_ok"),
                 _en("verify_report.record_broken", problem=first, audit_id=audit_id))


def _en(key: str, **params: object) -> str:
    from auditor.messages import Message, render

    return render(Message(key, params), "en")


def _signatures(result: Verification, raw: bytes) -> list[signing.PdfSignature] | None:
    """The file's PDF signatures ([] when unsigned); None, with a MISMATCH line, when a file that carries a
    signature cannot be parsed far enough to check it."""
    if not raw.startswith(b"%PDF"):
        return []      # evidence.read says what is wrong with it
    try:
        return signing.read_signatures(raw)
    except BadInput as exc:
        if b"/ByteRange" not in raw:
            return []
        result.check(False, "", str(exc))
        return None


def _check_signature(result: Verification, signatures: list[signing.PdfSignature], ev: evidence.PdfEvidence) -> None:
    """Intact, covering the whole file, by whom, when, with which certificate, and shown on the page."""
    from auditor.identity import certificate_facts, issued_by

    sig = signatures[-1]
    broken = next((s for s in signatures if not s.intact), None)
    result.check(broken is None and sig.whole_file, _en("verify_report.intact"),
                 _en("verify_report.broken") if broken is not None else
                 _en("verify_report.partial", coverage=sig.coverage))
    facts = certificate_facts(sig.cert_pem)
    result.signer = facts
    at = sig.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if sig.signed_at else None
    result.note("SIGNED", _en("verify_report.signed_by", name=facts["name"], role=facts["role"], at=at,
                              fingerprint=facts["fingerprint"]))
    stamp = sig.signed_at.isoformat(timespec="seconds").replace("+00:00", "Z") if sig.signed_at else ""
    window = {"not_before": facts["not_before"], "not_after": facts["not_after"]}
    result.check(bool(stamp) and facts["not_before"] <= stamp <= facts["not_after"],
                 _en("verify_report.cert_valid", **window), _en("verify_report.cert_invalid", **window))
    if facts["self_signed"]:
        result.note("NOTE", _en("verify_report.self_signed"))
    else:
        issuer = next((c for c in sig.chain_pems[1:] if issued_by(sig.cert_pem, c, at=sig.signed_at)), None)
        result.check(issuer is not None, _en("verify_report.issued", issuer=facts["issuer"]),
                     _en("verify_report.issuer_missing", issuer=facts["issuer"]))
    text = [_compact(t) for t in ev.pages_text]
    result.check(any(facts["fingerprint"] in t for t in text), _en("verify_report.block_ok"),
                 _en("verify_report.block_missing", fingerprint=facts["fingerprint"][:16] + "…"))


def _draft_markers() -> list[str]:
    """The DRAFT line every page of a draft carries, as extracted text compares (both languages)."""
    from reports.strings import text

    return [_compact(text(lang)["draft_line"].split("{")[0]) for lang in ("en", "ja")]


def _has_evaluation(attachment: bytes) -> bool:
    import json

    try:
        return bool(json.loads(attachment.decode("utf-8")).get("evaluation"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


def _evaluation_of(attachment: bytes) -> int | None:
    import json

    try:
        evaluation = json.loads(attachment.decode("utf-8")).get("evaluation") or {}
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    value = evaluation.get("id")
    return value if isinstance(value, int) else None
