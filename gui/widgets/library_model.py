"""The library's cells: each audit's sign-off state and text cells that keep their full text.

The sign-off state is read from `api.list_audits` (its `signoffs`: the latest sign-off per role, marked
`current` when it signs the audit's latest evaluation), so the whole list costs one query. Words come
from the catalogue: signoff.role.* and signoff.decision.* (the sign-off page's words) and gui.library.*
(templates/sentences/gui_library.yaml), so the Japanese UI shows no English sign-off word.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOption, QStyleOptionHeader, QTableWidgetItem, QWidget

from auditor.duties import is_rejection
from auditor.messages import Message, has, render, text, verbatim
from gui.theme import COLOURS as THEME

NONE, PREPARED, REVIEWED, APPROVED, REJECTED, OUTDATED = (
    "none", "prepared", "reviewed", "approved", "rejected", "outdated")
ROLES = ("preparer", "reviewer", "approver")
# a symbol before each word, so the state never rests on colour alone
SYMBOLS = {NONE: "○", PREPARED: "◔", REVIEWED: "◑", APPROVED: "✓", REJECTED: "✗", OUTDATED: "↻"}
# on the table's white background: green 5.1:1, red 5.6:1, the conditions' amber 6.3:1 (WCAG AA is 4.5:1)
COLOURS = {APPROVED: "#2e7d32", REJECTED: "#c62828", "conditions": "#8a5300"}
AUDIT_ID_ROLE = Qt.ItemDataRole.UserRole
# how a run ended, in the Status column: a failed run in the error purple (a run that broke, not a "fail"
# verdict; 9.4:1 on white), a cancelled or interrupted one in neutral grey (the officer stopped it: 5.7:1),
# a running one in amber (6.3:1); a completed run in the table's own text colour
RUN_COLOURS = {"failed": THEME["error"], "cancelled": THEME["not_assessed"], "interrupted": THEME["not_assessed"],
               "running": "#8a5300"}


@dataclass(frozen=True)
class SignoffState:
    """What the sign-offs of an audit's current evaluation amount to, and every latest sign-off per role."""

    state: str
    conditions: bool = False            # the deciding sign-off approved with conditions
    rejected_by: str | None = None      # the most senior role whose current sign-off rejects
    signoffs: tuple[Mapping[str, Any], ...] = ()

    def word(self, lang: str) -> str:
        """The cell: symbol and short word, e.g. '✓ Approved with conditions', '✗ Rejected by the approver'."""
        return f"{SYMBOLS[self.state]} {self._word(lang)}"

    def _word(self, lang: str) -> str:
        if self.state == REJECTED:
            return text("gui.library.signoff.rejected", lang, role=render(Message(f"duties.role.{self.rejected_by}"),
                                                                         lang))
        suffix = "_conditions" if self.conditions and self.state in (REVIEWED, APPROVED) else ""
        return text(f"gui.library.signoff.{self.state}{suffix}", lang)

    def line(self, lang: str) -> str:
        """The full sentence: the state, then each role's decision, name and time (tooltip, screen readers)."""
        if not self.signoffs:
            return text("gui.library.signoff.line_none", lang)
        entries = [_entry(s) for s in self.signoffs]
        return render(Message("gui.library.signoff.line", {"state": self._word(lang), "entries": entries}), lang)

    @property
    def colour(self) -> QColor | None:
        if self.state in (APPROVED, REJECTED):
            return QColor(COLOURS["conditions" if self.conditions else self.state])
        return QColor(COLOURS["conditions"]) if self.conditions else None


def signoff_state(signoffs: Sequence[Mapping[str, Any]] | None) -> SignoffState:
    """The state of one audit from its listed sign-offs. Only sign-offs of the latest evaluation decide it:
    after a re-evaluation the earlier ones are shown as such, never as the current decision."""
    listed = tuple(s for s in signoffs or () if s.get("role") in ROLES)
    current = {s["role"]: s for s in listed if s.get("current")}
    if not listed:
        return SignoffState(NONE)
    if not current:
        return SignoffState(OUTDATED, signoffs=listed)
    rejecting = [r for r in ROLES if r in current and is_rejection(current[r].get("decision"))]
    if rejecting:
        return SignoffState(REJECTED, rejected_by=rejecting[-1], signoffs=listed)
    deciding = next(r for r in reversed(ROLES) if r in current)
    state = {"approver": APPROVED, "reviewer": REVIEWED, "preparer": PREPARED}[deciding]
    return SignoffState(state, _with_conditions(current[deciding].get("decision")), signoffs=listed)


