"""A check's declared presentation, read from the check registry without Qt or reportlab.

Each check class declares once, next to its code, how its results are shown: its dimension, the
charts its metrics get (auditor.checks.base.Chart), the (measured, baseline) pairs shown side by
side, and which per-layer metrics are indexed by block (step l -> l+1). Its title, meaning and
"why" are the catalogue sentences check.<id>.title / .meaning / .why, a chart's title is
chart.<id>.<name>, its value axis axis.<axis> and a series' name metric.<metric>.

The GUI and reports read that declaration here instead of importing the checks layer:

    shown = presentation("flow.pde")
    shown.title_in("ja"), shown.dimension, [c.kind for c in shown.charts], "pde_r2" in shown.step_metrics
"""
from __future__ import annotations

from dataclasses import dataclass, field

from auditor.checks.base import Chart
from auditor.messages import Message, render

__all__ = ["Chart", "CheckPresentation", "axis_label", "chart_title", "metric_label", "presentation"]


@dataclass(frozen=True)
class CheckPresentation:
    """How one check is shown; a check this version does not know (a stored audit's) has no charts."""

    check_id: str
    dimension: str = ""
    charts: tuple[Chart, ...] = ()
    baselines: tuple[tuple[str, str], ...] = ()
    step_metrics: frozenset[str] = field(default_factory=frozenset)

    @property
    def title_key(self) -> str:
        return f"check.{self.check_id}.title"

    @property
    def meaning_key(self) -> str:
        return f"check.{self.check_id}.meaning"

    @property
    def why_key(self) -> str:
        return f"check.{self.check_id}.why"

    def title_in(self, lang: str) -> str:
        """The check's plain title; its id for a check whose title the catalogue does not hold."""
        return render(Message(self.title_key), lang, default=self.check_id)

    def meaning_in(self, lang: str) -> str:
        return render(Message(self.meaning_key), lang, default="")

    def why_in(self, lang: str) -> str:
        return render(Message(self.why_key), lang, default="")


def presentation(check_id: str) -> CheckPresentation:
    """The declared presentation of `check_id` (an empty one for an id no registered check has)."""
    from auditor.checks import registry

    checks = registry.load_all()
    cls = checks.get(check_id)
    if cls is None:   # stored by a version that had this check
        return CheckPresentation(check_id)
    return CheckPresentation(check_id=check_id, dimension=cls.dimension, charts=tuple(cls.charts),
                             baselines=tuple(cls.baselines), step_metrics=frozenset(cls.step_metrics))


def chart_title(check_id: str, chart: Chart, lang: str) -> str:
    """chart.<check id>.<name> in `lang` (the chart's name where the catalogue lacks it)."""
    return render(Message(f"chart.{check_id}.{chart.name}"), lang, default=chart.name)


def metric_label(metric: str, lang: str) -> str:
    """A metric's display name (metric.<name>); the metric's own name where the catalogue has none."""
    return render(Message(f"metric.{metric}"), lang, default=metric)


def axis_label(axis: str, lang: str) -> str:
    """axis.<axis> in `lang`; '' for a chart without a named value axis."""
    return render(Message(f"axis.{axis}"), lang, default=axis) if axis else ""
