"""Section 6 of the full report: one results section per check, the same for every check.

Every sentence comes from the catalogue: the check's title and meaning (check.<id>.*), its summary
and the reason it did not run (its stored sentences), each finding's detail, the thresholds
(auditor.condition_text) and the charts it declares (reports.figures). A figure with a stored 95%
interval shows it beside its value (interval.* through auditor.presentation).
"""
from __future__ import annotations

from typing import Any

from reportlab.platypus import CondPageBreak, Spacer, Table, TableStyle

from auditor.condition_text import measured_name, place, thresholds
from auditor.messages import render
from auditor.presentation import (
    figure_interval,
    interval_range,
    metric_label,
    presentation,
    variant_label,
    with_interval,
)
from auditor.status import Status
from auditor.views import CheckView, FindingView
from reports.data import ReportData
from reports.figures import check_figures
from reports.layout import CELL_FONT, CONTENT_W, esc, fmt, mark, table
from reports.textflow import Paragraph  # per-glyph font fallback and Japanese line breaking
from reports.wording import check_words, not_run_reason


def _value_text(value: Any, w: dict[str, str], lang: str = "en") -> str:
    """A stored figure in one short cell: scalars as is, per-layer lists as range and last, dicts by key in
    words (a perturbation kind@size as its sentence; `w`: the words mean, max and last in `lang`)."""
    if isinstance(value, list):
        if any(isinstance(row, list) for row in value):
            flat = [v for row in value if isinstance(row, list) for v in row if isinstance(v, (int, float))]
            width = max(len(row) for row in value if isinstance(row, list))
            return (f"{len(value)}×{width}; {w['mean']} {fmt(sum(flat) / len(flat))}, {w['max']} {fmt(max(flat))}"
                    if flat else "—")
        nums = [v for v in value if isinstance(v, (int, float))]
        if not nums:
            return "—"
        if len(value) <= 2:
            return ", ".join(fmt(v) for v in value)
        return f"[{len(value)}] {fmt(min(nums))} … {fmt(max(nums))}; {w['last']} {fmt(nums[-1])}"
    if isinstance(value, dict):
        parts = [f"{esc(variant_label(str(k), lang))}: {_value_text(v, w, lang)}" for k, v in list(value.items())[:8]]
        return "; ".join(parts) + (" …" if len(value) > 8 else "")
    return fmt(value)


def _measured(f: FindingView, check: CheckView | None, lang: str) -> str:
    """The figure a rule decided on, where it was taken and its 95% interval: '0.742 at layer 3 (95% CI …)';
    the finding's detail where nothing was measured."""
    if f.value is None:
        return esc(f.detail_in(lang) or "—")
    where = place(f.metric, f.layer, presentation(f.check_id).step_metrics)
    interval = figure_interval(check, f) if check is not None else None
    if interval is None:   # as before the intervals: the value in the report's number format
        return fmt(f.value) + (f" ({esc(render(where, lang))})" if where is not None else "")
    return esc(with_interval(f.value, interval, lang, where))


def _finding_row(f: FindingView, check: CheckView | None, lang: str, t: dict[str, Any]) -> list[str]:
    """Metric, measured value (where, and its interval), thresholds, verdict, meaning of one rule's outcome."""
    cond = f.condition
    name = render(measured_name(cond), lang) if cond.get("metric") else (f.metric or "")
    metric = f"<b>{esc(f.title_in(lang))}</b>" + (f"<br/>{esc(name)}" if name else "")
    limits = esc(render(thresholds(cond), lang)) if cond.get("metric") else "—"
    return [metric, _measured(f, check, lang), limits or "—", mark(f.severity, t["verdict"]), esc(f.meaning_in(lang))]


