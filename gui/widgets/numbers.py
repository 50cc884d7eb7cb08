"""Numbers as an officer reads them on charts: no computer notation (2.271e+07), same words in both languages.

- 0.001 <= |v| < 1,000: three significant digits (0.833, 27.7, 0.5);
- 1,000 <= |v| < 1,000,000: whole number with thousands separators (12,346);
- |v| >= 1,000,000: the language's own large-number words, three significant digits: "22.7 million" in
  English, "2,270万" in Japanese (万/億/兆 group by 10⁴, as Japanese readers count; "22.7 M" would be
  English in the Japanese UI and "×10⁷" makes the reader count powers of ten for a number that has a word);
- 0 < |v| < 0.001: "4.89×10⁻⁶": there is no word for these, and 0.00000489 makes the reader count zeros.

Tick labels of one axis get as many digits as they need to differ (0.99992, 0.99994, not "1, 1").
The words come from the catalogue (gui.charts.scale.*, templates/sentences/gui_charts.yaml).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from auditor.messages import text as catalogue_text

DASH = "–"          # a value that is missing or not a finite number
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# the power of ten of each scale word gui.charts.scale.1/2/3 per language (million/billion/trillion, 万/億/兆)
POWERS = {"en": (6, 9, 12), "ja": (4, 8, 12)}
WORDS_FROM = 1e6     # below this, digits with separators read better than words
WORDS_UP_TO = 1e15   # beyond the last word: powers of ten


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _significant(v: float, digits: int) -> str:
    """`digits` significant digits without exponent notation, trailing zeros dropped (0.5, 27.7, 12,300)."""
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(v))))
    rounded = round(v, decimals)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) != math.floor(math.log10(abs(v))):
        decimals = max(0, decimals - 1)   # 999.6 rounds up to 1,000: one decimal fewer
    out = f"{rounded:,.{decimals}f}"
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out


def _power(v: float, digits: int) -> str:
    """4.89×10⁻⁶ (mantissa with `digits` significant digits, trailing zeros dropped)."""
    exponent = math.floor(math.log10(abs(v)))
    mantissa = v / 10 ** exponent
    if abs(round(mantissa, digits - 1)) >= 10:   # 9.996×10⁻⁴ rounds to 10.0: carry into the exponent
        exponent, mantissa = exponent + 1, mantissa / 10
    return f"{_significant(mantissa, digits)}×10{str(exponent).translate(SUPERSCRIPT)}"


def plain(v: float | int | None, lang: str = "en", digits: int = 3) -> str:
    """A value for people (see the module text); '–' for a missing or non-finite value."""
    if not _finite(v):
        return DASH
    v = float(v)   # type: ignore[arg-type]
    size = abs(v)
    if size == 0:
        return "0"
    if float(f"{size:.{digits - 1}e}") < 1e-3:   # 0.0009996 rounds to 0.001, which has digits
        return _power(v, digits)
    if size < 1e3:
        return _significant(v, digits)
    if size < WORDS_FROM:
        return _significant(v, max(digits, math.floor(math.log10(size)) + 1))   # every digit: 12,346
    if size >= WORDS_UP_TO:
        return _power(v, digits)
    powers = POWERS.get(lang, POWERS["en"])
    word = max(i for i, p in enumerate(powers) if size >= 10 ** p)
    scaled = v / 10 ** powers[word]
    return catalogue_text(f"gui.charts.scale.{word + 1}", lang, value=_significant(scaled, digits)
                          if abs(scaled) < 1e3 else _significant(scaled, math.floor(math.log10(abs(scaled))) + 1))


def digits_apart(values: Sequence[float], lang: str = "en", start: int = 3, most: int = 7) -> int:
    """The fewest significant digits (from `start`) at which the distinct values print differently."""
    wanted = sorted({float(v) for v in values if _finite(v)})
    for digits in range(start, most + 1):
        if len({plain(v, lang, digits) for v in wanted}) == len(wanted):
            return digits
    return most


def tick_labels(ticks: Sequence[float], lang: str = "en") -> list[str]:
    """Labels of one axis' ticks, each different from its neighbours (0.99992, 0.99994, ...)."""
    steps = [abs(b - a) for a, b in zip(ticks, ticks[1:], strict=False) if b != a]
    tiny = min(steps) * 1e-6 if steps else 0.0
    clean = [0.0 if abs(t) < tiny else float(t) for t in ticks]   # 2.8e-17 from adding steps is 0
    digits = digits_apart(clean, lang)
    return [plain(t, lang, digits) for t in clean]
