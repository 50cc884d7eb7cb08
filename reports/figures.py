"""Each check's charts, drawn from what the check declares (auditor.presentation) and its stored figures.

A check lists its charts next to its code (`Check.charts`: name, metrics, kind, value axis); the
title is the catalogue's chart.<check>.<name>, each series is named by metric.<name>, the value axis
by axis.<axis>, and threshold lines are worded by auditor.condition_text. A per-layer series with a
stored 95% interval (CheckView.intervals) is drawn over its shaded band (interval.band in the legend). A chart whose figures were
not stored (a model without a head has no changed predictions) is left out. The information river
of the board page is this module's own figure.
"""
from __future__ import annotations

from typing import Any

from reportlab.graphics.shapes import Drawing

from auditor.condition_text import threshold_lines
from auditor.messages import render
from auditor.messages import text as catalogue_text
from auditor.presentation import (
    Chart,
    axis_label,
    chart_title,
    layer_band,
    metric_label,
    presentation,
    variant_label,
)
from reports import charts, fonts
from reports.data import ReportData, layer_series


def _font(data: ReportData) -> str:
    return fonts.body_font(data.lang)


def _lines_for(data: ReportData, check_id: str, chart: Chart) -> list[tuple[float, str, str]]:
    """The template's warn/fail limits on the chart's first metric (the measured figure; the others are
    its baselines or companions, whose limits would read as the first one's), as labelled lines."""
    out = []
    for rule in data.conditions:
        if rule.check_id == check_id and rule.metric == chart.metrics[0] and not rule.variant:
            out += [(value, level, render(label, data.lang)) for level, value, label in threshold_lines(rule)]
    return out


def _series(data: ReportData, check_id: str, chart: Chart) -> list[tuple[str, list, charts.Band | None]]:
    """One series per declared metric, with its stored per-layer 95% interval (or None); a metric stored per
    variant ({variant: [...]}) gives one per variant."""
    metrics, check = data.metrics(check_id), data.check(check_id)
    out: list[tuple[str, list, charts.Band | None]] = []
    for name in chart.metrics:
        value = metrics.get(name)
        if isinstance(value, dict):
            out += [(f"{metric_label(name, data.lang)} ({variant_label(key, data.lang)})", v,
                     layer_band(check, name, len(v), key) if check else None)
                    for key, v in sorted(value.items())
                    if isinstance(v, list)]
        elif series := layer_series(data, check_id, name):
            out.append((metric_label(name, data.lang), series, layer_band(check, name, len(series)) if check else None))
    return out


def _line(data: ReportData, check_id: str, chart: Chart, t: dict[str, Any], width: float) -> Drawing | None:
    banded = _series(data, check_id, chart)
    if not banded:
        return None
    series, bands = [(name, values) for name, values, _ in banded], [band for _, _, band in banded]
    chance = data.evidence(check_id).get("chance_accuracy")
    if chart.axis == "accuracy" and isinstance(chance, (int, float)):   # accuracy is read against chance
        series.append((metric_label("chance", data.lang), [chance] * len(series[0][1])))
    steps = any(m in presentation(check_id).step_metrics for m in chart.metrics)
    values = [v for _, s in series for v in s if isinstance(v, (int, float))]
    # norms (gradients) and series spanning orders of magnitude are read on a log scale
    log_y = bool(values) and min(values) > 0 and (chart.axis == "norm" or max(values) / min(values) > 1e3)
    bounded = chart.axis == "accuracy"
    return charts.layer_lines(series, x_label=axis_label("step" if steps else "layer", data.lang),
                              y_label=axis_label(chart.axis, data.lang), font=_font(data), width=width,
                              x_start=1 if steps else 0, thresholds=_lines_for(data, check_id, chart),
                              log_y=log_y, no_data_text=t["results"]["missing"], bands=bands,
                              band_label=catalogue_text("interval.band", data.lang),
                              **({"y_min": 0, "y_max": 1} if bounded and not log_y else {}))


