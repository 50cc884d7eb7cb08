"""Bar charts: stacked shares per step, and horizontal bars with their values printed."""
from __future__ import annotations

from collections.abc import Sequence

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.charts.base import (
    GRID,
    INK,
    SHADES,
    THRESH_FAIL,
    THRESH_WARN,
    fmt,
    new_drawing,
    nice_ticks,
    no_data,
    num,
)
from reports.charts.frame import Frame


def stacked_shares(shares: Sequence[tuple[str, Sequence[float | None]]], *, x_label: str, y_label: str,
                   font: str, width: float = 240, height: float = 150, x_start: int = 1,
                   no_data_text: str = "no data") -> Drawing:
    """Stacked bars per step whose parts sum to 1 (e.g. diffusion / attention / reaction shares)."""
    n = max((len(v) for _, v in shares), default=0)
    if n == 0:
        return no_data(width, height, no_data_text, font)
    d = new_drawing(width, height, font)
    fr = Frame(d, font, (x_start - 0.5, x_start + n - 0.5), (0, 1), x_label, y_label, 1)
    bar_w = (fr.right - fr.left) / n * 0.6
    for j in range(n):
        base = 0.0
        for i, (_name, vs) in enumerate(shares):
            v = num(vs[j]) if j < len(vs) else None
            if not v:
                continue
            x = fr.px(x_start + j) - bar_w / 2
            d.add(Rect(x, fr.py(base), bar_w, fr.py(base + v) - fr.py(base), fillColor=SHADES[i % len(SHADES)],
                       strokeColor=INK, strokeWidth=0.4))
            base += v
    x = fr.left
    for i, (name, _) in enumerate(shares):
        d.add(Rect(x, height - 9, 7, 7, fillColor=SHADES[i % len(SHADES)], strokeColor=INK, strokeWidth=0.4))
        d.add(String(x + 10, height - 8, name[:24], fontName=font, fontSize=6.5))
        x += 18 + stringWidth(name[:24], font, 6.5)
    return d


def hbars(items: Sequence[tuple[str, float | None]], *, value_label: str, font: str, width: float = 240,
          height: float | None = None, thresholds: Sequence[tuple[float, str, str]] = (),
          no_data_text: str = "no data") -> Drawing:
    """Horizontal bars with their values printed (e.g. flip rate per perturbation kind)."""
    rows = [(k, num(v)) for k, v in items]
    if not any(v is not None for _, v in rows):
        return no_data(width, height or 60, no_data_text, font)
    height = height or 26 + 13 * len(rows)
    d = new_drawing(width, height, font)
    left, right, bottom = 92, width - 30, 20
    hi = max([v for _, v in rows if v is not None] + [t for t, _, _ in thresholds] + [1e-9])
    ticks = nice_ticks(0, hi, 4)
    hi = ticks[-1]
    for t in ticks:
        x = left + t / hi * (right - left)
        d.add(Line(x, bottom, x, height - 4, strokeColor=GRID, strokeWidth=0.4))
        d.add(String(x, bottom - 8, fmt(t), fontName=font, fontSize=6.5, textAnchor="middle"))
    d.add(String((left + right) / 2, 2, value_label, fontName=font, fontSize=7, textAnchor="middle"))
    slot = (height - 4 - bottom) / len(rows)
    for i, (name, v) in enumerate(rows):
        y = height - 4 - (i + 1) * slot + slot * 0.2
        d.add(String(left - 3, y + slot * 0.2, name[:20], fontName=font, fontSize=6.5, textAnchor="end"))
        if v is None:
            d.add(String(left + 2, y + slot * 0.2, "—", fontName=font, fontSize=6.5))
            continue
        w = max(v, 0) / hi * (right - left)
        d.add(Rect(left, y, w, slot * 0.6, fillColor=SHADES[0], strokeColor=INK, strokeWidth=0.3))
        d.add(String(left + w + 2, y + slot * 0.15, fmt(v), fontName=font, fontSize=6.5))
    for value, level, label in thresholds:
        x = left + value / hi * (right - left)
        colour = THRESH_FAIL if level == "fail" else THRESH_WARN
        d.add(Line(x, bottom, x, height - 4, strokeColor=colour, strokeDashArray=[4, 2]))
        # warn labels at the top, fail labels at the foot: close limits never overprint
        d.add(String(x + 1, height - 10 if level != "fail" else bottom + 2, label, fontName=font, fontSize=6,
                     fillColor=colour))
    d.add(Line(left, bottom, left, height - 4, strokeColor=INK, strokeWidth=0.6))
    return d
