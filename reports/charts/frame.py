"""The plot area, scales, axes, threshold lines and legend that the x-y charts share."""
from __future__ import annotations

import math
from collections.abc import Sequence

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib.colors import Color

from reports.charts.base import GRID, INK, Style, fmt, marker, nice_ticks, vertical_label


class Frame:
    """Plot area, scales and axes shared by the x-y charts."""

    def __init__(self, d: Drawing, font: str, x_range: tuple[float, float], y_range: tuple[float, float],
                 x_label: str, y_label: str, legend_rows: int = 0, log_y: bool = False):
        self.d, self.font, self.log_y = d, font, log_y
        self.left, self.bottom = 44, 28
        self.right = d.width - 8
        self.top = d.height - 8 - 11 * legend_rows
        self.x0, self.x1 = x_range
        lo, hi = y_range
        if log_y:
            lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
            self.y_ticks = [float(t) for t in range(math.floor(lo), math.ceil(hi) + 1)]
        else:
            self.y_ticks = nice_ticks(lo, hi)
        self.y0, self.y1 = self.y_ticks[0], self.y_ticks[-1]
        if self.y1 == self.y0:
            self.y1 = self.y0 + 1
        self._axes(x_label, y_label)

    def px(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1
        return self.left + (x - self.x0) / span * (self.right - self.left)

    def py(self, y: float) -> float:
        if self.log_y:
            y = math.log10(max(y, 1e-12))
        return self.bottom + (y - self.y0) / (self.y1 - self.y0) * (self.top - self.bottom)

    def _axes(self, x_label: str, y_label: str) -> None:
        d, f = self.d, self.font
        for t in self.y_ticks:
            y = self.bottom + (t - self.y0) / (self.y1 - self.y0) * (self.top - self.bottom)
            d.add(Line(self.left, y, self.right, y, strokeColor=GRID, strokeWidth=0.4))
            label = fmt(10 ** t) if self.log_y else fmt(t)
            d.add(String(self.left - 3, y - 2.5, label, fontName=f, fontSize=6.5, textAnchor="end"))
        d.add(Line(self.left, self.bottom, self.right, self.bottom, strokeColor=INK, strokeWidth=0.6))
        d.add(Line(self.left, self.bottom, self.left, self.top, strokeColor=INK, strokeWidth=0.6))
        n = int(self.x1 - self.x0)
        step = max(1, math.ceil((n + 1) / 14))
        for i in range(int(self.x0), int(self.x1) + 1, step):
            x = self.px(i)
            d.add(Line(x, self.bottom, x, self.bottom - 2, strokeColor=INK, strokeWidth=0.5))
            d.add(String(x, self.bottom - 9, str(i), fontName=f, fontSize=6.5, textAnchor="middle"))
        d.add(String((self.left + self.right) / 2, 3, x_label, fontName=f, fontSize=7, textAnchor="middle"))
        vertical_label(d, y_label, f, 9, (self.bottom + self.top) / 2)

    def hline(self, y: float, colour: Color, label: str, dash: list[float] | None = None,
              label_left: bool = False) -> None:
        """A dashed threshold line; fail labels sit at the left, warn labels at the right, so two close
        limits (warn 0.05, fail 0.01) never print over each other."""
        if not (self.y0 <= (math.log10(y) if self.log_y and y > 0 else y) <= self.y1):
            return
        yy = self.py(y)
        self.d.add(Line(self.left, yy, self.right, yy, strokeColor=colour, strokeWidth=0.9,
                        strokeDashArray=dash or [5, 2]))
        x, anchor = (self.left + 2, "start") if label_left else (self.right - 2, "end")
        self.d.add(String(x, yy + 2, label, fontName=self.font, fontSize=6, textAnchor=anchor, fillColor=colour))

    def _slot(self, i: int) -> tuple[float, float]:
        """Where legend entry i starts (entries of 130 points, as many per row as fit)."""
        per_row = max(1, int((self.right - self.left) // 130))
        return self.left + (i % per_row) * 130, self.d.height - 9 - (i // per_row) * 11

    def legend(self, labels: Sequence[str], styles: Sequence[Style]) -> None:
        for i, (label, (colour, dash, shape)) in enumerate(zip(labels, styles, strict=False)):
            lx, ly = self._slot(i)
            self.d.add(Line(lx, ly + 2.5, lx + 16, ly + 2.5, strokeColor=colour, strokeDashArray=dash,
                            strokeWidth=1.1))
            marker(self.d, shape, lx + 8, ly + 2.5, colour, 1.8)
            self.d.add(String(lx + 20, ly, label[:30], fontName=self.font, fontSize=6.5))

    def band_key(self, i: int, label: str, fill: Color) -> None:
        """Legend entry i for the shaded 95% interval bands: a swatch and its words."""
        lx, ly = self._slot(i)
        self.d.add(Rect(lx, ly - 0.5, 16, 6, fillColor=fill, strokeColor=None))
        self.d.add(String(lx + 20, ly, label[:30], fontName=self.font, fontSize=6.5))
