"""The audit library: every stored audit, searchable and filterable by verdict; open one."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from auditor.presentation import audit_status_label
from auditor.status import VERDICTS
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import colour
from gui.widgets import verification

COLUMNS = ("col.id", "col.model", "col.version", "col.date", "col.template", "col.status", "col.verdict",
           "col.evidence")
EVIDENCE = COLUMNS.index("col.evidence")


class LibraryPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.audits: list[dict[str, Any]] = []
        self._asked = 0     # the latest evidence check asked for; an older one's answer only fills the cache
        self.search = QLineEdit(clearButtonEnabled=True)
        self.search.textChanged.connect(self.apply_filter)
        self.verdict = QComboBox()
        self.verdict.currentIndexChanged.connect(self.apply_filter)
        self.refresh_button = QPushButton(clicked=self.refresh)
        self.open_button = QPushButton(clicked=self.open_selected)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self.open_selected())
        self.status = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        self.verdict_label = QLabel()
        top.addWidget(self.verdict_label)
        top.addWidget(self.verdict)
        top.addWidget(self.refresh_button)
        top.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        state.language_changed.connect(self.retranslate)
        state.db_changed.connect(lambda _db: self.refresh())
        state.audits_changed.connect(self.refresh)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        t = self.state.tr
        self.search.setPlaceholderText(t("lib.search"))
        self.verdict_label.setText(t("lib.verdict_filter"))
        current = self.verdict.currentData()
        self.verdict.blockSignals(True)
        self.verdict.clear()
        self.verdict.addItem(t("lib.all"), "")
        for v in VERDICTS:   # pass, warn, inconclusive, fail: the engine's one vocabulary
            self.verdict.addItem(verdict_word(v, self.state.lang), str(v))
        self.verdict.setCurrentIndex(max(0, self.verdict.findData(current or "")))
        self.verdict.blockSignals(False)
        self.refresh_button.setText(t("lib.refresh"))
        self.open_button.setText(t("lib.open"))
        self.table.setHorizontalHeaderLabels([t(c) for c in COLUMNS])
        self.apply_filter()

    def refresh(self) -> None:
        self.audits = api.list_audits(self.state.db)
        self.check_evidence()
        self.apply_filter()

    def check_evidence(self) -> None:
        """Each audit's signed-record state (api.verify_audit), checked on a pool thread where not cached."""
        db = self.state.db
        todo = [a["audit_id"] for a in self.audits if verification.cached(db, a["audit_id"]) is None]
        if not todo:
            return
        self._asked += 1
        asked = self._asked

        def done() -> None:
            if asked == self._asked and db == self.state.db:
                self.apply_filter()
        verification.check_later(db, todo, done, self)

    def evidence_of(self, audit_id: str) -> verification.Evidence:
        return verification.cached(self.state.db, audit_id) or verification.PENDING

    def apply_filter(self) -> None:
        needle = self.search.text().strip().lower()
        wanted = self.verdict.currentData() or ""
        rows = [a for a in self.audits
                if (not wanted or a.get("verdict") == wanted)
                and (not needle or needle in " ".join(str(a.get(k) or "") for k in
                                                      ("audit_id", "name", "version", "template", "status")).lower())]
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, audit in enumerate(rows):
            values = (audit["audit_id"], audit.get("name"), audit.get("version"),
                      (audit.get("started_at") or "").replace("T", " ")[:19], audit.get("template"),
                      audit_status_label(audit.get("status"), self.state.lang), verdict_word(audit.get("verdict"), self.state.lang))
            for c, value in enumerate(values):
                item = QTableWidgetItem(str(value or ""))
                item.setData(Qt.ItemDataRole.UserRole, audit["audit_id"])
                if c == 6:
                    item.setForeground(colour(audit.get("verdict")))
                elif c == 5 and audit.get("status") not in ("completed", None):
                    item.setForeground(QColor("#b26a00"))
                self.table.setItem(r, c, item)
            self.table.setItem(r, EVIDENCE, verification.table_item(self.evidence_of(audit["audit_id"]),
                                                                    self.state.lang, audit["audit_id"]))
        self.table.setSortingEnabled(True)
        if not self.audits:
            self.status.setText(self.state.tr("lib.empty"))
        else:
            self.status.setText(self.state.tr("lib.count", shown=len(rows), total=len(self.audits)) + "   ·   "
                                + str(api.db_path(self.state.db)))

    def selected_id(self) -> str:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else ""

    def open_selected(self) -> None:
        audit_id = self.selected_id() or (self.table.item(0, 0).data(Qt.ItemDataRole.UserRole)
                                          if self.table.rowCount() else "")
        if audit_id:
            self.state.open_audit(audit_id)
