"""Each audit's evidence state (issue 16): verified, broken with the first problem, or not signed.

The state is api.verify_audit's answer, in the GUI's words (templates/sentences/verify_gui.yaml) with the
problems rendered from the catalogue (verify.problem.*), so the GUI says what `auditor verify AUDIT_ID
--allow-unsigned` says. An audit recorded before signing existed is its own state ("not signed"), not
a problem. Verifying walks the whole chain, so it runs on a pool thread, and its answer is kept per
database file and audit until the file changes (its and its WAL's size and modification time).
"""
from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QTableWidgetItem
from shiboken6 import isValid

from auditor import api
from auditor.messages import Message, render, text
from auditor.presentation import presentation
from gui.strings import tr
from gui.worker import in_background

VERIFIED, BROKEN, UNSIGNED, CHECKING, ERROR = "verified", "broken", "unsigned", "checking", "error"
# a symbol beside each word, so the state never rests on colour alone
SYMBOLS = {VERIFIED: "✓", BROKEN: "✗", UNSIGNED: "–", CHECKING: "…", ERROR: "?"}
COLOURS = {VERIFIED: "#2e7d32", BROKEN: "#c62828", UNSIGNED: "#6b5d3f", CHECKING: "#757575", ERROR: "#6a1b9a"}
UNSIGNED_KEYS = ("verify.problem.unsigned_audit", "verify.problem.predates")
MORE_SHOWN = 5      # further problems listed in a tooltip; `auditor verify` lists them all


@dataclass(frozen=True)
class Evidence:
    """One audit's state, its problems first one first, notes (e.g. an untrusted signer), and who signed its
    results (name, role), as verify_audit and the audit's signed events say."""

    state: str
    problems: tuple[Message, ...] = ()
    notes: tuple[Message, ...] = ()
    signer: tuple[str, str] | None = None
    detail: str = ""            # why it could not be checked (an exception's own words)

    def word(self, lang: str) -> str:
        """The short form for a table cell: symbol and word, e.g. '✗ Broken'."""
        return f"{SYMBOLS[self.state]} {text(f'verify_gui.word.{self.state}', lang)}"

    def line(self, lang: str) -> str:
        """The sentence: 'Verified: signed record intact (signed by NAME, role)', 'Broken: <first problem>'."""
        if self.state == VERIFIED and self.signer:
            name, role = self.signer
            role_word = render(Message(f"duties.role.{role}"), lang, default=role)
            return text("verify_gui.line.verified", lang, name=name, role=role_word)
        if self.state == VERIFIED:
            return text("verify_gui.line.verified_plain", lang)
        if self.state == BROKEN:
            first, more = self.problems[0], len(self.problems) - 1
            key = "verify_gui.line.broken_more" if more else "verify_gui.line.broken"
            return render(Message(key, {"problem": worded(first, lang), "more": more}), lang)
        if self.state == ERROR:
            return text("verify_gui.line.error", lang, detail=self.detail)
        return text(f"verify_gui.line.{self.state}", lang)

    def description(self, lang: str) -> str:
        """The line, then the further problems and the notes, one per line (tooltips, screen readers)."""
        lines = [self.line(lang)]
        lines += [render(worded(p, lang), lang) for p in self.problems[1:1 + MORE_SHOWN]]
        lines += [render(Message("verify.note", {"text": n}), lang) for n in self.notes
                  if n.key not in UNSIGNED_KEYS]
        return "\n".join(lines)


def worded(problem: Message, lang: str) -> Message:
    """A problem naming a check by its id names it by its title too, as the findings page lists it."""
    check_id = problem.params.get("check")
    if not isinstance(check_id, str):
        return problem
    title = presentation(check_id).title_in(lang)
    if title == check_id:
        return problem
    left, right = ("「", f"」（{check_id}）") if lang == "ja" else ("", f" ({check_id})")
    return Message(problem.key, {**problem.params, "check": f"{left}{title}{right}"})


def _named(lang: str) -> str:
    """'Evidence: ' as a screen reader's name starts."""
    return tr("col.evidence", lang) + ("：" if lang == "ja" else ": ")


PENDING = Evidence(CHECKING)
_cache: dict[tuple[str, str], tuple[tuple[Any, ...], Evidence]] = {}


def _stamp(db: str | None) -> tuple[Any, ...]:
    """The database file's state: a change to any stored row changes it (the file or its WAL)."""
    path = api.db_path(db)
    out: list[Any] = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st = p.stat()
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


def _key(db: str | None, audit_id: str) -> tuple[str, str]:
    return str(api.db_path(db)), audit_id


def cached(db: str | None, audit_id: str) -> Evidence | None:
    """The state last computed for this audit while the file was as it is now; None: check it again."""
    hit = _cache.get(_key(db, audit_id))
    return hit[1] if hit and hit[0] == _stamp(db) else None


