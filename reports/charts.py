"""Vector charts as reportlab Drawings: one function per figure kind, readable in greyscale.

Every chart takes its labels from the caller (so the same function serves English and Japanese)
and a font name (an embedded TrueType font; never reportlab's default Helvetica). Series differ
by dash pattern and marker shape as well as by grey level, so a black-and-white print reads.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfmetrics import stringWidth

INK = colors.black
GRID = Color(0.85, 0.85, 0.85)
THRESH_WARN = Color(0.85, 0.55, 0.0)
THRESH_FAIL = Color(0.75, 0.1, 0.1)
# (stroke colour, dash pattern, marker) per series: differ in greyscale too
STYLES: list[tuple[Color, list[float] | None, str]] = [
    (Color(0.05, 0.2, 0.5), None, "circle"),
    (Color(0.35, 0.35, 0.35), [4, 2], "square"),
    (Color(0.55, 0.55, 0.55), [1, 2], "triangle"),
    (Color(0.1, 0.45, 0.2), [6, 2, 1, 2], "diamond"),
    (Color(0.6, 0.2, 0.1), [3, 3], "cross"),
]
SHADES = [Color(0.15, 0.25, 0.45), Color(0.55, 0.6, 0.7), Color(0.85, 0.87, 0.9), Color(0.4, 0.4, 0.4)]


def _num(v: object) -> float | None:
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


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.0e}"
    return f"{v:.3g}"


def _marker(d: Drawing, kind: str, x: float, y: float, colour: Color, size: float = 2.2) -> None:
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


def _new(width: float, height: float, font: str) -> Drawing:
    """A Drawing whose renderer starts in an embedded font (otherwise reportlab emits a Helvetica resource)."""
    d = Drawing(width, height)
    d.initialFontName = font
    return d


def no_data(width: float, height: float, message: str, font: str) -> Drawing:
    """A framed box that says plainly why a chart is missing."""
    d = _new(width, height, font)
    d.add(Rect(0, 0, width, height, strokeColor=GRID, fillColor=None))
    d.add(String(width / 2, height / 2, message, fontName=font, fontSize=8, textAnchor="middle"))
    return d


class _Frame:
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
            label = _fmt(10 ** t) if self.log_y else _fmt(t)
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
        ylab = String(0, 0, y_label, fontName=f, fontSize=7, textAnchor="middle")
        from reportlab.graphics.shapes import Group

        g = Group(ylab)
        g.translate(9, (self.bottom + self.top) / 2)
        g.rotate(90)
        d.add(g)

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

    def legend(self, labels: Sequence[str], styles: Sequence[tuple[Color, list[float] | None, str]]) -> None:
        x, y = self.left, self.d.height - 9
        per_row = max(1, int((self.right - self.left) // 130))
        for i, (label, (colour, dash, marker)) in enumerate(zip(labels, styles, strict=False)):
            col, row = i % per_row, i // per_row
            lx, ly = x + col * 130, y - row * 11
            self.d.add(Line(lx, ly + 2.5, lx + 16, ly + 2.5, strokeColor=colour, strokeDashArray=dash,
                            strokeWidth=1.1))
            _marker(self.d, marker, lx + 8, ly + 2.5, colour, 1.8)
            self.d.add(String(lx + 20, ly, label[:30], fontName=self.font, fontSize=6.5))


def layer_lines(series: Sequence[tuple[str, Sequence[float | None]]], *, x_label: str, y_label: str,
                font: str, width: float = 240, height: float = 150, x_start: int = 0,
                thresholds: Sequence[tuple[float, str, str]] = (), log_y: bool = False,
                y_min: float | None = None, y_max: float | None = None, no_data_text: str = "no data") -> Drawing:
    """Per-layer (or per-step) lines; the first series is the measured figure, the others baselines.

    thresholds: (value, "warn"|"fail", label) drawn as dashed horizontal lines.
    """
    clean = [(name, [_num(v) for v in values]) for name, values in series if values]
    values = [v for _, vs in clean for v in vs if v is not None]
    if not values:
        return no_data(width, height, no_data_text, font)
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
    d = _new(width, height, font)
    rows = math.ceil(len(clean) / max(1, int((width - 52) // 130)))
    fr = _Frame(d, font, (x_start, x_start + max(n - 1, 1)), (lo, hi), x_label, y_label, rows, log_y)
    for value, level, label in thresholds:
        fr.hline(value, THRESH_FAIL if level == "fail" else THRESH_WARN, label, label_left=level == "fail")
    styles = []
    for i, (_name, vs) in enumerate(clean):
        colour, dash, marker = STYLES[i % len(STYLES)]
        styles.append((colour, dash, marker))
        pts: list[float] = []
        for j, v in enumerate(vs):
            if v is None or (log_y and v <= 0):
                continue
            pts += [fr.px(x_start + j), fr.py(v)]
        if len(pts) >= 4:
            d.add(PolyLine(pts, strokeColor=colour, strokeWidth=1.2 if i == 0 else 0.9, strokeDashArray=dash))
        for k in range(0, len(pts), 2):
            _marker(d, marker, pts[k], pts[k + 1], colour)
    fr.legend([name for name, _ in clean], styles)
    return d


def stacked_shares(shares: Sequence[tuple[str, Sequence[float | None]]], *, x_label: str, y_label: str,
                   font: str, width: float = 240, height: float = 150, x_start: int = 1,
                   no_data_text: str = "no data") -> Drawing:
    """Stacked bars per step whose parts sum to 1 (e.g. diffusion / attention / reaction shares)."""
    n = max((len(v) for _, v in shares), default=0)
    if n == 0:
        return no_data(width, height, no_data_text, font)
    d = _new(width, height, font)
    fr = _Frame(d, font, (x_start - 0.5, x_start + n - 0.5), (0, 1), x_label, y_label, 1)
    bar_w = (fr.right - fr.left) / n * 0.6
    for j in range(n):
        base = 0.0
        for i, (_name, vs) in enumerate(shares):
            v = _num(vs[j]) if j < len(vs) else None
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
    rows = [(k, _num(v)) for k, v in items]
    if not any(v is not None for _, v in rows):
        return no_data(width, height or 60, no_data_text, font)
    height = height or 26 + 13 * len(rows)
    d = _new(width, height, font)
    left, right, bottom = 92, width - 30, 20
    hi = max([v for _, v in rows if v is not None] + [t for t, _, _ in thresholds] + [1e-9])
    ticks = nice_ticks(0, hi, 4)
    hi = ticks[-1]
    for t in ticks:
        x = left + t / hi * (right - left)
        d.add(Line(x, bottom, x, height - 4, strokeColor=GRID, strokeWidth=0.4))
        d.add(String(x, bottom - 8, _fmt(t), fontName=font, fontSize=6.5, textAnchor="middle"))
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
        d.add(String(left + w + 2, y + slot * 0.15, _fmt(v), fontName=font, fontSize=6.5))
    for value, level, label in thresholds:
        x = left + value / hi * (right - left)
        colour = THRESH_FAIL if level == "fail" else THRESH_WARN
        d.add(Line(x, bottom, x, height - 4, strokeColor=colour, strokeDashArray=[4, 2]))
        # warn labels at the top, fail labels at the foot: close limits never overprint
        d.add(String(x + 1, height - 10 if level != "fail" else bottom + 2, label, fontName=font, fontSize=6,
                     fillColor=colour))
    d.add(Line(left, bottom, left, height - 4, strokeColor=INK, strokeWidth=0.6))
    return d


def heatmap(matrix: Sequence[Sequence[float | None]], *, x_label: str, y_label: str, value_label: str,
            font: str, width: float = 240, height: float = 150, no_data_text: str = "no data") -> Drawing:
    """Layer x head grid in grey levels (dark = high), with a scale bar; e.g. head importance."""
    rows = [[_num(v) for v in row] for row in matrix if isinstance(row, (list, tuple))]
    values = [v for row in rows for v in row if v is not None]
    if not values:
        return no_data(width, height, no_data_text, font)
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    d = _new(width, height, font)
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
    from reportlab.graphics.shapes import Group

    g = Group(String(0, 0, y_label, fontName=font, fontSize=7, textAnchor="middle"))
    g.translate(8, (bottom + top) / 2)
    g.rotate(90)
    d.add(g)
    # scale bar
    bx = right + 8
    for k in range(10):
        gv = 0.95 - 0.9 * k / 9
        d.add(Rect(bx, bottom + k * (top - bottom) / 10, 8, (top - bottom) / 10,
                   fillColor=Color(gv, gv, min(1.0, gv + 0.05)), strokeColor=None))
    d.add(String(bx + 10, bottom, _fmt(lo), fontName=font, fontSize=6))
    d.add(String(bx + 10, top - 6, _fmt(hi), fontName=font, fontSize=6))
    d.add(String(bx + 4, top + 0.5, value_label[:14], fontName=font, fontSize=5.5, textAnchor="middle"))
    return d


def information_plane(paths: Sequence[tuple[str, Sequence[tuple[float, float]]]], *, x_label: str, y_label: str,
                      font: str, width: float = 240, height: float = 160, no_data_text: str = "no data") -> Drawing:
    """I(X;T) against I(T;Y) per layer, one path per estimator, layers numbered along the path."""
    pts = [(x, y) for _, path in paths for x, y in path if _num(x) is not None and _num(y) is not None]
    if not pts:
        return no_data(width, height, no_data_text, font)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    d = _new(width, height, font)
    fr = _Frame(d, font, (0, 1), (min(ys + [0]), max(ys) * 1.1), x_label, y_label, 1)
    x_lo, x_hi = min(xs), max(xs)
    pad = (x_hi - x_lo) * 0.1 or 0.1
    x_lo, x_hi = x_lo - pad, x_hi + pad

    def sx(v: float) -> float:
        return fr.left + (v - x_lo) / (x_hi - x_lo) * (fr.right - fr.left)

    # replace the integer x ticks with value ticks
    d.contents = [c for c in d.contents if not (isinstance(c, String) and c.y == fr.bottom - 9)]
    for t in nice_ticks(x_lo, x_hi, 5):
        if x_lo <= t <= x_hi:
            d.add(String(sx(t), fr.bottom - 9, _fmt(t), fontName=font, fontSize=6.5, textAnchor="middle"))
    styles = []
    for i, (_name, path) in enumerate(paths):
        colour, dash, marker = STYLES[i % len(STYLES)]
        styles.append((colour, dash, marker))
        coords = [(sx(x), fr.py(y)) for x, y in path]
        flat = [c for xy in coords for c in xy]
        if len(flat) >= 4:
            d.add(PolyLine(flat, strokeColor=colour, strokeWidth=0.9, strokeDashArray=dash))
        for k, (x, y) in enumerate(coords):
            _marker(d, marker, x, y, colour)
            if i == 0:
                d.add(String(x + 3, y + 3, str(k), fontName=font, fontSize=6))
    fr.legend([name for name, _ in paths], styles)
    return d


def information_river(carried: Sequence[float | None], *, task: Sequence[float | None] = (),
                      lost_at: Sequence[int] = (), blocked_at: Sequence[int] = (), x_label: str,
                      legend: tuple[str, str, str, str], font: str, width: float = 500, height: float = 120,
                      no_data_text: str = "no data") -> Drawing:
    """The 'information river': band width = share of the input's information still carried per layer.

    task: share of the task information (inner, darker core); lost_at: layers where the river
    narrows markedly (triangle); blocked_at: layers that do almost no work (cross).
    legend: (river, task core, lost, blocked) labels.
    """
    vals = [_num(v) for v in carried]
    if not any(v is not None for v in vals):
        return no_data(width, height, no_data_text, font)
    vals = [min(max(v if v is not None else 0.0, 0.0), 1.0) for v in vals]
    d = _new(width, height, font)
    left, right, bottom, top = 30, width - 10, 26, height - 26
    mid, half = (bottom + top) / 2, (top - bottom) / 2
    n = len(vals)

    def x(i: int) -> float:
        return left + i / max(n - 1, 1) * (right - left)

    upper = [c for i, v in enumerate(vals) for c in (x(i), mid + half * v)]
    lower = [c for i, v in reversed(list(enumerate(vals))) for c in (x(i), mid - half * v)]
    d.add(Polygon(upper + lower, fillColor=Color(0.72, 0.8, 0.9), strokeColor=Color(0.2, 0.3, 0.5), strokeWidth=0.8))
    core = [min(max(_num(v) or 0.0, 0.0), 1.0) for v in task]
    if core and len(core) == n:
        up = [c for i, v in enumerate(core) for c in (x(i), mid + half * v * vals[i])]
        lo = [c for i, v in reversed(list(enumerate(core))) for c in (x(i), mid - half * v * vals[i])]
        d.add(Polygon(up + lo, fillColor=Color(0.2, 0.3, 0.5), strokeColor=None))
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
            _marker(d, "cross", x(i), mid, colors.white, 4)
            _marker(d, "cross", x(i), mid, INK, 3.5)
    d.add(String((left + right) / 2, 1, x_label, fontName=font, fontSize=7, textAnchor="middle"))
    lx = left
    entries = [(legend[0], Color(0.72, 0.8, 0.9)), (legend[1], Color(0.2, 0.3, 0.5))]
    for label, colour in entries:
        d.add(Rect(lx, height - 9, 9, 7, fillColor=colour, strokeColor=INK, strokeWidth=0.3))
        d.add(String(lx + 12, height - 8, label, fontName=font, fontSize=6.5))
        lx += 24 + stringWidth(label, font, 6.5)
    d.add(Polygon([lx, height - 3, lx + 8, height - 3, lx + 4, height - 9], fillColor=THRESH_FAIL, strokeColor=INK,
                  strokeWidth=0.4))
    d.add(String(lx + 11, height - 8, legend[2], fontName=font, fontSize=6.5))
    lx += 24 + stringWidth(legend[2], font, 6.5)
    _marker(d, "cross", lx + 4, height - 5, INK, 3)
    d.add(String(lx + 11, height - 8, legend[3], fontName=font, fontSize=6.5))
    return d
