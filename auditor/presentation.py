"""A check's declared presentation, read from the check registry without Qt or reportlab.

Each check class declares once, next to its code, how its results are shown: its dimension, the
charts its metrics get (auditor.checks.base.Chart), the (measured, baseline) pairs shown side by
side, and which per-layer metrics are indexed by block (step l -> l+1). Its title, meaning and
"why" are the catalogue sentences check.<id>.title / .meaning / .why, a chart's title is
chart.<id>.<name>, its value axis axis.<axis> and a series' name metric.<metric>.

The words for a dimension (dimension.<name>, its hint dimension.<name>.hint), a status (status.<value>) and
a perturbation variant (perturbation.kind.<kind>) come from the catalogue through the helpers below too, and
so do the words both front ends share (templates/sentences/presentation.yaml): a figure's 95% interval beside
its value (interval.*), the missing-evidence block grouped from the inconclusive findings (missing.*), the
audit's run state (audit.status.*), trends (trend.*) and sign-off roles and decisions (signoff.*).

The GUI and reports read that declaration here instead of importing the checks layer:

    shown = presentation("flow.pde")
    shown.title_in("ja"), shown.dimension, [c.kind for c in shown.charts], "pde_r2" in shown.step_metrics
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.checks.base import Chart
from auditor.messages import Message, has, render, verbatim
from auditor.status import Status
from auditor.views import CheckView, FindingView

__all__ = ["AUDIT_SCOPE", "Chart", "CheckPresentation", "Missing", "audit_status_label", "axis_label", "chart_title",
           "decision_label", "dimension_hint", "dimension_label", "figure_interval", "interval_bounds", "interval_range",
           "layer_band", "metric_label", "missing_evidence", "missing_reason", "presentation", "role_label",
           "scope_label", "status_label", "trend_label", "variant_label", "with_interval"]

AUDIT_SCOPE = "audit"          # the check_id of findings about the audit as a whole (auditor.findings)
Interval = tuple[float, float]


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
    perturbation.kind.<kind> with its size, a protected attribute of the counterfactual pairs (or `overall`)
    as counterfactual.attribute.<key> where no metric has that name, any other key as a metric name (or itself)."""
    kind, at, size = str(key).partition("@")
    if at and has(f"perturbation.kind.{kind}"):
        try:
            return render(Message(f"perturbation.kind.{kind}", {"size": float(size)}), lang)
        except ValueError:   # not a number after the @: show the key as stored
            return str(key)
    if not has(f"metric.{key}") and has(f"counterfactual.attribute.{key}"):
        return render(Message(f"counterfactual.attribute.{key}"), lang)
    return metric_label(str(key), lang)


# ---------------------------------------------------------------- a figure's 95% interval beside its value

def _interval(interval: Interval) -> Message:
    """'95% CI 0.297 to 0.319': finding.interval, the findings' own words for an interval."""
    return Message("finding.interval", {"low": interval[0], "high": interval[1]})


def interval_range(interval: Interval | None, lang: str, where: Message | None = None) -> str:
    """'95% CI 0.297 to 0.319' ('layer 3: 95% CI …' with a place); '' where no interval is stored."""
    if interval is None:
        return ""
    return render(Message("interval.range_at", {"place": where, "interval": _interval(interval)})
                  if where is not None else _interval(interval), lang)


def interval_bounds(interval: Interval | None, lang: str) -> str:
    """'0.297–0.319' for a column headed interval.heading (95% CI); '' where no interval is stored."""
    return "" if interval is None else render(Message("interval.bounds", {"low": interval[0], "high": interval[1]}),
                                              lang)


def with_interval(value: float, interval: Interval | None, lang: str, where: Message | None = None) -> str:
    """A number explained in words: '0.309 (95% CI 0.297 to 0.319)', '0.742 at layer 3 (95% CI …)'; the
    value alone (3 significant digits) where no interval is stored."""
    if interval is None:
        return f"{value:.3g}" if where is None else f"{value:.3g} ({render(where, lang)})"
    params = {"value": value, "interval": _interval(interval)}
    if where is not None:
        return render(Message("interval.value_at", {**params, "place": where}), lang)
    return render(Message("interval.value", params), lang)


def layer_band(check: CheckView, metric: str, count: int, variant: str | None = None
               ) -> tuple[list[float | None], list[float | None]] | None:
    """The stored per-layer 95% interval of a list metric as (lows, highs), `count` long (None where a layer has
    none); None where the metric has no per-layer interval at all."""
    pairs = [check.interval(metric, layer, variant) for layer in range(count)]
    if not any(pairs):
        return None
    return [p[0] if p else None for p in pairs], [p[1] if p else None for p in pairs]


