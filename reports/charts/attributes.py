"""Per-layer lines for several groups on one frame, each layer's 95% interval an error bar.

Used for the counterfactual shift per protected attribute: up to seven series share one plot, so the
intervals are error bars set a little apart at each layer (shaded bands of seven series would cover
each other). The first series (the overall figure) is drawn black and heavier.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from reportlab.graphics.shapes import Drawing, Line, PolyLine, String
from reportlab.lib.colors import Color

from reports.charts.base import (
    INK,
    STYLES,
    THRESH_FAIL,
    THRESH_WARN,
    Style,
    marker,
    new_drawing,
    no_data,
    num,
)
from reports.charts.frame import Frame
from reports.charts.lines import Band

THRESH_INFO = Color(0.12, 0.3, 0.47)
# the overall series first, then one style per group: colour, dash and marker all differ, so grey prints read
GROUP_STYLES: list[Style] = [(INK, None, "circle"), *STYLES[:4], (Color(0.45, 0.1, 0.5), [2, 1], "triangle"),
                             (Color(0.0, 0.45, 0.55), [5, 1, 1, 1], "square"), STYLES[4]]


def attribute_lines(series: Sequence[tuple[str, Sequence[float | None], Band | None]], *, x_label: str,
                    y_label: str, font: str, width: float = 480, height: float = 190,
                    thresholds: Sequence[tuple[float, str, str]] = (), no_data_text: str = "no data") -> Drawing:
    """One line per group (name, per-layer values, (lows, highs) or None), layer 0 on the left; thresholds:
    (value, "info"|"warn"|"fail", label) as dashed horizontal lines."""
    clean = [(name, [num(v) for v in values], band) for name, values, band in series if values]
    values = [v for _, vs, _ in clean for v in vs if v is not None]
    if not values:
        return no_data(width, height, no_data_text, font)
    for _, _, band in clean:
        if band is not None:
            values += [b for b in (*band[0], *band[1]) if num(b) is not None]
    values += [value for value, _, _ in thresholds]
    lo, hi = min(0.0, min(values)), max(values)
    hi += (hi - lo) * 0.06 or 0.1
    n = max(len(vs) for _, vs, _ in clean)
    d = new_drawing(width, height, font)
    rows = math.ceil((len(clean) + len(thresholds)) / max(1, int((width - 52) // 130)))
    # a little room either side, so the groups set apart at the first and last layer stay inside the frame
    fr = Frame(d, font, (-0.15, max(n - 1, 1) + 0.15), (lo, hi), x_label, y_label, rows)
    colours = {"fail": THRESH_FAIL, "warn": THRESH_WARN}
    for value, level, _label in thresholds:   # labelled in the legend: at a line's end the markers would cover it
        fr.hline(value, colours.get(level, THRESH_INFO), "")
    # set the groups apart at each layer by at most a fifth of the gap between layers
    gap = (fr.px(1) - fr.px(0)) if n > 1 else (fr.right - fr.left)
    step = min(4.0, gap / 5 / max(len(clean), 1))
    for i, (_name, vs, band) in enumerate(clean):
        style = GROUP_STYLES[i % len(GROUP_STYLES)]
        shift = (i - (len(clean) - 1) / 2) * step
        _group(d, fr, i, style, vs, band, shift)
    fr.legend([name for name, _, _ in clean], [GROUP_STYLES[i % len(GROUP_STYLES)] for i in range(len(clean))])
    for k, (_value, level, label) in enumerate(thresholds):
        lx, ly = fr._slot(len(clean) + k)
        d.add(Line(lx, ly + 2.5, lx + 16, ly + 2.5, strokeColor=colours.get(level, THRESH_INFO), strokeWidth=0.9,
                   strokeDashArray=[5, 2]))
        d.add(String(lx + 20, ly, label[:30], fontName=font, fontSize=6.5))
    return d


def _group(d: Drawing, fr: Frame, i: int, style: Style, values: Sequence[float | None], band: Band | None,
           shift: float) -> None:
    """A group's error bars (with caps), then its line and markers, `shift` points right of each layer."""
    colour, dash, shape = style
    if band is not None:
        for j, (low, high) in enumerate(zip(*band, strict=False)):
            low, high = num(low), num(high)
            if low is None or high is None:
                continue
            x = fr.px(j) + shift
            d.add(Line(x, fr.py(low), x, fr.py(high), strokeColor=colour, strokeWidth=0.7))
            for y in (low, high):
                d.add(Line(x - 1.5, fr.py(y), x + 1.5, fr.py(y), strokeColor=colour, strokeWidth=0.7))
    pts = [c for j, v in enumerate(values) if v is not None for c in (fr.px(j) + shift, fr.py(v))]
    if len(pts) >= 4:
        d.add(PolyLine(pts, strokeColor=colour, strokeWidth=1.4 if i == 0 else 0.9, strokeDashArray=dash))
    for k in range(0, len(pts), 2):
        marker(d, shape, pts[k], pts[k + 1], colour, 2.0)
