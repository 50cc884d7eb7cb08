"""A heat map (blocks down, heads across) and horizontal bars, in plain numbers with a text summary.

Each heat-map cell's value is printed in black or white, whichever has the higher WCAG contrast with
the cell's colour (never below 4.58:1), with as many digits as the lowest and highest value need to differ
(entropies of 0.999986 to 0.999989 are not all "1.00").
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from auditor.messages import Message, render
from gui.widgets.chart_base import (
    CENTRE,
    INK,
    MIDDLE_LEFT,
    MIDDLE_RIGHT,
    MUTED,
    TOP_CENTRE,
    ChartWidget,
    text_on,
)
from gui.widgets.chart_words import cell_place, describe_bars, describe_heatmap, place
from gui.widgets.numbers import DASH, digits_apart, plain

# series colours, each at least 3:1 on white (WCAG non-text contrast); orange darkened from #ef6c00 (3.1:1, at
# the limit) to #e65100 (3.8:1)
PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#e65100", "#00838f", "#5d4037")
EMPTY_CELL = QColor("#eeeeee")


def ramp(t: float) -> QColor:
    """The heat map's colour for t in 0..1: light to dark blue (darker = larger, so it reads in greyscale)."""
    return QColor.fromHsvF(0.6, 0.15 + 0.75 * t, 1.0 - 0.7 * t)


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class HeatMap(ChartWidget):
    """Blocks down, heads across; darker = larger (greyscale-safe), value printed where cells are wide."""

    def __init__(self, title: str, grid: Sequence[Sequence[float | None]], x_label: str = "head",
                 y_label: str = "layer", parent: QWidget | None = None, *, value_label: str = "",
                 lang: str = "en", row_place: str = "step") -> None:
        super().__init__(title, lang, parent)
        self.grid, self.x_label, self.y_label = grid, x_label, y_label
        self.value_label, self.row_place = value_label, row_place
        self.setMinimumHeight(max(160, 26 * len(grid) + 70))
        self.describe(describe_heatmap(grid, value_label or title, lang))

    def sizeHint(self) -> QSize:
        return QSize(480, self.minimumHeight())

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        fm = p.fontMetrics()
        self.begin(p)
        vals = [v for row in self.grid for v in row if _finite(v)]
        rows, cols = len(self.grid), max((len(r) for r in self.grid), default=0)
        if not vals or not cols:
            self.text(p, QRectF(self.rect()), CENTRE, DASH, role="empty")
            return
        lo, hi = min(vals), max(vals)
        digits = digits_apart([lo, hi], self.lang)
        names = [place(self.row_place, r + 1, self.lang) for r in range(rows)]
        scale = [plain(hi, self.lang, digits), plain(lo, self.lang, digits)]
        left, top = max(fm.horizontalAdvance(n) for n in names) + 10, fm.height() * 2 + 10
        bar_w = max(fm.horizontalAdvance(s) for s in scale) + 26
        w = (self.width() - left - bar_w - 20) / cols
        h = (self.height() - top - fm.height() * 2 - 8) / rows
        for r, row in enumerate(self.grid):
            self.text(p, QRectF(0, top + r * h, left - 6, h), MIDDLE_RIGHT, names[r], MUTED, role="y-tick")
            for c, v in enumerate(row):
                self._cell(p, QRectF(left + c * w, top + r * h, w - 1, h - 1), v, (lo, hi), digits, (r, c))
        for c in range(cols):
            self.text(p, QRectF(left + c * w, top - fm.height() - 2, w, fm.height()), TOP_CENTRE, str(c + 1), MUTED,
                      role="x-tick")
        self.text(p, QRectF(left, self.height() - fm.height() - 4, cols * w, fm.height()), TOP_CENTRE,
                  self.x_label, MUTED, role="axis")
        bx = self.width() - bar_w - 4
        for i in range(20):
            p.fillRect(QRectF(bx, top + i * (rows * h / 20), 12, rows * h / 20 + 1), ramp(1 - i / 19))
        self.text(p, QRectF(bx + 16, top, bar_w - 16, fm.height()), MIDDLE_LEFT, scale[0], MUTED, role="scale")
        self.text(p, QRectF(bx + 16, top + rows * h - fm.height(), bar_w - 16, fm.height()), MIDDLE_LEFT, scale[1],
                  MUTED, role="scale")

    def _cell(self, p: QPainter, cell: QRectF, v: float | None, span: tuple[float, float], digits: int,
              at: tuple[int, int]) -> None:
        """One cell: its colour, its value in black or white (the better contrast) where it fits, its tooltip."""
        if not _finite(v):
            p.fillRect(cell, EMPTY_CELL)
            return
        lo, hi = span
        shade = ramp(0.0 if hi == lo else (v - lo) / (hi - lo))
        p.fillRect(cell, shade)
        label = plain(v, self.lang, digits)
        fm = p.fontMetrics()
        if cell.width() > fm.horizontalAdvance(label) + 4 and cell.height() > fm.height():
            self.text(p, cell, CENTRE, label, text_on(shade), shade, role="cell")
        self.tip(cell, render(Message("gui.charts.point", {
            "name": self.value_label or self.title, "place": cell_place(*at, self.lang),
            "value": plain(v, self.lang, digits)}), self.lang))


