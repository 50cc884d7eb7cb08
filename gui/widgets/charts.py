"""Small QPainter charts: lines over layers (with thresholds and 95% interval bands), an x-y path, a heat map.

Drawn by the GUI itself so displaying an audit never needs reportlab. Series differ by dash
pattern and marker as well as colour, so they read in greyscale too. A series with a stored 95%
interval per layer (Series.low/high) is drawn over a light band of its own colour, and the legend
says what the shading is (ChartSpec.band_label). Numbers are plain (gui.widgets.numbers), every value
drawn has a tooltip, and the chart's accessible description sums it up in words (gui.widgets.chart_words).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from auditor.messages import Message, render
from gui.widgets.chart_base import (
    CENTRE,
    INK,
    MIDDLE_LEFT,
    MIDDLE_RIGHT,
    MUTED,
    PAPER,
    TOP_CENTRE,
    ChartWidget,
    legible,
)
from gui.widgets.chart_frame import Frame, flow, nice_ticks, ranges
from gui.widgets.chart_words import describe_lines, describe_plane, place
from gui.widgets.grid_charts import PALETTE, BarChart, HeatMap
from gui.widgets.numbers import DASH, plain, tick_labels

__all__ = ["PALETTE", "BarChart", "ChartSpec", "HeatMap", "LineChart", "Series"]
DASHES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)
SHADE_ALPHA = 48
KEY_W = 26         # the pen or shade drawn before a legend entry's name


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
    log_y: bool = False                # values spanning orders of magnitude (and norms) on a log axis
    y_bounds: tuple[float, float] | None = None   # a range always in view (accuracy: 0 to 1)
    place: str = "layer"               # what an x position is called: layer (0 = embeddings) or step (block)
    lang: str = "en"


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _rows(s: Series, columns: Sequence[Sequence[float | None]], positive: bool) -> list[tuple[float, ...]]:
    """(x, *values) of every point whose values are all finite (and above 0 on a log axis)."""
    xs = s.xs if s.xs is not None else range(len(s.values))
    return [(float(x), *(float(v) for v in vs)) for x, *vs in zip(xs, *columns, strict=False)
            if x is not None and all(_finite(v) and (not positive or v > 0) for v in vs)]


def _pen(i: int, width: float = 2, dashed: bool = True) -> QPen:
    """Series i's pen: its colour and, for lines, its dash pattern (markers and error bars are solid)."""
    return QPen(QColor(PALETTE[i % len(PALETTE)]), width, DASHES[i % len(DASHES)] if dashed else Qt.PenStyle.SolidLine)


def _shade(i: int) -> QColor:
    shade = QColor(PALETTE[i % len(PALETTE)])
    shade.setAlpha(SHADE_ALPHA)
    return shade


