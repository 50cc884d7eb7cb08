"""Text that survives any content: per-glyph font fallback, fitted lines and Japanese line breaking.

Reports are set in DejaVu Sans (English) or IPAexGothic (Japanese), and any field may hold either
script: a Japanese purpose in an English report, a Latin model name or a ✔ in a Japanese one. Each
character is set in its own font when that font has it; otherwise in the other embedded font that has
it (`Paragraph` re-fonts the parsed fragments, `runs` / `draw` do it for lines drawn on the canvas), so
nothing prints as an empty box. Where space is fixed (the footer, the board header) `shorten` fits a name with "…".

`Paragraph` is reportlab's, with Japanese line breaking (kinsoku): no line starts with a closing
bracket or mark such as 。、」）！？・ー, and none ends with an opening bracket. Reportlab's own CJK
wrap lets one such character hang past the margin and misses ！？： and runs of two; here the break
moves back instead, so a line stays inside its column. Paragraphs holding CJK text wrap this way in
English reports too (an English report's wrap would cut a Japanese sentence at any character).
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.textsplit import ALL_CANNOT_END, ALL_CANNOT_START
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.platypus import paragraph as _rl
from reportlab.rl_config import _FUZZ

from reports import fonts

ELLIPSIS = "…"
# JIS X 4051 line-start prohibitions (closing brackets, stops, middle marks, small kana, the long-vowel
# mark, iteration marks, units) on top of reportlab's list, which lacks ！？：；，． among others
CANNOT_START = frozenset(ALL_CANNOT_START + "、。，．,.）)］]｝}〕〉》」』】〙〗〟’”｠»"
                         "・：；:;！？!?‼⁇⁈⁉…‥ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ"
                         "ㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ々〻ー゠〜～ゝゞヽヾ%％‰℃°′″")
CANNOT_END = frozenset(ALL_CANNOT_END + "（([［｛{〔〈《「『【〘〖〝‘“｟«")
SOFT_BREAK = "-_/\\"   # a long token without spaces may break after these (a name, a path)
_FALLBACK = (fonts.SANS, fonts.JAPANESE)   # the order a missing glyph is looked for in


@cache
def _glyphs(font: str) -> frozenset[int]:
    fonts.register_fonts()
    return frozenset(getFont(font).face.charToGlyph)


def has_glyph(font: str, char: str) -> bool:
    return ord(char) in _glyphs(font)


def is_cjk(char: str) -> bool:
    """Kana, kanji, CJK punctuation and full-width forms: the characters a Japanese line breaks between."""
    if len(char) != 1:
        return False
    code = ord(char)
    return 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def has_cjk(text: Any) -> bool:
    return isinstance(text, str) and any(is_cjk(c) for c in text)


def face_for(char: str, base: str) -> str:
    """The font to set `char` in: `base` when it has the glyph, else the first embedded font that has it."""
    if char.isspace() or has_glyph(base, char):
        return base
    return next((f for f in _FALLBACK if has_glyph(f, char)), base)


def runs(text: str, base: str) -> list[tuple[str, str]]:
    """`text` cut into (font, piece) runs: each piece in `base` or in the fallback font that has its glyphs."""
    out: list[tuple[str, str]] = []
    for char in text:
        font = face_for(char, base)
        if out and out[-1][0] == font:
            out[-1] = (font, out[-1][1] + char)
        else:
            out.append((font, char))
    return out


def fallback_frags(frags: list) -> list:
    """Parsed paragraph fragments with each run of characters its font lacks moved to a font that has them
    (a fragment keeps its colour, size and link; only the font of the run changes, bold included)."""
    out: list = []
    for frag in frags:
        text = getattr(frag, "text", None)
        if not isinstance(text, str) or not text or hasattr(frag, "cbDefn"):
            out.append(frag)
            continue
        pieces = runs(text, frag.fontName)
        if len(pieces) == 1 and pieces[0][0] == frag.fontName:
            out.append(frag)
        else:
            out.extend(frag.clone(text=piece, fontName=font) for font, piece in pieces)
    return out


def width(text: str, base: str, size: float) -> float:
    """The drawn width of `text` with fallback runs."""
    return sum(stringWidth(piece, font, size) for font, piece in runs(text, base))


def shorten(text: str, limit: float, base: str, size: float) -> str:
    """`text` if it fits in `limit` points, else its head and tail around "…" (a name's start says what it
    is, its end often the variant), as long as fits."""
    if width(text, base, size) <= limit:
        return text
    best, low, high = ELLIPSIS, 1, len(text) - 1
    while low <= high:   # the most characters kept that fit (width grows with what is kept)
        keep = (low + high) // 2
        head = (keep * 2 + 2) // 3
        candidate = text[:head].rstrip() + ELLIPSIS + text[len(text) - (keep - head):].lstrip()
        if width(candidate, base, size) <= limit:
            best, low = candidate, keep + 1
        else:
            high = keep - 1
    return best


def draw(canvas: Any, x: float, y: float, text: str, base: str, size: float, align: str = "left") -> float:
    """Draw one line with fallback runs at x (its left, centre or right edge); returns its width."""
    pieces = runs(text, base)
    total = sum(stringWidth(p, f, size) for f, p in pieces)
    left = x - total / 2 if align == "centre" else x - total if align == "right" else x
    for font, piece in pieces:
        canvas.setFont(font, size)
        canvas.drawString(left, y, piece)
        left += stringWidth(piece, font, size)
    return total


def _space(char: str) -> bool:
    """A space a line may break at (not a no-break space)."""
    return char.isspace() and char not in "\xa0\u2007\u202f"


def _word(char: str) -> bool:
    """Part of a Latin word or number (a line does not break inside one when it can break elsewhere)."""
    return len(char) == 1 and not _space(char) and not is_cjk(char)


def _word_start(chars: Sequence[str], start: int, i: int) -> int:
    """A break at i moved back to the start of the Latin word or number it falls in (to a space or a CJK
    character, at most half the line back), else in a long token to just after a hyphen or a slash;
    a token with none of them is cut where the line ends."""
    if not (_word(chars[i]) and _word(chars[i - 1])) or chars[i - 1] in SOFT_BREAK:
        return i
    for j in range(i - 1, (start + i) // 2, -1):
        if _space(chars[j - 1]) or is_cjk(chars[j - 1]) or is_cjk(chars[j]):
            return j
    for j in range(i - 1, (start + i) // 2, -1):   # a long name or path: after a hyphen or a slash
        if chars[j - 1] in SOFT_BREAK and _word(chars[j]):
            return j
    return i


def break_at(chars: Sequence[str], start: int, end: int) -> int:
    """Where the line chars[start:] that overflows at `end` breaks: before a Latin word rather than inside
    it, and never so that the next line starts with a CANNOT_START or this one ends with a CANNOT_END
    character (the break moves back; only a line that could not keep two characters lets one hang)."""
    i = end
    for _ in range(len(chars)):   # each rule may move the break back into the other's way
        j = _word_start(chars, start, i)
        while j > start + 1 and (chars[j] in CANNOT_START or chars[j - 1] in CANNOT_END):
            j -= 1
        if j == i:
            break
        i = j
    if chars[i] in CANNOT_START:   # nothing to move back to: the marks hang in the margin instead
        while i < len(chars) and chars[i] in CANNOT_START:
            i += 1
    return i


def _width(u: Any, max_width: float) -> float:
    w = u.width
    if hasattr(w, "normalizedValue"):   # an inline image sized in percent of the line
        w._normalizer = max_width
        w = w.normalizedValue(max_width)
    return w


def kinsoku_split(frags: list, max_widths: Sequence[float], calc_bounds: bool) -> Any:
    """reportlab's cjkFragSplit with the line-start and line-end rules of `break_at`."""
    chars = []
    for f in frags:
        text = f.text.decode("utf8") if isinstance(f.text, bytes) else f.text
        chars.extend([_rl.cjkU(c, f, "utf8") for c in text] if text else [_rl.cjkU(text, f, "utf8")])
    lines: list = []
    start, n = 0, len(chars)
    while start < n:
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        used, i, line_break = 0.0, start, False
        while i < n:
            w = _width(chars[i], max_width)
            if used + w > max_width + _FUZZ and i > start:
                break
            used += w
            i += 1
            if hasattr(chars[i - 1].frag, "lineBreak"):
                line_break = True
                break
        if i < n and not line_break:
            i = break_at(chars, start, i)
        used = sum(_width(c, max_width) for c in chars[start:i])
        lines.append(_rl.makeCJKParaLine(chars[start:i], max_width, used, max_width - used, line_break, calc_bounds))
        start = i
        while not line_break and start < n and _space(chars[start]):
            start += 1   # the space a line broke at is not carried to the next line's start
    return _rl.ParaLines(kind=1, lines=lines)


