"""Compare two audits side by side: verdicts, what improved and what got worse."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from gui.pages.findings import finding_text
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import colour

DIRECTION_COLOUR = {"improved": "pass", "better": "pass", "worse": "fail", "changed": "warn", "new": "warn",
                    "gone": "info", "unchanged": None, "same": None, "not_comparable": None}
ORDER = {"worse": 0, "new": 1, "improved": 2, "better": 2, "changed": 3, "gone": 4}


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


class ComparePage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.result: dict[str, Any] | None = None
        self.a, self.b = QComboBox(), QComboBox()
        for combo in (self.a, self.b):
            combo.setMinimumContentsLength(30)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_button = QPushButton(clicked=self.run)
        self.summary = QLabel(wordWrap=True)
        self.metrics = QTableWidget(0, 6)
        self.findings = QTableWidget(0, 5)
        for table in (self.metrics, self.findings):
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.findings.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.metrics.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.form = QFormLayout()
        self.form.addRow(QLabel(), self.a)
        self.form.addRow(QLabel(), self.b)
        top = QHBoxLayout()
        top.addLayout(self.form, 1)
        top.addWidget(self.run_button)
        self.metrics_label, self.findings_label = QLabel(), QLabel()
        lower = QSplitter(Qt.Orientation.Vertical)
        for label, table in ((self.findings_label, self.findings), (self.metrics_label, self.metrics)):
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.addWidget(label)
            v.addWidget(table)
            lower.addWidget(box)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(lower, 1)
        state.audits_changed.connect(self.refresh)
        state.db_changed.connect(lambda _d: self.refresh())
        state.language_changed.connect(lambda _l: self.retranslate())
        state.audit_opened.connect(self._preselect)
        self.refresh()
        self.retranslate()

    def retranslate(self) -> None:
        t = self.state.tr
        self.form.itemAt(0, QFormLayout.ItemRole.LabelRole).widget().setText(t("cmp.a"))
        self.form.itemAt(1, QFormLayout.ItemRole.LabelRole).widget().setText(t("cmp.b"))
        self.run_button.setText(t("cmp.run"))
        self.refresh()
        self.metrics_label.setText(f"<b>{t('cmp.metrics')}</b>")
        self.findings_label.setText(f"<b>{t('cmp.findings')}</b>")
        self.metrics.setHorizontalHeaderLabels([t("cmp.check"), t("f.metric"), "A", "B", t("cmp.delta"),
                                                t("cmp.direction")])
        self.findings.setHorizontalHeaderLabels([t("cmp.check"), t("s.finding"), "A", "B", t("cmp.direction")])
        if self.result:
            self._show(self.result)

    def refresh(self) -> None:
        audits = [a for a in api.list_audits(self.state.db) if a.get("status") == "completed"]
        for combo in (self.a, self.b):
            current = combo.currentData()
            combo.clear()
            for a in audits:
                combo.addItem(f"{a.get('name') or ''} {a.get('version') or ''} · {a['audit_id']} · "
                              f"{verdict_word(a.get('verdict'), self.state.lang)}", a["audit_id"])
            combo.setCurrentIndex(max(0, combo.findData(current)))
        if self.b.currentIndex() == self.a.currentIndex() and self.b.count() > 1:
            self.a.setCurrentIndex(1)   # newest is listed first: A = the one before it

    def _preselect(self, audit_id: str) -> None:
        if self.b.findData(audit_id) >= 0:
            self.b.setCurrentIndex(self.b.findData(audit_id))

    def set_pair(self, a: str, b: str) -> None:
        self.a.setCurrentIndex(self.a.findData(a))
        self.b.setCurrentIndex(self.b.findData(b))

    def run(self) -> None:
        a, b = self.a.currentData(), self.b.currentData()
        if not a or not b or a == b:
            self.summary.setText(self.state.tr("cmp.need_two"))
            return
        self.result = api.compare_audits(a, b, db=self.state.db)
        self._show(self.result)

    def _show(self, result: dict[str, Any]) -> None:
        t, lang = self.state.tr, self.state.lang
        verdict = result.get("verdict") or {}
        s = result.get("summary") or {}
        self.summary.setText(f"<b>A</b> {result['a']}: {verdict_word(verdict.get('a'), lang)} &nbsp;→&nbsp; "
                             f"<b>B</b> {result['b']}: {verdict_word(verdict.get('b'), lang)}<br>"
                             + t("cmp.summary", **{k: s.get(k, 0) for k in ("improved", "worse", "unchanged",
                                                                             "changed")}))
        metrics = sorted(result.get("metrics") or [], key=lambda m: ORDER.get(m.get("direction"), 9))
        self._fill(self.metrics, [(m.get("check_id"), m.get("name") + (f" [{m['variant']}]" if m.get("variant") else "")
                                   + (f" ({m['reduce']})" if m.get("reduce") else ""),
                                   m.get("a"), m.get("b"), m.get("delta"), m.get("direction")) for m in metrics])
        findings = sorted(result.get("findings") or [], key=lambda f: ORDER.get(f.get("change"), 9))
        self._fill(self.findings, [(f.get("check_id"), finding_text(f, "title", lang), verdict_word(f.get("a"), lang),
                                    verdict_word(f.get("b"), lang), f.get("change")) for f in findings])

    def _fill(self, table: QTableWidget, rows: list[tuple[Any, ...]]) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            direction = row[-1]
            for c, value in enumerate(row):
                text = self.state.tr(f"cmp.{value}") if c == len(row) - 1 and value else _fmt(value)
                item = QTableWidgetItem(text)
                if c == len(row) - 1:
                    item.setForeground(colour(DIRECTION_COLOUR.get(direction)))
                table.setItem(r, c, item)
