"""Page furniture shared by both documents: styles, verdict marks, tables, the numbered footer."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Table, TableStyle

from reports import fonts, textflow
from reports.textflow import Paragraph

if TYPE_CHECKING:
    from reports.data import ReportData

PAGE_W, PAGE_H = A4
MARGIN = 36
CONTENT_W = PAGE_W - 2 * MARGIN

# inconclusive (evidence missing) is a neutral amber-grey "?": never green, and not the warn or fail colour either
SYMBOL = {"pass": "✔", "warn": "▲", "fail": "✖", "error": "⚠", "info": "ℹ", "skipped": "–", "not_assessed": "○",
          "none": "○", "inconclusive": "?"}
COLOUR = {"pass": "#1b7a2f", "warn": "#a86200", "fail": "#b3161b", "error": "#6a1b9a", "info": "#1f4e79",
          "skipped": "#555555", "not_assessed": "#555555", "none": "#555555", "inconclusive": "#6b5d3f"}
TREND = {"better": "↑", "worse": "↓", "same": "→", None: "·"}
LIGHT = {"pass": colors.Color(0.88, 0.95, 0.89), "warn": colors.Color(1, 0.93, 0.8),
         "fail": colors.Color(0.98, 0.86, 0.86), "inconclusive": colors.Color(0.92, 0.9, 0.86)}
HEADER_BG = colors.Color(0.9, 0.92, 0.95)
# tables set a cell font even when every cell is a Paragraph; reportlab's default is Helvetica (not embedded)
CELL_FONT = ("FONTNAME", (0, 0), (-1, -1), fonts.SANS)


def styles(lang: str) -> dict[str, ParagraphStyle]:
    """Paragraph styles for a language; Japanese wraps between any two characters (wordWrap CJK)."""
    fonts.register_fonts()
    body, bold = fonts.body_font(lang), fonts.bold_font(lang)
    wrap = "CJK" if lang == "ja" else None
    base = ParagraphStyle("body", fontName=body, fontSize=9, leading=12.5, wordWrap=wrap, spaceAfter=4)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, spaceAfter=2),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5, spaceAfter=0),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=bold, fontSize=7.5, leading=9.5, spaceAfter=0),
        "mono": ParagraphStyle("mono", parent=base, fontName=fonts.MONO, fontSize=7, leading=9, spaceAfter=0,
                               wordWrap="CJK"),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=17, leading=21, spaceAfter=6),
        "h1": ParagraphStyle("h1", parent=base, fontName=bold, fontSize=13, leading=16, spaceBefore=10,
                             spaceAfter=6, textColor=colors.Color(0.1, 0.2, 0.4), keepWithNext=1),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=10.5, leading=13, spaceBefore=8,
                             spaceAfter=4, keepWithNext=1),
        "caption": ParagraphStyle("caption", parent=base, fontSize=7.5, leading=9.5, textColor=colors.Color(
            0.25, 0.25, 0.25), spaceAfter=6),
    }


def esc(value: Any) -> str:
    """Paragraph text, escaped; reports.textflow.Paragraph sets any character its font lacks in the
    embedded font that has it (a Japanese purpose in an English report is not boxes)."""
    return escape("" if value is None else str(value))


def mark(status: str | None, words: dict[str, str], size: float | None = None) -> str:
    """Verdict as symbol + word + colour (paragraph markup); the symbol uses DejaVu Sans, which has it."""
    key = status or "none"
    sz = f' size="{size}"' if size else ""
    return (f'<font name="{fonts.SANS}" color="{COLOUR.get(key, "#000000")}"{sz}>{SYMBOL.get(key, "?")}</font>'
            f' <font color="{COLOUR.get(key, "#000000")}"{sz}>{esc(words.get(key, key))}</font>')


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers for people: 3 significant digits, integers with separators, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e12):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e-3 else f"{value:.2e}"
    return str(value)


def table(rows: Sequence[Sequence[Any]], widths: Sequence[float], st: dict[str, ParagraphStyle],
          header: bool = True, mono_cols: Sequence[int] = (), extra: Sequence[tuple] = ()) -> Table:
    """A wrapped table: every cell becomes a Paragraph so nothing runs past its column."""
    data = []
    for r, row in enumerate(rows):
        cells = []
        for c, cell in enumerate(row):
            if not isinstance(cell, str):
                cells.append(cell)
                continue
            style = st["cellb"] if header and r == 0 else st["mono"] if c in mono_cols else st["cell"]
            cells.append(Paragraph(cell, style))
        data.append(cells)
    scale = min(1.0, CONTENT_W / sum(widths))
    t = Table(data, colWidths=[w * scale for w in widths], repeatRows=1 if header else 0)
    commands: list[tuple] = [
        CELL_FONT,
        ("GRID", (0, 0), (-1, -1), 0.4, colors.Color(0.7, 0.7, 0.7)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEADER_BG))
    t.setStyle(TableStyle(commands + list(extra)))
    return t


def kv_table(pairs: Sequence[tuple[str, str]], st: dict[str, ParagraphStyle], key_w: float = 150,
             mono_values: bool = False) -> Table:
    rows = [[f"<b>{esc(k)}</b>", v] for k, v in pairs]
    return table(rows, [key_w, CONTENT_W - key_w], st, header=False, mono_cols=(1,) if mono_values else ())


def numbered_canvas(footer: Callable[[Canvas, int, int], None]) -> type[Canvas]:
    """A canvas class that draws `footer(canvas, page, pages)` on every page once the page count is known."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._saved: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._saved.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._saved)
            for number, state in enumerate(self._saved, start=1):
                self.__dict__.update(state)
                footer(self, number, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def footer_drawer(t: dict[str, Any], data: ReportData) -> Callable[[Canvas, int, int], None]:
    """The line every page carries: report ID, model and version, page X of Y, classification, short fingerprint."""
    font = fonts.body_font(data.lang)

    def draw(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN, 26, PAGE_W - MARGIN, 26)
        canvas.setFillColor(colors.Color(0.25, 0.25, 0.25))
        text, size = footer_line(t, data, page, pages)
        textflow.draw(canvas, PAGE_W / 2, 16, text, font, size, align="centre")
        textflow.draw(canvas, PAGE_W - MARGIN, PAGE_H - 20, t["classification"], fonts.bold_font(data.lang), 7,
                      align="right")
        canvas.restoreState()
        if data.draft or data.incomplete:
            draft_mark(canvas, t, data)

    return draw


def footer_line(t: dict[str, Any], data: ReportData, page: int, pages: int) -> tuple[str, float]:
    """The footer's text and size: a model name or version too long for the line is shortened with "…"
    (the full name is in the control block), so the report ID, page and fingerprint stay on the page."""
    font, size = fonts.body_font(data.lang), 7.0
    parts = dict(rid=data.report_id, page=page, pages=pages, classification=t["classification"],
                 fp16=data.fingerprint[:16])
    name, version = data.model.name or "?", data.model.version or ""
    room = CONTENT_W - textflow.width(t["footer"].format(model="", version="", **parts), font, size)
    if textflow.width(f"{name} {version}", font, size) > room:
        version = textflow.shorten(version, room / 3, font, size)
        name = textflow.shorten(name, room - textflow.width(f" {version}", font, size), font, size)
    text = t["footer"].format(model=name, version=version, **parts)
    while size > 4 and textflow.width(text, font, size) > CONTENT_W:   # a footer string longer than the page
        size -= 0.5
    return text, size


def draft_mark(canvas: Canvas, t: dict[str, Any], data: ReportData) -> None:
    """Every page of a draft: a red line at the top (which text extraction finds) and a faint diagonal DRAFT."""
    status = data.view.status or ""
    bold = fonts.bold_font(data.lang)
    canvas.saveState()
    canvas.setFillColor(colors.Color(0.7, 0.08, 0.1))
    canvas.setFont(bold, 8)
    canvas.drawString(MARGIN, PAGE_H - 20, t["draft_line"].format(status=t["status"].get(status, status)))
    canvas.setFillAlpha(0.09)
    canvas.setFont(bold, 120)
    canvas.translate(PAGE_W / 2, PAGE_H / 2)
    canvas.rotate(50)
    canvas.drawCentredString(0, -40, t["draft_mark"])
    canvas.restoreState()


def write_pdf(out: Any, data: ReportData, t: dict[str, Any], meta: dict[str, str], flowables: list) -> None:
    """A4 pages with one full-width frame, embedded fonts, PDF metadata and the numbered footer."""
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    fonts.register_fonts()
    doc = BaseDocTemplate(str(out), pagesize=(PAGE_W, PAGE_H), leftMargin=MARGIN, rightMargin=MARGIN,
                          topMargin=MARGIN, bottomMargin=MARGIN, initialFontName=fonts.body_font(data.lang),
                          title=meta["title"], author=meta["author"], subject=meta["subject"],
                          creator=meta["creator"], lang=data.lang)
    frame = Frame(MARGIN, MARGIN, CONTENT_W, PAGE_H - 2 * MARGIN, id="page", leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    doc.build(flowables, canvasmaker=numbered_canvas(footer_drawer(t, data)))
