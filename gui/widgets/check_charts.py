"""The charts a check declares (auditor.presentation), drawn from its stored metrics and its rules' thresholds.

Titles, axes and series names are catalogue sentences (chart.<check>.<name>, axis.<axis>,
metric.<name>); threshold lines are worded by auditor.condition_text, so a chart reads the same
as the findings and the reports in both languages. A per-layer series with a stored 95% interval
(CheckView.intervals, auditor.presentation.layer_band) is drawn over its shaded band. As in the reports,
norms and series spanning orders of magnitude get a log axis, and an accuracy chart its chance level.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtWidgets import QWidget

from auditor.condition_text import threshold_lines
from auditor.messages import render
from auditor.messages import text as catalogue_text
from auditor.presentation import (
    Chart,
    CheckPresentation,
    axis_label,
    chart_title,
    layer_band,
    metric_label,
    presentation,
    variant_label,
)
from auditor.views import CheckView, FindingView
from gui.widgets.charts import BarChart, ChartSpec, HeatMap, LineChart, Series


def _is_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, (int, float)) or x is None for x in v)


def _is_grid(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(_is_list(r) for r in v)


def thresholds(findings: Sequence[FindingView], metrics: Sequence[str], lang: str) -> list[tuple[str, float, str]]:
    """(label, value, level) of every warn/fail line the template's rules draw on these metrics."""
    out: list[tuple[str, float, str]] = []
    for f in findings:
        if f.condition.get("metric") not in metrics:
            continue
        for level, value, label in threshold_lines(f.condition):
            line = (render(label, lang), value, level)
            if line not in out:
                out.append(line)
    return out


def _log_y(chart: Chart, series: Sequence[Series]) -> bool:
    """Norms (gradients), and positive series spanning more than three orders of magnitude, on a log axis
    (the rule of the reports, reports/figures.py)."""
    values = [v for s in series for v in s.values if isinstance(v, (int, float)) and math.isfinite(v)]
    return bool(values) and min(values) > 0 and (chart.axis == "norm" or max(values) / min(values) > 1e3)


def _chance(check: CheckView, chart: Chart, like: Series, lang: str) -> list[Series]:
    """An accuracy chart's chance level as a flat series (its title promises it), where the check stored one."""
    chance = check.evidence.get("chance_accuracy")
    if chart.axis != "accuracy" or not isinstance(chance, (int, float)) or not math.isfinite(chance):
        return []
    return [Series(metric_label("chance", lang), [float(chance)] * len(like.values), like.xs)]


def _line(check: CheckView, shown: CheckPresentation, chart: Chart, findings: Sequence[FindingView],
          lang: str) -> QWidget | None:
    """Per-layer series over layers 0..L, or over blocks 1..L when every metric is indexed by step."""
    values = {m: check.metrics.get(m) for m in chart.metrics}
    names = [m for m in chart.metrics if _is_list(values[m])]
    if not names:
        return None
    by_step = all(m in shown.step_metrics for m in names)
    series = []
    for m in names:
        low, high = layer_band(check, m, len(values[m])) or (None, None)
        series.append(Series(metric_label(m, lang), values[m],
                             list(range(1, len(values[m]) + 1)) if by_step else None, low, high))
    series += _chance(check, chart, series[0], lang)
    spec = ChartSpec(chart_title(check.id, chart, lang), series,
                     x_label=axis_label("step" if by_step else "layer", lang),
                     y_label=axis_label(chart.axis, lang), thresholds=thresholds(findings, chart.metrics, lang),
                     band_label=catalogue_text("interval.band", lang), log_y=_log_y(chart, series),
                     y_bounds=(0.0, 1.0) if chart.axis == "accuracy" else None,
                     place="step" if by_step else "layer", lang=lang)
    return LineChart(spec)


def _plane(check: CheckView, chart: Chart, lang: str) -> QWidget | None:
    """The information plane: the path of (metrics[0], metrics[1]) through the layers, each point numbered."""
    x_metric, y_metric = chart.metrics[:2]
    xs, ys = check.metrics.get(x_metric), check.metrics.get(y_metric)
    if not (_is_list(xs) and _is_list(ys)):
        return None
    return LineChart(ChartSpec(chart_title(check.id, chart, lang), [Series(metric_label(y_metric, lang), ys, xs)],
                               x_label=axis_label("ixt", lang), y_label=axis_label(chart.axis, lang), path=True,
                               lang=lang))


def _heatmap(check: CheckView, chart: Chart, lang: str) -> QWidget | None:
    grid = check.metrics.get(chart.metrics[0])
    if not _is_grid(grid):
        return None
    # rows are blocks 1..L (attention sits between layers), as the reports' heat maps are labelled
    return HeatMap(chart_title(check.id, chart, lang), grid, x_label=axis_label("head", lang),
                   y_label=axis_label("step", lang), value_label=axis_label(chart.axis, lang), lang=lang)


def _bars(check: CheckView, chart: Chart, lang: str) -> QWidget | None:
    """One bar per entry of each mapping metric (e.g. per perturbation kind, per compared metric)."""
    items: list[tuple[str, float | None]] = []
    for m in chart.metrics:
        value = check.metrics.get(m)
        if not isinstance(value, Mapping):
            continue
        prefix = f"{metric_label(m, lang)}: " if len(chart.metrics) > 1 else ""
        items += [(prefix + variant_label(str(k), lang), v if isinstance(v, (int, float)) else None)
                  for k, v in value.items()]
    if not items:
        return None
    return BarChart(chart_title(check.id, chart, lang), items, value_label=axis_label(chart.axis, lang), lang=lang)


def charts_for(check: CheckView, findings: Sequence[FindingView], lang: str) -> list[QWidget]:
    """The widgets of every chart `check` declares that its stored metrics can fill."""
    shown = presentation(check.id)
    widgets: list[QWidget] = []
    for chart in shown.charts:
        if chart.kind == "plane":
            widget = _plane(check, chart, lang)
        elif chart.kind == "heatmap":
            widget = _heatmap(check, chart, lang)
        elif chart.kind == "bars":
            widget = _bars(check, chart, lang)
        else:   # line, and shares (per-step parts drawn as lines over the steps)
            widget = _line(check, shown, chart, findings, lang)
        if widget is not None:
            widgets.append(widget)
    return widgets
