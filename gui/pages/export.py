"""Export: the board summary or full report as PDF, previewed (QtPdf) before it is saved.

An audit that did not complete (cancelled, failed, interrupted, still running) gets a draft (reports.commands:
every page carries "DRAFT: not a final report; the audit is …" and a faint diagonal DRAFT, and the PDF never
verifies as a final report, docs/REPORTS.md "Drafts and incomplete audits"); the page says so beside Preview
before anything is built."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from auditor.messages import Message, has
from gui.state import AppState
from gui.theme import badge_style
from gui.worker import in_background

RUN_STATES = ("cancelled", "failed", "interrupted", "running")    # gui.export.state.<status>


def _plain(label: str) -> str:
    """A label without its mnemonic ("&Save PDF…" -> "Save PDF", "報告書(&P)" -> "報告書"), for screen readers."""
    return re.sub(r"\(&\w\)|&", "", label).rstrip("…").strip()


def build_pdf(audit_id: str, out: Path, kind: str, lang: str, db: str | None) -> Path:
    """reports.commands.build_report, imported only now: reportlab is slow to import and not needed to start."""
    from auditor import api
    from reports.commands import build_report

    # an audit that did not complete gets a draft: every page marked DRAFT, never verified as final
    draft = api.audit_view(audit_id, db).status != "completed"
    return Path(build_report(audit_id, out, kind=kind, lang=lang, db=db, draft=draft))


class ExportPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self._tmp = tempfile.TemporaryDirectory(prefix="auditor-report-")
        self.preview_path: Path | None = None
        self.saved_path: Path | None = None
        self.building = False
        self._status: tuple[str, dict[str, object]] = ("", {})
        self.kind, self.lang = QComboBox(), QComboBox()
        self.preview_button = QPushButton(clicked=self.build_preview)
        self.save_button = QPushButton(clicked=self.save, enabled=False)
        self.status = QLabel(wordWrap=True)
        self.draft_note = QLabel(wordWrap=True, visible=False)   # an audit that did not complete: a draft
        self.draft_note.setStyleSheet(badge_style("warn"))
        self.audit_status: str | None = None
        self.document = QPdfDocument(self)
        self.view = QPdfView(self)
        self.view.setDocument(self.document)
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.kind_label, self.lang_label = QLabel(buddy=self.kind), QLabel(buddy=self.lang)
        self.built_for: tuple[str, str, str] | None = None    # (audit, kind, language) of the preview
        self._building_for: tuple[str, str, str] | None = None
        self.kind.currentIndexChanged.connect(lambda _i: self._check_preview())
        self.lang.currentIndexChanged.connect(lambda _i: self._check_preview())
        from gui.widgets.signed_export import SignedExport

        self.signed = SignedExport(self, state, self._wanted)     # service mode: a signed report through it
        self.sign_button = self.signed.button
        top = QHBoxLayout()
        for w in (self.kind_label, self.kind, self.lang_label, self.lang, self.preview_button, self.save_button,
                  self.sign_button):
            top.addWidget(w)
        top.addWidget(self.draft_note, 10)    # nearly all the room beside Preview when shown
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.signed.result)
        layout.addWidget(self.view, 1)
        state.language_changed.connect(self._language_changed)
        state.audit_opened.connect(lambda _a: self._reset())
        state.db_changed.connect(lambda _d: self._reset())
        state.audit_changed.connect(self._audit_changed)
        self.retranslate()
        self.lang.setCurrentIndex(max(0, self.lang.findData(state.lang)))
        if state.audit_id:
            self._read_status()

    def _language_changed(self, lang: str) -> None:
        """The report language follows the window's when it is switched; choosing another afterwards is kept
        until the next switch."""
        self.retranslate()
        self.lang.setCurrentIndex(max(0, self.lang.findData(lang)))

    def retranslate(self) -> None:
        t = self.state.tr
        for combo, items in ((self.kind, (("board", t("x.board")), ("full", t("x.full")))),
                             (self.lang, (("en", "English"), ("ja", "日本語")))):
            current = combo.currentIndex()
            combo.blockSignals(True)    # the same choice, reworded: not a new one
            combo.clear()
            for value, text in items:
                combo.addItem(text, value)
            combo.setCurrentIndex(max(0, current))
            combo.blockSignals(False)
        self.kind_label.setText(t("gui.export.kind_label"))
        self.lang_label.setText(t("gui.export.lang_label"))
        self.preview_button.setText(t("gui.export.preview"))
        self.save_button.setText(t("gui.export.save"))
        for widget, label, key in ((self.kind, self.kind_label, "kind"), (self.lang, self.lang_label, "lang"),
                                   (self.preview_button, self.preview_button, "preview"),
                                   (self.save_button, self.save_button, "save")):
            widget.setAccessibleName(_plain(label.text()))
            widget.setAccessibleDescription(t(f"gui.export.{key}_desc"))
        self.view.setAccessibleName(t("gui.export.view_name"))
        self.signed.retranslate()
        self._say_draft()
        if not self._status[0]:
            self._status = ("gui.export.hint" if self.state.audit_id else "x.need_audit", {})
        self._say(*self._status)

    def _say(self, key: str, fields: dict[str, object] | None = None) -> None:
        """The status line, kept as a key so a language switch re-translates it."""
        self._status = (key, dict(fields or {}))
        self.status.setText(self.state.tr(key, **self._status[1]) if key else "")
        self.status.setAccessibleName(self.status.text())

    def _read_status(self) -> None:
        """How the open audit's run ended (one query for the list; the list is what the library reads too)."""
        from gui.source import Unreachable

        audit_id = self.state.audit_id
        try:
            listed = next((a for a in self.state.source.list_audits() if a["audit_id"] == audit_id), None) \
                if audit_id else None
        except Unreachable as down:      # the service did not answer: said in the status line
            self._say(down.sentence.key, down.sentence.params)
            listed = None
        self.audit_status = str(listed.get("status") or "") if listed else None
        self._say_draft()

    def _say_draft(self) -> None:
        """Beside Preview: that the report of an audit that did not complete is a draft, and what that means."""
        status = self.audit_status
        if not status or status == "completed":
            self.draft_note.hide()
            self.draft_note.clear()
            return
        key = f"gui.export.state.{status}"
        state = Message(key) if status in RUN_STATES and has(key) else Message("gui.export.state.other",
                                                                                  {"status": status})
        self.draft_note.setText(self.state.tr("gui.export.draft", state=state))
        self.draft_note.setAccessibleName(self.draft_note.text())
        self.draft_note.show()

    def _reset(self) -> None:
        self._read_status()
        self.document.close()
        self.preview_path = None
        self.built_for = None
        self.save_button.setEnabled(False)
        self._say("gui.export.hint" if self.state.audit_id else "x.need_audit")

    def _wanted(self) -> tuple[str, str, str]:
        return self.state.audit_id, str(self.kind.currentData()), str(self.lang.currentData())

    def _check_preview(self) -> None:
        """Save only what matches the chosen report and language; the preview stays on screen to look at."""
        if self.preview_path is None or self.building:
            return
        matches = self.built_for == self._wanted()
        self.save_button.setEnabled(matches)
        if not matches:
            self._say("gui.export.stale")
        elif self._status[0] == "gui.export.stale":
            self._say("x.ready", {"pages": self.document.pageCount()})

    def _audit_changed(self, audit_id: str) -> None:
        """A sign-off or assignment after the preview changes what the report says: build it again."""
        if audit_id in ("", self.state.audit_id) and self.state.audit_id:
            self._read_status()       # a run that ended (cancelled, failed) changes what the report is
        if self.preview_path is not None and audit_id in ("", self.state.audit_id):
            self.built_for = None
            self.save_button.setEnabled(False)
            self._say("gui.export.audit_changed")

    def build_preview(self) -> None:
        if not self.state.audit_id:
            self._say("x.need_audit")
            return
        if self.building:
            return
        audit_id, kind, lang = self.state.audit_id, self.kind.currentData(), self.lang.currentData()
        out = Path(self._tmp.name) / f"{audit_id}-{kind}-{lang}.pdf"
        self.building = True
        self._building_for = (audit_id, str(kind), str(lang))
        self.preview_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self._say("x.building")
        source = self.state.source
        in_background(lambda: source.build_pdf(audit_id, out, kind, lang), self._built, self._build_failed)

    def _built(self, path: Path) -> None:
        self.building = False
        self.preview_button.setEnabled(True)
        self.document.close()
        self.document.load(str(path))
        self.preview_path = path
        self.built_for = self._building_for
        self.save_button.setEnabled(True)
        self._say("x.ready", {"pages": self.document.pageCount()})
        self._check_preview()   # the choice may have changed while it was being built

    def _build_failed(self, message: str) -> None:
        self.building = False
        self.preview_button.setEnabled(True)
        self._say("err.export")
        QMessageBox.critical(self, self.state.tr("err.export"), message)

    def save(self) -> None:
        if self.preview_path is None:
            return
        folder = self.state.settings.folder("reports") or str(Path.home())
        path, _ = QFileDialog.getSaveFileName(self, self.state.tr("x.save"),
                                              str(Path(folder) / self.preview_path.name), "PDF (*.pdf)")
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> Path:
        """Copies the previewed PDF: what is saved is exactly what was looked at."""
        assert self.preview_path is not None
        if path.suffix.lower() != ".pdf":
            path = path.with_suffix(".pdf")
        shutil.copyfile(self.preview_path, path)
        self.state.settings.remember_folder("reports", str(path.parent))
        self.saved_path = path
        self._say("x.saved", {"path": str(path)})
        return path
