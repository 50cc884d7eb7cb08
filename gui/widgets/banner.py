"""A banner the reader cannot miss: large dark text on a tinted panel with a coloured edge and a symbol.

Used on the findings page for an audit whose template is not approval-grade ("Quick audit — a first look,
not for approval") and for the page's states without a verdict (no audit open, a cancelled or failed run).
The text is dark (#212121) on the light status background, above 12:1 contrast; the colour is only the edge
and the symbol, so the message never rests on colour alone.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from gui.theme import BACKGROUNDS, COLOURS

SYMBOL = {"warn": "⚠", "info": "ℹ", "fail": "✗", None: "ℹ"}


class Banner(QLabel):
    """One or more sentences in a framed panel; hidden while it has nothing to say."""

    def __init__(self, object_name: str = "banner") -> None:
        super().__init__(wordWrap=True)
        self.setObjectName(object_name)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind: str | None = None
        self.lines: list[str] = []
        self.hide()

    def say(self, lines: list[str], kind: str | None = "info", name: str = "", size_pt: int = 12) -> None:
        """Shows `lines` (plain text; the first in bold) with the edge and symbol of `kind` (warn, info, fail)."""
        self.kind, self.lines = kind, [line for line in lines if line]
        if not self.lines:
            self.clear_banner()
            return
        edge, background = COLOURS.get(kind, COLOURS["info"]), BACKGROUNDS.get(kind, BACKGROUNDS["info"])
        self.setStyleSheet(f"QLabel#{self.objectName()} {{background:{background};color:#212121;"
                           f"border:2px solid {edge};border-left:8px solid {edge};border-radius:6px;"
                           f"padding:8px 12px;font-size:{size_pt}pt;}}")
        first, rest = self.lines[0], self.lines[1:]
        symbol = f"<span style='color:{edge}'>{SYMBOL.get(kind, SYMBOL[None])}</span> "
        self.setText(symbol + f"<b>{html.escape(first)}</b>" + "".join(f"<br>{html.escape(x)}" for x in rest))
        self.setAccessibleName(name or first)
        self.setAccessibleDescription(" ".join(self.lines))
        self.setToolTip("")
        self.show()

    def clear_banner(self) -> None:
        self.kind, self.lines = None, []
        self.setText("")
        self.setAccessibleDescription("")
        self.hide()
