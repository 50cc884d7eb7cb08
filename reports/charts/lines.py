"""Line charts on an x-y frame: per-layer (or per-step) series with their 95% interval bands, and the
information plane's paths."""
from __future__ import annotations

import math
from collections.abc import Sequence

from reportlab.graphics.shapes import Drawing, Line, Polygon, PolyLine, String
from reportlab.lib.colors import Color

from reports.charts.base import (
    STYLES,
    THRESH_FAIL,
    THRESH_WARN,
    fmt,
    marker,
    new_drawing,
    nice_ticks,
    no_data,
    num,
)
from reports.charts.frame import Frame

Band = tuple[Sequence[float | None], Sequence[float | None]]   # (lows, highs) per layer


def layer_lines(series: Sequence[tuple[str, Sequence[float | None]]], *, x_label: str, y_label: str,
                font: str, width: float = 240, height: float = 150, x_start: int = 0,
                thresholds: Sequence[tuple[float, str, str]] = (), log_y: bool = False,
                y_min: float | None = None, y_max: float | None = None, no_data_text: str = "no data",
                bands: Sequence[Band | None] = (), band_label: str = "") -> Drawing:
    """Per-layer (or per-step) lines; the first series is the measured figure, the others baselines.

    thresholds: (value, "warn"|"fail", label) drawn as dashed horizontal lines. bands: per series (in the
    same order), its 95% interval per layer, drawn as a light band of the series' colour under its line
    (an error bar where only one point has one); band_label names the shading in the legend.
    """
    kept = [(name, values, bands[i] if i < len(bands) else None) for i, (name, values) in enumerate(series) if values]
    clean = [(name, [num(v) for v in values]) for name, values, _ in kept]
    shaded = [(i, pts) for i, (_, _, band) in enumerate(kept) if (pts := _band_points(band))]
    values = [v for _, vs in clean for v in vs if v is not None]
    if not values:
        return no_data(width, height, no_data_text, font)
    values += [b for _, pts in shaded for _, lo, hi in pts for b in (lo, hi)]
    span = (max(values) - min(values)) or abs(max(values)) or 1.0
    # a limit far off the data's scale would flatten the curve; the table still states it
    thresholds = [th for th in thresholds if min(values) - 2 * span <= th[0] <= max(values) + 2 * span]
    values += [t for t, _, _ in thresholds]
    lo = min(values) if y_min is None else y_min
    hi = max(values) if y_max is None else y_max
    if log_y:
        positive = [v for v in values if v > 0]
        lo, hi = (min(positive), max(positive)) if positive else (0.1, 1)
    elif y_min is None:
        pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 0.1
        lo, hi = lo - pad if lo < 0 or lo - pad > 0 else 0.0, hi + pad
    n = max(len(vs) for _, vs in clean)
    d = new_drawing(width, height, font)
    keyed = bool(shaded and band_label)
    rows = math.ceil((len(clean) + keyed) / max(1, int((width - 52) // 130)))
    fr = Frame(d, font, (x_start, x_start + max(n - 1, 1)), (lo, hi), x_label, y_label, rows, log_y)
    for i, pts in shaded:
        _band(d, fr, pts, STYLES[i % len(STYLES)][0], x_start, log_y)
    for value, level, label in thresholds:
        fr.hline(value, THRESH_FAIL if level == "fail" else THRESH_WARN, label, label_left=level == "fail")
    for i, (_name, vs) in enumerate(clean):
        _series(d, fr, i, vs, x_start, log_y)
    fr.legend([name for name, _ in clean], [STYLES[i % len(STYLES)] for i in range(len(clean))])
    if keyed:
        fr.band_key(len(clean), band_label, _tint(STYLES[shaded[0][0] % len(STYLES)][0]))
    return d


def _band_points(band: Band | None) -> list[tuple[int, float, float]]:
    """(layer index, low, high) of every layer whose interval has two finite bounds."""
    if band is None:
        return []
    pts = [(j, num(lo), num(hi)) for j, (lo, hi) in enumerate(zip(*band, strict=False))]
    return [(j, lo, hi) for j, lo, hi in pts if lo is not None and hi is not None]


def _tint(colour: Color) -> Color:
    """A light, opaque tint of a series' colour (opaque: it prints the same on every PDF viewer)."""
    return Color(*(0.78 + 0.22 * c for c in (colour.red, colour.green, colour.blue)))


def _band(d: Drawing, fr: Frame, pts: list[tuple[int, float, float]], colour: Color, x_start: int,
          log_y: bool) -> None:
    """A series' 95% interval: a tinted polygon over each run of consecutive layers, an error bar for a
    layer alone (a log scale cannot show bounds at or below zero)."""
    pts = [(j, lo, hi) for j, lo, hi in pts if not log_y or lo > 0]
    runs: list[list[tuple[int, float, float]]] = []
    for p in pts:
        if runs and p[0] == runs[-1][-1][0] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    for run in runs:
        if len(run) == 1:
            j, lo, hi = run[0]
            d.add(Line(fr.px(x_start + j), fr.py(lo), fr.px(x_start + j), fr.py(hi), strokeColor=colour,
                       strokeWidth=0.8))
            continue
        outline = [c for j, lo, _ in run for c in (fr.px(x_start + j), fr.py(lo))]
        outline += [c for j, _, hi in reversed(run) for c in (fr.px(x_start + j), fr.py(hi))]
        d.add(Polygon(outline, fillColor=_tint(colour), strokeColor=None))


def _series(d: Drawing, fr: Frame, i: int, values: Sequence[float | None], x_start: int, log_y: bool) -> None:
    """Series i as a line with markers; gaps (and values a log scale cannot show) are left out."""
    colour, dash, shape = STYLES[i % len(STYLES)]
    pts: list[float] = []
    for j, v in enumerate(values):
        if v is None or (log_y and v <= 0):
            continue
        pts += [fr.px(x_start + j), fr.py(v)]
    if len(pts) >= 4:
        d.add(PolyLine(pts, strokeColor=colour, strokeWidth=1.2 if i == 0 else 0.9, strokeDashArray=dash))
    for k in range(0, len(pts), 2):
        marker(d, shape, pts[k], pts[k + 1], colour)


def information_plane(paths: Sequence[tuple[str, Sequence[tuple[float, float]]]], *, x_label: str, y_label: str,
                      font: str, width: float = 240, height: float = 160, no_data_text: str = "no data") -> Drawing:
    """I(X;T) against I(T;Y) per layer, one path per estimator, layers numbered along the path."""
    pts = [(x, y) for _, path in paths for x, y in path if num(x) is not None and num(y) is not None]
    if not pts:
        return no_data(width, height, no_data_text, font)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    d = new_drawing(width, height, font)
    fr = Frame(d, font, (0, 1), (min(ys + [0]), max(ys) * 1.1), x_label, y_label, 1)
    x_lo, x_hi = min(xs), max(xs)
    pad = (x_hi - x_lo) * 0.1 or 0.1
    x_lo, x_hi = x_lo - pad, x_hi + pad

    def sx(v: float) -> float:
        return fr.left + (v - x_lo) / (x_hi - x_lo) * (fr.right - fr.left)

    # replace the integer x ticks with value ticks
    d.contents = [c for c in d.contents if not (isinstance(c, String) and c.y == fr.bottom - 9)]
    for t in nice_ticks(x_lo, x_hi, 5):
        if x_lo <= t <= x_hi:
            d.add(String(sx(t), fr.bottom - 9, fmt(t), fontName=font, fontSize=6.5, textAnchor="middle"))
    for i, (_name, path) in enumerate(paths):
        colour, dash, shape = STYLES[i % len(STYLES)]
        coords = [(sx(x), fr.py(y)) for x, y in path]
        flat = [c for xy in coords for c in xy]
        if len(flat) >= 4:
            d.add(PolyLine(flat, strokeColor=colour, strokeWidth=0.9, strokeDashArray=dash))
        for k, (x, y) in enumerate(coords):
            marker(d, shape, x, y, colour)
            if i == 0:
                d.add(String(x + 3, y + 3, str(k), fontName=font, fontSize=6))
    fr.legend([name for name, _ in paths], [STYLES[i % len(STYLES)] for i in range(len(paths))])
    return d
