"""The findings dashboard: overall verdict, dimension tiles, and per check its charts, figures and findings."""
from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor import api, messages
from auditor.presentation import (
    audit_status_label,
    interval_bounds,
    metric_label,
    missing_evidence,
    presentation,
    scope_label,
    variant_label,
)
from auditor.status import Status
from auditor.views import DIMENSIONS, AuditView, CheckView, FindingView
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import BACKGROUNDS, COLOURS, colour
from gui.widgets.check_charts import charts_for
from gui.widgets.tiles import Badge, DimensionTile
from gui.widgets.verification import PENDING, EvidenceLabel, cached, check_later

SYMBOL = {"pass": "✓", "warn": "!", "fail": "✗", "error": "?", "skipped": "–", "info": "i", "inconclusive": "?"}


def _value(v: Any, lang: str = "en") -> str:
    """A stored figure as text; a mapping's keys in words (a perturbation kind@size as its sentence)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{variant_label(str(k), lang)}: {_value(x, lang)}" for k, x in v.items())
    if isinstance(v, list):
        return json.dumps([round(x, 4) if isinstance(x, float) else x for x in v])[:200]
    return "–" if v is None else str(v)


def _interval(check: CheckView, metric: str, value: Any, lang: str) -> str:
    """The stored 95% interval of a scalar figure ('0.297–0.319'), or of each variant of a mapping one."""
    if isinstance(value, dict):
        parts = [(k, interval_bounds(check.interval(metric, variant=str(k)), lang)) for k in value]
        return ", ".join(f"{variant_label(str(k), lang)}: {b}" for k, b in parts if b)
    return interval_bounds(check.interval(metric), lang)


class FindingsPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.view: AuditView | None = None
        self.title = QLabel(wordWrap=True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict = Badge()
        self.missing = QLabel(wordWrap=True)   # decisions first: what evidence is missing and how to get it
        self.missing.setObjectName("missing")
        self.missing.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.missing.setStyleSheet(f"QLabel#missing {{background:{BACKGROUNDS['inconclusive']};"
                                   f"border:2px solid {COLOURS['inconclusive']};border-radius:6px;padding:6px;}}")
        self.tiles = {d: DimensionTile(d) for d in DIMENSIONS}
        self.checks = QListWidget()
        self.checks.currentRowChanged.connect(self._show_check)
        self.detail_area = QScrollArea(widgetResizable=True)
        self.detail = QWidget()
        self.detail_area.setWidget(self.detail)
        self.evidence = EvidenceLabel()   # the signed record: verified, broken (why) or not signed
        heading = QVBoxLayout()
        heading.addWidget(self.title)
        heading.addWidget(self.evidence)
        header = QHBoxLayout()
        header.addLayout(heading, 1)
        header.addWidget(self.verdict, 0, Qt.AlignmentFlag.AlignTop)
        tiles = QHBoxLayout()
        for tile in self.tiles.values():
            tiles.addWidget(tile)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.checks)
        splitter.addWidget(self.detail_area)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 900])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.missing)
        layout.addLayout(tiles)
        layout.addWidget(splitter, 1)
        state.audit_opened.connect(self.load)
        state.language_changed.connect(lambda _l: self.render())
        state.db_changed.connect(lambda _d: self.load(""))
        state.audits_changed.connect(self._check_evidence)   # a sign-off or assignment adds signed events
        self.render()

    def load(self, audit_id: str) -> None:
        self.view = api.audit_view(audit_id, self.state.db) if audit_id else None
        self._check_evidence()
        self.render()

    def _check_evidence(self) -> None:
        """The open audit's signed-record state, checked on a pool thread unless cached for the file as it is."""
        if self.view is None or cached(self.state.db, self.view.audit_id) is not None:
            return
        audit_id, db = self.view.audit_id, self.state.db

        def done() -> None:
            if self.view is not None and self.view.audit_id == audit_id and db == self.state.db:
                self._show_evidence()
        check_later(db, [audit_id], done, self)

    def _show_evidence(self) -> None:
        view = self.view
        self.evidence.set_evidence(None if view is None else cached(self.state.db, view.audit_id) or PENDING,
                                   self.state.lang)

    def render(self) -> None:
        lang, view = self.state.lang, self.view
        row = max(0, self.checks.currentRow())
        self.checks.blockSignals(True)
        self.checks.clear()
        self._show_evidence()
        if view is None:
            self.title.setText(self.state.tr("f.none"))
            self.verdict.set_status(None, lang)
            self.missing.hide()
            for tile in self.tiles.values():
                tile.set_rating(None, None, lang)
            self.checks.blockSignals(False)
            self._show_check(-1)
            return
        model = view.model
        self.title.setText(f"<span style='font-size:14pt'><b>{html.escape(model.name or '')}</b> "
                           f"{html.escape(model.version or '')}</span><br>"
                           f"{view.audit_id} · {(view.started_at or '')[:16].replace('T', ' ')} · "
                           f"{html.escape(model.format or '')} · {html.escape(view.template.name or '')} · "
                           f"{audit_status_label(view.status, lang)}")
        self.verdict.set_status(view.verdict, lang, prefix=self.state.tr("f.overall") + ": ")
        self._show_missing(view)
        for dim, tile in self.tiles.items():
            rating = view.rating(dim)
            tile.set_rating(rating.rating if rating else None, rating.trend if rating else None, lang)
        for check in view.checks:
            item = QListWidgetItem(f"{SYMBOL.get(check.status, ' ')}  {presentation(check.id).title_in(lang)}")
            item.setForeground(colour(check.status))
            item.setToolTip(f"{check.id} · {verdict_word(check.status, lang)}")
            self.checks.addItem(item)
        self.checks.blockSignals(False)
        self.checks.setCurrentRow(min(row, self.checks.count() - 1))
        self._show_check(self.checks.currentRow())

    def _show_missing(self, view: AuditView) -> None:
        """The inconclusive findings, one line per cause with the checks it stops, above everything else."""
        lang = self.state.lang
        items = missing_evidence(view.findings, lang)
        self.missing.setVisible(bool(items))
        if not items:
            self.missing.setText("")
            return
        colon, left, right = ("：", "（", "）") if lang == "ja" else (": ", " (", ")")
        comma, how = messages.text("join.list", lang), html.escape(messages.text("missing.how", lang))
        lines = [f"<b>{html.escape(messages.text('missing.title', lang))}</b><br>"
                 f"{html.escape(messages.text('missing.intro', lang))}"]
        for m in items:
            where = comma.join(scope_label(c, lang) for c in m.scopes)
            lines.append(f"<span style='color:{COLOURS['inconclusive']}'><b>?</b></span> "
                         f"<b>{html.escape(m.title)}</b>{left}{html.escape(where)}{right}{colon}"
                         f"{html.escape(m.reason)}<br>&nbsp;&nbsp;→ <b>{how}</b>{colon}{html.escape(m.action)}")
        self.missing.setText("<br>".join(lines))

    def select_check(self, check_id: str) -> None:
        for i, check in enumerate(self.view.checks if self.view else ()):
            if check.id == check_id:
                self.checks.setCurrentRow(i)

    def _show_check(self, row: int) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        checks = self.view.checks if self.view else ()
        if 0 <= row < len(checks):
            self._fill(layout, checks[row])
        layout.addStretch(1)
        old = self.detail_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.detail = body
        self.detail_area.setWidget(body)

    def _fill(self, layout: QVBoxLayout, check: CheckView) -> None:
        t, lang = self.state.tr, self.state.lang
        assert self.view is not None
        findings = self.view.findings_of(check.id)
        shown = presentation(check.id)
        head = QLabel(f"<span style='font-size:13pt'><b>{html.escape(shown.title_in(lang))}</b></span> "
                      f"<span style='color:#555'>({check.id})</span> &nbsp; "
                      f"<span style='color:{COLOURS.get(check.status, '#757575')}'><b>"
                      f"{verdict_word(check.status, lang)}</b></span>")
        summary = QLabel(f"<b>{t('f.summary')}:</b> {html.escape(check.summary_in(lang))}", wordWrap=True)
        layout.addWidget(head)
        layout.addWidget(summary)
        for chart in charts_for(check, findings, lang):
            layout.addWidget(chart)
        if findings:
            layout.addWidget(QLabel(f"<b>{t('f.findings')}</b>"))
        for f in findings:
            layout.addWidget(self._finding_card(f))
        scalars = [(k, v) for k, v in check.metrics.items() if not isinstance(v, list)]
        if scalars:
            layout.addWidget(QLabel(f"<b>{t('f.figures')}</b>"))
            layout.addWidget(self._figures(check, scalars))

    def _figures(self, check: CheckView, scalars: list[tuple[str, Any]]) -> QTableWidget:
        """A check's scalar figures: the metric's display name (its code as a tooltip), its value and, beside
        it, its stored 95% interval (a variant metric's per variant; blank where none is stored)."""
        t, lang = self.state.tr, self.state.lang
        table = QTableWidget(len(scalars), 3)
        table.setHorizontalHeaderLabels([t("f.metric"), t("f.value"), messages.text("interval.heading", lang)])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (k, v) in enumerate(scalars):
            name = QTableWidgetItem(metric_label(k, lang))
            name.setToolTip(k)
            table.setItem(r, 0, name)
            table.setItem(r, 1, QTableWidgetItem(_value(v, lang)))
            table.setItem(r, 2, QTableWidgetItem(_interval(check, k, v, lang)))
        table.resizeColumnToContents(0)
        table.resizeColumnToContents(1)
        table.setFixedHeight(table.horizontalHeader().height() + sum(table.rowHeight(i) for i in
                                                                     range(len(scalars))) + 4)
        return table

    def _finding_card(self, f: FindingView) -> QFrame:
        t, lang = self.state.tr, self.state.lang
        sev = f.severity
        card = QFrame()
        card.setObjectName("card")
        card.setStyleSheet(f"QFrame#card {{background:{BACKGROUNDS.get(sev, '#f5f5f5')};"
                           f"border-left:5px solid {COLOURS.get(sev, '#757575')};}}")
        owner = " · ".join(x for x in (f.owner or "", f.due or "") if x)
        text = (f"<b>{verdict_word(sev, lang)} — {html.escape(f.title_in(lang))}</b><br>"
                f"<b>{t('f.reason' if _is_reason(f) else 'f.threshold')}:</b> {html.escape(f.detail_in(lang))}<br>"
                f"<b>{t('f.meaning')}:</b> {html.escape(f.meaning_in(lang))}<br>"
                f"<b>{t('f.action')}:</b> {html.escape(f.action_in(lang))}<br>"
                f"<span style='color:#555'>{t('f.clauses')}: {html.escape(', '.join(f.clauses))}"
                + (f" · {t('s.owner')}: {html.escape(owner)}" if owner else "") + "</span>")
        label = QLabel(text, wordWrap=True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout(card)
        box.setContentsMargins(10, 6, 6, 6)
        box.addWidget(label)
        return card


def _is_reason(f: FindingView) -> bool:
    """Whether a finding's detail is a reason (missing evidence, a skip, an error) rather than a figure and threshold."""
    return f.severity is Status.INCONCLUSIVE or f.key in ("check.skipped", "check.error")