def forget() -> None:
    _cache.clear()


def check(db: str | None, audit_ids: Iterable[str]) -> dict[str, Evidence]:
    """Each audit's state (blocking: call it off the UI thread). One audit: verify_audit(audit_id); several:
    one verify_audit(None) (one walk of the chain) shared out, a problem naming an audit going to that audit
    and a problem of the chain or a certificate to every audit, as `auditor verify AUDIT_ID` reports it."""
    ids = list(audit_ids)
    whole = api.verify_audit(ids[0] if len(ids) == 1 else None, db, allow_unsigned=True) if ids else None
    out: dict[str, Evidence] = {}
    for audit_id in ids:
        try:
            out[audit_id] = _evidence(db, audit_id, whole)
        except Exception as exc:  # one unreadable audit is shown as not checked, never a crash of the page
            out[audit_id] = Evidence(ERROR, detail=str(exc) or type(exc).__name__)
    return out


def _evidence(db: str | None, audit_id: str, whole: Any) -> Evidence:
    def mine(m: Message) -> bool:
        return "audit" not in m.params or m.params["audit"] == audit_id

    problems = tuple(m for m in whole.problems if mine(m))
    notes = tuple(m for m in whole.notes if mine(m))
    if (problems and all(p.key in UNSIGNED_KEYS for p in problems)) or \
            (not problems and any(n.key in UNSIGNED_KEYS for n in notes)):
        return Evidence(UNSIGNED, notes=notes)
    if problems:
        return Evidence(BROKEN, problems, notes)
    return Evidence(VERIFIED, notes=notes, signer=_signer(db, audit_id, whole.checked.get("signers") or []))


def _signer(db: str | None, audit_id: str, signers: list[dict[str, Any]]) -> tuple[str, str] | None:
    """Who signed the audit's results: the signer of its `completed` event (else of its first event)."""
    events = api.audit_view(audit_id, db).events
    signed = [e for e in events if e.kind == "completed" and e.signer] or [e for e in events if e.signer][:1]
    if not signed:
        return None
    known = {s["fingerprint"]: s for s in signers}
    entry = known.get(signed[-1].signer or "")
    return (str(entry["name"]), str(entry["role"])) if entry else None


def check_later(db: str | None, audit_ids: Iterable[str], done: Callable[[], None], owner: QObject) -> None:
    """check() on a pool thread; its answers are cached (on the UI thread, under the file's state after the
    check, so a reader's own open and close never makes it check again), then done() is called, unless the
    widget that asked (`owner`) was deleted meanwhile (a window closed while a check ran)."""
    ids = list(audit_ids)

    def tell() -> None:
        if isValid(owner):
            done()

    def work() -> tuple[tuple[Any, ...], dict[str, Evidence]]:
        found = check(db, ids)
        return _stamp(db), found

    def store(result: tuple[tuple[Any, ...], dict[str, Evidence]]) -> None:
        stamp, found = result
        for audit_id, evidence in found.items():
            _cache[_key(db, audit_id)] = (stamp, evidence)
        tell()

    def failed(message: str) -> None:
        for audit_id in ids:
            _cache[_key(db, audit_id)] = (_stamp(db), Evidence(ERROR, detail=message))
        tell()

    in_background(work, store, failed)


def table_item(evidence: Evidence, lang: str, audit_id: str) -> QTableWidgetItem:
    """A library cell: symbol and word, the full sentence as its tooltip and for screen readers."""
    item = QTableWidgetItem(evidence.word(lang))
    description = evidence.description(lang)
    item.setToolTip(description)
    item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{_named(lang)}{evidence.line(lang)}")
    item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, description)
    item.setData(Qt.ItemDataRole.UserRole, audit_id)
    item.setData(Qt.ItemDataRole.UserRole + 1, evidence.state)
    item.setForeground(QColor(COLOURS[evidence.state]))
    return item


class EvidenceLabel(QLabel):
    """The findings page's line: symbol and sentence, selectable, named and described for screen readers."""

    def __init__(self) -> None:
        super().__init__(wordWrap=True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.evidence: Evidence | None = None

    def set_evidence(self, evidence: Evidence | None, lang: str) -> None:
        self.evidence = evidence
        self.setVisible(evidence is not None)
        if evidence is None:
            self.setText("")
            return
        line = evidence.line(lang)
        self.setText(f"<span style='color:{COLOURS[evidence.state]}'><b>{SYMBOLS[evidence.state]}</b> "
                     f"{html.escape(line)}</span>")
        self.setToolTip(evidence.description(lang))
        self.setAccessibleName(f"{_named(lang)}{line}")
        self.setAccessibleDescription(evidence.description(lang))
        self.setProperty("state", evidence.state)
