"""`auditor verify-report`: does the PDF's embedded evidence match its printed fingerprint, and the database?"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from reports import evidence


@dataclass
class Verification:
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    draft: bool = False     # a draft (or a report of an audit that never completed) is never a final report

    def check(self, passed: bool, good: str, bad: str) -> None:
        self.lines.append(("OK        " if passed else "MISMATCH  ") + (good if passed else bad))
        self.ok = self.ok and passed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _compact(text: str) -> str:
    return "".join(text.split())


def verify(pdf: Path, db: str | None = None) -> Verification:
    """Without a database: the evidence hashes to the printed fingerprint. With one: the rows still match too."""
    ev = evidence.read(Path(pdf))
    fp = ev.info["fingerprint"]
    result = Verification()
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
    if db is None:
        result.lines.append("(no database given: the stored rows were not compared)")
        return result
    audit_id = ev.info.get("audit_id")
    if not audit_id:
        from auditor.errors import BadInput

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
    reported = {e.detail.get("pdf_sha256") for e in view.events if e.kind == "reported"}
    result.check(ev.sha256 in reported,
                 f"this file (SHA-256 {ev.sha256[:16]}…) is recorded in the audit's history",
                 f"this file's SHA-256 ({ev.sha256[:16]}…) is not recorded in the audit's history: it was changed "
                 "after it was made, or made from another database")


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