def _heatmap(data: ReportData, check_id: str, chart: Chart, t: dict[str, Any], width: float) -> Drawing | None:
    matrix = data.metrics(check_id).get(chart.metrics[0])
    if not isinstance(matrix, list) or not matrix:
        return None
    return charts.heatmap(matrix, x_label=axis_label("head", data.lang), y_label=axis_label("step", data.lang),
                          value_label=axis_label(chart.axis, data.lang), font=_font(data), width=width,
                          no_data_text=t["results"]["missing"])


def _plane(data: ReportData, check_id: str, chart: Chart, t: dict[str, Any], width: float) -> Drawing | None:
    """The path through (x metric, y metric) per layer: I(X;T) against I(T;Y)."""
    metrics = data.metrics(check_id)
    xs, ys = (metrics.get(m) for m in chart.metrics[:2])
    if not isinstance(xs, list) or not isinstance(ys, list) or not xs:
        return None
    paths = [(metric_label(chart.metrics[1], data.lang), list(zip(xs, ys, strict=False)))]
    return charts.information_plane(paths, x_label=metric_label(chart.metrics[0], data.lang),
                                    y_label=axis_label(chart.axis, data.lang), font=_font(data), width=width,
                                    no_data_text=t["results"]["missing"])


def _bars(data: ReportData, check_id: str, chart: Chart, t: dict[str, Any], width: float) -> Drawing | None:
    values = data.metrics(check_id).get(chart.metrics[0])
    if not isinstance(values, dict) or not values:
        return None
    bars = [(variant_label(str(k), data.lang), v) for k, v in sorted(values.items())]
    return charts.hbars(bars, value_label=axis_label(chart.axis, data.lang), font=_font(data),
                        width=width, no_data_text=t["results"]["missing"])


def _shares(data: ReportData, check_id: str, chart: Chart, t: dict[str, Any], width: float) -> Drawing | None:
    series = [(name, values) for name, values, _ in _series(data, check_id, chart)]
    if not series:
        return None
    return charts.stacked_shares(series, x_label=axis_label("step", data.lang),
                                 y_label=axis_label(chart.axis, data.lang), font=_font(data), width=width,
                                 no_data_text=t["results"]["missing"])


_KINDS = {"line": _line, "heatmap": _heatmap, "plane": _plane, "bars": _bars, "shares": _shares}


def check_figures(data: ReportData, check_id: str, t: dict[str, Any], width: float) -> list[tuple[str, Drawing]]:
    """(title, drawing) for each declared chart of the check that has stored figures to draw."""
    out = []
    for chart in presentation(check_id).charts:
        draw = _KINDS.get(chart.kind)
        drawing = draw(data, check_id, chart, t, width) if draw else None
        if drawing is not None:
            out.append((chart_title(check_id, chart, data.lang), drawing))
    return out


def river_inputs(data: ReportData) -> dict[str, Any]:
    """Share of the input's information carried per layer, task share, loss and idle marks."""
    m = data.metrics("bottleneck.information_plane")
    carried = m.get("compression") if isinstance(m.get("compression"), list) else None
    if not carried:
        rc = layer_series(data, "flow.smoothing", "rank_collapse_residual")
        carried = [v / rc[0] for v in rc] if rc and rc[0] else []
    task = []
    mi_ty = m.get("mi_ty_kde")
    entropy = data.evidence("bottleneck.information_plane").get("label_entropy")
    if isinstance(mi_ty, list) and isinstance(entropy, (int, float)) and entropy > 0 and len(mi_ty) == len(carried):
        task = [min(1.0, (v or 0) / entropy) for v in mi_ty]
    lost = [i for i in range(1, len(carried)) if carried[i] is not None and carried[i - 1] is not None
            and carried[i - 1] - carried[i] > 0.05]
    idle = [i + 1 for i, v in enumerate(layer_series(data, "flow.representation", "update_ratio"))
            if v is not None and v < 0.05]
    return {"carried": carried, "task": task, "lost_at": lost, "blocked_at": idle}


def river(data: ReportData, t: dict[str, Any], width: float, height: float = 118) -> Drawing:
    r = river_inputs(data)
    return charts.information_river(r["carried"], task=r["task"], lost_at=r["lost_at"], blocked_at=r["blocked_at"],
                                    x_label=t["river_axis"], legend=t["river_legend"], font=_font(data),
                                    width=width, height=height, no_data_text=t["results"]["missing"])
