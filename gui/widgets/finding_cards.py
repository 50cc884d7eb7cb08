"""What the findings page shows of one check: finding cards (what needs attention first) and its figures table.

Numbers are written plainly: whole numbers and anything from a thousand up with thousands separators
(22,713,728, never 2.271e+07: a table states the exact count), others to three significant digits
(0.309, 68.4), and a value below 0.001 as 1.23×10⁻⁵, as the charts do. Metric and variant names come from the catalogue (auditor.presentation).
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from auditor import messages
from auditor.presentation import interval_bounds, metric_label, status_label, variant_label
from auditor.status import Status
from auditor.views import AuditView, CheckView, FindingView
from gui.strings import verdict_word
from gui.theme import BACKGROUNDS, COLOURS

Tr = Callable[..., str]
# decisions first: what a reader must act on before what passed (the brief's order, not Status.rank, which
# puts inconclusive above warn for the verdict; here a measured warning is read before missing evidence)
URGENCY = {"fail": 0, "warn": 1, "inconclusive": 2, "error": 3, "info": 4, "pass": 5}
ATTENTION = frozenset({"fail", "warn", "inconclusive", "error"})
NEEDS_OWNER = frozenset({"fail", "warn"})
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def urgency(status: str | Status | None) -> int:
    """0 for a fail, 1 warn, 2 inconclusive, 3 error, 4 info, 5 pass; 6 for skipped, n/a and anything else."""
    return URGENCY.get(str(status), 6)


def by_urgency(findings: Iterable[FindingView]) -> list[FindingView]:
    """Findings with the most urgent first; the template's order among equals."""
    return sorted(findings, key=lambda f: urgency(f.severity))


def most_severe_row(view: AuditView) -> int:
    """The row of the check to open on: the one with the most severe status or finding (the first of equals)."""
    worst: dict[str, int] = {}
    for f in view.findings:
        worst[f.check_id] = min(worst.get(f.check_id, 6), urgency(f.severity))
    scores = [min(urgency(c.status), worst.get(c.id, 6)) for c in view.checks]
    return scores.index(min(scores)) if scores else -1


def plain_number(value: float | int, lang: str = "en") -> str:
    """A figure as people write it: 22,713,728 · 0.309 · 68.4 · 1.23×10⁻⁵ (never 2.271e+07)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return messages.text("value.unknown", lang)
    if value == 0:
        return "0"
    size = abs(value)
    if float(value).is_integer() or size >= 999.5:
        return f"{value:,.0f}"
    if size < 1e-3:   # as the charts write them (gui/widgets/numbers.py): no zeros to count
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    digits = max(0, 2 - math.floor(math.log10(size)))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def value_text(value: Any, lang: str = "en") -> str:
    """A stored figure as text: a number plainly, a mapping's keys in words, a series shortened."""
    comma = messages.text("join.list", lang)
    if isinstance(value, (int, float)):
        return plain_number(value, lang)
    if isinstance(value, dict):
        return comma.join(f"{variant_label(str(k), lang)}: {value_text(x, lang)}" for k, x in value.items())
    if isinstance(value, list):
        shown = [value_text(x, lang) for x in value[:6]]
        return "[" + comma.join(shown) + (comma + "…" if len(value) > 6 else "") + "]"
    return "–" if value is None else str(value)


def interval_text(check: CheckView, metric: str, value: Any, lang: str) -> str:
    """The stored 95% interval of a scalar figure ('0.297–0.319'), or of each variant of a mapping one."""
    if isinstance(value, dict):
        parts = [(k, interval_bounds(check.interval(metric, variant=str(k)), lang)) for k in value]
        return messages.text("join.list", lang).join(f"{variant_label(str(k), lang)}: {b}" for k, b in parts if b)
    return interval_bounds(check.interval(metric), lang)


def figures_table(check: CheckView, scalars: list[tuple[str, Any]], tr: Tr, lang: str, check_title: str
                  ) -> QTableWidget:
    """A check's scalar figures: display name (code as tooltip), value, 95% interval. Sized to its rows, no
    horizontal scrollbar (cells wrap), and Tab leaves it."""
    table = QTableWidget(len(scalars), 3)
    table.setHorizontalHeaderLabels([tr("f.metric"), tr("f.value"), messages.text("interval.heading", lang)])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTabKeyNavigation(False)
    table.setWordWrap(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    header = table.horizontalHeader()
    for column in range(3):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
    for r, (k, v) in enumerate(scalars):
        name = QTableWidgetItem(metric_label(k, lang))
        name.setToolTip(k)
        shown = value_text(v, lang)
        value = QTableWidgetItem(shown)
        value.setToolTip(shown)
        table.setItem(r, 0, name)
        table.setItem(r, 1, value)
        table.setItem(r, 2, QTableWidgetItem(interval_text(check, k, v, lang)))
    table.setAccessibleName(tr("gui.findings.figures.name", check=check_title))
    table.setAccessibleDescription(tr("gui.findings.figures.description"))
    table.resizeRowsToContents()
    table.setFixedHeight(header.sizeHint().height() + sum(table.rowHeight(i) for i in range(len(scalars))) + 4)
    return table


def _is_reason(f: FindingView) -> bool:
    """Whether a finding's detail is a reason (missing evidence, a skip, an error) rather than a figure and threshold."""
    return f.severity is Status.INCONCLUSIVE or f.key in ("check.skipped", "check.error")


def owner_text(f: FindingView, tr: Tr) -> str:
    """'Owner: Model team, due 2027-01-31'; for an unowned warn or fail, that nobody is assigned yet."""
    if f.owner and f.due:
        return tr("gui.findings.owner_due", owner=f.owner, due=f.due[:10])
    if f.owner:
        return tr("gui.findings.owner", owner=f.owner)
    return tr("gui.findings.no_owner") if str(f.severity) in NEEDS_OWNER else ""


def finding_card(f: FindingView, tr: Tr, lang: str) -> QFrame:
    """One finding: status and title, the figure against its threshold (or why it is missing), what it
    means, what to do, the framework clauses and its owner."""
    sev = str(f.severity)
    card = QFrame()
    card.setObjectName("card")
    card.setStyleSheet(f"QFrame#card {{background:{BACKGROUNDS.get(sev, '#f5f5f5')};"
                       f"border-left:5px solid {COLOURS.get(sev, '#757575')};}}")
    owner = owner_text(f, tr)
    owner_html = f" · <b>{html.escape(owner)}</b>" if owner and sev in NEEDS_OWNER else \
        (f" · {html.escape(owner)}" if owner else "")
    clauses = messages.text("join.list", lang).join(f.clauses)
    text = (f"<b>{verdict_word(sev, lang)} — {html.escape(f.title_in(lang))}</b><br>"
            f"<b>{tr('f.reason' if _is_reason(f) else 'f.threshold')}:</b> {html.escape(f.detail_in(lang))}<br>"
            f"<b>{tr('f.meaning')}:</b> {html.escape(f.meaning_in(lang))}<br>"
            f"<b>{tr('f.action')}:</b> {html.escape(f.action_in(lang))}<br>"
            f"<span style='color:#424242'>{tr('f.clauses')}: {html.escape(clauses)}{owner_html}</span>")
    label = QLabel(text, wordWrap=True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAccessibleName(tr("gui.findings.card.name", status=status_label(sev, lang), title=f.title_in(lang)))
    card.setProperty("finding_id", f.id)
    card.setProperty("severity", sev)
    box = QVBoxLayout(card)
    box.setContentsMargins(10, 6, 6, 6)
    box.addWidget(label)
    return card
