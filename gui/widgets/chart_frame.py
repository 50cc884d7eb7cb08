"""The plot area of the x-y charts: value ranges (linear or logarithmic), ticks and the legend's flow.

Ticks are 'nice' numbers (1, 2, 5 × 10^k); on a log axis the decades, or 1-2-5 steps where fewer than
two decades fit (gradient norms from 9 to 12 get 10 and 20, not a lone "10"). Legend entries run
left to right at their own width and wrap, so names are elided only when one alone is wider than the plot.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF


def nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About `n` round values from lo to hi."""
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values between 10**lo and 10**hi (lo, hi are log10): decades, else 1-2-5 steps, else round values."""
    decades = [10.0 ** k for k in range(math.ceil(lo), math.floor(hi) + 1)]
    if len(decades) >= 2:
        step = max(1, math.ceil(len(decades) / 6))   # at most ~6 labels on a wide range
        return decades[::step]
    inside = [m * 10.0 ** k for k in range(math.floor(lo), math.ceil(hi) + 1) for m in (1, 2, 5)
              if lo <= math.log10(m * 10.0 ** k) <= hi]
    if len(inside) >= 2:
        return inside
    return [t for t in nice_ticks(10 ** lo, 10 ** hi, 3) if t > 0] or [10 ** lo]


@dataclass(frozen=True)
class Frame:
    """Where an x-y chart draws: its plot area and the value ranges it shows (y0, y1 in log10 on a log axis)."""

    area: QRectF
    x0: float
    x1: float
    y0: float
    y1: float
    log_y: bool = False

    def to(self, x: float, y: float) -> QPointF:
        """A data point's position in the widget."""
        if self.log_y:
            y = math.log10(y) if y > 0 else self.y0
        return QPointF(self.area.left() + (x - self.x0) / (self.x1 - self.x0) * self.area.width(),
                       self.area.bottom() - (y - self.y0) / (self.y1 - self.y0) * self.area.height())

    def shows(self, y: float) -> bool:
        """Whether the value `y` lies inside the vertical range drawn."""
        if self.log_y:
            return y > 0 and self.y0 <= math.log10(y) <= self.y1
        return self.y0 <= y <= self.y1

    def y_ticks(self) -> list[float]:
        if self.log_y:
            return log_ticks(self.y0, self.y1)
        return nice_ticks(self.y0, self.y1)


def ranges(xs: Sequence[float], ys: Sequence[float], log_y: bool,
           bounds: tuple[float, float] | None = None) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) covering the values, padded 8% in y (in log10 on a log axis); `bounds` are kept
    in view (accuracy from 0 to 1) while values outside them still show."""
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if log_y:
        ys = [math.log10(y) for y in ys if y > 0] or [0.0]
    elif bounds is not None:
        ys = [*ys, *bounds]
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-12 * max(1.0, abs(y1)):
        y0, y1 = y0 - 0.5, y1 + 0.5
    if bounds is not None and not log_y:
        return x0, x1, min(y0, bounds[0]), max(y1, bounds[1])
    pad = (y1 - y0) * 0.08
    if not log_y and 0 < y0 <= y1 / 2:   # values near zero are read from a zero line (1 under a limit of 10)
        return x0, x1, 0.0, y1 + pad
    return x0, x1, y0 - pad, y1 + pad


def flow(widths: Sequence[float], row_width: float) -> tuple[list[tuple[int, int, float]], int]:
    """Legend entries laid out left to right: (column x offset as int, row, width) per entry, and the rows."""
    out: list[tuple[int, int, float]] = []
    x, row = 0.0, 0
    for w in widths:
        w = min(w, row_width)
        if x > 0 and x + w > row_width:
            x, row = 0.0, row + 1
        out.append((int(x), row, w))
        x += w
    return out, row + 1 if widths else 0
