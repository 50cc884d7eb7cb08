"""Compare two audits side by side: under which templates, what got worse, what could not be compared and
what improved. The comparison is shown as soon as two different audits are chosen (opening an audit
chooses it as B and the previous audit of the same model as A); "changes only" (on by default) hides the
unchanged rows and says how many. The rows themselves are built in gui/widgets/compare_rows.py."""
from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor.messages import Message, render
from gui.source import Unreachable
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import badge_style, colour
from gui.widgets import compare_rows as rows_of
from gui.widgets.compare_rows import Row

# not_compared is neutral grey: a difference measured under other conditions is neither good nor bad news
DIRECTION_COLOUR = {"improved": "pass", "better": "pass", "worse": "fail", "changed": "warn", "new": "warn",
                    "gone": "info"}
TABLES = ("ratings", "findings", "metrics")


def _table(columns: int, *stretch: int) -> QTableWidget:
    table = QTableWidget(0, columns)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)    # Tab leaves the table; arrows move inside it
    table.setWordWrap(False)            # long reasons are elided; the full text is the cell's tooltip
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    for column in stretch:    # the long texts share the width left; the short ones fit their contents
        table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
    return table


def _labelled(label: QLabel, table: QTableWidget) -> QWidget:
    box = QWidget()
    v = QVBoxLayout(box)
    v.setContentsMargins(0, 0, 0, 0)
    v.addWidget(label)
    v.addWidget(table)
    return box


