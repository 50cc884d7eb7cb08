"""Colours, verdict styling and the shipped fonts (the Japanese font comes from the app, never the system)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtGui import QColor, QFont, QFontDatabase
from PySide6.QtWidgets import QApplication


def _font_dir() -> Path:
    """reports/fonts, found without importing the reports package (reportlab stays unloaded)."""
    spec = importlib.util.find_spec("reports")
    if spec and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]) / "fonts"
    return Path(__file__).resolve().parents[1] / "reports" / "fonts"


# inconclusive (evidence missing) is a neutral amber-grey, as in the reports: never green, nor the warn or fail colour.
# Each colour is text on its own background and on white at a contrast of at least 4.5:1 (WCAG AA; the warn amber
# and the greys were darkened for it, tests/unit/test_contrast.py)
COLOURS = {"pass": "#2e7d32", "warn": "#9a5b00", "fail": "#c62828", "error": "#6a1b9a", "info": "#455a64",
           "skipped": "#666666", "not_assessed": "#666666", "inconclusive": "#6b5d3f", None: "#666666"}
BACKGROUNDS = {"pass": "#e8f5e9", "warn": "#fff3e0", "fail": "#ffebee", "error": "#f3e5f5", "info": "#eceff1",
               "skipped": "#f5f5f5", "not_assessed": "#f5f5f5", "inconclusive": "#ece8df", None: "#f5f5f5"}
_families: dict[str, str] = {}


def colour(status: str | None) -> QColor:
    return QColor(COLOURS.get(status, COLOURS[None]))


def load_fonts() -> dict[str, str]:
    """Registers DejaVu Sans and IPAexGothic from reports/fonts; returns {'latin': family, 'ja': family}."""
    if _families:
        return _families
    for key, name in (("latin", "DejaVuSans.ttf"), ("ja", "ipaexg.ttf")):
        font_id = QFontDatabase.addApplicationFont(str(_font_dir() / name))
        families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
        if families:
            _families[key] = families[0]
    return _families


def apply_language_font(app: QApplication, lang: str) -> QFont:
    """Japanese text in the shipped IPAexGothic; Latin text in DejaVu Sans with IPAexGothic as fallback."""
    fams = load_fonts()
    order = [fams.get("ja"), fams.get("latin")] if lang == "ja" else [fams.get("latin"), fams.get("ja")]
    font = QFont(app.font())
    font.setFamilies([f for f in order if f])
    font.setPointSize(10)
    app.setFont(font)
    return font


def badge_style(status: str | None) -> str:
    return (f"background:{BACKGROUNDS.get(status, BACKGROUNDS[None])};color:{COLOURS.get(status, COLOURS[None])};"
            f"border:1px solid {COLOURS.get(status, COLOURS[None])};border-radius:4px;padding:4px 8px;")
