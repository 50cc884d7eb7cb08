"""Where a running audit stands, in plain words: which phase, how long so far, about how long to go.

The worker's jsonl progress events carry a catalogue key and params (auditor.cli_progress); `phase_of`
maps them to the phases of auditor.estimate (start, load, capture, each check, store). `Tracker` holds
the estimate made before the run, learns how long each phase really took, and scales what is left by
how far off the estimate has been so far. No Qt here: the progress panel asks it on a timer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from auditor.estimate import Estimate
from auditor.messages import has, text

CHECK_TITLE = re.compile(r"^check\.(.+)\.title$")
LAYER = re.compile(r"layer (\d+)/(\d+)")
SLOWER_LIMIT, FASTER_LIMIT = 4.0, 0.25    # how far the measured pace may move the estimate
OVER_FACTOR, OVER_GRACE_S = 1.5, 2.0       # a phase past 1.5x its estimate + 2 s is "taking longer than estimated"


@dataclass
class Step:
    """One event's meaning: the phase it belongs to, and how far into that phase (None: not said)."""

    phase: str
    done: float | None = None
    count: tuple[int, int] | None = None     # (done, total) probes of the capture pass


def _inner_key(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("$message"), dict):
        return str(value["$message"].get("key") or "")
    return ""


def _inner_params(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and isinstance(value.get("$message"), dict):
        return dict(value["$message"].get("params") or {})
    return {}


def phase_of(event: dict[str, Any]) -> Step | None:
    """The phase a jsonl progress event reports, or None for an event this version does not know."""
    key = str(event.get("key") or "")
    params = event.get("params") or {}
    if key == "progress.audit.loading":
        return Step("load")
    if key == "progress.audit.storing":
        return Step("store")
    if key == "progress.audit.complete":
        return Step("store", 1.0)
    if key != "progress.step":
        return None
    step, detail = _inner_key(params.get("step")), params.get("detail")
    detail_key, detail_params = _inner_key(detail), _inner_params(detail)
    if step == "progress.capture":
        if detail_key == "progress.capture.probes":
            done, total = int(detail_params.get("done") or 0), int(detail_params.get("total") or 0)
            return Step("capture", done / total if total else None, (done, total))
        return Step("capture", 0.0)
    match = CHECK_TITLE.match(step)
    check = match.group(1) if match else str(_inner_params(params.get("step")).get("text") or "")
    if not check:
        return None
    if detail_key == "progress.check.running":
        return Step(check, 0.0)
    if detail_key == "progress.check.done":
        return Step(check, 1.0)
    if isinstance(detail_params.get("done"), int) and isinstance(detail_params.get("total"), int):
        total = detail_params["total"]   # a check's own pass over the probes (sanity.randomization)
        return Step(check, detail_params["done"] / total if total else None)
    layer = LAYER.search(str(detail_params.get("text") or ""))
    if layer:   # the information plane says "layer i/n" in its own words: only the numbers are used
        return Step(check, (int(layer.group(1)) + 1) / (int(layer.group(2)) + 1))
    return Step(check)


@dataclass
class Tracker:
    """The running audit's phase, elapsed time and remaining time against an estimate."""

    estimate: Estimate
    started: float
    checks: tuple[str, ...] = ()
    phase: str = "start"
    phase_started: float = 0.0
    done: float | None = None
    count: tuple[int, int] | None = None
    finished: dict[str, float] = field(default_factory=dict)     # phase -> measured seconds
    _shown: float = 0.0

    def __post_init__(self) -> None:
        self.phase_started = self.started
        self.order = ["start", "load", "capture", *self.checks, "store"]

    def update(self, event: dict[str, Any], now: float) -> None:
        step = phase_of(event)
        if step is None or step.phase not in self.order:
            return
        if step.phase != self.phase and self.order.index(step.phase) > self.order.index(self.phase):
            self.finished[self.phase] = now - self.phase_started
            self.phase, self.phase_started, self.count, self.done = step.phase, now, None, None
        if step.phase == self.phase:
            self.done = step.done if step.done is not None else self.done
            self.count = step.count or self.count

    def pace(self) -> float:
        """Measured over estimated seconds of the phases finished so far (1.0 before any)."""
        est = sum(self.estimate.seconds(k) for k in self.finished)
        real = sum(self.finished.values())
        if est < 1.0:
            return 1.0
        return min(max(real / est, FASTER_LIMIT), SLOWER_LIMIT)

    def remaining(self, now: float) -> float | None:
        """Seconds still to go; None when the current phase has run past every reasonable guess."""
        pace = self.pace()
        index = self.order.index(self.phase)
        later = sum(self.estimate.seconds(k) for k in self.order[index + 1:]) * pace
        in_phase = now - self.phase_started
        expected = self.estimate.seconds(self.phase) * pace
        if self.done is not None and self.done > 0.05 and in_phase > 0.2:
            current = in_phase * (1.0 - self.done) / self.done     # the phase's own count says how far it is
        elif in_phase <= expected * OVER_FACTOR + OVER_GRACE_S:
            current = max(expected - in_phase, 0.0)                 # a little late is not yet "longer"
        else:
            return None
        return max(0.0, current) + later

    def fraction(self, now: float) -> float:
        """Elapsed over elapsed plus remaining, never going backwards (a bar that jumps back is not trusted)."""
        elapsed = now - self.started
        left = self.remaining(now)
        if left is None:
            value = self._shown
        else:
            value = elapsed / max(elapsed + left, 1e-6)
        self._shown = min(max(self._shown, value), 0.99)
        return self._shown


def phase_text(tracker: Tracker, lang: str) -> str:
    """The current phase in plain words: loading the model, capturing layers, a check by its title."""
    phase = tracker.phase
    if phase in ("start", "load", "store"):
        return text(f"gui.new.phase.{phase}", lang)
    if phase == "capture":
        if tracker.count and tracker.count[1]:
            return text("gui.new.phase.capture_count", lang, done=tracker.count[0], total=tracker.count[1])
        return text("gui.new.phase.capture", lang)
    title = text(f"check.{phase}.title", lang) if has(f"check.{phase}.title") else phase
    index = tracker.checks.index(phase) + 1 if phase in tracker.checks else 0
    return text("gui.new.phase.check", lang, index=index, count=len(tracker.checks), title=title)


def duration_words(seconds: float, lang: str) -> str:
    """About how long, rounded as people say it: "about 40 s", "about 3 min", "about 1 h 10 min"."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return text("gui.new.time.seconds_few", lang)
    if seconds < 60:
        return text("gui.new.time.seconds", lang, n=int(seconds / 5.0 + 0.5) * 5)
    minutes = int(seconds / 60.0 + 0.5)     # half a minute rounds up (round() would round 2.5 to 2)
    if minutes < 60:
        return text("gui.new.time.minutes", lang, n=max(1, minutes))
    return text("gui.new.time.hours", lang, h=minutes // 60, m=minutes % 60)


def clock(seconds: float) -> str:
    """Elapsed time as m:ss (h:mm:ss past an hour), the same in every language."""
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def timing_text(tracker: Tracker, now: float, lang: str) -> str:
    """"Elapsed 0:42 · about 1 min left", or "· taking longer than estimated" past the estimate."""
    left = tracker.remaining(now)
    elapsed = clock(now - tracker.started)
    if left is None:
        return text("gui.new.time.over", lang, elapsed=elapsed)
    return text("gui.new.time.running", lang, elapsed=elapsed, left=duration_words(left, lang))


def estimate_text(estimate: Estimate, lang: str) -> str:
    """The estimate before a run: total, what it is for, and what it rests on."""
    basis = (text("gui.new.estimate.history", lang, n=estimate.samples) if estimate.samples
             else text("gui.new.estimate.defaults", lang))
    if estimate.parameters:
        return text("gui.new.estimate.line", lang, time=duration_words(estimate.total, lang),
                    probes=estimate.probes, parameters=estimate.parameters, basis=basis)
    return text("gui.new.estimate.no_model", lang, time=duration_words(estimate.total, lang),
                probes=estimate.probes, basis=basis)


_probe_counts: dict[str, int] = {}


def probe_count(spec: str) -> int:
    """How many probes a probe spec holds (read once per spec; the built-in sets load in well under a second)."""
    if spec not in _probe_counts:
        from auditor.probes import load_probes

        _probe_counts[spec] = int(load_probes(spec).count)
    return _probe_counts[spec]


def plan_estimate(db: str | None, template: Any, probes: str, limit: int | None, info: dict[str, Any] | None,
                  device: str) -> Estimate:
    """The estimate for a run of `template` on `probes` (at most `limit`) and the previewed model `info`,
    from the database's earlier audits (auditor.estimate). Reads files: call it off the UI thread."""
    from auditor.estimate import Plan, estimate, history

    count = probe_count(probes)
    plan = Plan(checks=tuple(c.id for c in template.checks), probes=min(count, limit) if limit else count,
                parameters=(info or {}).get("parameters"), template=template.name,
                model_sha256=(info or {}).get("sha256"), device=device)
    return estimate(plan, history(db))


def default_estimate(template: Any, limit: int | None) -> Estimate:
    """The defaults-only estimate, with no file read: for a run started before the real one was ready."""
    from auditor.estimate import REFERENCE, Plan, estimate

    return estimate(Plan(checks=tuple(c.id for c in template.checks), probes=limit or REFERENCE["probes"]))
