"""A word-wrapped label whose minimum height follows its width.

Box layouts do not pass a wrapped label's height-for-width up to the page, so at a narrow width (200%
scaling) a long description would be squeezed under the widgets below it and cut off; this label asks for
the height its text needs at its current width whenever the width or the text changes.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel


class WrappingLabel(QLabel):
    """QLabel(wordWrap=True) that never shows less than its wrapped text."""

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        super().__init__(text, wordWrap=True, **kwargs)

    def _fit(self) -> None:
        needed = self.heightForWidth(self.width()) if self.width() > 0 else -1
        if needed > 0 and needed != self.minimumHeight():
            self.setMinimumHeight(needed)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        super().setText(text)
        self._fit()
