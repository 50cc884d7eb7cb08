"""Compare two audits side by side: under which templates, what improved, what got worse, and what
could not be compared. The comparison is shown as soon as two different audits are chosen."""
from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from auditor.condition_text import reducer
from auditor.messages import Message, render
from auditor.presentation import dimension_label, metric_label, variant_label
from auditor.views import AuditView, FindingView
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import badge_style, colour

# not_compared is neutral grey: a difference measured under other conditions is neither good nor bad news
DIRECTION_COLOUR = {"improved": "pass", "better": "pass", "worse": "fail", "changed": "warn", "new": "warn",
                    "gone": "info", "unchanged": None, "same": None, "not_comparable": None, "not_compared": None}
ORDER = {"worse": 0, "new": 1, "improved": 2, "better": 2, "changed": 3, "gone": 4, "not_compared": 5}
UNCHANGED = ("unchanged", "same")


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _word(status: str | None, lang: str) -> str:
    """A finding's severity; a dash where the audit has no such finding (its check did not run)."""
    return verdict_word(status, lang) if status else "–"


def _titles(views: list[AuditView]) -> dict[tuple[str, str | None, str], FindingView]:
    """The two audits' findings by (check, metric, stored title): what a compared finding entry names."""
    return {(f.check_id, f.metric, f.title): f for view in views for f in view.findings}


def _title(finding: dict[str, Any], known: dict[tuple[str, str | None, str], FindingView], lang: str) -> str:
    """A compared finding's title in `lang`, from the stored finding it names (FindingView.title_in); the
    entry's stored title where neither audit's view has it."""
    title = str(finding.get("title") or "")
    view = known.get((str(finding.get("check_id")), finding.get("metric"), title))
    return view.title_in(lang) if view is not None else title


def _reason(entry: dict[str, Any], lang: str) -> str | None:
    """Why an entry was not compared, rendered in `lang` from the engine's message (reason_message)."""
    data = entry.get("reason_message")
    if data is None:
        return None
    return render(Message.from_json(data), lang, default=str(entry.get("reason") or ""))


def _metric_name(row: dict[str, Any], lang: str) -> str:
    """A compared figure's display name, its variant in words (a perturbation kind) and its reducer."""
    name = metric_label(str(row.get("name")), lang)
    if row.get("variant"):
        name += f" [{variant_label(str(row['variant']), lang)}]"
    return name + (f" ({render(reducer(str(row['reduce'])), lang)})" if row.get("reduce") else "")


def _table(columns: int, stretch: int) -> QTableWidget:
    table = QTableWidget(0, columns)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


