"""Conditions: named, serialisable rules written in templates as data.

    {condition: below, metric: update_ratio, reduce: min, warn: 0.02, fail: 0.005}

`below` warns when the reduced value falls under `warn` and fails under `fail`; `above` is the
mirror. A condition with an `info` threshold instead marks an efficiency opportunity: crossing it
gives an informational finding, never a warning. A metric that is null as a whole (the method
does not apply to this model, e.g. head importance without gradients) is `not_applicable`: an
informational finding that names the reason, not counted in any verdict. Reducers turn a per-layer (or per-layer-per-head) list into one number; `any_layer`
takes the worst layer for the rule's direction and reports which layer it was. A variant
metric (a dict such as {"mask@0.10": 0.93}) needs `variant:` naming the key.

Where the check gave a 95% interval for the figure (CheckResult.intervals; for a reduced per-layer
metric, the interval at the layer the reducer picks) the rule's `decide_on` says how it is used:
`interval` (the default) decides only when the interval and the value fall on the same side of every
threshold, else the rule is `inconclusive` (add probes to decide); `pessimistic` decides on the bound on
the unsafe side (the lower bound of a `below` rule, the upper of an `above` rule); `point` decides on
the value alone. Efficiency rules (`info`) never change a verdict and decide on the value.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from auditor import condition_text as wording
from auditor.messages import Message, render, verbatim
from auditor.status import Status, worst
from auditor.text import fold

__all__ = ["DECIDE_ON", "REDUCERS", "Condition", "Outcome", "RuleProblem", "Status", "interval_of", "parse_condition",
           "parse_decide_on", "worst"]


class RuleProblem(ValueError):
    """A rule that cannot be evaluated on the stored figures, with the reason as a catalogue message."""

    def __init__(self, key: str, **params: Any) -> None:
        self.sentence = Message(key, params)
        super().__init__(render(self.sentence, "en"))


def _all_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list):
        return all(_all_null(v) for v in value)
    return False


def _flatten(value: Any) -> list[tuple[int | None, float | None]]:
    """(layer, number) pairs from a scalar, a [L] list or a [L][H] nested list."""
    if isinstance(value, list):
        pairs: list[tuple[int | None, float | None]] = []
        for layer, item in enumerate(value):
            items = item if isinstance(item, list) else [item]
            pairs += [(layer, v) for v in items]
        return pairs
    return [(None, value)]


def _numbers(value: Any) -> list[tuple[int | None, float]]:
    pairs = [(layer, v) for layer, v in _flatten(value) if v is not None]
    if not pairs:
        raise RuleProblem("condition.problem.no_value")
    return pairs  # type: ignore[return-value]


def _drop_from_peak(value: Any, _direction: str) -> tuple[float, int | None]:
    """Relative fall of the last value below the peak: (max - last) / |max|."""
    pairs = _numbers(value)
    peak = max(v for _, v in pairs)
    last = pairs[-1][1]
    return ((peak - last) / abs(peak) if peak else 0.0), pairs[-1][0]


def _any_layer(value: Any, direction: str) -> tuple[float, int | None]:
    pairs = _numbers(value)
    layer, number = (min if direction == "below" else max)(pairs, key=lambda p: p[1])
    return number, layer


REDUCERS: dict[str, Callable[[Any, str], tuple[float, int | None]]] = {
    "min": lambda v, _d: min(((n, layer) for layer, n in _numbers(v)), key=lambda p: p[0]),
    "max": lambda v, _d: max(((n, layer) for layer, n in _numbers(v)), key=lambda p: p[0]),
    "mean": lambda v, _d: (sum(n for _, n in _numbers(v)) / len(_numbers(v)), None),
    "last": lambda v, _d: (_numbers(v)[-1][1], _numbers(v)[-1][0]),
    "first": lambda v, _d: (_numbers(v)[0][1], _numbers(v)[0][0]),
    "drop_from_peak": _drop_from_peak,
    "any_layer": _any_layer,
}
KINDS = ("below", "above")
DECIDE_ON = ("interval", "point", "pessimistic")


def interval_of(intervals: Mapping[str, Any] | None, metric: str, variant: str | None,
                layer: int | None) -> tuple[float, float] | None:
    """(low, high) of a metric's stored interval (of `variant`, at `layer`), or None where there is none."""
    entry = (intervals or {}).get(metric)
    if isinstance(entry, Mapping) and variant is not None and "ci_low" not in entry:
        entry = entry.get(variant)
    if not isinstance(entry, Mapping):
        return None
    bounds = []
    for name in ("ci_low", "ci_high"):
        value = entry.get(name)
        if isinstance(value, list):
            value = value[layer] if layer is not None and 0 <= layer < len(value) else None
        if isinstance(value, list) or not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        bounds.append(float(value))
    return (bounds[0], bounds[1]) if bounds[0] <= bounds[1] else None


