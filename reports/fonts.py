"""Embedded TrueType fonts for every PDF and chart (reportlab's built-in fonts are never embedded)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent / "fonts"

SANS = "DejaVuSans"
SANS_BOLD = "DejaVuSans-Bold"
MONO = "DejaVuSansMono"
JAPANESE = "IPAexGothic"

_FILES = {SANS: "DejaVuSans.ttf", SANS_BOLD: "DejaVuSans-Bold.ttf", MONO: "DejaVuSansMono.ttf",
          JAPANESE: "ipaexg.ttf"}


def japanese_font_path() -> Path:
    """The IPAexGothic TrueType file (the GUI loads it too, so screen and paper match)."""
    return FONT_DIR / _FILES[JAPANESE]


def font_path(name: str) -> Path:
    return FONT_DIR / _FILES[name]


@cache
def register_fonts() -> None:
    """Register the shipped fonts with reportlab once per process."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name, file in _FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / file)))
    # <b> inside a paragraph maps to the bold face; IPAexGothic has one weight only
    for bold, italic, face in ((0, 0, SANS), (1, 0, SANS_BOLD), (0, 1, SANS), (1, 1, SANS_BOLD)):
        addMapping(SANS, bold, italic, face)
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(JAPANESE, bold, italic, JAPANESE)
            addMapping(MONO, bold, italic, MONO)


def body_font(lang: str) -> str:
    """The font for running text: IPAexGothic carries Latin glyphs too, so Japanese pages use it throughout."""
    return JAPANESE if lang == "ja" else SANS


def bold_font(lang: str) -> str:
    return JAPANESE if lang == "ja" else SANS_BOLD