def _with_conditions(decision: Any) -> bool:
    folded = " ".join(str(decision or "").split()).casefold()
    return folded == "conditions" or "condition" in folded or "条件" in folded


def decision_message(decision: Any) -> Message:
    """A stored decision in catalogue words (approve, conditions, reject); typed free text stays as typed."""
    if decision is None or str(decision).strip() == "":
        return Message("gui.library.signoff.no_decision")
    key = f"signoff.decision.{decision}"
    return Message(key) if has(key) else verbatim(str(decision))


def _entry(signoff: Mapping[str, Any]) -> Message:
    key = "gui.library.signoff.entry" if signoff.get("current") else "gui.library.signoff.entry_earlier"
    return Message(key, {"role": Message(f"signoff.role.{signoff['role']}"),
                         "decision": decision_message(signoff.get("decision")),
                         "name": verbatim(str(signoff.get("name") or "")), "at": when(signoff.get("at"))})


def when(at: Any) -> str:
    """A stored UTC time as the table writes it: '2026-12-01 16:14'."""
    return str(at or "").replace("T", " ")[:16]


def text_item(value: Any, audit_id: str, spoken: str | None = None) -> QTableWidgetItem:
    """A cell whose full text stays readable when the column elides it: as tooltip and for screen readers."""
    shown = str(value or "")
    item = QTableWidgetItem(shown)
    item.setData(AUDIT_ID_ROLE, audit_id)
    if shown:
        item.setToolTip(shown)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, spoken or shown)
    return item


def signoff_item(state: SignoffState, lang: str, audit_id: str, column: str) -> QTableWidgetItem:
    """The sign-off cell: symbol and word; the full sentence as tooltip and for screen readers."""
    item = QTableWidgetItem(state.word(lang))
    line = state.line(lang)
    item.setToolTip(line)
    item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{column}{'：' if lang == 'ja' else ': '}{line}")
    item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, line)
    item.setData(AUDIT_ID_ROLE, audit_id)
    item.setData(AUDIT_ID_ROLE + 1, state.state)
    if state.colour is not None:
        item.setForeground(state.colour)
    return item


def run_colour(status: str | None) -> QColor | None:
    """The Status cell's colour for a run that did not complete (RUN_COLOURS); None for a completed one."""
    if status in (None, "completed"):
        return None
    return QColor(RUN_COLOURS.get(str(status), THEME["not_assessed"]))


class HeaderArrows(QProxyStyle):
    """Fusion (and Qt's other styles) draw a descending sort as an arrow pointing up, which people read as
    "ascending" (smallest first). This style draws the arrow the way the rows run: pointing down (▼) for
    descending, newest first; up (▲) for ascending. Set on a table's header only."""

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption, painter: QPainter,  # noqa: N802
                      widget: QWidget | None = None) -> None:
        if element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow and isinstance(option, QStyleOptionHeader):
            up, down = QStyleOptionHeader.SortIndicator.SortUp, QStyleOptionHeader.SortIndicator.SortDown
            flipped = QStyleOptionHeader(option)
            flipped.sortIndicator = {up: down, down: up}.get(option.sortIndicator, option.sortIndicator)
            option = flipped
        super().drawPrimitive(element, option, painter, widget)


def readable(colour: QColor, background: str = "#ffffff", ratio: float = 4.5) -> QColor:
    """`colour`, darkened until its contrast with `background` is at least `ratio` (WCAG 2 formula)."""
    out, back = QColor(colour), QColor(background)
    for _ in range(20):
        if contrast(out, back) >= ratio:
            break
        out = out.darker(110)
    return out


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _luminance(c: QColor) -> float:
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())
