"""A check's declared presentation, read from the check registry without Qt or reportlab.

Each check class declares once, next to its code, how its results are shown: its dimension, the
charts its metrics get (auditor.checks.base.Chart), the (measured, baseline) pairs shown side by
side, and which per-layer metrics are indexed by block (step l -> l+1). Its title, meaning and
"why" are the catalogue sentences check.<id>.title / .meaning / .why, a chart's title is
chart.<id>.<name>, its value axis axis.<axis> and a series' name metric.<metric>.

The words for a dimension (dimension.<name>, its hint dimension.<name>.hint), a status (status.<value>) and
a perturbation variant (perturbation.kind.<kind>) come from the catalogue through the helpers below too.

The GUI and reports read that declaration here instead of importing the checks layer:

    shown = presentation("flow.pde")
    shown.title_in("ja"), shown.dimension, [c.kind for c in shown.charts], "pde_r2" in shown.step_metrics
"""
from __future__ import annotations

from dataclasses import dataclass, field

from auditor.checks.base import Chart
from auditor.messages import Message, has, render
from auditor.status import Status

__all__ = ["Chart", "CheckPresentation", "axis_label", "chart_title", "dimension_hint", "dimension_label", "metric_label",
           "presentation", "status_label", "variant_label"]


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


def dimension_label(dimension: str, lang: str) -> str:
    """dimension.<name> in `lang` (the name itself for a dimension the catalogue lacks)."""
    return render(Message(f"dimension.{dimension}"), lang, default=dimension)


def dimension_hint(dimension: str, lang: str) -> str:
    """What a dimension looks at, in one line (dimension.<name>.hint); '' where there is none."""
    return render(Message(f"dimension.{dimension}.hint"), lang, default="")


def status_label(status: str | Status | None, lang: str) -> str:
    """The plain word for a status (status.<value>), or status.none where there is no verdict."""
    key = f"status.{status}" if status else "status.none"
    return render(Message(key), lang, default=str(status))


def variant_label(key: str, lang: str) -> str:
    """A key of a per-variant metric in words: a perturbation `kind@size` (e.g. mask@0.10) as
    perturbation.kind.<kind> with its size, any other key as a metric name (or itself)."""
    kind, at, size = str(key).partition("@")
    if at and has(f"perturbation.kind.{kind}"):
        try:
            return render(Message(f"perturbation.kind.{kind}", {"size": float(size)}), lang)
        except ValueError:   # not a number after the @: show the key as stored
            return str(key)
    return metric_label(str(key), lang)
