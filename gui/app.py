"""auditor-gui: the desktop client's first page, the audit library.

The GUI never imports torch, transformers or onnxruntime: it reads the database through
auditor.api (which imports none of them) and will run audits in a worker process.
"""
from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from auditor.cli import format_audit

COLUMNS = ("Audit ID", "Model", "Version", "Started (UTC)", "Template", "Status", "Verdict")
VERDICT_WORDS = {"pass": "✓ pass", "warn": "! warn", "fail": "✗ fail"}


class LibraryWindow(QMainWindow):
    """Every stored audit; selecting one shows its summary."""

    def __init__(self, db: str | None = None) -> None:
        super().__init__()
        self.db = db
        self.setWindowTitle("Transformer auditor — audit library")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.detail = QPlainTextEdit(readOnly=True)
        self.status = QLabel()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.status)
        layout.addWidget(splitter)
        self.setCentralWidget(body)
        self.resize(1200, 720)
        self.refresh()

    def refresh(self) -> None:
        audits = api.list_audits(self.db)
        self.table.setRowCount(len(audits))
        for row, audit in enumerate(audits):
            values = (audit["audit_id"], audit["name"], audit["version"], audit["started_at"], audit["template"],
                      audit["status"], VERDICT_WORDS.get(audit["verdict"] or "", "–"))
            for col, value in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(str(value or "")))
        self.status.setText(f"{len(audits)} audit(s) in {api.db_path(self.db)}" if audits else
                            "No audits yet: run `auditor audit MODEL` or `auditor demo`.")

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        audit_id = self.table.item(rows[0].row(), 0).text()
        self.detail.setPlainText(format_audit(api.show_audit(audit_id, self.db), self.db))


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    window = LibraryWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
