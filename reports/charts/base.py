"""What every chart shares: greyscale-safe styles, number formatting, tick choice, markers, the empty box.

Every chart takes its labels from the caller (so the same function serves English and Japanese)
and a font name (an embedded TrueType font; never reportlab's default Helvetica). Series differ
by dash pattern and marker shape as well as by grey level, so a black-and-white print reads.
"""
from __future__ import annotations

import math

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.colors import Color

INK = colors.black
GRID = Color(0.85, 0.85, 0.85)
THRESH_WARN = Color(0.85, 0.55, 0.0)
THRESH_FAIL = Color(0.75, 0.1, 0.1)
Style = tuple[Color, list[float] | None, str]    # (stroke colour, dash pattern, marker)
# one style per series: they differ in greyscale too
STYLES: list[Style] = [
    (Color(0.05, 0.2, 0.5), None, "circle"),
    (Color(0.35, 0.35, 0.35), [4, 2], "square"),
    (Color(0.55, 0.55, 0.55), [1, 2], "triangle"),
    (Color(0.1, 0.45, 0.2), [6, 2, 1, 2], "diamond"),
    (Color(0.6, 0.2, 0.1), [3, 3], "cross"),
]
SHADES = [Color(0.15, 0.25, 0.45), Color(0.55, 0.6, 0.7), Color(0.85, 0.87, 0.9), Color(0.4, 0.4, 0.4)]


def num(v: object) -> float | None:
    """A finite number as float; None for anything else (missing, NaN, text, booleans)."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 0.5 and len(ticks) < 20:
        ticks.append(round(t, 10))
        t += step
    return ticks


def fmt(v: float) -> str:
    """A tick or value label: three significant digits, exponent form for very large or small values."""
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.0e}"
    return f"{v:.3g}"


def marker(d: Drawing, kind: str, x: float, y: float, colour: Color, size: float = 2.2) -> None:
    """A point marker: circle, square, triangle, diamond, or a cross for anything else."""
    s = size
    if kind == "circle":
        d.add(Circle(x, y, s, fillColor=colour, strokeColor=colour))
    elif kind == "square":
        d.add(Rect(x - s, y - s, 2 * s, 2 * s, fillColor=colors.white, strokeColor=colour, strokeWidth=0.8))
    elif kind == "triangle":
        d.add(Polygon([x - s, y - s, x + s, y - s, x, y + s], fillColor=colour, strokeColor=colour))
    elif kind == "diamond":
        d.add(Polygon([x, y - s, x + s, y, x, y + s, x - s, y], fillColor=colors.white, strokeColor=colour))
    else:
        d.add(Line(x - s, y - s, x + s, y + s, strokeColor=colour))
        d.add(Line(x - s, y + s, x + s, y - s, strokeColor=colour))


def new_drawing(width: float, height: float, font: str) -> Drawing:
    """A Drawing whose renderer starts in an embedded font (otherwise reportlab emits a Helvetica resource)."""
    d = Drawing(width, height)
    d.initialFontName = font
    return d


def no_data(width: float, height: float, message: str, font: str) -> Drawing:
    """A framed box that says plainly why a chart is missing."""
    d = new_drawing(width, height, font)
    d.add(Rect(0, 0, width, height, strokeColor=GRID, fillColor=None))
    d.add(String(width / 2, height / 2, message, fontName=font, fontSize=8, textAnchor="middle"))
    return d


def vertical_label(d: Drawing, text: str, font: str, x: float, y: float) -> None:
    """An axis title turned to read bottom-up, centred on (x, y)."""
    g = Group(String(0, 0, text, fontName=font, fontSize=7, textAnchor="middle"))
    g.translate(x, y)
    g.rotate(90)
    d.add(g)
