"""Folding text that YAML joined from several lines, for English and Japanese alike."""
from __future__ import annotations

import re

_WIDE = r"[^\x00-\x7f]"
# a space that YAML put where a line broke between two Japanese characters is not a word space;
# spaces next to ASCII ("Dong et al. 2021", "NIST AI RMF", "0 = すべて") are the author's own
_SPACE_BETWEEN_WIDE = re.compile(rf"(?<={_WIDE})\s+(?={_WIDE})")


def fold(text: object) -> str:
    """Collapses runs of whitespace to one space, and drops it between two non-ASCII characters."""
    collapsed = " ".join(str(text or "").split())
    return _SPACE_BETWEEN_WIDE.sub("", collapsed)