class LineChart(ChartWidget):
    def __init__(self, spec: ChartSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec.title, spec.lang, parent)
        self.spec = spec
        self.setMinimumHeight(200)
        self.describe(self._summary())

    def sizeHint(self) -> QSize:
        return QSize(480, 230)

    def _points(self) -> list[list[tuple[float, float]]]:
        return [[(x, y) for x, y in _rows(s, [s.values], self.spec.log_y)] for s in self.spec.series]

    def _bands(self) -> list[list[tuple[float, float, float]]]:
        """Per series, (x, low, high) of every point with a finite 95% interval; empty for a series without."""
        return [[(x, lo, hi) for x, lo, hi in _rows(s, [s.low, s.high], self.spec.log_y)]
                if s.low is not None and s.high is not None else [] for s in self.spec.series]

    def _has_bands(self) -> bool:
        return any(self._bands())

    def _legend_entries(self) -> int:
        return len(self._legend_labels())

    def _legend_labels(self) -> list[str]:
        shaded = self._has_bands() and self.spec.band_label and not self.spec.path
        return [s.label for s in self.spec.series] + ([self.spec.band_label] if shaded else [])

    def _summary(self) -> str:
        spec, pts = self.spec, self._points()
        if spec.path:
            return describe_plane(pts[0] if pts else [], spec.x_label, spec.y_label, spec.lang)
        return describe_lines([(s.label, p) for s, p in zip(spec.series, pts, strict=False)], spec.x_label,
                              spec.y_label, spec.place, spec.lang, log_y=spec.log_y,
                              thresholds=[label for label, _, _ in spec.thresholds], band=self._has_bands())

    def paintEvent(self, _event: object) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = p.fontMetrics()
        self.begin(p)
        pts = self._points()
        if not any(pts):
            self.text(p, QRectF(self.rect()), CENTRE, DASH, role="empty")
            return
        frame, labels = self._frame(fm, pts)
        if frame.area.height() < 20 or frame.area.width() < 20:
            return
        self._draw_axes(p, fm, frame, labels)
        self._draw_bands(p, frame)
        self._draw_thresholds(p, fm, frame)   # under the series: a label's backing never hides a value
        self._draw_series(p, fm, frame, pts)
        self._draw_legend(p, fm, frame)

    def _frame(self, fm: QFontMetrics, pts: list[list[tuple[float, float]]]) -> tuple[Frame, list[str]]:
        """The value ranges and the plot area left after the title, tick labels and legend; the y tick labels."""
        ys = [y for s in pts for _, y in s] + [v for band in self._bands() for _, lo, hi in band for v in (lo, hi)]
        ys += [t[1] for t in self.spec.thresholds if t[1] > 0 or not self.spec.log_y]
        x0, x1, y0, y1 = ranges([x for s in pts for x, _ in s], ys, self.spec.log_y, self.spec.y_bounds)
        probe = Frame(QRectF(), x0, x1, y0, y1, self.spec.log_y)
        labels = tick_labels(probe.y_ticks(), self.lang)
        left = max(fm.horizontalAdvance(label) for label in labels) + fm.height() + 12
        _, rows = self._legend_flow(fm, self.width() - left - 14)
        legend_h = (fm.height() + 2) * max(1, rows)
        area = QRectF(left, fm.height() + 10, self.width() - left - 14, self.height() - fm.height() * 3 - 18 - legend_h)
        return Frame(area, x0, x1, y0, y1, self.spec.log_y), labels

    def _draw_axes(self, p: QPainter, fm: QFontMetrics, f: Frame, labels: list[str]) -> None:
        """Frame, horizontal grid with value ticks, x ticks and both axis labels."""
        area = f.area
        p.setPen(QPen(QColor("#bdbdbd"), 1))
        p.drawRect(area)
        for value, label in zip(f.y_ticks(), labels, strict=False):
            pt = f.to(f.x0, value)
            p.setPen(QPen(QColor("#eeeeee"), 1))
            p.drawLine(QPointF(area.left(), pt.y()), QPointF(area.right(), pt.y()))
            self.text(p, QRectF(0, pt.y() - fm.height() / 2, area.left() - 6, fm.height()), MIDDLE_RIGHT, label,
                      MUTED, role="y-tick")
        xs = nice_ticks(f.x0, f.x1, 6) if self.spec.path else [x for x in nice_ticks(f.x0, f.x1, 8)
                                                                 if float(x).is_integer()] or [f.x0]
        x_labels = tick_labels(xs, self.lang) if self.spec.path else [str(int(x)) for x in xs]
        for value, label in zip(xs, x_labels, strict=False):
            x = f.to(value, 1.0 if f.log_y else f.y0).x()
            self.text(p, QRectF(x - 40, area.bottom() + 2, 80, fm.height()), TOP_CENTRE, label, MUTED, role="x-tick")
        self.text(p, QRectF(area.left(), area.bottom() + fm.height() + 2, area.width(), fm.height()), TOP_CENTRE,
                  self.spec.x_label, MUTED, role="axis")
        p.save()
        p.translate(2, area.center().y())
        p.rotate(-90)
        self.text(p, QRectF(-area.height() / 2, 0, area.height(), fm.height()), TOP_CENTRE, self.spec.y_label, MUTED,
                  role="axis")
        p.restore()

    def _draw_thresholds(self, p: QPainter, fm: QFontMetrics, f: Frame) -> None:
        """Dashed warn/fail lines, each label on a white backing, so a band's shade does not lower its contrast."""
        from gui.theme import colour

        for i, (label, y, status) in enumerate(self.spec.thresholds):
            if not f.shows(y):
                continue
            p.setPen(QPen(colour(status), 1.5, Qt.PenStyle.DashLine))
            a = f.to(f.x0, y)
            p.drawLine(a, f.to(f.x1, y))
            # alternate right and left, so the labels of two close lines (warn 0.05, fail 0.01) do not overlap
            w = fm.horizontalAdvance(label) + 4
            x = f.area.right() - w - 2 if i % 2 == 0 else f.area.left() + 2
            rect = QRectF(x, a.y() - fm.height() - 1, w, fm.height())
            p.fillRect(rect, PAPER)
            self.text(p, rect, CENTRE, label, legible(colour(status)), role="threshold")

    def _draw_bands(self, p: QPainter, f: Frame) -> None:
        """Each series' 95% interval as a light polygon of its colour, under the lines and thresholds."""
        for i, band in enumerate(self._bands()):
            if len(band) < 2:   # one point: its error bar
                p.setPen(_pen(i, 1, dashed=False))
                for x, lo, hi in band:
                    p.drawLine(f.to(x, lo), f.to(x, hi))
                continue
            path = QPainterPath(f.to(band[0][0], band[0][1]))
            for x, lo, _hi in band[1:]:
                path.lineTo(f.to(x, lo))
            for x, _lo, hi in reversed(band):
                path.lineTo(f.to(x, hi))
            path.closeSubpath()
            p.fillPath(path, _shade(i))

    def _draw_series(self, p: QPainter, fm: QFontMetrics, f: Frame, pts: list[list[tuple[float, float]]]) -> None:
        """Each series' line, its markers and a tooltip per point (on the path: the layer beside each point)."""
        for i, series in enumerate(pts):
            p.setPen(_pen(i))
            path = QPainterPath()
            for j, (x, y) in enumerate(series):
                path.moveTo(f.to(x, y)) if j == 0 else path.lineTo(f.to(x, y))
            p.drawPath(path)
            for k, (x, y) in enumerate(series):
                c = f.to(x, y)
                p.setPen(_pen(i, 1, dashed=False))
                p.drawEllipse(c, 2.5, 2.5) if i % 2 == 0 else p.drawRect(QRectF(c.x() - 2.5, c.y() - 2.5, 5, 5))
                if self.spec.path:   # the layer index beside each point of the path, inside the plot
                    w = fm.horizontalAdvance(str(k)) + 2
                    lx = c.x() + 3 if c.x() + 3 + w <= f.area.right() else c.x() - 3 - w
                    ly = c.y() - fm.height() - 1 if c.y() - fm.height() - 1 >= f.area.top() else c.y() + 1
                    self.text(p, QRectF(lx, ly, w, fm.height()), MIDDLE_LEFT, str(k), INK, role="point")
                self.tip(QRectF(c.x() - 7, c.y() - 7, 14, 14), self._point_tip(i, k, x, y))

    def _point_tip(self, i: int, k: int, x: float, y: float) -> str:
        spec, lang = self.spec, self.lang
        if spec.path:
            return render(Message("gui.charts.point.plane", {
                "place": place("layer", k, lang), "x_axis": spec.x_label, "x": plain(x, lang),
                "y_axis": spec.y_label, "y": plain(y, lang)}), lang)
        return render(Message("gui.charts.point", {"name": spec.series[i].label, "place": place(spec.place, x, lang),
                                                   "value": plain(y, lang)}), lang)

    def _legend_flow(self, fm: QFontMetrics, width: float) -> tuple[list[tuple[int, int, float]], int]:
        return flow([KEY_W + 4 + fm.horizontalAdvance(label) + 16 for label in self._legend_labels()], width)

    def _draw_legend(self, p: QPainter, fm: QFontMetrics, f: Frame) -> None:
        """Legend entries under the x-axis label, left to right at their own width: pen or shade, then name."""
        top = f.area.bottom() + fm.height() * 2 + 6
        slots, _ = self._legend_flow(fm, f.area.width())
        for i, (label, (dx, row, w)) in enumerate(zip(self._legend_labels(), slots, strict=False)):
            x, y = f.area.left() + dx, top + row * (fm.height() + 2)
            if i < len(self.spec.series):
                p.setPen(_pen(i))
                p.drawLine(QPointF(x, y + fm.height() / 2), QPointF(x + KEY_W - 4, y + fm.height() / 2))
            else:   # what the shading means
                p.fillRect(QRectF(x, y + 2, KEY_W - 4, fm.height() - 4), _shade(0))
            room = int(w - KEY_W - 4)
            self.text(p, QRectF(x + KEY_W, y, room, fm.height()), MIDDLE_LEFT,
                      fm.elidedText(label, Qt.TextElideMode.ElideRight, room), INK, role="legend")
