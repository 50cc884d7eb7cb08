"""The 'information river': band width = share of the input's information still carried per layer."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.charts.base import INK, THRESH_FAIL, marker, new_drawing, no_data, num

RIVER = Color(0.72, 0.8, 0.9)
CORE = Color(0.2, 0.3, 0.5)


def information_river(carried: Sequence[float | None], *, task: Sequence[float | None] = (),
                      lost_at: Sequence[int] = (), blocked_at: Sequence[int] = (), x_label: str,
                      legend: tuple[str, str, str, str], font: str, width: float = 500, height: float = 120,
                      no_data_text: str = "no data") -> Drawing:
    """The river of `carried` shares per layer, its task core, and where information is lost or blocked.

    task: share of the task information (inner, darker core); lost_at: layers where the river
    narrows markedly (triangle); blocked_at: layers that do almost no work (cross).
    legend: (river, task core, lost, blocked) labels.
    """
    vals = [num(v) for v in carried]
    if not any(v is not None for v in vals):
        return no_data(width, height, no_data_text, font)
    vals = [min(max(v if v is not None else 0.0, 0.0), 1.0) for v in vals]
    d = new_drawing(width, height, font)
    left, right, bottom, top = 30, width - 10, 26, height - 26
    mid, half = (bottom + top) / 2, (top - bottom) / 2
    n = len(vals)

    def x(i: int) -> float:
        return left + i / max(n - 1, 1) * (right - left)

    _band(d, x, vals, [min(max(num(v) or 0.0, 0.0), 1.0) for v in task], mid, half)
    for i in range(n):
        d.add(Line(x(i), bottom - 2, x(i), bottom + 1, strokeColor=INK, strokeWidth=0.5))
        d.add(String(x(i), bottom - 10, str(i), fontName=font, fontSize=6.5, textAnchor="middle"))
        d.add(String(x(i), mid + half * vals[i] + 2, f"{vals[i]:.0%}", fontName=font, fontSize=6,
                     textAnchor="middle"))
    for i in lost_at:
        if 0 <= i < n:
            y = mid - half * vals[i] - 5
            d.add(Polygon([x(i) - 4, y, x(i) + 4, y, x(i), y - 6], fillColor=THRESH_FAIL, strokeColor=INK,
                          strokeWidth=0.4))
    for i in blocked_at:
        if 0 <= i < n:
            marker(d, "cross", x(i), mid, colors.white, 4)
            marker(d, "cross", x(i), mid, INK, 3.5)
    d.add(String((left + right) / 2, 1, x_label, fontName=font, fontSize=7, textAnchor="middle"))
    _legend(d, legend, left, height, font)
    return d


def _band(d: Drawing, x: Callable[[int], float], vals: list[float], core: list[float], mid: float,
          half: float) -> None:
    """The river polygon, and the task core inside it when there is one value per layer."""
    upper = [c for i, v in enumerate(vals) for c in (x(i), mid + half * v)]
    lower = [c for i, v in reversed(list(enumerate(vals))) for c in (x(i), mid - half * v)]
    d.add(Polygon(upper + lower, fillColor=RIVER, strokeColor=CORE, strokeWidth=0.8))
    if core and len(core) == len(vals):
        up = [c for i, v in enumerate(core) for c in (x(i), mid + half * v * vals[i])]
        lo = [c for i, v in reversed(list(enumerate(core))) for c in (x(i), mid - half * v * vals[i])]
        d.add(Polygon(up + lo, fillColor=CORE, strokeColor=None))


def _legend(d: Drawing, legend: tuple[str, str, str, str], lx: float, height: float, font: str) -> None:
    """River and core swatches, then the lost (triangle) and blocked (cross) marks, in one row at the top."""
    for label, colour in ((legend[0], RIVER), (legend[1], CORE)):
        d.add(Rect(lx, height - 9, 9, 7, fillColor=colour, strokeColor=INK, strokeWidth=0.3))
        d.add(String(lx + 12, height - 8, label, fontName=font, fontSize=6.5))
        lx += 24 + stringWidth(label, font, 6.5)
    d.add(Polygon([lx, height - 3, lx + 8, height - 3, lx + 4, height - 9], fillColor=THRESH_FAIL, strokeColor=INK,
                  strokeWidth=0.4))
    d.add(String(lx + 11, height - 8, legend[2], fontName=font, fontSize=6.5))
    lx += 24 + stringWidth(legend[2], font, 6.5)
    marker(d, "cross", lx + 4, height - 5, INK, 3)
    d.add(String(lx + 11, height - 8, legend[3], fontName=font, fontSize=6.5))
