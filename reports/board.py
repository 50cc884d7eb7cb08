"""The board summary: exactly one A4 page (content shrinks to fit rather than spill onto a second page)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.platypus import (
    KeepInFrame,
    Spacer,
    Table,
    TableStyle,
)

from auditor.coverage import coverage_message, statuses_of
from auditor.messages import Message, render
from auditor.presentation import (
    decision_label,
    dimension_hint,
    dimension_label,
    missing_evidence,
    role_label,
    scope_label,
)
from auditor.status import Status
from reports import counterfactual, fonts, signature_block, textflow
from reports.data import ReportData, dimension_of, open_actions, opportunities, top_risks
from reports.figures import river
from reports.layout import (
    CELL_FONT,
    COLOUR,
    CONTENT_W,
    LIGHT,
    MARGIN,
    PAGE_H,
    TREND,
    esc,
    fmt,
    mark,
    styles,
    table,
    write_pdf,
)
from reports.textflow import Paragraph

MAX_MISSING = 5   # causes listed on the board; the full report's register lists every finding
HEADER_NAME_LINES = 1.4   # of the header's text column a model name may fill; the full name is in the control line


def _header(data: ReportData, t: dict[str, Any], st: dict) -> Table:
    a, m = data.view, data.model
    date = (a.finished_at or a.started_at or "")[:10]
    name = textflow.shorten(m.name or "", (CONTENT_W - 150) * HEADER_NAME_LINES, fonts.body_font(data.lang), 9)
    left = [Paragraph(esc(t["board_title"]), st["title"]),
            Paragraph(f"<b>{esc(t['model'])}:</b> {esc(name)}", st["body"]),
            Paragraph(f"<b>{esc(t['version'])}:</b> {esc(m.version or '—')} &nbsp; &nbsp; "
                      f"<b>{esc(t['date'])}:</b> {esc(date)}", st["body"]),
            Paragraph(f"<b>{esc(t['decision_requested'])}:</b> "
                      f"{esc(a.meta.get('decision_requested') or t['not_recorded'])}", st["body"])]
    verdict = data.shown_verdict or ("not_assessed" if data.incomplete else None)
    right = [Paragraph(esc(t["overall"]), st["cellb"]), Spacer(1, 4),
             Paragraph(mark(verdict, t["verdict"], size=16), st["title"])]
    tb = Table([[left, right]], colWidths=[CONTENT_W - 150, 150])
    tb.setStyle(TableStyle([CELL_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (1, 0), (1, 0), 1.2, colors.black),
                            ("BACKGROUND", (1, 0), (1, 0), LIGHT.get(verdict or "", colors.white)),
                            ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return tb


def _scope(check_id: str, data: ReportData) -> str:
    return scope_label(check_id, data.lang)


def missing_block(data: ReportData, t: dict[str, Any], st: dict, limit: int | None = MAX_MISSING) -> list:
    """What evidence an inconclusive audit lacks and how to get it: one line per cause, in the report's language."""
    items = missing_evidence(data.findings, data.lang)
    if not items:
        return []
    ja = data.lang == "ja"
    comma, colon, left, right = ("、", "：", "（", "）") if ja else (", ", ": ", " (", ")")
    q = f'<font name="{fonts.SANS}" color="{COLOUR["inconclusive"]}">?</font>'
    cells = [[Paragraph(f"<b>{esc(t['missing_title'])}</b>", st["body"])],
             [Paragraph(esc(t["missing_intro"]), st["cell"])]]
    for m in items[:limit]:
        where = comma.join(_scope(c, data) for c in m.scopes)
        cells.append([Paragraph(f"{q} <b>{esc(m.title)}</b>{left}{esc(where)}{right}{colon}{esc(m.reason)}<br/>"
                                f"&nbsp;&nbsp;&nbsp;→ <b>{esc(t['missing_how'])}</b>{colon}{esc(m.action)}",
                                st["cell"])])
    if limit is not None and len(items) > limit:
        cells.append([Paragraph(esc(t["missing_more"].format(n=len(items) - limit)), st["cell"])])
    box = Table(cells, colWidths=[CONTENT_W])
    box.setStyle(TableStyle([CELL_FONT, ("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor(COLOUR["inconclusive"])),
                             ("BACKGROUND", (0, 0), (-1, -1), LIGHT["inconclusive"]),
                             ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    return [box, Spacer(1, 4)]


def _trend_text(data: ReportData, t: dict[str, Any], trend: str | None) -> str:
    """The trend words; without a trend after an earlier audit, say that it was not measured in both."""
    if trend is None and data.view.previous_audit_id:
        return t["trend_unmeasured"]
    return t["trend"].get(trend, "")


def _coverage(data: ReportData, dimension: str, st: dict) -> list:
    """Beside a rating: which of the dimension's checks did not run (none when all ran), so a rating made on
    part of the evidence never reads like one made on all of it."""
    message = coverage_message(statuses_of(data.view), dimension)
    if message is None:
        return []
    return [Paragraph(f'<font color="{COLOUR["skipped"]}">{esc(render(message, data.lang))}</font>', st["cell"])]


def _tiles(data: ReportData, t: dict[str, Any], st: dict) -> Table:
    cells, shades = [], []
    for i, r in enumerate(data.ratings):
        dim, rating, trend = r.dimension, r.rating, r.trend
        cells.append([Paragraph(f"<b>{esc(dimension_label(dim, data.lang))}</b>", st["cell"]),
                      Paragraph(esc(dimension_hint(dim, data.lang)), st["cell"]),
                      Paragraph(mark(rating, t["verdict"], size=11), st["body"]),
                      *_coverage(data, dim, st),
                      Paragraph(f'<font name="{fonts.SANS}">{TREND.get(trend, "·")}</font> '
                                f'{esc(_trend_text(data, t, trend))}', st["cell"])])
        shades.append(("BACKGROUND", (i % 3, i // 3), (i % 3, i // 3), LIGHT.get(rating or "", colors.white)))
    rows = [cells[i:i + 3] + [""] * (3 - len(cells[i:i + 3])) for i in range(0, len(cells), 3)]
    tb = Table(rows, colWidths=[CONTENT_W / 3] * 3)
    tb.setStyle(TableStyle([CELL_FONT, ("GRID", (0, 0), (-1, -1), 0.8, colors.white), ("BOX", (0, 0), (-1, -1), 0.5,
                            colors.grey), ("INNERGRID", (0, 0), (-1, -1), 0.5, colors.grey),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"), *shades]))
    return tb


def _risks(data: ReportData, t: dict[str, Any], st: dict) -> list:
    # inconclusive findings need attention too, but the board already lists each of them, with its cause and
    # the way to get the evidence, under the overall rating: the table keeps its rows for measured risks
    listed = sum(1 for f in top_risks(data, len(data.findings)) if f.severity is Status.INCONCLUSIVE)
    risks = [f for f in top_risks(data, len(data.findings)) if f.severity is not Status.INCONCLUSIVE][:3]
    out = [Paragraph(esc(t["risks_title"]), st["h2"])]
    if listed:
        out.append(Paragraph(esc(t["risks_inconclusive"].format(n=listed)), st["cell"]))
    if not risks:
        out.append(Paragraph(esc(t["no_measured_risks"] if listed else t["no_risks"]), st["body"]))
        return out
    rows = [["", t["risk"], t["impact_h"], t["owner"]]]
    for f in risks:
        meaning = f.meaning_in(data.lang) or f.detail_in(data.lang)
        owner = f.owner or t["owners"].get(dimension_of(f.check_id), t["owners"]["other"])
        where = _scope(f.check_id, data)
        rows.append([mark(f.severity, t["verdict"]),
                     f"<b>{esc(f.title_in(data.lang))}</b> · {esc(where)}<br/>{esc(meaning)}",
                     esc(t["impact"].get(f.severity.value, "")), esc(owner)])
    out.append(table(rows, [62, CONTENT_W - 62 - 140 - 110, 140, 110], st))
    return out


def _efficiency(data: ReportData, t: dict[str, Any], st: dict) -> list:
    out = [Paragraph(esc(t["efficiency_title"]), st["h2"])]
    items = opportunities(data)
    if not items:
        return out + [Paragraph(esc(t["no_efficiency"]), st["cell"])]
    for f in items[:2]:
        text = f"<b>{esc(f.title_in(data.lang))}</b>: {esc(f.meaning_in(data.lang) or f.detail_in(data.lang))}"
        out.append(Paragraph(text, st["cell"]))
    return out


def _decision(data: ReportData, t: dict[str, Any], st: dict) -> list:
    box = f'<font name="{fonts.SANS}">☐</font>'
    opts = " &nbsp; ".join(f"{box} {esc(o)}" for o in t["decision_options"])
    open_n = open_actions(data)
    out = [Paragraph(esc(t["decision_title"]), st["h2"]), Paragraph(opts, st["body"]),
           Paragraph(esc(t["open_actions"].format(n=open_n) if open_n else t["no_open_actions"]), st["cell"])]
    for s in data.view.signoffs[:3]:
        out.append(Paragraph(f"{esc(role_label(s.role, data.lang))}: {esc(s.name)}, "
                             f"{esc(decision_label(s.decision, data.lang))} "
                             f"({esc((s.at or '')[:10])})", st["cell"]))
    out.append(Spacer(1, 8))
    out.append(Paragraph(f"{esc(t['signed'])}: ____________________ &nbsp; {esc(t['name_date'])}: "
                         "______________", st["cell"]))
    return out + signature_block.flowables(data, t)   # the PDF signature's visible block, when signed


def approval_banner(data: ReportData, st: dict) -> list:
    """A template that is not approval-grade (quick, a user's own) gets a banner at the top of the page that
    names it and says what to run before an approval decision."""
    tpl = data.view.template
    if tpl.approval_grade:
        return []
    key = "board.stress.banner.quick" if tpl.name == "quick" else "board.stress.banner.other"
    text = render(Message(key, {"template": tpl.name, "version": tpl.version}), data.lang)
    edge = colors.HexColor(COLOUR["warn"])
    banner = Table([[Paragraph(f"<b>{esc(text)}</b>", st["body"])]], colWidths=[CONTENT_W])
    banner.setStyle(TableStyle([CELL_FONT, ("BOX", (0, 0), (-1, -1), 1.6, edge),
                                ("BACKGROUND", (0, 0), (-1, -1), LIGHT["warn"])]))
    return [banner, Spacer(1, 4)]


def _control_lines(data: ReportData, t: dict[str, Any], st: dict) -> list:
    """The control lines at the foot of the page: the model's full name (the header and footer may shorten
    it), then the audit, template and model hash."""
    a, m = data.view, data.model
    full = render(Message("board.stress.model_full", {"name": m.name or "?", "version": m.version or "—"}),
                  data.lang)
    return [Paragraph(esc(full), st["small"]),
            Paragraph(esc(f"{t['control']['audit_id']}: {a.audit_id}  ·  {t['control']['template']}: "
                          f"{a.template.name} v{a.template.version}  ·  {t['model']} SHA-256: {fmt(m.sha256)}"),
                      st["small"])]


def story(data: ReportData, t: dict[str, Any]) -> list:
    st = styles(data.lang)
    meta = data.view.meta
    parts: list = [_header(data, t, st), Spacer(1, 4), *approval_banner(data, st), *missing_block(data, t, st)]
    if data.incomplete or data.missing_checks:
        status = t["status"].get(data.view.status, data.view.status)
        detail = data.view.error or ""
        # the checks by their titles in the report's language, not their ids
        missing = t["missing_checks"].format(checks=data.missing_titles())
        if data.missing_checks:
            detail = (detail + " " + missing).strip()
        text = t["incomplete_banner"].format(status=status, detail=detail) if data.incomplete else missing
        banner = Table([[Paragraph(esc(text), st["body"])]], colWidths=[CONTENT_W])
        edge, fill = ((colors.Color(0.7, 0.1, 0.1), colors.Color(1, 0.93, 0.9)) if data.incomplete
                      else (colors.Color(0.55, 0.55, 0.55), colors.Color(0.95, 0.95, 0.95)))
        banner.setStyle(TableStyle([CELL_FONT, ("BOX", (0, 0), (-1, -1), 1, edge), ("BACKGROUND", (0, 0), (-1, -1), fill)]))
        parts += [banner, Spacer(1, 4)]
    purpose = meta.get("purpose") or t["not_recorded"]
    users = meta.get("users")
    left, right = ("（", "）") if data.lang == "ja" else (" (", ")")
    parts.append(Paragraph(f"<b>{esc(t['purpose'])}:</b> {esc(purpose)}"
                           + (f"{left}{esc(users)}{right}" if users else ""), st["body"]))
    parts += [Paragraph(esc(t["dimensions_title"]), st["h2"]), _tiles(data, t, st)]
    parts += [Paragraph(esc(t["river_title"]), st["h2"]), river(data, t, CONTENT_W, 150),
              Paragraph(esc(t["river_note"]), st["caption"])]
    parts += _risks(data, t, st)
    parts += counterfactual.board_line(data, st)   # protected-attribute swaps in one line, when the check ran
    eff, dec = _efficiency(data, t, st), _decision(data, t, st)
    two = Table([[eff, dec]], colWidths=[CONTENT_W / 2 - 4, CONTENT_W / 2 + 4])
    two.setStyle(TableStyle([CELL_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (1, 0), (1, 0), 0.8, colors.black),
                             ("BOX", (0, 0), (0, 0), 0.5, colors.grey)]))
    parts += [Spacer(1, 4), two, Spacer(1, 4),
              Paragraph(esc(t["evidence_line"]).format(fp=f'<font name="{fonts.MONO}">{data.fingerprint}</font>'),
                        st["small"]), *_control_lines(data, t, st)]
    for part in parts:   # when the page shrinks to fit, tables stay flush with the text instead of centring
        part.hAlign = "LEFT"
    return [KeepInFrame(CONTENT_W, PAGE_H - 2 * MARGIN - 10, parts, mode="shrink")]


def build(data: ReportData, t: dict[str, Any], out: Path, meta: dict[str, str]) -> None:
    write_pdf(out, data, t, meta, story(data, t))
