"""Progress on stderr for the CLI: a tqdm bar on a terminal, JSON lines for machines, or nothing."""
from __future__ import annotations

import json
import sys
import time
from typing import Any

from auditor.messages import Message


class ProgressSink:
    """A (fraction, text, message) callback that writes to stderr in the chosen style.

    jsonl lines keep "event", "fraction" and "message" (the English text) and add "key" and
    "params": the same step as a catalogue sentence (auditor.messages.Message.from_json renders it
    in any language; nested sentences are {"$message": {...}} inside params).
    """

    def __init__(self, style: str) -> None:
        self.style = style
        self._bar: Any = None
        self._last = -1.0
        self._last_time = 0.0

    def __call__(self, fraction: float, message: str, said: Message | None = None) -> None:
        if self.style == "jsonl":
            now = time.monotonic()
            # at most ~10 lines a second, but never drop the first, the last or a 1% step
            if fraction >= 1.0 or fraction - self._last >= 0.01 or now - self._last_time >= 0.1:
                line: dict[str, Any] = {"event": "progress", "fraction": round(fraction, 4), "message": message}
                line.update(said.to_json() if said is not None else {"key": None, "params": {}})
                sys.stderr.write(json.dumps(line) + "\n")
                sys.stderr.flush()
                self._last, self._last_time = fraction, now
        elif self.style == "bar":
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=1000, file=sys.stderr, leave=False, dynamic_ncols=True,
                                 bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")
            self._bar.n = int(fraction * 1000)
            self._bar.set_description_str(message[:48], refresh=False)
            self._bar.refresh()

    def event(self, kind: str, **fields: Any) -> None:
        """A non-progress event (e.g. the audit ID once known) for jsonl readers."""
        if self.style == "jsonl":
            sys.stderr.write(json.dumps({"event": kind, **fields}) + "\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def default_style() -> str:
    return "bar" if sys.stderr.isatty() else "none"