@dataclass(frozen=True)
class Outcome:
    """How a rule came out. `sentence` states it as a catalogue message (the measured value, or why the rule
    was not applicable, not decided or not evaluated); `message` is its English rendering."""

    status: str                      # a Status: pass | warn | fail | error | info | not_applicable | inconclusive
    value: float | None = None
    layer: int | None = None
    message: str = ""
    sentence: Message | None = None
    interval: tuple[float, float] | None = None   # the figure's 95% interval, where the check gave one
    straddled: float | None = None                # the threshold the interval straddles (then inconclusive)

    @classmethod
    def stated(cls, status: str, sentence: Message, value: float | None = None, layer: int | None = None,
               interval: tuple[float, float] | None = None, straddled: float | None = None) -> Outcome:
        return cls(status, value, layer, render(sentence, "en"), sentence, interval, straddled)


@dataclass(frozen=True)
class Condition:
    condition: str                   # below | above
    metric: str
    warn: float | None = None
    fail: float | None = None
    info: float | None = None        # efficiency-opportunity threshold (informational)
    reduce: str | None = None        # required for list metrics
    variant: str | None = None       # required for dict metrics
    finding: str = ""                # key into the catalogue of meanings
    clauses: tuple[str, ...] = ()
    rationale: str = ""
    rationale_ja: str = ""
    title: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    decide_on: str | None = None     # interval | point | pessimistic; None: the template's (default interval)

    def threshold_text(self, lang: str = "en") -> str:
        """'warn below 0.15, fail below 0.05' (auditor.condition_text.thresholds, rendered)."""
        return render(wording.thresholds(self), lang)

    def describe_value(self, lang: str = "en") -> str:
        """'pde_r2 (any_layer)' (auditor.condition_text.measured_name, rendered)."""
        return render(wording.measured_name(self), lang)

    def evaluate(self, metrics: Mapping[str, Any], insufficient: Mapping[str, Any] | None = None,
                 intervals: Mapping[str, Any] | None = None, decide_on: str | None = None) -> Outcome:
        """Never raises: a problem computing the rule is an `error` outcome with its reason.

        `insufficient` maps metric names to the reason the check found its own evidence too thin
        to decide on (a split too small to score, an undefined chance level): such a rule is
        `inconclusive` whatever the number says. A reason is a Message, a stored one
        ({"key": …, "params": …}) or plain text (quoted as it is). `intervals` are the check's
        (CheckResult.intervals); `decide_on` the template's default for rules that name none.
        """
        name = wording.measured_name(self)
        reason = wording.as_message((insufficient or {}).get(self.metric))
        if reason is not None:
            return Outcome.stated(Status.INCONCLUSIVE, Message("finding.not_decided", {"name": name, "reason": reason}))
        try:
            return self._evaluate(metrics, intervals, self.decide_on or decide_on or "interval")
        except Exception as exc:  # a broken rule must not crash the audit (docs/ARCHITECTURE.md)
            problem = exc.sentence if isinstance(exc, RuleProblem) else verbatim(str(exc))
            return Outcome.stated(Status.ERROR, Message("finding.condition_error", {"name": name, "problem": problem}))

    def _evaluate(self, metrics: Mapping[str, Any], intervals: Mapping[str, Any] | None, mode: str) -> Outcome:
        if self.metric not in metrics:
            raise RuleProblem("condition.problem.no_metric", metric=self.metric)
        value = metrics[self.metric]
        if isinstance(value, dict):
            if self.variant is None or self.variant not in value:
                raise RuleProblem("condition.problem.no_variant", variant=str(self.variant), known=str(sorted(value)))
            value = value[self.variant]
        if _all_null(value):
            return Outcome.stated(Status.NOT_APPLICABLE,
                                  Message("finding.not_applicable", {"name": wording.measured_name(self)}))
        layer = None
        if isinstance(value, list):
            if not self.reduce:
                raise RuleProblem("condition.problem.needs_reducer")
            number, layer = REDUCERS[self.reduce](value, self.condition)
        else:
            number = float(value)
        # a reducer that mixes layers (mean, drop_from_peak) has no one layer whose interval applies
        placed = not isinstance(value, list) or layer is not None
        bounds = interval_of(intervals, self.metric, self.variant, layer) if placed else None
        return self._decide(float(number), layer, bounds, mode)

    def status_at(self, number: float) -> Status:
        """The status the thresholds give a number."""
        crossed = (lambda t: number < t) if self.condition == "below" else (lambda t: number > t)
        if self.fail is not None and crossed(self.fail):
            return Status.FAIL
        if self.warn is not None and crossed(self.warn):
            return Status.WARN
        if self.info is not None and crossed(self.info):
            return Status.INFO
        return Status.PASS

    def _decide(self, number: float, layer: int | None, bounds: tuple[float, float] | None, mode: str) -> Outcome:
        name = wording.measured_name(self)
        if bounds is None:
            measured = Message("finding.measured", {"name": name, "value": number})
            return Outcome.stated(self.status_at(number), measured, number, layer)
        interval = Message("finding.interval", {"low": bounds[0], "high": bounds[1]})
        if mode == "pessimistic" and self.info is None:
            unsafe = bounds[0] if self.condition == "below" else bounds[1]
            measured = Message("finding.measured_pessimistic", {"name": name, "value": number, "interval": interval,
                                                               "bound": unsafe})
            return Outcome.stated(self.status_at(unsafe), measured, number, layer, bounds)
        measured = Message("finding.measured_interval", {"name": name, "value": number, "interval": interval})
        statuses = {self.status_at(x) for x in (number, *bounds)}
        if mode == "point" or self.info is not None or len(statuses) == 1:
            return Outcome.stated(self.status_at(number), measured, number, layer, bounds)
        low, high = min(number, *bounds), max(number, *bounds)
        inside = [t for t in (self.fail, self.warn) if t is not None and low <= t <= high]
        threshold = min(inside, key=lambda t: abs(t - number)) if inside else float(self.warn or self.fail or 0.0)
        said = Message("finding.straddles", {"name": name, "value": number, "interval": interval,
                                             "threshold": threshold})
        return Outcome.stated(Status.INCONCLUSIVE, said, number, layer, bounds, threshold)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clauses"] = list(self.clauses)
        data["extra"] = dict(self.extra)
        return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def parse_condition(data: Mapping[str, Any], where: str) -> Condition:
    """A Condition from template data; ValueError naming `where` and the problem."""
    known = {"condition", "metric", "warn", "fail", "info", "reduce", "variant", "finding", "clauses", "rationale",
             "rationale_ja", "title", "decide_on"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    kind = data.get("condition")
    if kind not in KINDS:
        raise ValueError(f"{where}: condition must be one of {', '.join(KINDS)}, not {kind!r}")
    metric = data.get("metric")
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"{where}: a condition needs a metric name")
    reduce = data.get("reduce")
    if reduce is not None and reduce not in REDUCERS:
        raise ValueError(f"{where}: unknown reducer {reduce!r} (use {', '.join(REDUCERS)})")
    warn, fail, info = (_threshold(data.get(k), f"{where}: {k}") for k in ("warn", "fail", "info"))
    if warn is None and fail is None and info is None:
        raise ValueError(f"{where}: a condition needs a warn, fail or info threshold")
    if info is not None and (warn is not None or fail is not None):
        raise ValueError(f"{where}: an info (efficiency) threshold stands alone, without warn or fail")
    if warn is not None and fail is not None:
        if (kind == "below" and fail > warn) or (kind == "above" and fail < warn):
            raise ValueError(f"{where}: the fail threshold {fail} is milder than the warn threshold {warn}")
    clauses = data.get("clauses") or []
    if not isinstance(clauses, list) or not all(isinstance(c, str) for c in clauses):
        raise ValueError(f"{where}: clauses must be a list of strings")
    variant = data.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise ValueError(f"{where}: variant must be a string such as 'mask@0.10'")
    return Condition(condition=kind, metric=metric, warn=warn, fail=fail, info=info, reduce=reduce,
                     variant=variant, finding=str(data.get("finding") or ""),
                     decide_on=parse_decide_on(data.get("decide_on"), where),
                     clauses=tuple(clauses), rationale=" ".join(str(data.get("rationale") or "").split()),
                     rationale_ja=fold(data.get("rationale_ja")),
                     title=str(data.get("title") or ""))


def _threshold(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a number, not {value!r}")
    if value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e12:
        raise ValueError(f"{where} must be a finite number of sensible size, not {value!r}")
    return float(value)


def parse_decide_on(value: Any, where: str) -> str | None:
    """A rule's or template's `decide_on` (None where not given); ValueError naming `where` otherwise."""
    if value is None or value in DECIDE_ON:
        return value
    place = f"{where}: " if where else ""
    raise ValueError(f"{place}decide_on must be one of {', '.join(DECIDE_ON)}, not {value!r}")