def _cjk_style(style: ParagraphStyle) -> ParagraphStyle:
    """The style with CJK wrapping, made once per style (kept on it, so it goes when the style goes)."""
    cjk = style.__dict__.get("_cjk_variant")
    if cjk is None:
        cjk = ParagraphStyle(f"{style.name}-cjk", parent=style, wordWrap="CJK")
        style.__dict__["_cjk_variant"] = cjk
    return cjk


class Paragraph(_rl.Paragraph):
    """reportlab's paragraph with per-glyph font fallback, and Japanese line breaking by the kinsoku rules
    (for CJK text in any report)."""

    def __init__(self, text: Any, style: ParagraphStyle | None = None, *args: Any, **kwargs: Any) -> None:
        if style is not None and style.wordWrap != "CJK" and has_cjk(text):
            style = _cjk_style(style)
        super().__init__(text, style, *args, **kwargs)

    def _setup(self, text: Any, style: Any, bulletText: Any, frags: Any, cleaner: Any) -> None:  # noqa: N803
        parsed = frags is None   # the pieces of a paragraph split across frames are already set
        super()._setup(text, style, bulletText, frags, cleaner)
        if parsed and self.frags:
            self.frags = fallback_frags(self.frags)

    def breakLinesCJK(self, maxWidths: Any) -> Any:  # noqa: N802, N803 (reportlab's names)
        widths = list(maxWidths) if isinstance(maxWidths, (list, tuple)) else [maxWidths]
        if hasattr(self, "blPara") and getattr(self, "_splitpara", 0):
            return self.blPara
        if not self.frags or any(hasattr(f, "cbDefn") for f in self.frags) or self.style.endDots:
            return super().breakLinesCJK(widths)
        _rl._handleBulletWidth(self.bulletText, self.style, widths)
        auto = getattr(self, "autoLeading", getattr(self.style, "autoLeading", ""))
        return kinsoku_split(self.frags, widths, auto not in ("", "off"))