class ComparePage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.result: dict[str, Any] | None = None
        self.titles: rows_of.Titles = {}
        self.shown: dict[str, list[Row]] = {name: [] for name in TABLES}
        self._all: dict[str, list[Row]] = {name: [] for name in TABLES}
        self.hidden = 0
        self._pending = False      # a comparison asked for while the page was hidden runs when it is shown
        self._keep_pair = False    # Return on a row opens an audit: that must not change the chosen pair
        self.a, self.b = QComboBox(), QComboBox()
        for combo in (self.a, self.b):
            combo.setMinimumContentsLength(30)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.currentIndexChanged.connect(lambda _i: self.run())
        self.changes_only = QCheckBox(checked=True)
        self.changes_only.toggled.connect(lambda _on: self._render())
        self.hidden_label = QLabel()
        self.summary = QLabel(wordWrap=True)
        self.templates = QLabel(wordWrap=True)
        self.templates.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning = QLabel(wordWrap=True)
        self.warning.setStyleSheet(badge_style("warn"))
        self.warning_box = QScrollArea(widgetResizable=True)   # many reasons scroll instead of crowding the tables
        self.warning_box.setWidget(self.warning)
        self.warning_box.setMaximumHeight(118)
        self.warning_box.setFrameShape(QScrollArea.Shape.NoFrame)
        self.warning_box.hide()
        self.ratings, self.findings, self.metrics = _table(5, 4), _table(6, 1, 5), _table(7, 1, 6)
        self.labels = {name: QLabel() for name in TABLES}
        for name in TABLES:
            self._table(name).activated.connect(lambda index, n=name: self.open_row(n, index))
        self._layout()
        self._soon = QTimer(self, singleShot=True, interval=0, timeout=self.refresh)
        state.audits_changed.connect(self._soon.start)
        state.audit_changed.connect(self._audit_changed)
        state.db_changed.connect(lambda _d: self.refresh())
        state.language_changed.connect(lambda _l: self.retranslate())
        state.audit_opened.connect(self._preselect)
        self.refresh()
        self.retranslate()

    def _layout(self) -> None:
        self.form = QFormLayout()
        self.form.addRow(QLabel(buddy=self.a), self.a)
        self.form.addRow(QLabel(buddy=self.b), self.b)
        side = QVBoxLayout()
        side.addStretch(1)
        side.addWidget(self.changes_only)
        side.addWidget(self.hidden_label)
        top = QHBoxLayout()
        top.addLayout(self.form, 1)
        top.addLayout(side)
        lower = QSplitter(Qt.Orientation.Vertical)
        for name in ("findings", "metrics", "ratings"):
            lower.addWidget(_labelled(self.labels[name], self._table(name)))
        lower.setSizes([330, 330, 150])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        for widget in (self.templates, self.warning_box, self.summary):
            layout.addWidget(widget)
        layout.addWidget(lower, 1)

    def _table(self, name: str) -> QTableWidget:
        return {"ratings": self.ratings, "findings": self.findings, "metrics": self.metrics}[name]

    def retranslate(self) -> None:
        t = self.state.tr
        for row, key in ((0, "gui.compare.a_label"), (1, "gui.compare.b_label")):
            self.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().setText(t(key))
        for combo, side in ((self.a, "a"), (self.b, "b")):
            combo.setAccessibleName(t(f"cmp.{side}"))
            combo.setAccessibleDescription(t(f"gui.compare.{side}_desc"))
            combo.setPlaceholderText(t(f"gui.compare.{side}_placeholder"))    # shown while none is chosen
        self.changes_only.setText(t("gui.compare.changes_only"))
        self.changes_only.setAccessibleName(rows_of.plain(t("gui.compare.changes_only")))
        self.changes_only.setAccessibleDescription(t("gui.compare.changes_only_desc"))
        self.summary.setAccessibleName(t("gui.compare.summary_name"))
        self.warning.setAccessibleName(t("gui.compare.warning_name"))
        self.warning_box.setAccessibleName(t("gui.compare.warning_name"))
        for name in TABLES:
            self._table(name).setAccessibleName(t(f"gui.compare.{name}_name"))
            self._table(name).setAccessibleDescription(t(f"gui.compare.{name}_desc"))
        self.ratings.setHorizontalHeaderLabels([t("cmp.dimension"), "A", "B", t("cmp.direction"), t("cmp.reason")])
        self.findings.setHorizontalHeaderLabels([t("cmp.check"), t("s.finding"), "A", "B", t("cmp.direction"),
                                                 t("cmp.reason")])
        self.metrics.setHorizontalHeaderLabels([t("cmp.check"), t("f.metric"), "A", "B", t("cmp.delta"),
                                                t("cmp.direction"), t("cmp.reason")])
        self._reload_lists()
        if self.result is not None:
            self._show(self.result)
        elif not self._pending:
            self._clear()

    # ---------------------------------------------------------------- choosing the pair

    def _reload_lists(self) -> list[dict[str, Any]]:
        """Both lists rebuilt from the database (newest first), keeping what was chosen."""
        try:
            audits = [a for a in self.state.source.list_audits() if a.get("status") == "completed"]
            self._down: Message | None = None
        except Unreachable as down:      # the service did not answer: nothing to choose, and the page says why
            audits, self._down = [], down.sentence
        for combo in (self.a, self.b):
            combo.blockSignals(True)    # one comparison after both lists are rebuilt, not one per item
            current = combo.currentData()
            combo.clear()
            for a in audits:
                text = (f"{a.get('name') or ''} {a.get('version') or ''} · {a['audit_id']} · "
                        f"{a.get('template') or ''} · {verdict_word(a.get('verdict'), self.state.lang)}")
                combo.addItem(text, a["audit_id"])
                combo.setItemData(combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
            # what was chosen stays chosen; an A left unchosen (no earlier audit of B's model) stays unchosen
            combo.setCurrentIndex(combo.findData(current) if current else -1)
            combo.blockSignals(False)
        enough = len(audits) > 1
        for widget in (self.a, self.b, self.changes_only):
            widget.setEnabled(enough)      # nothing to choose between: the sentence says why
        return audits

    def refresh(self) -> None:
        """Re-reads the audit list and compares again (after any write, or another database)."""
        audits = self._reload_lists()
        b = self.b.currentData()
        if audits and (not b or b == self.a.currentData()):
            self._choose(b or audits[0]["audit_id"], audits)     # the newest audit, or the one chosen as B
        self.run()

    def _choose(self, b: str, audits: list[dict[str, Any]]) -> None:
        """B = `b`; A = the previous audit of the same model (rows_of.previous_of: same name or same weights),
        else A is left unchosen: two different models are never compared unasked."""
        ids = [a["audit_id"] for a in audits]
        if b not in ids:
            return
        pick = rows_of.previous_of(audits, ids.index(b))
        for combo, audit_id in ((self.b, b), (self.a, pick)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(audit_id) if audit_id else -1)
            combo.blockSignals(False)

    def _preselect(self, audit_id: str) -> None:
        """The opened audit as B and the previous audit of the same model as A (kept when B already is it)."""
        if self._keep_pair or audit_id == self.b.currentData():
            return
        audits = self._reload_lists()
        self._choose(audit_id, audits)
        self.run()

    def _audit_changed(self, audit_id: str) -> None:
        if audit_id in ("", self.a.currentData(), self.b.currentData()):
            self._soon.start()

    def set_pair(self, a: str, b: str) -> None:
        for combo, audit_id in ((self.a, a), (self.b, b)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(audit_id))
            combo.blockSignals(False)
        self.run()

    # ---------------------------------------------------------------- comparing and showing

    def run(self) -> None:
        """Compares the chosen pair now when the page is on screen, else as soon as it is shown."""
        a, b = self.a.currentData(), self.b.currentData()
        if not a or not b or a == b:
            self.result = None
            self._clear()
            return
        if not self.isVisible():
            self._pending = True    # no comparison at window start or behind another page
            return
        self._pending = False
        try:
            self.result = self.state.source.compare_audits(a, b)
            self.titles = rows_of.titles_of([self.state.source.audit_view(audit_id) for audit_id in (a, b)])
        except Unreachable as down:
            self.result, self._down = None, down.sentence
            self._clear()
            return
        self._show(self.result)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._pending:
            self.run()

    def _clear(self) -> None:
        count, t = self.a.count(), self.state.tr
        if getattr(self, "_down", None) is not None:
            said = render(self._down, self.state.lang)
        elif count == 0:
            said = t("gui.compare.empty")
        elif count < 2:
            said = t("gui.compare.need_more", n=count)
        elif self.b.currentData() and not self.a.currentData():
            said = t("gui.compare.no_earlier")
        else:
            said = t("cmp.need_two")
        self.summary.setText(said)
        self.templates.clear()
        self.warning_box.hide()
        self.hidden_label.clear()
        for name in TABLES:
            self.shown[name] = []
            self._table(name).setRowCount(0)
            self.labels[name].setText(f"<b>{self.state.tr(f'cmp.{name}')}</b>")

    def _show(self, result: dict[str, Any]) -> None:
        t, lang = self.state.tr, self.state.lang
        lines = []
        for side in ("a", "b"):
            tpl = (result.get("templates") or {}).get(side) or {}
            probes = (result.get("probe_sets") or {}).get(side) or {}
            lines.append(t("cmp.template_line", side=side.upper(), audit=result[side], name=tpl.get("name"),
                           version=tpl.get("version"), sha=str(tpl.get("sha256") or "")[:12], spec=probes.get("spec"),
                           count=probes.get("count"), psha=str(probes.get("sha256") or "")[:12]))
        self.templates.setText("<br>".join(lines))
        reasons = [render(rows_of.titled(Message.from_json(r)), lang) for r in result.get("reason_messages") or []]
        self.warning_box.setVisible(not result.get("comparable", True))
        self.warning.setText(f"<b>{t('cmp.warning')}</b><ul style='margin:0'>"
                             + "".join(f"<li>{html.escape(r, quote=False)}</li>" for r in reasons) + "</ul>")
        verdict, s = result.get("verdict") or {}, result.get("summary") or {}
        self.summary.setText(f"<b>A</b> {result['a']}: {verdict_word(verdict.get('a'), lang)} &nbsp;→&nbsp; "
                             f"<b>B</b> {result['b']}: {verdict_word(verdict.get('b'), lang)}<br>"
                             + t("cmp.summary", **{k: s.get(k, 0) for k in ("improved", "worse", "unchanged",
                                                                             "changed")})
                             + t("cmp.summary_not_compared", n=s.get("not_compared", 0)))
        self._all = {"ratings": rows_of.rating_rows(result, lang, t),
                     "findings": rows_of.finding_rows(result, self.titles, lang, t),
                     "metrics": rows_of.metric_rows(result, lang, t)}
        self._render()

    def _render(self) -> None:
        """The tables from the rows of the last comparison, most important first, filtered by `changes only`."""
        if self.result is None:
            return
        t, self.hidden = self.state.tr, 0
        for name in TABLES:
            rows = rows_of.ordered(self._all[name])
            shown, hidden = rows_of.visible(rows, self.changes_only.isChecked())
            self.hidden += hidden
            self.shown[name] = shown
            self._fill(self._table(name), shown)
            self.labels[name].setText(f"<b>{t(f'cmp.{name}')}</b>&nbsp;&nbsp;"
                                      + t("gui.compare.section_count", shown=len(shown), total=len(rows)))
        unchanged = sum(r.change in rows_of.UNCHANGED for rows in self._all.values() for r in rows)
        if not self.changes_only.isChecked():
            self.hidden_label.setText(t("gui.compare.shown_unchanged", n=unchanged))
        elif self.hidden == 1:
            self.hidden_label.setText(t("gui.compare.hidden_one"))
        else:
            self.hidden_label.setText(t("gui.compare.hidden", n=self.hidden))

    def _fill(self, table: QTableWidget, rows: list[Row]) -> None:
        """The direction and reason cells (the last two) in the direction's colour, the reason as their tooltip."""
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row.cells):
                item = QTableWidgetItem(value)
                if c >= len(row.cells) - 2:
                    item.setForeground(colour(DIRECTION_COLOUR.get(row.change or "")))
                if row.why and c >= len(row.cells) - 2:
                    item.setToolTip(row.why)
                elif len(value) > 40:
                    item.setToolTip(value)
                table.setItem(r, c, item)

    def open_row(self, name: str, index: QModelIndex) -> None:
        """Return (or a double click) on a finding or figure opens its check on the Findings page of the audit
        that has it; a rating row has no single check and does nothing."""
        rows = self.shown.get(name) or []
        if not index.isValid() or index.row() >= len(rows):
            return
        row = rows[index.row()]
        if not row.check_id or not row.audit_id:
            return
        self._keep_pair = True
        try:
            self.state.open_audit(row.audit_id)
        finally:
            self._keep_pair = False
        findings = getattr(self.window(), "findings", None)
        if findings is not None and hasattr(findings, "select_check"):
            findings.select_check(row.check_id)
