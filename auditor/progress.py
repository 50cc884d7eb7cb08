"""Progress reporting that knows nothing of terminals or widgets (Orange3 style).

Long work takes a `Progress` and calls it with (fraction, message); `slice` hands a sub-step
its share of one bar, so nested work never needs to know how big its part is.

A message is a catalogue `Message` (auditor.messages), so any reader can show it in its own
language; a plain string is still accepted from callers not yet converted and is shown as it is.
Callbacks take either (fraction, text) (the English line, as before) or (fraction, text, message),
where `message` is the same step as a Message: `Progress` looks at the callback's signature once.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from auditor.messages import Message, render, verbatim

ProgressCallback = Callable[..., None]   # (fraction, text) or (fraction, text, message)
STEP = "progress.step"                   # "{step}: {detail}": the slice's name before its message


class Progress:
    """A window [start, start + span] of one overall progress bar."""

    def __init__(self, callback: ProgressCallback | None = None, start: float = 0.0, span: float = 1.0,
                 prefix: str = "", step: Message | None = None, *, _wants_message: bool | None = None) -> None:
        self._callback = callback
        self._start = start
        self._span = span
        self._prefix = prefix
        self._step = step if step is not None or not prefix else verbatim(prefix)
        self._wants = _takes_message(callback) if _wants_message is None else _wants_message

    def __call__(self, fraction: float, message: Message | str = "") -> None:
        if self._callback is None:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        if isinstance(message, Message):
            detail: Message | None = message
            said = render(message, "en")
        else:
            said = message
            detail = verbatim(message) if message else None
        # the English line keeps its old shape, "<slice name>: <message>", which scripts match on
        text = f"{self._prefix}: {said}" if self._prefix and said else (said or self._prefix)
        value = self._start + self._span * fraction
        if not self._wants:
            self._callback(value, text)
            return
        if detail is not None and self._step is not None:
            event: Message | None = Message(STEP, {"step": self._step, "detail": detail})
        else:
            event = detail or self._step
        self._callback(value, text, event)

    def slice(self, start: float, span: float, name: str = "", step: Message | None = None) -> Progress:
        """The sub-window [start, start + span] of this window (fractions of this window).

        `name` prefixes the English line; `step` is the same name as a catalogue sentence (default:
        `name` shown as it is)."""
        prefix = name or self._prefix
        if name:
            step = step if step is not None else verbatim(name)
        else:
            step = step if step is not None else self._step
        return Progress(self._callback, self._start + self._span * start, self._span * span, prefix, step,
                        _wants_message=self._wants)


def _takes_message(callback: Any) -> bool:
    """Whether `callback` accepts a third positional argument (the Message)."""
    if callback is None:
        return False
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):   # builtins and some C callables have no signature
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= 3


no_progress = Progress()


def never() -> bool:
    return False