class BarChart(ChartWidget):
    """Horizontal bars with their values printed (e.g. the flip rate per perturbation kind)."""

    def __init__(self, title: str, items: Sequence[tuple[str, float | None]], value_label: str = "",
                 parent: QWidget | None = None, *, lang: str = "en") -> None:
        super().__init__(title, lang, parent)
        self.items, self.value_label = list(items), value_label
        self.setMinimumHeight(max(120, 24 * len(self.items) + 60))
        self.describe(describe_bars(self.items, value_label or title, lang))

    def sizeHint(self) -> QSize:
        return QSize(480, self.minimumHeight())

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        fm = p.fontMetrics()
        self.begin(p)
        values = [v for _, v in self.items if _finite(v)]
        if not values:
            self.text(p, QRectF(self.rect()), CENTRE, DASH, role="empty")
            return
        lo, hi = min(0.0, *values), max(0.0, *values)
        span = (hi - lo) or 1.0
        labels = [plain(v, self.lang) for _, v in self.items]
        # names take what they need up to 45% of the width; a longer one is elided (its tooltip is whole)
        left = min(max(fm.horizontalAdvance(name) for name, _ in self.items) + 12, int(self.width() * 0.45))
        right = max(fm.horizontalAdvance(label) for label in labels) + 8
        top, row = fm.height() * 2 + 4, max(fm.height() + 6, 20)
        width = max(20.0, self.width() - left - right - 10)
        zero = left + (0.0 - lo) / span * width
        for i, ((name, value), label) in enumerate(zip(self.items, labels, strict=False)):
            y = top + i * row
            self.text(p, QRectF(0, y, left - 6, row), MIDDLE_RIGHT,
                      fm.elidedText(name, Qt.TextElideMode.ElideRight, int(left - 6)), MUTED, role="y-tick")
            self.tip(QRectF(0, y, self.width(), row), render(Message("gui.charts.describe.item", {
                "name": name, "value": label}), self.lang))
            if not _finite(value):
                self.text(p, QRectF(left, y, width, row), MIDDLE_LEFT, DASH, MUTED, role="value")
                continue
            end = left + (value - lo) / span * width
            p.fillRect(QRectF(min(zero, end), y + 3, max(1.0, abs(end - zero)), row - 6),
                       QColor(PALETTE[i % len(PALETTE)]))
            self.text(p, QRectF(max(zero, end) + 4, y, right, row), MIDDLE_LEFT, label, INK, role="value")
        self.text(p, QRectF(left, top + len(self.items) * row + 2, width, fm.height()), TOP_CENTRE,
                  self.value_label, MUTED, role="axis")
