"""What every chart widget shares: its title, text drawn with a record of its colours, hover tips, and the
accessible name (the title) and description (a text summary, gui.widgets.chart_words) screen readers read.

Each paint records every piece of text it draws (`ChartWidget.drawn`: the text, where, its colour and the
colour behind it), so the tests can check what a chart says and that each label is legible (WCAG contrast).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

INK = QColor("#212121")      # titles, legend (16:1 on white)
MUTED = QColor("#424242")    # ticks, axis labels (10:1 on white)
PAPER = QColor("#ffffff")
BLACK, WHITE = QColor("#000000"), QColor("#ffffff")
CENTRE = Qt.AlignmentFlag.AlignCenter
MIDDLE_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
MIDDLE_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
TOP_CENTRE = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop


def luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21; text needs 4.5)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_on(paper: QColor) -> QColor:
    """Black or white, whichever reads better on `paper`: one of them always reaches 4.58:1."""
    return BLACK if contrast(BLACK, paper) >= contrast(WHITE, paper) else WHITE


def legible(ink: QColor, paper: QColor = PAPER, ratio: float = 4.5) -> QColor:
    """`ink`, darkened just enough to reach `ratio` on a light `paper` (the warn colour #b26a00 is 4.2:1 on
    white: its threshold labels are drawn a shade darker, the line keeps the colour of the verdict)."""
    out = QColor(ink)
    for _ in range(20):
        if contrast(out, paper) >= ratio:
            break
        out = out.darker(110)
    return out


@dataclass(frozen=True)
class Drawn:
    """One piece of text a paint drew: what, where, in which colour, on which colour, and as what."""

    text: str
    rect: QRectF
    ink: QColor
    paper: QColor
    role: str     # title | x-tick | y-tick | axis | legend | threshold | point | cell | scale | value | empty


class ChartWidget(QWidget):
    """A chart: white paper, a centred title, recorded text, tooltips at the places `tip` marked."""

    def __init__(self, title: str, lang: str = "en", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.lang = title, lang
        self.drawn: list[Drawn] = []
        self._tips: list[tuple[QRectF, str]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(title)

    def describe(self, summary: str) -> None:
        """The text a screen reader reads for the chart (also the tooltip away from any value)."""
        self.setAccessibleDescription(summary)

    def begin(self, p: QPainter) -> None:
        """Start a paint: forget the last one's text and tips, clear to white, draw the title."""
        self.drawn.clear()
        self._tips.clear()
        p.fillRect(self.rect(), PAPER)
        fm = p.fontMetrics()
        self.text(p, QRectF(0, 2, self.width(), fm.height() + 2), TOP_CENTRE, self.title, role="title")

    def text(self, p: QPainter, rect: QRectF, flags: Qt.AlignmentFlag, text: str, ink: QColor = INK,
             paper: QColor = PAPER, role: str = "") -> None:
        """Draw `text` in `rect` and record it with its colours."""
        p.setPen(ink)
        p.drawText(rect, flags, text)
        self.drawn.append(Drawn(text, QRectF(rect), QColor(ink), QColor(paper), role))

    def tip(self, rect: QRectF, text: str) -> None:
        """Hovering over `rect` shows `text` (a value in words and plain numbers)."""
        self._tips.append((QRectF(rect), text))

    def tip_at(self, pos: QPointF) -> str:
        """The tooltip at `pos`: every marked value there (two series meeting show both), else the summary."""
        found = [text for rect, text in self._tips if rect.contains(pos)]
        if found:
            return "\n".join(dict.fromkeys(found))
        # the summary a sentence a line: a plain-text tooltip does not wrap
        return self.accessibleDescription().replace("。", "。\n").replace(". ", ".\n").strip()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tip_at(QPointF(event.pos()))
            QToolTip.showText(event.globalPos(), text, self) if text else QToolTip.hideText()
            return True
        return super().event(event)
