"""The visible signature block on a report's decision page (the board's decision box, the full report's
sign-off section): who signed, in which role, when, and the certificate's SHA-256.

The block is drawn into the page content with the report's embedded fonts (so pdftotext and every
viewer show it, in Japanese too), and while it is drawn it records the page and the rectangle it
landed on; reports/signing.py then puts the PDF signature field exactly over that rectangle.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from auditor.messages import Message, render
from reports import fonts
from reports.layout import CELL_FONT, esc, styles
from reports.textflow import Paragraph  # a signer's name in any script, in either report language

WIDTH = 250.0       # fits the board's decision box; the 64-digit fingerprint fits one line in 6 pt mono


@dataclass
class SignatureBlock:
    """What the block says (fixed before the page is drawn: the signing time is the signature's own time)
    and where the layout put it (filled in while the page is drawn)."""

    name: str
    role: str
    org: str | None
    fingerprint: str
    at: datetime
    page: int | None = None                                  # 0-based page index
    box: tuple[float, float, float, float] | None = None     # x1, y1, x2, y2 in PDF points

    @property
    def at_text(self) -> str:
        return self.at.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Placed(Flowable):
    """Draws its inner table and records where on which page it was drawn (after any shrink-to-fit)."""

    def __init__(self, inner: Flowable, block: SignatureBlock) -> None:
        super().__init__()
        self.inner, self.block = inner, block

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width, self.height = self.inner.wrap(avail_width, avail_height)
        return self.width, self.height

    def draw(self) -> None:
        canv = self.canv
        self.inner.drawOn(canv, 0, 0)
        # absolutePosition follows the canvas matrix, so a KeepInFrame that shrank the page is accounted for
        x1, y1 = canv.absolutePosition(0, 0)
        x2, y2 = canv.absolutePosition(self.width, self.height)
        self.block.page = canv.getPageNumber() - 1
        self.block.box = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def flowables(data: Any, t: dict[str, Any]) -> list:
    """The block for a report being signed (`data.signature` set by the build), else nothing."""
    block: SignatureBlock | None = getattr(data, "signature", None)
    if block is None:
        return []
    lang = data.lang
    st = styles(lang)
    role = t["signoff"]["roles"].get(block.role, block.role)
    signer = (Message("signing.block.signer_org", {"name": block.name, "role": role, "org": block.org})
              if block.org else Message("signing.block.signer", {"name": block.name, "role": role}))
    mono = f'<font name="{fonts.MONO}" size="6">{block.fingerprint}</font>'
    rows = [[Paragraph(f"<b>{esc(render(Message('signing.block.title'), lang))}</b>", st["cell"])],
            [Paragraph(esc(render(signer, lang)), st["cell"])],
            [Paragraph(esc(render(Message("signing.block.time", {"at": block.at_text}), lang)), st["cell"])],
            [Paragraph(esc(render(Message("signing.block.certificate"), lang)), st["cell"])],
            [Paragraph(mono, st["cell"])],
            [Paragraph(esc(render(Message("signing.block.check"), lang)), st["caption"])]]
    table = Table(rows, colWidths=[WIDTH])
    table.setStyle(TableStyle([CELL_FONT, ("BOX", (0, 0), (-1, -1), 0.8, colors.Color(0.1, 0.25, 0.5)),
                               ("BACKGROUND", (0, 0), (-1, -1), colors.Color(0.94, 0.96, 1.0)),
                               ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4)]))
    placed = _Placed(table, block)
    placed.hAlign = "LEFT"
    return [Spacer(1, 6), placed]
