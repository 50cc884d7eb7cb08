"""Verdict badge and dimension tiles: a symbol and a word as well as a colour."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from auditor.presentation import dimension_label
from gui.strings import trend_word, verdict_word
from gui.theme import BACKGROUNDS, COLOURS


class Badge(QLabel):
    def set_status(self, status: str | None, lang: str, prefix: str = "") -> None:
        self.setText(f"{prefix}{verdict_word(status, lang)}")
        self.setStyleSheet(f"background:{BACKGROUNDS.get(status, BACKGROUNDS[None])};"
                           f"color:{COLOURS.get(status, COLOURS[None])};font-weight:bold;"
                           f"border:1px solid {COLOURS.get(status, COLOURS[None])};border-radius:4px;padding:4px 10px;")
        self.setProperty("status", status)


class DimensionTile(QFrame):
    """One dimension (information flow, retention, ...) with its rating and trend."""

    def __init__(self, dimension: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dimension = dimension
        self.name = QLabel()
        self.rating = QLabel()
        self.trend = QLabel()
        for label in (self.name, self.rating, self.trend):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(2)
        layout.addWidget(self.name)
        layout.addWidget(self.rating)
        layout.addWidget(self.trend)
        self.setMinimumWidth(120)

    def set_rating(self, rating: str | None, trend: str | None, lang: str) -> None:
        colour, background = COLOURS.get(rating, COLOURS[None]), BACKGROUNDS.get(rating, BACKGROUNDS[None])
        self.setObjectName("tile")
        self.setStyleSheet(f"QFrame#tile {{background:{background};border:2px solid {colour};border-radius:6px;}}")
        self.name.setText(f"<b>{dimension_label(self.dimension, lang)}</b>")
        self.rating.setText(f"<span style='color:{colour};font-weight:bold'>{verdict_word(rating, lang)}</span>")
        self.trend.setText(trend_word(trend, lang))
        self.setProperty("rating", rating)
