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

from auditor import api
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import BACKGROUNDS, COLOURS, colour
from gui.widgets.check_charts import charts_for
from gui.widgets.tiles import Badge, DimensionTile
from reports.missing import AUDIT_SCOPE, missing_evidence
from reports.missing import detail as finding_detail
from reports.strings import check_text, text
from reports.summaries import summary as check_summary

DIMENSIONS = ("flow", "retention", "robustness", "trainability", "transparency", "integrity")
SYMBOL = {"pass": "✓", "warn": "!", "fail": "✗", "error": "?", "skipped": "–", "info": "i", "inconclusive": "?"}


def ratings_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The engine's dimension ratings; computed from the checks where an older engine does not store them."""
    if data.get("ratings"):
        return data["ratings"]
    try:
        from auditor.ratings import rate

        return rate(data.get("checks") or [])
    except Exception:
        return {d: {"rating": "not_assessed", "trend": None} for d in DIMENSIONS}


def finding_text(f: dict[str, Any], key: str, lang: str) -> str:
    """title/action in the chosen language (title_ja, action_ja), English where no translation is stored."""
    if lang == "ja" and f.get(f"{key}_ja"):
        return str(f[f"{key}_ja"])
    return str(f.get(key) or "")


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if isinstance(v, list):
        return json.dumps([round(x, 4) if isinstance(x, float) else x for x in v])[:200]
    return "–" if v is None else str(v)


class FindingsPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.data: dict[str, Any] | None = None
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
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
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
        self.render()

    def load(self, audit_id: str) -> None:
        self.data = api.show_audit(audit_id, self.state.db) if audit_id else None
        self.render()

    def render(self) -> None:
        lang, data = self.state.lang, self.data
        row = max(0, self.checks.currentRow())
        self.checks.blockSignals(True)
        self.checks.clear()
        if data is None:
            self.title.setText(self.state.tr("f.none"))
            self.verdict.set_status(None, lang)
            self.missing.hide()
            for tile in self.tiles.values():
                tile.set_rating(None, None, lang)
            self.checks.blockSignals(False)
            self._show_check(-1)
            return
        model = data.get("model") or {}
        self.title.setText(f"<span style='font-size:14pt'><b>{html.escape(str(model.get('name') or ''))}</b> "
                           f"{html.escape(str(model.get('version') or ''))}</span><br>"
                           f"{data['audit_id']} · {(data.get('started_at') or '')[:16].replace('T', ' ')} · "
                           f"{html.escape(str(model.get('format') or ''))} · "
                           f"{html.escape(str((data.get('template') or {}).get('name') or ''))} · "
                           f"{self.state.tr('st.' + str(data.get('status')))}")
        self.verdict.set_status(data.get("verdict"), lang, prefix=self.state.tr("f.overall") + ": ")
        self._show_missing(data.get("findings") or [])
        ratings = ratings_of(data)
        for dim, tile in self.tiles.items():
            entry = ratings.get(dim) or {}
            tile.set_rating(entry.get("rating"), entry.get("trend"), lang)
        for check in data.get("checks") or []:
            item = QListWidgetItem(f"{SYMBOL.get(check['status'], ' ')}  {_check_title(check['id'], lang)}")
            item.setForeground(colour(check["status"]))
            item.setToolTip(f"{check['id']} · {verdict_word(check['status'], lang)}")
            self.checks.addItem(item)
        self.checks.blockSignals(False)
        self.checks.setCurrentRow(min(row, self.checks.count() - 1))
        self._show_check(self.checks.currentRow())

    def _show_missing(self, findings: list[dict[str, Any]]) -> None:
        """The inconclusive findings, one line per cause with the checks it stops, above everything else."""
        t, lang = self.state.tr, self.state.lang
        items = missing_evidence(findings, lang)
        self.missing.setVisible(bool(items))
        if not items:
            self.missing.setText("")
            return
        colon, left, right = ("：", "（", "）") if lang == "ja" else (": ", " (", ")")
        comma = "、" if lang == "ja" else ", "
        lines = [f"<b>{html.escape(t('f.missing_title'))}</b><br>{html.escape(t('f.missing_intro'))}"]
        for m in items:
            where = comma.join(t("f.audit_scope") if c == AUDIT_SCOPE else _check_title(c, lang) for c in m.scopes)
            lines.append(f"<span style='color:{COLOURS['inconclusive']}'><b>?</b></span> "
                         f"<b>{html.escape(m.title)}</b>{left}{html.escape(where)}{right}{colon}"
                         f"{html.escape(m.reason)}<br>&nbsp;&nbsp;→ <b>{html.escape(t('f.missing_how'))}</b>{colon}"
                         f"{html.escape(m.action)}")
        self.missing.setText("<br>".join(lines))

    def select_check(self, check_id: str) -> None:
        for i, check in enumerate((self.data or {}).get("checks") or []):
            if check["id"] == check_id:
                self.checks.setCurrentRow(i)

    def _show_check(self, row: int) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        checks = (self.data or {}).get("checks") or []
        if 0 <= row < len(checks):
            self._fill(layout, checks[row])
        layout.addStretch(1)
        old = self.detail_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.detail = body
        self.detail_area.setWidget(body)

    def _fill(self, layout: QVBoxLayout, check: dict[str, Any]) -> None:
        t, lang = self.state.tr, self.state.lang
        findings = [f for f in (self.data or {}).get("findings") or [] if f.get("check_id") == check["id"]]
        head = QLabel(f"<span style='font-size:13pt'><b>{html.escape(_check_title(check['id'], lang))}</b></span> "
                      f"<span style='color:#555'>({check['id']})</span> &nbsp; "
                      f"<span style='color:{COLOURS.get(check['status'], '#757575')}'><b>"
                      f"{verdict_word(check['status'], lang)}</b></span>")
        summary = QLabel(f"<b>{t('f.summary')}:</b> {html.escape(check_summary(check, lang))}", wordWrap=True)
        layout.addWidget(head)
        layout.addWidget(summary)
        for chart in charts_for(check, findings, lang):
            layout.addWidget(chart)
        if findings:
            layout.addWidget(QLabel(f"<b>{t('f.findings')}</b>"))
        for f in findings:
            layout.addWidget(self._finding_card(f))
        scalars = [(k, v) for k, v in (check.get("metrics") or {}).items() if not isinstance(v, list)]
        if scalars:
            layout.addWidget(QLabel(f"<b>{t('f.figures')}</b>"))
            table = QTableWidget(len(scalars), 2)
            table.setHorizontalHeaderLabels([t("f.metric"), t("f.value")])
            table.verticalHeader().setVisible(False)
            table.horizontalHeader().setStretchLastSection(True)
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            for r, (k, v) in enumerate(scalars):
                table.setItem(r, 0, QTableWidgetItem(k))
                table.setItem(r, 1, QTableWidgetItem(_value(v)))
            table.resizeColumnToContents(0)
            table.setFixedHeight(table.horizontalHeader().height() + sum(table.rowHeight(i) for i in
                                                                         range(len(scalars))) + 4)
            layout.addWidget(table)

    def _finding_card(self, f: dict[str, Any]) -> QFrame:
        t, lang = self.state.tr, self.state.lang
        sev = f.get("severity")
        card = QFrame()
        card.setObjectName("card")
        card.setStyleSheet(f"QFrame#card {{background:{BACKGROUNDS.get(sev, '#f5f5f5')};"
                           f"border-left:5px solid {COLOURS.get(sev, '#757575')};}}")
        meaning = (f.get("meaning") or {}).get(lang) or (f.get("meaning") or {}).get("en") or ""
        clauses = ", ".join(f.get("clauses") or [])
        owner = " · ".join(x for x in (f.get("owner") or "", f.get("due") or "") if x)
        text = (f"<b>{verdict_word(sev, lang)} — "
                f"{html.escape(finding_text(f, 'title', lang))}</b><br>"
                f"<b>{t('f.reason' if _is_reason(f) else 'f.threshold')}:</b> "
                f"{html.escape(finding_detail(f, lang))}<br>"
                f"<b>{t('f.meaning')}:</b> {html.escape(meaning)}<br>"
                f"<b>{t('f.action')}:</b> {html.escape(finding_text(f, 'action', lang))}<br>"
                f"<span style='color:#555'>{t('f.clauses')}: {html.escape(clauses)}"
                + (f" · {t('s.owner')}: {html.escape(owner)}" if owner else "") + "</span>")
        label = QLabel(text, wordWrap=True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout(card)
        box.setContentsMargins(10, 6, 6, 6)
        box.addWidget(label)
        return card


def _is_reason(f: dict[str, Any]) -> bool:
    """Whether a finding's detail is a reason (missing evidence, a skip, an error) rather than a figure and threshold."""
    return f.get("severity") == "inconclusive" or f.get("key") in ("check.skipped", "check.error")


def _check_title(check_id: str, lang: str) -> str:
    """The check's plain-language title in the reports' words (its id where they do not know it)."""
    return check_text(text(lang), check_id)["title"]
