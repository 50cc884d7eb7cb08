"""Check, CheckResult and the context a check runs in (docs/ARCHITECTURE.md, Core contracts)."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from auditor.messages import Message, render, verbatim
from auditor.models.base import Capability, ModelIdentity
from auditor.progress import Progress, never, no_progress
from auditor.trace import Trace, TraceBatch

OUTCOMES = ("ok", "skipped", "error")   # how a check's run ended; its status comes from conditions


@dataclass(frozen=True)
class CheckResult:
    """Plain, JSON-serialisable result of one check. No HTML, Qt or reportlab inside.

    `sentences` state what the check found as catalogue messages (auditor.messages); `summary` is
    their English rendering, kept because `show --json` has always printed it. Reports and the GUI
    render `sentences` in the reader's language and never parse `summary`.
    """

    check_id: str
    outcome: str                               # ok | skipped | error
    summary: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)   # chart data, details
    duration_s: float = 0.0
    sentences: tuple[Message, ...] = ()
    # 95% intervals (bootstrap over probes, auditor.estimators.bootstrap) of thresholded metrics:
    # {metric: {"ci_low": v, "ci_high": v}} with v shaped like the metric (scalar or per-layer list);
    # for a metric with variants {metric: {variant: {"ci_low": v, "ci_high": v}}}
    intervals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sentences and not self.summary:
            object.__setattr__(self, "summary", render(self.sentences, "en"))
        if self.intervals:   # plain JSON data like the metrics (NaN/inf -> None), whoever built the result
            object.__setattr__(self, "intervals", clean_metrics(self.intervals))

    @classmethod
    def skipped(cls, check_id: str, *reasons: Message) -> CheckResult:
        return cls(check_id=check_id, outcome="skipped", sentences=(Message("check.skipped", {"reasons": reasons}),))

    @classmethod
    def error(cls, check_id: str, detail: str, duration_s: float = 0.0) -> CheckResult:
        """A check that raised: `detail` is the exception's own text, shown as it is in every language."""
        return cls(check_id=check_id, outcome="error", duration_s=duration_s,
                   sentences=(Message("check.error", {"detail": verbatim(detail)}),))


@dataclass(frozen=True)
class Chart:
    """One chart a check's figures get in reports and the GUI (the check declares them; see Check.charts).

    The title is the catalogue sentence `chart.<check id>.<name>`; `axis` names the value axis's
    catalogue sentence `axis.<axis>` ('' for none). `kind`: line (per-layer series, one per metric),
    heatmap (a [layer][head] grid), plane (the information plane path), bars (a mapping of names to
    values), shares (stacked per-step shares).
    """

    name: str
    metrics: tuple[str, ...]
    kind: str = "line"
    axis: str = ""


class Accumulator(Protocol):
    """Statistics a check gathers batch by batch during the one capture pass."""

    def update(self, batch: TraceBatch) -> None: ...


@dataclass
class AuditContext:
    """Everything a check may read. Checks do not run the model again unless their method must."""

    identity: ModelIdentity
    capabilities: frozenset[Capability]
    trace: Trace
    probes: Any                                # ProbeSet
    model_path: Path
    seed: int = 0
    device: str = "cpu"
    adapter: Any = None                        # the ModelAdapter, for checks that must re-run it
    accumulators: dict[str, Accumulator] = field(default_factory=dict)
    progress: Progress = no_progress
    should_stop: Callable[[], bool] = never
    # the held-out split (auditor.splits): fit on the first, score on the second; the capture pass
    # runs every fit probe before any scored probe
    split: tuple[np.ndarray, np.ndarray] | None = None
    # the same model in another format (--reference), for artifact.parity; None when not given
    reference: Any = None
    # per-audit objects several checks share (e.g. the gradient task and its probe head), by name
    shared: dict[str, Any] = field(default_factory=dict)

    def fit_score_split(self) -> tuple[np.ndarray, np.ndarray]:
        if self.split is None:
            from auditor.splits import split_indices

            count = getattr(self.probes, "count", self.trace.count)
            self.split = split_indices(count, getattr(self.probes, "labels", None), seed=self.seed)
        return self.split


class Check:
    """A configured check. Subclasses set `id`, `requires`, `metric_names` and implement `run`."""

    id: ClassVar[str] = ""
    # its title and one-sentence meaning are catalogue sentences check.<id>.title and check.<id>.meaning
    dimension: ClassVar[str] = ""               # flow | retention | robustness | trainability | transparency | integrity
    charts: ClassVar[tuple[Chart, ...]] = ()    # the charts reports and the GUI draw from its metrics
    baselines: ClassVar[tuple[tuple[str, str], ...]] = ()   # (measured, baseline) pairs shown side by side
    requires: ClassVar[frozenset[Capability]] = frozenset()
    metric_names: ClassVar[frozenset[str]] = frozenset()
    step_metrics: ClassVar[frozenset[str]] = frozenset()   # [L] lists indexed by block (step l -> l+1)
    captures: ClassVar[frozenset[Capability]] = frozenset()   # capture points it reads: hidden, attentions, logits
    # True when `run` reads ctx.trace.batches (whole tensors); streaming checks leave it False so
    # large probe sets never hold every [N, T, d] tensor in memory
    needs_batches: ClassVar[bool] = False
    # False for static checks of the file, whose figures do not depend on the probes (auditor.comparability)
    feeds_probes: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.parameters())
        if unknown:
            raise ValueError(f"unknown parameter(s) for {self.id}: {', '.join(sorted(unknown))}")
        self.params = {**self.parameters(), **params}

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """Parameter names and defaults a template may set."""
        return {}

    def accumulator(self, ctx: AuditContext) -> Accumulator | None:
        """Streamed statistics for the capture pass, or None if the check needs none."""
        return None

    def skip_reason(self, ctx: AuditContext) -> Message | None:
        """Why this model cannot be checked, beyond missing capabilities (None: it can)."""
        return None

    def run(self, ctx: AuditContext) -> CheckResult:
        raise NotImplementedError


def clean_metric(value: Any) -> Any:
    """A metric value as plain JSON data: floats, nested lists, dicts by variant; NaN/inf -> None."""
    if isinstance(value, np.ndarray):
        return clean_metric(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): clean_metric(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_metric(v) for v in value]
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    raise TypeError(f"metric values must be numbers, lists or dicts, not {type(value).__name__}")


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {str(name): clean_metric(value) for name, value in metrics.items()}


def clean_evidence(value: Any) -> Any:
    """Evidence as plain JSON data: numpy to Python, NaN/inf -> None, strings and booleans kept."""
    if isinstance(value, np.ndarray):
        return clean_evidence(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): clean_evidence(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean_evidence(v) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Path):
        return str(value)
    return str(value)