class ComparePage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.result: dict[str, Any] | None = None
        self.titles: dict[tuple[str, str | None, str], FindingView] = {}
        self.a, self.b = QComboBox(), QComboBox()
        for combo in (self.a, self.b):
            combo.setMinimumContentsLength(30)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.currentIndexChanged.connect(lambda _i: self.run())
        self.changes_only = QCheckBox()
        self.changes_only.toggled.connect(lambda _on: self.result and self._show(self.result))
        self.summary = QLabel(wordWrap=True)
        self.templates = QLabel(wordWrap=True)
        self.templates.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning = QLabel(wordWrap=True)
        self.warning.setStyleSheet(badge_style("warn"))
        self.warning.hide()
        self.ratings = _table(5, 4)
        self.metrics = _table(6, 1)
        self.findings = _table(6, 1)
        self.findings.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.form = QFormLayout()
        self.form.addRow(QLabel(), self.a)
        self.form.addRow(QLabel(), self.b)
        top = QHBoxLayout()
        top.addLayout(self.form, 1)
        top.addWidget(self.changes_only, 0, Qt.AlignmentFlag.AlignBottom)
        self.ratings_label, self.metrics_label, self.findings_label = QLabel(), QLabel(), QLabel()
        lower = QSplitter(Qt.Orientation.Vertical)
        for label, table in ((self.ratings_label, self.ratings), (self.findings_label, self.findings),
                             (self.metrics_label, self.metrics)):
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.addWidget(label)
            v.addWidget(table)
            lower.addWidget(box)
        lower.setSizes([160, 320, 320])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        for widget in (self.templates, self.warning, self.summary):
            layout.addWidget(widget)
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
        self.changes_only.setText(t("cmp.changes_only"))
        self.ratings_label.setText(f"<b>{t('cmp.ratings')}</b>")
        self.metrics_label.setText(f"<b>{t('cmp.metrics')}</b>")
        self.findings_label.setText(f"<b>{t('cmp.findings')}</b>")
        self.ratings.setHorizontalHeaderLabels([t("cmp.dimension"), "A", "B", t("cmp.direction"), t("cmp.reason")])
        self.metrics.setHorizontalHeaderLabels([t("cmp.check"), t("f.metric"), "A", "B", t("cmp.delta"),
                                                t("cmp.direction")])
        self.findings.setHorizontalHeaderLabels([t("cmp.check"), t("s.finding"), "A", "B", t("cmp.direction"),
                                                 t("cmp.reason")])
        self.refresh()

    def refresh(self) -> None:
        audits = [a for a in api.list_audits(self.state.db) if a.get("status") == "completed"]
        for combo in (self.a, self.b):
            combo.blockSignals(True)    # one comparison after both lists are rebuilt, not one per item
            current = combo.currentData()
            combo.clear()
            for a in audits:
                combo.addItem(f"{a.get('name') or ''} {a.get('version') or ''} · {a['audit_id']} · "
                              f"{a.get('template') or ''} · {verdict_word(a.get('verdict'), self.state.lang)}",
                              a["audit_id"])
            combo.setCurrentIndex(max(0, combo.findData(current)))
        if self.b.currentIndex() == self.a.currentIndex() and self.b.count() > 1:
            self.a.setCurrentIndex(1)   # newest is listed first: A = the one before it
        for combo in (self.a, self.b):
            combo.blockSignals(False)
        self.run()

    def _preselect(self, audit_id: str) -> None:
        if self.b.findData(audit_id) >= 0:
            self.b.setCurrentIndex(self.b.findData(audit_id))

    def set_pair(self, a: str, b: str) -> None:
        for combo, audit_id in ((self.a, a), (self.b, b)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(audit_id))
            combo.blockSignals(False)
        self.run()

    def run(self) -> None:
        a, b = self.a.currentData(), self.b.currentData()
        if not a or not b or a == b:
            self.result = None
            self._clear(self.state.tr("cmp.need_two"))
            return
        self.result = api.compare_audits(a, b, db=self.state.db)
        self.titles = _titles([api.audit_view(audit_id, self.state.db) for audit_id in (a, b)])
        self._show(self.result)

    def _clear(self, message: str) -> None:
        self.summary.setText(message)
        self.templates.clear()
        self.warning.hide()
        for table in (self.ratings, self.metrics, self.findings):
            table.setRowCount(0)

    def _show(self, result: dict[str, Any]) -> None:
        t, lang = self.state.tr, self.state.lang
        verdict = result.get("verdict") or {}
        s = result.get("summary") or {}
        lines = []
        for side in ("a", "b"):
            tpl = (result.get("templates") or {}).get(side) or {}
            probes = (result.get("probe_sets") or {}).get(side) or {}
            lines.append(t("cmp.template_line", side=side.upper(), audit=result[side], name=tpl.get("name"),
                           version=tpl.get("version"), sha=str(tpl.get("sha256") or "")[:12], spec=probes.get("spec"),
                           count=probes.get("count"), psha=str(probes.get("sha256") or "")[:12]))
        self.templates.setText("<br>".join(lines))
        reasons = [render(Message.from_json(r), lang) for r in result.get("reason_messages") or []]
        if result.get("comparable", True):
            self.warning.hide()
        else:
            self.warning.setText(f"<b>{t('cmp.warning')}</b><ul>" + "".join(f"<li>{html.escape(r, quote=False)}</li>" for r in reasons)
                                 + "</ul>")
            self.warning.show()
        self.summary.setText(f"<b>A</b> {result['a']}: {verdict_word(verdict.get('a'), lang)} &nbsp;→&nbsp; "
                             f"<b>B</b> {result['b']}: {verdict_word(verdict.get('b'), lang)}<br>"
                             + t("cmp.summary", **{k: s.get(k, 0) for k in ("improved", "worse", "unchanged",
                                                                             "changed")})
                             + t("cmp.summary_not_compared", n=s.get("not_compared", 0)))
        ratings = [(dimension_label(d, lang), verdict_word(r.get("a"), lang), verdict_word(r.get("b"), lang),
                    r.get("change"), _reason(r, lang)) for d, r in (result.get("ratings") or {}).items()]
        self._fill(self.ratings, ratings, reason_column=True)
        metrics = sorted(result.get("metrics") or [], key=lambda m: ORDER.get(m.get("direction"), 9))
        self._fill(self.metrics, [(m.get("check_id"), _metric_name(m, lang), m.get("a"), m.get("b"), m.get("delta"),
                                   m.get("direction"), _reason(m, lang)) for m in metrics])
        findings = sorted(result.get("findings") or [], key=lambda f: ORDER.get(f.get("change"), 9))
        self._fill(self.findings, [(f.get("check_id"), _title(f, self.titles, lang), _word(f.get("a"), lang),
                                    _word(f.get("b"), lang), f.get("change"), _reason(f, lang))
                                   for f in findings], reason_column=True)

    def _fill(self, table: QTableWidget, rows: list[tuple[Any, ...]], reason_column: bool = False) -> None:
        """Rows end with (direction, reason): the direction as a word, the reason as its tooltip (and as
        a column where the table has one). `Changes only` hides unchanged rows, never not-compared ones."""
        if self.changes_only.isChecked():
            rows = [r for r in rows if r[-2] not in UNCHANGED]
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            *cells, direction, why = row
            cells.append(self.state.tr(f"cmp.{direction}") if direction else "–")
            if reason_column:
                cells.append(why or "")
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value if isinstance(value, str) else _fmt(value))
                if c >= len(row) - 2:
                    item.setForeground(colour(DIRECTION_COLOUR.get(direction)))
                    if why:
                        item.setToolTip(why)
                table.setItem(r, c, item)
