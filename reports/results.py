"""Section 6 of the full report: one results section per check, with a generic fallback for new checks."""
from __future__ import annotations

from typing import Any

from reportlab.platypus import CondPageBreak, Paragraph, Spacer, Table, TableStyle

from reports.data import ReportData
from reports.figures import BASELINES, FIGURES
from reports.finding_text import place
from reports.layout import CELL_FONT, CONTENT_W, esc, fmt, mark, table
from reports.missing import detail as finding_detail
from reports.strings import check_text
from reports.summaries import reason, summary


def _value_text(value: Any) -> str:
    """A stored figure in one short cell: scalars as is, per-layer lists as range and last, dicts by key."""
    if isinstance(value, list):
        if any(isinstance(row, list) for row in value):
            flat = [v for row in value if isinstance(row, list) for v in row if isinstance(v, (int, float))]
            width = max(len(row) for row in value if isinstance(row, list))
            return (f"{len(value)}×{width}; mean {fmt(sum(flat) / len(flat))}, max {fmt(max(flat))}"
                    if flat else "—")
        nums = [v for v in value if isinstance(v, (int, float))]
        if not nums:
            return "—"
        if len(value) <= 2:
            return ", ".join(fmt(v) for v in value)
        return f"[{len(value)}] {fmt(min(nums))} … {fmt(max(nums))}; last {fmt(nums[-1])}"
    if isinstance(value, dict):
        parts = [f"{esc(k)}: {_value_text(v)}" for k, v in list(value.items())[:8]]
        return "; ".join(parts) + (" …" if len(value) > 8 else "")
    return fmt(value)


def _threshold_text(cond: dict[str, Any], t: dict[str, Any]) -> str:
    kind = cond.get("condition") or ""
    info = isinstance(cond.get("info"), (int, float))
    rule = t["rule"].get(("info_" if info else "") + kind, kind)
    parts = [f"{t['th']['warn']} {cond['warn']:g}" if isinstance(cond.get("warn"), (int, float)) else "",
             f"{t['th']['fail']} {cond['fail']:g}" if isinstance(cond.get("fail"), (int, float)) else "",
             f"{cond['info']:g}" if info else ""]
    reduce = f" ({cond['reduce']})" if cond.get("reduce") else ""
    return f"{esc(rule)}{esc(reduce)}: " + ", ".join(p for p in parts if p)


