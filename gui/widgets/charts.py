"""Small QPainter charts: lines over layers (with thresholds and 95% interval bands), an x-y path, a heat map.

Drawn by the GUI itself so displaying an audit never needs reportlab. Series differ by dash
pattern and marker as well as colour, so they read in greyscale too. A series with a stored 95%
interval per layer (Series.low/high) is drawn over a light band of its own colour, and the legend
says what the shading is (ChartSpec.band_label).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037")
DASHES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)


@dataclass
class Series:
    label: str
    values: Sequence[float | None]
    xs: Sequence[float] | None = None
    low: Sequence[float | None] | None = None     # the 95% interval per point, where stored
    high: Sequence[float | None] | None = None


@dataclass
class ChartSpec:
    title: str
    series: list[Series]
    x_label: str = "layer"
    y_label: str = ""
    thresholds: list[tuple[str, float, str]] = field(default_factory=list)   # (label, y, status)
    path: bool = False                 # an x-y path (information plane) instead of lines over an index
    band_label: str = ""               # the legend's words for the shaded 95% interval bands


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


@dataclass(frozen=True)
class _Frame:
    """Where a line chart draws: its plot area, the value ranges it shows and the tick-label margin."""

    area: QRectF
    x0: float
    x1: float
    y0: float
    y1: float
    left: float

    def to(self, x: float, y: float) -> QPointF:
        """A data point's position in the widget."""
        return QPointF(self.area.left() + (x - self.x0) / (self.x1 - self.x0) * self.area.width(),
                       self.area.bottom() - (y - self.y0) / (self.y1 - self.y0) * self.area.height())


