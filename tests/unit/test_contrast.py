"""Status colours are readable text (issue 17): WCAG 2 contrast of at least 4.5:1 on their own background and
on white, computed here from the WCAG definition of relative luminance (not from the code under test)."""
from __future__ import annotations

import pytest

from gui.theme import BACKGROUNDS, COLOURS

AA = 4.5


def _luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour '#rrggbb'."""
    value = hex_colour.lstrip("#")
    channels = [int(value[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)    # the classic just-failing grey
    assert contrast("#757575", "#f5f5f5") == pytest.approx(4.23, abs=0.01)    # the old skipped colour


@pytest.mark.parametrize("status", list(COLOURS))
def test_status_colour_is_readable_on_its_background_and_on_white(status):
    ink, paper = COLOURS[status], BACKGROUNDS[status]
    assert contrast(ink, paper) >= AA, f"{status}: {ink} on {paper} is {contrast(ink, paper):.2f}:1"
    assert contrast(ink, "#ffffff") >= AA, f"{status}: {ink} on white is {contrast(ink, '#ffffff'):.2f}:1"


def test_every_status_has_a_background_and_warn_is_not_the_inconclusive_colour():
    assert set(COLOURS) == set(BACKGROUNDS)
    assert len({COLOURS[s] for s in ("pass", "warn", "fail", "inconclusive")}) == 4
