"""A layer x head grid in grey levels with a scale bar (e.g. attention-head importance)."""
from __future__ import annotations

from collections.abc import Sequence

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.colors import Color

from reports.charts.base import fmt, new_drawing, no_data, num, vertical_label


def heatmap(matrix: Sequence[Sequence[float | None]], *, x_label: str, y_label: str, value_label: str,
            font: str, width: float = 240, height: float = 150, no_data_text: str = "no data") -> Drawing:
    """Layer x head grid in grey levels (dark = high), with a scale bar; e.g. head importance."""
    rows = [[num(v) for v in row] for row in matrix if isinstance(row, (list, tuple))]
    values = [v for row in rows for v in row if v is not None]
    if not values:
        return no_data(width, height, no_data_text, font)
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    d = new_drawing(width, height, font)
    left, bottom, right, top = 34, 26, width - 40, height - 6
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    cw, ch = (right - left) / n_cols, (top - bottom) / n_rows
    for i, row in enumerate(rows):
        y = top - (i + 1) * ch
        d.add(String(left - 3, y + ch / 2 - 2.5, str(i + 1), fontName=font, fontSize=6.5, textAnchor="end"))
        for j, v in enumerate(row):
            g = 1.0 if v is None else 0.95 - 0.9 * (v - lo) / span
            d.add(Rect(left + j * cw, y, cw, ch, fillColor=Color(g, g, min(1.0, g + 0.05)),
                       strokeColor=colors.white, strokeWidth=0.3))
    for j in range(n_cols):
        if n_cols <= 16 or j % 2 == 0:
            d.add(String(left + (j + 0.5) * cw, bottom - 9, str(j), fontName=font, fontSize=6, textAnchor="middle"))
    d.add(String((left + right) / 2, 3, x_label, fontName=font, fontSize=7, textAnchor="middle"))
    vertical_label(d, y_label, font, 8, (bottom + top) / 2)
    _scale_bar(d, right + 8, bottom, top, lo, hi, value_label, font)
    return d


def _scale_bar(d: Drawing, bx: float, bottom: float, top: float, lo: float, hi: float, label: str,
               font: str) -> None:
    """Ten grey steps from light (the lowest value) to dark (the highest), labelled at both ends."""
    for k in range(10):
        gv = 0.95 - 0.9 * k / 9
        d.add(Rect(bx, bottom + k * (top - bottom) / 10, 8, (top - bottom) / 10,
                   fillColor=Color(gv, gv, min(1.0, gv + 0.05)), strokeColor=None))
    d.add(String(bx + 10, bottom, fmt(lo), fontName=font, fontSize=6))
    d.add(String(bx + 10, top - 6, fmt(hi), fontName=font, fontSize=6))
    d.add(String(bx + 4, top + 0.5, label[:14], fontName=font, fontSize=5.5, textAnchor="middle"))
