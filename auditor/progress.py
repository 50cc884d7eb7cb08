"""Progress reporting that knows nothing of terminals or widgets (Orange3 style).

Long work takes a `Progress` and calls it with (fraction, message); `slice` hands a sub-step
its share of one bar, so nested work never needs to know how big its part is.
"""
from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]


class Progress:
    """A window [start, start + span] of one overall progress bar."""

    def __init__(self, callback: ProgressCallback | None = None, start: float = 0.0, span: float = 1.0,
                 prefix: str = "") -> None:
        self._callback = callback
        self._start = start
        self._span = span
        self._prefix = prefix

    def __call__(self, fraction: float, message: str = "") -> None:
        if self._callback is None:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        text = f"{self._prefix}: {message}" if self._prefix and message else (message or self._prefix)
        self._callback(self._start + self._span * fraction, text)

    def slice(self, start: float, span: float, name: str = "") -> Progress:
        """The sub-window [start, start + span] of this window (fractions of this window)."""
        prefix = name or self._prefix
        return Progress(self._callback, self._start + self._span * start, self._span * span, prefix)


no_progress = Progress()


def never() -> bool:
    return False