class LineChart(QWidget):
    def __init__(self, spec: ChartSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setMinimumHeight(200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(480, 230)

    def _points(self) -> list[list[tuple[float, float]]]:
        out = []
        for s in self.spec.series:
            xs = s.xs if s.xs is not None else range(len(s.values))
            out.append([(float(x), float(y)) for x, y in zip(xs, s.values, strict=False)
                        if y is not None and x is not None and math.isfinite(float(y))])
        return out

    def _bands(self) -> list[list[tuple[float, float, float]]]:
        """Per series, (x, low, high) of every point with a finite 95% interval; empty for a series without."""
        out = []
        for s in self.spec.series:
            xs = s.xs if s.xs is not None else range(len(s.values))
            if s.low is None or s.high is None:
                out.append([])
                continue
            out.append([(float(x), float(lo), float(hi)) for x, lo, hi in zip(xs, s.low, s.high, strict=False)
                        if x is not None and _finite(lo) and _finite(hi)])
        return out

    def paintEvent(self, _event: object) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = p.fontMetrics()
        p.fillRect(self.rect(), QColor("white"))
        pts = self._points()
        p.setPen(QColor("#212121"))
        p.drawText(QRectF(0, 2, self.width(), fm.height() + 2), Qt.AlignmentFlag.AlignHCenter, self.spec.title)
        if not any(pts):
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "–")
            return
        frame = self._frame(fm, pts)
        if frame.area.height() < 20 or frame.area.width() < 20:
            return
        self._draw_axes(p, fm, frame)
        self._draw_bands(p, frame)
        self._draw_thresholds(p, fm, frame)
        self._draw_series(p, frame, pts)
        self._draw_legend(p, fm, frame)

    def _frame(self, fm: QFontMetrics, pts: list[list[tuple[float, float]]]) -> _Frame:
        """The value ranges (padded) and the plot area left after the title, tick labels and legend."""
        allx = [x for s in pts for x, _ in s]
        ally = [y for s in pts for _, y in s] + [t[1] for t in self.spec.thresholds]
        ally += [v for band in self._bands() for _, lo, hi in band for v in (lo, hi)]
        x0, x1 = min(allx), max(allx)
        y0, y1 = min(ally), max(ally)
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5, y1 + 0.5
        pad = (y1 - y0) * 0.08
        y0, y1 = y0 - pad, y1 + pad
        if x1 == x0:
            x0, x1 = x0 - 1, x1 + 1
        left = max(fm.horizontalAdvance(_fmt(v)) for v in _ticks(y0, y1)) + fm.height() + 12
        legend_h = (fm.height() + 2) * max(1, math.ceil(self._legend_entries() / 3))
        area = QRectF(left, fm.height() + 10, self.width() - left - 14,
                      self.height() - fm.height() * 3 - 18 - legend_h)
        return _Frame(area, x0, x1, y0, y1, left)

    def _draw_axes(self, p: QPainter, fm: QFontMetrics, f: _Frame) -> None:
        """Frame, horizontal grid with value ticks, index ticks and both axis labels."""
        area = f.area
        p.setPen(QPen(QColor("#bdbdbd"), 1))
        p.drawRect(area)
        for v in _ticks(f.y0, f.y1):
            pt = f.to(f.x0, v)
            p.setPen(QPen(QColor("#eeeeee"), 1))
            p.drawLine(QPointF(area.left(), pt.y()), QPointF(area.right(), pt.y()))
            p.setPen(QColor("#424242"))
            p.drawText(QRectF(0, pt.y() - fm.height() / 2, f.left - 6, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _fmt(v))
        xt = _ticks(f.x0, f.x1, 6) if self.spec.path else [x for x in _ticks(f.x0, f.x1, 8) if float(x).is_integer()]
        for v in xt or [f.x0]:
            pt = f.to(v, f.y0)
            p.drawText(QRectF(pt.x() - 30, area.bottom() + 2, 60, fm.height()), Qt.AlignmentFlag.AlignHCenter,
                       _fmt(v))
        p.drawText(QRectF(area.left(), area.bottom() + fm.height() + 2, area.width(), fm.height()),
                   Qt.AlignmentFlag.AlignHCenter, self.spec.x_label)
        p.save()
        p.translate(2, area.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-area.height() / 2, 0, area.height(), fm.height()), Qt.AlignmentFlag.AlignHCenter,
                   self.spec.y_label)
        p.restore()

    def _draw_thresholds(self, p: QPainter, fm: QFontMetrics, f: _Frame) -> None:
        from gui.theme import colour

        for i, (label, y, status) in enumerate(self.spec.thresholds):
            if f.y0 <= y <= f.y1:
                pen = QPen(colour(status), 1.5, Qt.PenStyle.DashLine)
                p.setPen(pen)
                a, b = f.to(f.x0, y), f.to(f.x1, y)
                p.drawLine(a, b)
                # alternate right and left, so the labels of two close lines (warn 0.05, fail 0.01) do not overlap
                x = f.area.right() - fm.horizontalAdvance(label) - 4 if i % 2 == 0 else f.area.left() + 4
                p.drawText(QPointF(x, a.y() - 3), label)

    def _has_bands(self) -> bool:
        return any(self._bands())

    def _legend_entries(self) -> int:
        return len(self.spec.series) + (1 if self._has_bands() and self.spec.band_label else 0)

    def _draw_bands(self, p: QPainter, f: _Frame) -> None:
        """Each series' 95% interval as a light polygon of its colour, under the lines and thresholds."""
        for i, band in enumerate(self._bands()):
            if len(band) < 2:   # one point: its error bar
                for x, lo, hi in band:
                    p.setPen(QPen(QColor(PALETTE[i % len(PALETTE)]), 1))
                    p.drawLine(f.to(x, lo), f.to(x, hi))
                continue
            shade = QColor(PALETTE[i % len(PALETTE)])
            shade.setAlpha(48)
            path = QPainterPath(f.to(band[0][0], band[0][1]))
            for x, lo, _hi in band[1:]:
                path.lineTo(f.to(x, lo))
            for x, _lo, hi in reversed(band):
                path.lineTo(f.to(x, hi))
            path.closeSubpath()
            p.fillPath(path, shade)

    def _draw_series(self, p: QPainter, f: _Frame, pts: list[list[tuple[float, float]]]) -> None:
        for i, series in enumerate(pts):
            pen = QPen(QColor(PALETTE[i % len(PALETTE)]), 2, DASHES[i % len(DASHES)])
            p.setPen(pen)
            path = QPainterPath()
            for j, (x, y) in enumerate(series):
                path.moveTo(f.to(x, y)) if j == 0 else path.lineTo(f.to(x, y))
            p.drawPath(path)
            p.setPen(QPen(QColor(PALETTE[i % len(PALETTE)]), 1))
            for k, (x, y) in enumerate(series):
                c = f.to(x, y)
                if self.spec.path:   # the layer index beside each point of the path
                    p.drawText(QPointF(c.x() + 4, c.y() - 4), str(k))
                (p.drawEllipse(c, 2.5, 2.5) if i % 2 == 0 else p.drawRect(QRectF(c.x() - 2.5, c.y() - 2.5, 5, 5)))

    def _draw_legend(self, p: QPainter, fm: QFontMetrics, f: _Frame) -> None:
        """Three legend entries per row under the x-axis label: the series' pen, then its name (elided)."""
        lx, ly = f.area.left(), f.area.bottom() + fm.height() * 2 + 6
        col_w = f.area.width() / 3
        for i, series in enumerate(self.spec.series):
            x = lx + (i % 3) * col_w
            y = ly + (i // 3) * (fm.height() + 2)
            p.setPen(QPen(QColor(PALETTE[i % len(PALETTE)]), 2, DASHES[i % len(DASHES)]))
            p.drawLine(QPointF(x, y + fm.height() / 2), QPointF(x + 22, y + fm.height() / 2))
            p.setPen(QColor("#212121"))
            p.drawText(QRectF(x + 26, y, col_w - 30, fm.height()), Qt.AlignmentFlag.AlignVCenter,
                       fm.elidedText(series.label, Qt.TextElideMode.ElideRight, int(col_w - 30)))
        if self._legend_entries() > len(self.spec.series):   # what the shading means
            i = len(self.spec.series)
            x, y = lx + (i % 3) * col_w, ly + (i // 3) * (fm.height() + 2)
            shade = QColor(PALETTE[0])
            shade.setAlpha(48)
            p.fillRect(QRectF(x, y + 2, 22, fm.height() - 4), shade)
            p.setPen(QColor("#212121"))
            p.drawText(QRectF(x + 26, y, col_w - 30, fm.height()), Qt.AlignmentFlag.AlignVCenter,
                       fm.elidedText(self.spec.band_label, Qt.TextElideMode.ElideRight, int(col_w - 30)))


class HeatMap(QWidget):
    """Layers down, heads across; darker = larger (greyscale-safe), value printed where cells are wide."""

    def __init__(self, title: str, grid: Sequence[Sequence[float | None]], x_label: str = "head",
                 y_label: str = "layer", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.grid, self.x_label, self.y_label = title, grid, x_label, y_label
        self.setMinimumHeight(max(160, 26 * len(grid) + 70))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(480, self.minimumHeight())

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        fm = p.fontMetrics()
        p.fillRect(self.rect(), QColor("white"))
        p.setPen(QColor("#212121"))
        p.drawText(QRectF(0, 2, self.width(), fm.height() + 2), Qt.AlignmentFlag.AlignHCenter, self.title)
        vals = [v for row in self.grid for v in row if v is not None]
        rows, cols = len(self.grid), max((len(r) for r in self.grid), default=0)
        if not vals or not cols:
            return
        lo, hi = min(vals), max(vals)
        left, top = fm.horizontalAdvance(f"{self.y_label} 00") + 8, fm.height() * 2 + 6
        bar_w = max(fm.horizontalAdvance(_fmt(lo)), fm.horizontalAdvance(_fmt(hi))) + 26
        w = (self.width() - left - bar_w - 20) / cols
        h = (self.height() - top - fm.height() * 2 - 8) / rows
        for r, row in enumerate(self.grid):
            p.setPen(QColor("#424242"))
            p.drawText(QRectF(0, top + r * h, left - 6, h), Qt.AlignmentFlag.AlignRight |
                       Qt.AlignmentFlag.AlignVCenter, f"{self.y_label} {r + 1}")
            for c, v in enumerate(row):
                cell = QRectF(left + c * w, top + r * h, w - 1, h - 1)
                t = 0.0 if v is None or hi == lo else (v - lo) / (hi - lo)
                shade = QColor.fromHsvF(0.6, 0.15 + 0.75 * t, 1.0 - 0.7 * t) if v is not None else QColor("#eeeeee")
                p.fillRect(cell, shade)
                if v is not None and w > fm.horizontalAdvance("0.00") + 4 and h > fm.height():
                    p.setPen(QColor("white") if t > 0.5 else QColor("#212121"))
                    p.drawText(cell, Qt.AlignmentFlag.AlignCenter, f"{v:.2f}")
        p.setPen(QColor("#424242"))
        for c in range(cols):
            p.drawText(QRectF(left + c * w, top - fm.height() - 2, w, fm.height()), Qt.AlignmentFlag.AlignHCenter,
                       str(c + 1))
        p.drawText(QRectF(left, self.height() - fm.height() - 4, cols * w, fm.height()),
                   Qt.AlignmentFlag.AlignHCenter, self.x_label)
        bx = self.width() - bar_w - 4
        for i in range(20):
            t = 1 - i / 19
            p.fillRect(QRectF(bx, top + i * (rows * h / 20), 12, rows * h / 20 + 1),
                       QColor.fromHsvF(0.6, 0.15 + 0.75 * t, 1.0 - 0.7 * t))
        p.drawText(QPointF(bx + 16, top + fm.ascent()), _fmt(hi))
        p.drawText(QPointF(bx + 16, top + rows * h), _fmt(lo))


class BarChart(QWidget):
    """Horizontal bars with their values printed (e.g. the flip rate per perturbation kind)."""

    def __init__(self, title: str, items: Sequence[tuple[str, float | None]], value_label: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.items, self.value_label = title, list(items), value_label
        self.setMinimumHeight(max(120, 24 * len(self.items) + 60))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(480, self.minimumHeight())

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        fm = p.fontMetrics()
        p.fillRect(self.rect(), QColor("white"))
        p.setPen(QColor("#212121"))
        p.drawText(QRectF(0, 2, self.width(), fm.height() + 2), Qt.AlignmentFlag.AlignHCenter, self.title)
        values = [v for _, v in self.items if v is not None and math.isfinite(v)]
        if not values:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "–")
            return
        lo, hi = min(0.0, *values), max(0.0, *values)
        span = (hi - lo) or 1.0
        left = max(fm.horizontalAdvance(name) for name, _ in self.items) + 12
        right = fm.horizontalAdvance("-0.000e+00") + 8
        top, row = fm.height() * 2 + 4, max(fm.height() + 6, 20)
        width = max(20.0, self.width() - left - right - 10)
        zero = left + (0.0 - lo) / span * width
        for i, (name, value) in enumerate(self.items):
            y = top + i * row
            p.setPen(QColor("#424242"))
            p.drawText(QRectF(0, y, left - 6, row), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            if value is None or not math.isfinite(value):
                p.drawText(QRectF(left, y, width, row), Qt.AlignmentFlag.AlignVCenter, "–")
                continue
            end = left + (value - lo) / span * width
            p.fillRect(QRectF(min(zero, end), y + 3, max(1.0, abs(end - zero)), row - 6),
                       QColor(PALETTE[i % len(PALETTE)]))
            p.setPen(QColor("#212121"))
            p.drawText(QRectF(max(zero, end) + 4, y, right, row), Qt.AlignmentFlag.AlignVCenter, _fmt(value))
        p.setPen(QColor("#424242"))
        p.drawText(QRectF(left, top + len(self.items) * row + 2, width, fm.height()),
                   Qt.AlignmentFlag.AlignHCenter, self.value_label)