def _figures_table(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    findings = data.view.findings_of(check_id)
    if not findings:
        return []
    r = t["results"]
    rows = [[r["metric"], r["value"], r["threshold"], r["verdict"], r["meaning"]]]
    rows += [_finding_row(f, data.check(check_id), data.lang, t) for f in findings]
    return [Paragraph(esc(r["figures"]), st["h2"]), table(rows, [115, 95, 90, 52, CONTENT_W - 352], st)]


def _baselines(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    """The check's declared (measured, baseline) pairs side by side, and accuracy against chance."""
    m, lang = data.metrics(check_id), data.lang
    rows = [[t["results"]["metric"], t["results"]["value"], t["results"]["baseline"], ""]]
    for measured, base in presentation(check_id).baselines:
        if measured in m and base in m:
            rows.append([esc(metric_label(measured, lang)), _value_text(m[measured], t['value_words'], lang),
                         esc(metric_label(base, lang)), _value_text(m[base], t['value_words'], lang)])
    acc, chance = m.get("probe_accuracy"), data.evidence(check_id).get("chance_accuracy")
    if isinstance(acc, list) and acc and isinstance(chance, (int, float)):
        rows.append([esc(metric_label("probe_accuracy", lang)), _value_text(acc, t['value_words'], lang),
                     esc(metric_label("chance", lang)), fmt(chance)])
    if len(rows) == 1:
        return []
    return [Paragraph(esc(t["results"]["baseline"]), st["h2"]),
            table(rows, [120, CONTENT_W / 2 - 120, 120, CONTENT_W / 2 - 120], st)]


def _interval_note(check: CheckView, metric: str, value: Any, lang: str) -> str:
    """A stored figure's 95% interval, for the line beneath its value: of a scalar, of a per-layer list at its
    last layer (the value cell ends with that layer's value), of each variant of a mapping; '' where none."""
    if isinstance(value, dict):
        parts = [(k, check.interval(metric, variant=str(k))) for k in list(value)[:8]]
        return "; ".join(f"{variant_label(str(k), lang)}: {interval_range(b, lang)}" for k, b in parts if b)
    if isinstance(value, list):
        last = len(value) - 1
        if last < 0 or any(isinstance(v, list) for v in value):
            return ""
        where = place(metric, last, presentation(check.id).step_metrics)
        return interval_range(check.interval(metric, last), lang, where)
    return interval_range(check.interval(metric), lang)


def _all_metrics(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    m, check = data.metrics(check_id), data.check(check_id)
    if not m or check is None:
        return []
    rows = [[t["results"]["metric"], t["results"]["value"]]]
    for k, v in sorted(m.items()):
        # the display name, with the stored code beneath it for readers matching the thresholds and the JSON;
        # the value with its 95% interval beneath it where one is stored
        note = _interval_note(check, k, v, data.lang)
        rows.append([f"{esc(metric_label(k, data.lang))}<br/><font size=6>{esc(k)}</font>",
                     _value_text(v, t['value_words'], data.lang) + (f"<br/>{esc(note)}" if note else "")])
    return [Paragraph(esc(t["results"]["all_metrics"]), st["h2"]), table(rows, [170, CONTENT_W - 170], st)]


def _charts(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    width = CONTENT_W / 2 - 6
    try:
        figures = check_figures(data, check_id, t, width)
    except Exception as exc:  # a chart that cannot be drawn must not stop the report
        from reports.charts import no_data

        figures = [("", no_data(width, 80, type(exc).__name__, st["cell"].fontName))]
    if not figures:
        return []
    cells = [[Paragraph(f"<b>{esc(title)}</b>", st["cell"]), drawing] for title, drawing in figures]
    rows = [cells[i:i + 2] for i in range(0, len(cells), 2)]
    rows = [r + [""] * (2 - len(r)) for r in rows]
    tb = Table(rows, colWidths=[CONTENT_W / 2] * 2)
    tb.setStyle(TableStyle([CELL_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [tb]


def _outcome_line(check: CheckView, lang: str, t: dict[str, Any]) -> str:
    """The summary, or why the check did not run (skipped, failed, or required but not run)."""
    why = not_run_reason(check, lang) if check.outcome in ("skipped", "error") else None
    if why is None:
        return f"<b>{esc(t['results']['summary'])}:</b> {esc(check.summary_in(lang))}"
    key = ("inconclusive" if check.status is Status.INCONCLUSIVE
           else "skipped" if check.outcome == "skipped" else "error")
    return "<b>" + esc(t["results"][key].format(why=why)) + "</b>"


def check_section(data: ReportData, check_id: str, number: str, t: dict[str, Any], st: dict) -> list:
    """Plain words first (summary, verdict, meaning), figures second, method (stored figures) third."""
    words = check_words(check_id, data.lang, t)
    check = data.check(check_id)
    out: list = [CondPageBreak(220), Paragraph(
        f"{number} {esc(words['title'])} <font size=8>({esc(check_id)})</font>", st["h1"])]
    if check is None:
        return out + [Paragraph(esc(t["results"]["missing"]), st["body"])]
    out.append(Paragraph(f"<b>{esc(t['results']['verdict'])}:</b> {mark(check.status, t['verdict'])} &nbsp; "
                         f"<b>{esc(t['results']['meaning'])}:</b> {esc(words['meaning'])}", st["body"]))
    out.append(Paragraph(_outcome_line(check, data.lang, t), st["body"]))
    out += _charts(data, check_id, t, st)
    out += _figures_table(data, check_id, t, st)
    out += _baselines(data, check_id, t, st)
    out += _all_metrics(data, check_id, t, st)
    if check.duration_s is not None:
        out.append(Paragraph(f"{esc(t['results']['duration'])}: {fmt(check.duration_s)} s", st["small"]))
    out.append(Spacer(1, 6))
    return out


def results_story(data: ReportData, t: dict[str, Any], st: dict) -> list:
    out: list = []
    for i, check in enumerate(data.checks, start=1):
        try:
            out += check_section(data, check.id, f"6.{i}", t, st)
        except Exception as exc:  # unexpected stored data must not stop the whole report
            out.append(Paragraph(esc(f"6.{i} {check.id}: " + t["results"]["error"].format(
                why=f"{type(exc).__name__}: {exc}")), st["body"]))
    if not data.checks:
        out.append(Paragraph(esc(t["results"]["missing"]), st["body"]))
    return out
