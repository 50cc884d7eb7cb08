"""Verdict badge and dimension tiles: a symbol and a word as well as a colour.

A tile says beside its rating which of the dimension's checks did not run (auditor.coverage), so a
quick audit that left out the flow surrogate never shows a bare "Information flow ✓ Pass".
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from auditor.presentation import dimension_hint, dimension_label, status_label
from gui.strings import tr, trend_word, verdict_word
from gui.theme import BACKGROUNDS, COLOURS

TEXT = "#212121"   # body text on every tile background (contrast above 12:1)


class Badge(QLabel):
    def set_status(self, status: str | None, lang: str, prefix: str = "") -> None:
        self.setText(f"{prefix}{verdict_word(status, lang)}")
        self.setStyleSheet(f"background:{BACKGROUNDS.get(status, BACKGROUNDS[None])};"
                           f"color:{COLOURS.get(status, COLOURS[None])};font-weight:bold;"
                           f"border:1px solid {COLOURS.get(status, COLOURS[None])};border-radius:4px;padding:4px 10px;")
        self.setProperty("status", status)
        self.setAccessibleName(tr("gui.findings.verdict.name", lang, verdict=status_label(status, lang)))


class DimensionTile(QFrame):
    """One dimension (information flow, retention, ...) with its rating, which checks did not run, and trend."""

    def __init__(self, dimension: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dimension = dimension
        self.name = QLabel()
        self.rating = QLabel()
        self.coverage = QLabel()    # "2 of 3 checks ran; not run: ..." (hidden when every check ran)
        self.trend = QLabel()
        for label in (self.name, self.rating, self.coverage, self.trend):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        self.coverage.setStyleSheet(f"color:{TEXT};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(2)
        for label in (self.name, self.rating, self.coverage, self.trend):
            layout.addWidget(label)
        self.setMinimumWidth(120)

    def set_rating(self, rating: str | None, trend: str | None, lang: str, coverage: str = "",
                   total: int = 0) -> None:
        """`coverage`: the sentence naming the checks that did not run ('' when all `total` ran)."""
        colour, background = COLOURS.get(rating, COLOURS[None]), BACKGROUNDS.get(rating, BACKGROUNDS[None])
        self.setObjectName("tile")
        self.setStyleSheet(f"QFrame#tile {{background:{background};border:2px solid {colour};border-radius:6px;}}")
        name = dimension_label(self.dimension, lang)
        word = verdict_word(rating, lang)
        if coverage and rating in ("pass", "warn", "fail", "inconclusive"):
            word = tr("gui.findings.tile.partial_rating", lang, rating=word)
        self.name.setText(f"<b>{html.escape(name)}</b>")
        self.rating.setText(f"<span style='color:{colour};font-weight:bold'>{html.escape(word)}</span>")
        self.coverage.setText(coverage)
        self.coverage.setVisible(bool(coverage))
        self.trend.setText(trend_word(trend, lang))
        self.setProperty("rating", rating)
        self.setProperty("coverage", coverage)
        said = coverage or (tr("gui.findings.tile.all_ran", lang, total=total) if total else "")
        description = " ".join(x for x in (said, trend_word(trend, lang).strip(), dimension_hint(self.dimension, lang))
                               if x)
        self.setToolTip(description)
        self.setAccessibleName(tr("gui.findings.tile.name", lang, dimension=name, rating=status_label(rating, lang)))
        self.setAccessibleDescription(description)
