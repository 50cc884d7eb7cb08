"""The progress of a running audit as people read it: a bar, the phase in plain words, elapsed and remaining.

Running: the bar is time-weighted (elapsed over elapsed plus the estimated remainder, gui.estimate.Tracker),
so it moves while the model loads instead of sitting at 1%. Cancelling: busy bar and "Cancelling…" at
once, until the worker process has ended. Ended: the bar is full and says how it ended (completed,
cancelled, failed) in the colours of gui.theme, never a bar left at 30% that looks stalled.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from auditor.estimate import Estimate
from gui.estimate import Tracker, clock, phase_text, timing_text
from gui.state import AppState
from gui.theme import BACKGROUNDS, COLOURS

TICK_MS = 500
# each end state in a status colour pair of gui.theme (text on its background: contrast >= 4.5:1)
END_STYLE = {"completed": "pass", "cancelled": "info", "failed": "fail", "cancelling": "info"}
END_SYMBOL = {"completed": "✓", "cancelled": "–", "failed": "✗", "cancelling": ""}


def bar_style(mode: str) -> str:
    """The bar's stylesheet for a final or cancelling state; "" (the platform look) while running."""
    status = END_STYLE.get(mode)
    if status is None:
        return ""
    fg, bg = COLOURS[status], BACKGROUNDS[status]
    return (f"QProgressBar {{border:1px solid {fg}; border-radius:3px; text-align:center; color:{fg};"
            f" background:{bg}; font-weight:bold;}} QProgressBar::chunk {{background:{bg};}}")


class ProgressPanel(QWidget):
    """Bar above; the phase on the left and the time on the right below it."""

    def __init__(self, state: AppState, clock_fn: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.state = state
        self.now = clock_fn
        self.mode = "idle"
        self.tracker: Tracker | None = None
        self._idle: Callable[[], str] = lambda: ""
        self._final: Callable[[], str] = lambda: ""
        self._took = 0.0
        self.bar = QProgressBar(maximum=1000, textVisible=True)
        self.bar.setValue(0)
        self.phase = QLabel(wordWrap=True)
        self.timing = QLabel()
        self.timing.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.timer = QTimer(self, interval=TICK_MS)
        self.timer.timeout.connect(self._tick)
        lines = QHBoxLayout()
        lines.setContentsMargins(0, 0, 0, 0)
        lines.addWidget(self.phase, 1)
        lines.addWidget(self.timing)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addLayout(lines)
        self.retranslate()

    # ---- states
    def show_idle(self, text: Callable[[], str]) -> None:
        """Before a run (or after one, once the form changes): an empty bar and one line of guidance."""
        if self.mode in ("running", "cancelling"):
            return
        self.mode, self._idle = "idle", text
        self.timer.stop()
        self.bar.setStyleSheet("")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.retranslate()

    def begin(self, estimate: Estimate, checks: tuple[str, ...]) -> None:
        self.mode = "running"
        self.tracker = Tracker(estimate, self.now(), checks)
        self.bar.setStyleSheet("")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.timer.start()
        self._tick()

    def advance(self, event: dict[str, Any]) -> None:
        """A jsonl progress event from the worker (not `event`: that name is QWidget's event handler)."""
        if self.tracker is not None and self.mode == "running":
            self.tracker.update(event, self.now())
            self._tick()

    def cancelling(self) -> None:
        """Shown the moment Cancel is pressed, until the worker process has ended."""
        if self.mode != "running":
            return
        self.mode = "cancelling"
        self.bar.setRange(0, 0)      # busy: the audit stops at its next safe point, how soon is not known
        self.bar.setStyleSheet(bar_style("cancelling"))
        self.retranslate()

    def finish(self, mode: str, text: Callable[[], str]) -> None:
        """completed | cancelled | failed: a full bar that says so, and the final sentence below it."""
        self.timer.stop()
        self._took = self.now() - self.tracker.started if self.tracker is not None else 0.0
        self.mode, self._final = mode, text
        self.bar.setRange(0, 1000)
        self.bar.setValue(1000)
        self.bar.setStyleSheet(bar_style(mode))
        self.retranslate()

    # ---- texts
    def retranslate(self) -> None:
        t = self.state.tr
        self.bar.setAccessibleName(t("gui.new.a11y.bar"))
        self.phase.setAccessibleName(t("gui.new.a11y.phase"))
        self.timing.setAccessibleName(t("gui.new.a11y.timing"))
        if self.mode == "idle":
            self.phase.setText(self._idle())
            self.timing.setText("")
        elif self.mode == "cancelling":
            self.bar.setFormat(t("gui.new.bar.cancelling"))
            self.phase.setText(t("gui.new.phase.cancelling"))
            self._tick()
        elif self.mode in END_STYLE:
            self.bar.setFormat(f"{END_SYMBOL[self.mode]} {t(f'gui.new.bar.{self.mode}')}".strip())
            self.phase.setText(self._final())
            self.timing.setText(t("gui.new.time.final", elapsed=clock(self._took)) if self.tracker else "")
        else:
            self._tick()
        self.bar.setAccessibleDescription(self.phase.text())

    def _tick(self) -> None:
        if self.tracker is None:
            return
        now = self.now()
        if self.mode == "running":
            value = self.tracker.fraction(now)
            self.bar.setValue(int(value * 1000))
            self.bar.setFormat(f"{value * 100:.0f}%")
            self.phase.setText(phase_text(self.tracker, self.state.lang))
            self.bar.setAccessibleDescription(self.phase.text())
        if self.mode == "running":
            self.timing.setText(timing_text(self.tracker, now, self.state.lang))
        elif self.mode == "cancelling":   # no time left to promise: the run is ending
            self.timing.setText(self.state.tr("gui.new.time.elapsed", elapsed=clock(now - self.tracker.started)))
