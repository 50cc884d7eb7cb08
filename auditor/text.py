"""Folding text that YAML joined from several lines, for English and Japanese alike."""
from __future__ import annotations

import re

_WIDE = r"[^\x00-\x7f]"
# a space that YAML put where a line broke between two Japanese characters (or next to one) is
# not a word space; spaces between ASCII words ("Dong et al. 2021", "NIST AI RMF") are
_SPACE_BESIDE_WIDE = re.compile(rf"(?<={_WIDE})\s+|\s+(?={_WIDE})")


def fold(text: object) -> str:
    """Collapses runs of whitespace to one space, and drops whitespace that touches non-ASCII text."""
    collapsed = " ".join(str(text or "").split())
    return _SPACE_BESIDE_WIDE.sub("", collapsed)
