"""Export: the board summary or full report as PDF, previewed (QtPdf) before it is saved."""
from __future__ import annotations

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

from gui.state import AppState
from gui.worker import in_background


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
        self.document = QPdfDocument(self)
        self.view = QPdfView(self)
        self.view.setDocument(self.document)
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.kind_label, self.lang_label = QLabel(), QLabel()
        top = QHBoxLayout()
        for w in (self.kind_label, self.kind, self.lang_label, self.lang, self.preview_button, self.save_button):
            top.addWidget(w)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        state.language_changed.connect(lambda _l: self.retranslate())
        state.audit_opened.connect(lambda _a: self._reset())
        self.retranslate()
        self.lang.setCurrentIndex(max(0, self.lang.findData(state.lang)))

    def retranslate(self) -> None:
        t = self.state.tr
        for combo, items in ((self.kind, (("board", t("x.board")), ("full", t("x.full")))),
                             (self.lang, (("en", "English"), ("ja", "日本語")))):
            current = combo.currentIndex()
            combo.clear()
            for value, text in items:
                combo.addItem(text, value)
            combo.setCurrentIndex(max(0, current))
        self.kind_label.setText(t("x.kind"))
        self.lang_label.setText(t("x.lang"))
        self.preview_button.setText(t("x.preview"))
        self.save_button.setText(t("x.save"))
        if not self._status[0] and not self.state.audit_id:
            self._status = ("x.need_audit", {})
        self._say(*self._status)

    def _say(self, key: str, fields: dict[str, object] | None = None) -> None:
        """The status line, kept as a key so a language switch re-translates it."""
        self._status = (key, dict(fields or {}))
        self.status.setText(self.state.tr(key, **self._status[1]) if key else "")

    def _reset(self) -> None:
        self.document.close()
        self.preview_path = None
        self.save_button.setEnabled(False)
        self._say("")

    def build_preview(self) -> None:
        if not self.state.audit_id:
            self._say("x.need_audit")
            return
        if self.building:
            return
        audit_id, kind, lang, db = self.state.audit_id, self.kind.currentData(), self.lang.currentData(), self.state.db
        out = Path(self._tmp.name) / f"{audit_id}-{kind}-{lang}.pdf"
        self.building = True
        self.preview_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self._say("x.building")
        in_background(lambda: build_pdf(audit_id, out, kind, lang, db), self._built, self._build_failed)

    def _built(self, path: Path) -> None:
        self.building = False
        self.preview_button.setEnabled(True)
        self.document.close()
        self.document.load(str(path))
        self.preview_path = path
        self.save_button.setEnabled(True)
        self._say("x.ready", {"pages": self.document.pageCount()})

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
