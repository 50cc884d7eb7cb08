"""How a template rule reads, in one place: its thresholds, reducer, place and verdict as catalogue messages.

Findings, report tables, chart threshold lines and the GUI all word a condition through these
functions, so a rule is phrased the same everywhere and in both languages. Each function takes a
`Condition` or its stored dict (`Condition.to_dict()`, `findings.condition`) and returns a
`Message` (auditor.messages) that the caller renders in the reader's language:

    render(thresholds(cond), "ja")        -> "0.15未満で注意、0.05未満で不合格"
    render(threshold_lines(cond)[0][2])   -> "warn below 0.15"   (ja: "注意：0.15未満")

The sentences are in templates/sentences/findings.yaml (keys condition.*). This module imports only the
message vocabulary, so the store's read model, reports and the GUI can all use it; a caller that words a
place passes the check's `step_metrics` (its declaration) itself.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.messages import Message, has, verbatim

LEVELS = ("info", "warn", "fail")           # the order thresholds are stated in
# reducers whose value comes from one layer, so the finding says which
PLACED_REDUCERS = frozenset({"any_layer", "min", "max"})


def _get(cond: Any, name: str) -> Any:
    if isinstance(cond, Mapping):
        return cond.get(name)
    return getattr(cond, name, None)


def _kind(cond: Any) -> str:
    return "above" if _get(cond, "condition") == "above" else "below"


def reducer(name: str) -> Message:
    """The reducer's name: 'any_layer' in English (as templates spell it), 最も厳しい層 in Japanese."""
    key = f"condition.reducer.{name}"
    return Message(key) if has(key) else verbatim(name)


def metric_name(cond: Any) -> Message:
    """'pde_r2' or 'stability[mask@0.10]': the rule's figure, without its reducer."""
    metric, variant = str(_get(cond, "metric") or ""), _get(cond, "variant")
    if variant:
        return Message("condition.metric_variant", {"metric": metric, "variant": str(variant)})
    return Message("condition.metric", {"metric": metric})


def measured_name(cond: Any) -> Message:
    """'pde_r2 (any_layer)': the figure the rule decides on, with its reducer when it has one."""
    reduce = _get(cond, "reduce")
    if not reduce:
        return metric_name(cond)
    return Message("condition.reduced", {"name": metric_name(cond), "reducer": reducer(str(reduce))})


def threshold(kind: str, level: str, value: float) -> Message:
    """One threshold, long form for tables and findings: 'warn below 0.15' / '0.15未満で注意'."""
    return Message(f"condition.threshold.{level}_{'above' if kind == 'above' else 'below'}", {"value": value})


def thresholds(cond: Any) -> Message:
    """Every threshold of a rule, long form: 'warn below 0.15, fail below 0.05'."""
    kind = _kind(cond)
    parts = [threshold(kind, level, float(_get(cond, level))) for level in LEVELS
             if isinstance(_get(cond, level), (int, float))]
    return Message("condition.thresholds", {"parts": parts})


def threshold_line(kind: str, level: str, value: float) -> Message:
    """A chart's threshold line label, short form: 'warn below 0.15' / '注意：0.15未満'."""
    return Message(f"condition.line.{level}_{'above' if kind == 'above' else 'below'}", {"value": value})


def threshold_lines(cond: Any, levels: tuple[str, ...] = ("warn", "fail")) -> list[tuple[str, float, Message]]:
    """(level, value, label) for each of `levels` the rule sets, for drawing lines on a chart."""
    kind = _kind(cond)
    return [(level, float(_get(cond, level)), threshold_line(kind, level, float(_get(cond, level))))
            for level in levels if isinstance(_get(cond, level), (int, float))]


def place(metric: str | None, layer: int | None, steps: frozenset[str] = frozenset()) -> Message | None:
    """Where a figure was found: 'block 4' for per-step metrics (index 3), 'layer 2' for per-boundary
    ones, 'layer 0 (embeddings)'; None without a layer."""
    if not isinstance(layer, int) or isinstance(layer, bool):
        return None
    if metric in steps:
        return Message("condition.place.block", {"block": layer + 1})
    if layer == 0:
        return Message("condition.place.embeddings")
    return Message("condition.place.layer", {"layer": layer})


def verdict(status: str) -> Message:
    """What a rule's outcome means: 'within threshold', 'warning threshold crossed', …"""
    key = f"condition.verdict.{status}"
    return Message(key) if has(key) else Message("condition.verdict.inconclusive")


def as_message(value: Any) -> Message | None:
    """A reason as a message: a Message as it is, a stored one ({"key": …, "params": …}) revived, other
    text quoted verbatim (checks and adapters that still give English); None for an empty reason."""
    if isinstance(value, Message):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("key"), str):
        try:
            message = Message.from_json(value)
        except ValueError:
            return verbatim(str(value))
        # a key this version does not know (renamed since the audit) still says something
        return message if has(message.key) else verbatim(message.key)
    if value is None or value == "" or value == {}:
        return None
    return verbatim(str(value))
