"""The detail of one check on the findings page: what needs attention first, then charts, the rest, figures.

Order: the check's title and status, its summary, the findings that need attention (fail, warn,
inconclusive, error; most urgent first), its charts, the findings within thresholds or for information,
and its figures table. An audit can hold hundreds of findings; the first CHUNK cards are built at once and
the rest in later turns of the event loop, so opening an audit never waits for cards below the fold.
"""
from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from auditor.presentation import presentation
from auditor.views import AuditView, CheckView, FindingView
from gui.strings import verdict_word
from gui.theme import COLOURS
from gui.widgets.check_charts import charts_for
from gui.widgets.finding_cards import ATTENTION, by_urgency, figures_table, finding_card

Tr = Callable[..., str]
# a card costs a rich-text layout (several ms): build the first screenful at once, the rest a few per turn of
# the event loop, so neither opening an audit nor any later turn stalls the window
FIRST, CHUNK = 4, 4


def _heading(text: str) -> QLabel:
    label = QLabel(f"<b>{html.escape(text)}</b>")
    label.setWordWrap(True)
    return label


class CheckDetail(QWidget):
    """One check's detail; `pending` counts the cards not built yet (0 once all are shown)."""

    def __init__(self, view: AuditView, check: CheckView, tr: Tr, lang: str) -> None:
        super().__init__()
        self.tr, self.lang = tr, lang
        self.check = check
        self.title = presentation(check.id).title_in(lang)
        layout = QVBoxLayout(self)
        head = QLabel(f"<span style='font-size:13pt'><b>{html.escape(self.title)}</b></span> "
                      f"<span style='color:#424242'>({html.escape(check.id)})</span> &nbsp; "
                      f"<span style='color:{COLOURS.get(str(check.status), '#757575')}'><b>"
                      f"{verdict_word(str(check.status), lang)}</b></span>", wordWrap=True)
        summary = QLabel(f"<b>{tr('f.summary')}:</b> {html.escape(check.summary_in(lang))}", wordWrap=True)
        layout.addWidget(head)
        layout.addWidget(summary)
        findings = by_urgency(view.findings_of(check.id))
        attention = [f for f in findings if str(f.severity) in ATTENTION]
        others = [f for f in findings if str(f.severity) not in ATTENTION]
        self._queue: list[tuple[QVBoxLayout, FindingView]] = []
        if attention:
            layout.addWidget(_heading(tr("gui.findings.attention", count=len(attention))))
            self._queue += self._cards(layout, attention)
        for chart in charts_for(check, findings, lang):
            layout.addWidget(chart)
        if others:
            layout.addWidget(_heading(tr("gui.findings.others", count=len(others))))
            self._queue += self._cards(layout, others)
        self.figures = None
        scalars = [(k, v) for k, v in check.metrics.items() if not isinstance(v, list)]
        if scalars:
            self.figures_label = QLabel(tr("gui.findings.figures_label"))
            self.figures_label.setStyleSheet("font-weight:bold;")
            self.figures = figures_table(check, scalars, tr, lang, self.title)
            self.figures_label.setBuddy(self.figures)
            layout.addWidget(self.figures_label)
            layout.addWidget(self.figures)
        layout.addStretch(1)
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._build_more)
        self._build(FIRST)

    def _box(self, layout: QVBoxLayout) -> QVBoxLayout:
        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(box)
        return box

    def _cards(self, layout: QVBoxLayout, findings: list[FindingView]) -> list[tuple[QVBoxLayout, FindingView]]:
        """A box in the page's order for these cards, and the cards queued for it."""
        box = self._box(layout)
        return [(box, f) for f in findings]

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _build(self, count: int) -> None:
        for box, f in self._queue[:count]:
            box.addWidget(finding_card(f, self.tr, self.lang))
        del self._queue[:count]
        if self._queue:
            self._timer.start()

    def _build_more(self) -> None:
        self._build(CHUNK)

    def finish(self) -> None:
        """Builds every card still queued (tests, screenshots)."""
        self._build(len(self._queue))
