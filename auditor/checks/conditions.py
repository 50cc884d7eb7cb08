"""Conditions: named, serialisable rules written in templates as data.

    {condition: below, metric: update_ratio, reduce: min, warn: 0.02, fail: 0.005}

`below` warns when the reduced value falls under `warn` and fails under `fail`; `above` is the
mirror. A condition with an `info` threshold instead marks an efficiency opportunity: crossing it
gives an informational finding, never a warning. A metric that is null as a whole (the method
does not apply to this model, e.g. head importance without gradients) is `not_applicable`: an
informational finding that names the reason, not counted in any verdict. Reducers turn a per-layer (or per-layer-per-head) list into one number; `any_layer`
takes the worst layer for the rule's direction and reports which layer it was. A variant
metric (a dict such as {"mask@0.10": 0.93}) needs `variant:` naming the key.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from auditor import condition_text as wording
from auditor.messages import Message, render, verbatim
from auditor.status import Status, worst
from auditor.text import fold

__all__ = ["REDUCERS", "Condition", "Outcome", "RuleProblem", "Status", "parse_condition", "worst"]


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


@dataclass(frozen=True)
class Outcome:
    """How a rule came out. `sentence` states it as a catalogue message (the measured value, or why the rule
    was not applicable, not decided or not evaluated); `message` is its English rendering."""

    status: str                      # a Status: pass | warn | fail | error | info | not_applicable | inconclusive
    value: float | None = None
    layer: int | None = None
    message: str = ""
    sentence: Message | None = None

    @classmethod
    def stated(cls, status: str, sentence: Message, value: float | None = None,
               layer: int | None = None) -> Outcome:
        return cls(status, value, layer, render(sentence, "en"), sentence)


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

    def threshold_text(self, lang: str = "en") -> str:
        """'warn below 0.15, fail below 0.05' (auditor.condition_text.thresholds, rendered)."""
        return render(wording.thresholds(self), lang)

    def describe_value(self, lang: str = "en") -> str:
        """'pde_r2 (any_layer)' (auditor.condition_text.measured_name, rendered)."""
        return render(wording.measured_name(self), lang)

    def evaluate(self, metrics: Mapping[str, Any], insufficient: Mapping[str, Any] | None = None) -> Outcome:
        """Never raises: a problem computing the rule is an `error` outcome with its reason.

        `insufficient` maps metric names to the reason the check found its own evidence too thin
        to decide on (a split too small to score, an undefined chance level): such a rule is
        `inconclusive` whatever the number says. A reason is a Message, a stored one
        ({"key": …, "params": …}) or plain text (quoted as it is).
        """
        name = wording.measured_name(self)
        reason = wording.as_message((insufficient or {}).get(self.metric))
        if reason is not None:
            return Outcome.stated(Status.INCONCLUSIVE, Message("finding.not_decided", {"name": name, "reason": reason}))
        try:
            return self._evaluate(metrics)
        except Exception as exc:  # a broken rule must not crash the audit (ARCHITECTURE.md)
            problem = exc.sentence if isinstance(exc, RuleProblem) else verbatim(str(exc))
            return Outcome.stated(Status.ERROR, Message("finding.condition_error", {"name": name, "problem": problem}))

    def _evaluate(self, metrics: Mapping[str, Any]) -> Outcome:
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
        status = Status.PASS
        crossed = (lambda t: number < t) if self.condition == "below" else (lambda t: number > t)
        if self.fail is not None and crossed(self.fail):
            status = Status.FAIL
        elif self.warn is not None and crossed(self.warn):
            status = Status.WARN
        elif self.info is not None and crossed(self.info):
            status = Status.INFO
        measured = Message("finding.measured", {"name": wording.measured_name(self), "value": float(number)})
        return Outcome.stated(status, measured, float(number), layer)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clauses"] = list(self.clauses)
        data["extra"] = dict(self.extra)
        return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def parse_condition(data: Mapping[str, Any], where: str) -> Condition:
    """A Condition from template data; ValueError naming `where` and the problem."""
    known = {"condition", "metric", "warn", "fail", "info", "reduce", "variant", "finding", "clauses", "rationale", "rationale_ja", "title"}
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