def _figures_table(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    """Each condition's finding: metric, measured value, threshold, verdict symbol and word, meaning."""
    r = t["results"]
    findings = [f for f in data.findings if f.get("check_id") == check_id]
    if not findings:
        return []
    conds = {c.get("metric"): c for c in data.conditions if c.get("check_id") == check_id}
    rows = [[r["metric"], r["value"], r["threshold"], r["verdict"], r["meaning"]]]
    for f in findings:
        cond = f.get("condition") or conds.get(f.get("metric")) or {}
        title = (f.get("title_ja") if data.lang == "ja" else None) or f.get("title")
        metric = f"<b>{esc(title)}</b>" + (f"<br/>{esc(f.get('metric'))}" if f.get("metric") else "")
        value = fmt(f.get("value")) if f.get("value") is not None else esc(finding_detail(f, data.lang) or "—")
        if f.get("layer") is not None:
            value += f" ({esc(place(f.get('metric'), f['layer'], check_id, data.lang))})"
        meaning = (f.get("meaning") or {}).get(data.lang) or ""
        rows.append([metric, value, _threshold_text(cond, t) if cond else "—", mark(f.get("severity"), t["verdict"]),
                     esc(meaning)])
    return [Paragraph(esc(r["figures"]), st["h2"]), table(rows, [120, 70, 95, 55, CONTENT_W - 340], st)]


def _baselines(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    m = data.metrics(check_id)
    rows = [[t["results"]["metric"], t["results"]["value"], t["results"]["baseline"], ""]]
    for measured, base in BASELINES.get(check_id, []):
        if measured in m and base in m:
            rows.append([esc(t["series"].get(measured, measured)), _value_text(m[measured]),
                         esc(t["series"].get(base, base)), _value_text(m[base])])
    ev = data.evidence.get(check_id, {})
    acc = m.get("probe_accuracy")
    if isinstance(acc, list) and acc and isinstance(ev.get("chance_accuracy"), (int, float)):
        rows.append([esc(t["series"]["probe_accuracy"]), _value_text(acc), esc(t["series"]["chance"]),
                     fmt(ev["chance_accuracy"])])
    if len(rows) == 1:
        return []
    return [Paragraph(esc(t["results"]["baseline"]), st["h2"]),
            table(rows, [120, CONTENT_W / 2 - 120, 120, CONTENT_W / 2 - 120], st)]


def _all_metrics(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    m = data.metrics(check_id)
    if not m:
        return []
    rows = [[t["results"]["metric"], t["results"]["value"]]]
    rows += [[esc(k), _value_text(v)] for k, v in sorted(m.items())]
    return [Paragraph(esc(t["results"]["all_metrics"]), st["h2"]), table(rows, [170, CONTENT_W - 170], st)]


def _charts(data: ReportData, check_id: str, t: dict[str, Any], st: dict) -> list:
    builders = FIGURES.get(check_id, [])
    if not builders:
        return []
    titles = t["chart_titles"].get(check_id, [])
    width = CONTENT_W / 2 - 6
    cells = []
    for i, build in enumerate(builders):
        try:
            drawing = build(data, t, width)
        except Exception as exc:  # a chart that cannot be drawn must not stop the report
            from reports.charts import no_data

            drawing = no_data(width, 80, f"{type(exc).__name__}", st["cell"].fontName)
        title = titles[i] if i < len(titles) else ""
        cells.append([Paragraph(f"<b>{esc(title)}</b>", st["cell"]), drawing])
    rows = [cells[i:i + 2] for i in range(0, len(cells), 2)]
    rows = [r + [""] * (2 - len(r)) for r in rows]
    tb = Table(rows, colWidths=[CONTENT_W / 2] * 2)
    tb.setStyle(TableStyle([CELL_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [tb]


def check_section(data: ReportData, check_id: str, number: str, t: dict[str, Any], st: dict) -> list:
    """Plain words first (summary, verdict, meaning), figures second, method (stored figures) third."""
    ct = check_text(t, check_id)
    check = data.check(check_id)
    out: list = [CondPageBreak(220), Paragraph(f"{number} {esc(ct['title'])} <font size=8>({esc(check_id)})</font>",
                                               st["h1"])]
    if check is None:
        return out + [Paragraph(esc(t["results"]["missing"]), st["body"])]
    status = check.get("status")
    out.append(Paragraph(f"<b>{esc(t['results']['verdict'])}:</b> {mark(status, t['verdict'])} &nbsp; "
                         f"<b>{esc(t['results']['meaning'])}:</b> {esc(ct['meaning'])}", st["body"]))
    if status in ("skipped", "error") or _required_not_run(check):
        key = "inconclusive" if status == "inconclusive" else "skipped" if status == "skipped" else "error"
        why = reason(check, data.lang)
        out.append(Paragraph("<b>" + esc(t["results"][key].format(why=why)) + "</b>", st["body"]))
    else:
        out.append(Paragraph(f"<b>{esc(t['results']['summary'])}:</b> {esc(summary(check, data.lang))}", st["body"]))
    out += _charts(data, check_id, t, st)
    out += _figures_table(data, check_id, t, st)
    out += _baselines(data, check_id, t, st)
    out += _all_metrics(data, check_id, t, st)
    if check.get("duration_s") is not None:
        out.append(Paragraph(f"{esc(t['results']['duration'])}: {fmt(check['duration_s'])} s", st["small"]))
    out.append(Spacer(1, 6))
    return out


def _required_not_run(check: dict[str, Any]) -> bool:
    """An inconclusive check that never produced figures (required, but skipped or failed to run)."""
    return check.get("status") == "inconclusive" and str(check.get("summary") or "").startswith(("skipped: ",
                                                                                                  "error: "))


def results_story(data: ReportData, t: dict[str, Any], st: dict) -> list:
    out: list = []
    for i, check in enumerate(data.checks, start=1):
        try:
            out += check_section(data, check["id"], f"6.{i}", t, st)
        except Exception as exc:  # unexpected stored data must not stop the whole report
            out.append(Paragraph(esc(f"6.{i} {check['id']}: " + t["results"]["error"].format(
                why=f"{type(exc).__name__}: {exc}")), st["body"]))
    if not data.checks:
        out.append(Paragraph(esc(t["results"]["missing"]), st["body"]))
    return out
