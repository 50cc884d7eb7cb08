"""A chart in words, for screen readers (the widget's accessible description) and tooltips, in en or ja.

Each summary says what kind of chart it is, its axes, and per series where it starts and ends and its
lowest and highest value with the place (layer, block, head) each was read at, in plain numbers
(gui.widgets.numbers). Sentences are catalogue keys gui.charts.describe.* (templates/sentences/gui_charts.yaml).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from auditor.messages import Message, render
from gui.widgets.numbers import digits_apart, plain


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def place(kind: str, n: float | int, lang: str) -> str:
    """'layer 3' / '第3層' (kind 'layer'), 'block 2' / 'ブロック2' (kind 'step')."""
    return render(Message(f"gui.charts.at.{kind}", {"n": int(n)}), lang)


def sentences(messages: Sequence[Message], lang: str) -> str:
    """Whole sentences one after another (a space between English ones, none between Japanese ones)."""
    return ("" if lang == "ja" else " ").join(render(m, lang) for m in messages)


def series_sentence(name: str, points: Sequence[tuple[float, float]], kind: str, lang: str) -> Message:
    """Where a series starts and ends, and its lowest and highest value, each with its place."""
    if len(points) == 1:
        (x, y), = points
        return Message("gui.charts.describe.series_one", {"name": name, "value": plain(y, lang),
                                                          "place": place(kind, x, lang)})
    low = min(points, key=lambda p: p[1])
    high = max(points, key=lambda p: p[1])
    digits = digits_apart([low[1], high[1]], lang)   # cosines of 0.99992 to 0.99995 are not "1 to 1"
    return Message("gui.charts.describe.series", {
        "name": name, "first": plain(points[0][1], lang, digits), "start": place(kind, points[0][0], lang),
        "last": plain(points[-1][1], lang, digits), "end": place(kind, points[-1][0], lang),
        "low": plain(low[1], lang, digits), "at_low": place(kind, low[0], lang),
        "high": plain(high[1], lang, digits), "at_high": place(kind, high[0], lang)})


def describe_lines(named: Sequence[tuple[str, Sequence[tuple[float, float]]]], x_axis: str, y_axis: str,
                   kind: str, lang: str, *, log_y: bool = False, thresholds: Sequence[str] = (),
                   band: bool = False) -> str:
    """Lines over layers (`kind` layer) or blocks (`kind` step): axes, each series, reference lines, bands."""
    said = [Message("gui.charts.describe.lines", {"x_axis": x_axis, "y_axis": y_axis})]
    if log_y:
        said.append(Message("gui.charts.describe.log"))
    said += [series_sentence(name, points, kind, lang) for name, points in named if points]
    if thresholds:
        said.append(Message("gui.charts.describe.thresholds", {"lines": list(thresholds)}))
    if band:
        said.append(Message("gui.charts.describe.band"))
    if not any(points for _, points in named):
        said.append(Message("gui.charts.describe.empty"))
    return sentences(said, lang)


def describe_plane(points: Sequence[tuple[float, float]], x_axis: str, y_axis: str, lang: str) -> str:
    """The information plane's path: its axes and where it starts and ends (the layer of each end)."""
    if not points:
        return sentences([Message("gui.charts.describe.empty")], lang)
    (x0, y0), (x1, y1) = points[0], points[-1]
    return sentences([Message("gui.charts.describe.plane", {
        "x_axis": x_axis, "y_axis": y_axis, "x_first": plain(x0, lang), "y_first": plain(y0, lang),
        "x_last": plain(x1, lang), "y_last": plain(y1, lang), "start": place("layer", 0, lang),
        "end": place("layer", len(points) - 1, lang)})], lang)


def cell_place(row: int, col: int, lang: str) -> str:
    """'block 2, head 3' (rows and heads numbered from 1, as drawn)."""
    return render(Message("gui.charts.at.cell", {"row": row + 1, "col": col + 1}), lang)


def describe_heatmap(grid: Sequence[Sequence[float | None]], axis: str, lang: str) -> str:
    """Blocks by heads, what darker means, and the lowest and highest cell with its place."""
    cells = [(v, r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if _finite(v)]
    if not cells:
        return sentences([Message("gui.charts.describe.empty")], lang)
    low, high = min(cells), max(cells)
    return sentences([Message("gui.charts.describe.heatmap", {
        "rows": len(grid), "cols": max(len(row) for row in grid), "axis": axis,
        "low": plain(low[0], lang), "at_low": cell_place(low[1], low[2], lang),
        "high": plain(high[0], lang), "at_high": cell_place(high[1], high[2], lang)})], lang)


def describe_bars(items: Sequence[tuple[str, float | None]], axis: str, lang: str) -> str:
    """Every bar's name and value, in the order drawn."""
    if not any(_finite(v) for _, v in items):
        return sentences([Message("gui.charts.describe.empty")], lang)
    said = [Message("gui.charts.describe.item", {"name": name, "value": plain(v, lang)}) for name, v in items]
    return sentences([Message("gui.charts.describe.bars", {"axis": axis, "items": said})], lang)