def figure_interval(check: CheckView, finding: FindingView) -> Interval | None:
    """The 95% interval of the figure a rule decided on (at its layer for a placed reducer), where stored."""
    variant = finding.condition.get("variant")
    if finding.metric is None or finding.value is None:
        return None
    return check.interval(finding.metric, finding.layer, str(variant) if variant else None)


# ---------------------------------------------------------------- what evidence is missing and how to get it

@dataclass
class Missing:
    """One cause of an inconclusive verdict: what is missing, why, how to get it, and where (check ids)."""

    title: str
    reason: str
    action: str
    scopes: list[str] = field(default_factory=list)   # check ids (AUDIT_SCOPE for the audit as a whole)


def missing_reason(finding: FindingView, lang: str) -> str:
    """Why the evidence is missing, without what the title already says: a required check's own skip or
    error sentence, the reason a figure is not decided without the figure (so two rules of one check
    with one cause read once); an audit stored before the catalogue shows its stored English."""
    first = finding.sentences[0] if finding.sentences else None
    if first is None:
        return finding.detail
    if first.key == "finding.required_missing":
        parts = [_why_not_run(r, lang, finding.detail) for r in first.params.get("reasons") or ()]
        return render([verbatim(p) for p in parts], lang)   # joined by the language's clause separator
    if first.key == "finding.not_decided":
        return render(first.params["reason"], lang, default=finding.detail)
    return finding.detail_in(lang)


def _why_not_run(reason: Any, lang: str, stored: str) -> str:
    """'did not run: <the check's reasons>' / 'failed to run: <its error>' / that the template lacked it."""
    key, params = getattr(reason, "key", ""), getattr(reason, "params", {})
    if key == "check.skipped":
        why = render(list(params.get("reasons") or ()), lang, default=stored)
        return render(Message("missing.not_run", {"why": verbatim(why)}), lang)
    if key == "check.error" and "detail" in params:
        why = render(params["detail"], lang, default=stored)
        return render(Message("missing.failed", {"why": verbatim(why)}), lang)
    return render(reason, lang, default=stored)


def missing_evidence(findings: Iterable[FindingView], lang: str) -> list[Missing]:
    """The inconclusive findings grouped by (title, reason, action), audit-wide causes first."""
    groups: dict[tuple[str, str, str], Missing] = {}
    found = [f for f in findings if f.severity is Status.INCONCLUSIVE]
    for f in sorted(found, key=lambda f: f.check_id != AUDIT_SCOPE):
        title, reason, action = f.title_in(lang), missing_reason(f, lang), f.action_in(lang)
        entry = groups.setdefault((title, reason, action), Missing(title, reason, action))
        scope = f.check_id or AUDIT_SCOPE
        if scope not in entry.scopes:
            entry.scopes.append(scope)
    return list(groups.values())


def scope_label(check_id: str, lang: str) -> str:
    """'Audit as a whole' (scope.audit) for audit-wide findings, else the check's plain title."""
    return render(Message("scope.audit"), lang) if check_id == AUDIT_SCOPE else presentation(check_id).title_in(lang)


# ---------------------------------------------------------------- run states, trends, sign-off words

def audit_status_label(status: str | None, lang: str) -> str:
    """How an audit's run ended (audit.status.<state>): completed, still running, failed, ..."""
    return render(Message(f"audit.status.{status}"), lang, default=str(status or ""))


def trend_label(trend: str | None, lang: str, *, previous: bool = False) -> str:
    """A rating's trend in words (trend.better/worse/same); without one, 'first audit of this model', or,
    when an earlier audit exists (`previous`), that the dimension was not measured in both."""
    key = f"trend.{trend}" if trend else ("trend.unmeasured" if previous else "trend.first")
    return render(Message(key), lang, default=str(trend or ""))


def role_label(role: str | None, lang: str) -> str:
    """A sign-off role (signoff.role.<role>): preparer, reviewer (審査者), approver; the role itself if unknown."""
    return render(Message(f"signoff.role.{role}"), lang, default=str(role or ""))


DECISIONS = {"approve": "approve", "approve with conditions": "conditions", "reject": "reject"}


def decision_label(decision: str | None, lang: str) -> str:
    """A sign-off decision as stored ('approve', 'approve with conditions', 'reject') in words."""
    code = DECISIONS.get(str(decision or ""))
    return render(Message(f"signoff.decision.{code}"), lang) if code else str(decision or "")
