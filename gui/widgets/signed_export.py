"""Export page, service mode: a signed PDF report through the audit service, the key staying on this computer.

The same flow as `auditor --server URL report ID --sign IDENTITY` (auditor.client_commands.signed_report,
called, not copied): the service renders the report with the signer's block, this computer signs it with
PAdES, the service checks and records it, and only then is the file written. The identity is the token's
own (the service accepts no other); its passphrase is asked in a dialog and kept nowhere. The result line
says who signed, when, and the PDF's SHA-256.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from auditor.messages import Message, render, verbatim
from gui.state import AppState
from gui.widgets.wrapping_label import WrappingLabel
from gui.worker import in_background


class SignedExport:
    """The "Sign report…" button and its result line; shown only while the window reads from a service."""

    def __init__(self, page: QWidget, state: AppState, choice: Any) -> None:
        self.page, self.state, self.choice = page, state, choice      # choice() -> (audit_id, kind, lang)
        self.button = QPushButton(clicked=self.ask)
        self.result = WrappingLabel()
        self.sentence: Message | None = None
        self.busy = False
        self.saved: Path | None = None
        state.db_changed.connect(lambda _w: self.reset())
        state.audit_opened.connect(lambda _a: self.reset())
        self.reset()

    def retranslate(self) -> None:
        t = self.state.tr
        self.button.setText(t("gui_service.sign.button"))
        self.button.setAccessibleName(t("gui_service.sign.name"))
        self.button.setAccessibleDescription(t("gui_service.sign.description"))
        self.say(self.sentence)

    def reset(self) -> None:
        service = not self.state.source.local
        self.button.setVisible(service)
        self.button.setEnabled(service and bool(self.state.audit_id) and not self.busy)
        self.say(None)
        self.retranslate()

    def say(self, sentence: Message | None) -> None:
        self.sentence = sentence
        self.result.setText(render(sentence, self.state.lang) if sentence is not None else "")
        self.result.setAccessibleName(self.result.text())
        self.result.setVisible(sentence is not None)

    def ask(self) -> None:
        """Sign report…: where to save it, then the passphrase, then the service's round trip off the UI thread."""
        audit_id, kind, lang = self.choice()
        folder = self.state.settings.folder("reports") or str(Path.home())
        path, _ = QFileDialog.getSaveFileName(self.page, self.state.tr("gui_service.sign.button"),
                                              str(Path(folder) / f"{audit_id}-{kind}-{lang}-signed.pdf"),
                                              "PDF (*.pdf)")
        if path:
            self.sign_to(Path(path))

    def sign_to(self, out: Path) -> None:
        from auditor.errors import AuditorError
        from gui.widgets.identities import unlock

        source, (audit_id, kind, lang) = self.state.source, self.choice()
        if source.local or not audit_id or self.busy:
            return
        if out.suffix.lower() != ".pdf":
            out = out.with_suffix(".pdf")
        if not source.name:       # a server without /v1/whoami: the identity the service accepts is not known
            self.say(Message("gui_service.sign.failed", {"detail": verbatim("GET /v1/whoami: not available")}))
            return
        try:
            signer = unlock(self.page, source.name, self.state.lang)     # the token's identity: the only one accepted
        except AuditorError as exc:          # unknown here, or a wrong passphrase: its own sentence
            self.say(_refused(exc, source.name))
            return
        if signer is None:                   # the passphrase dialog was cancelled: nothing done
            return
        self.busy = True
        self.button.setEnabled(False)
        self.say(Message("gui_service.sign.working", {"url": source.url}))
        in_background(lambda: _sign(source, audit_id, out, signer, kind, lang), self._done,
                      lambda detail: self._done(Message("gui_service.sign.failed", {"detail": verbatim(detail)})),
                      owner=self.button)

    def _done(self, result: Any) -> None:
        self.busy = False
        self.button.setEnabled(not self.state.source.local and bool(self.state.audit_id))
        if isinstance(result, Message):
            self.say(result)
            return
        self.saved = result["path"]
        self.state.settings.remember_folder("reports", str(self.saved.parent))
        self.say(Message("gui_service.sign.done", result["facts"]))
        self.state.changed(self.state.audit_id)          # the audit's record has a 'reported' event now


def _sign(source: Any, audit_id: str, out: Path, signer: Any, kind: str, lang: str) -> dict[str, Any] | Message:
    """On a pool thread: the signed report written to `out`, and what the result line says about it."""
    from auditor.errors import AuditorError
    from reports import signing

    try:
        source.signed_report(audit_id, out, signer, kind, lang)
    except AuditorError as exc:          # the service refused (re-evaluated, not registered) or did not answer
        return Message("gui_service.sign.failed", {"detail": verbatim(str(exc))})
    raw = out.read_bytes()
    sig = signing.read_signatures(raw)[-1]
    at = sig.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if sig.signed_at else None
    return {"path": out, "facts": {"path": verbatim(str(out)), "name": signer.name,
                                   "role": Message(f"duties.role.{signer.role}"), "at": at,
                                   "sha256": hashlib.sha256(raw).hexdigest()}}


def _refused(exc: Exception, name: str) -> Message:
    message = getattr(exc, "message", None)
    if isinstance(message, Message):
        return message
    return Message("gui_service.sign.failed", {"detail": verbatim(str(exc))})
