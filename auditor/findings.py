"""Findings: one per evaluated condition (passes included), plus skips and errors.

Meanings, titles and actions come from the en/ja catalogue (templates/findings.yaml), so the
words a board reads are reviewable text, not code.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from auditor.checks.base import CheckResult
from auditor.checks.conditions import Condition, worst
from auditor.safe_yaml import load_yaml
from auditor.templates import Template

SEVERITIES = ("pass", "warn", "fail", "error", "info")
DEFAULT_CLAUSE = "EU AI Act Annex IV 2(g)"


@dataclass
class Finding:
    check_id: str
    severity: str
    title: str
    detail: str
    meaning: dict[str, str]
    clauses: list[str]
    action: str
    owner: str | None = None
    due: str | None = None
    key: str = ""                      # catalogue key
    metric: str | None = None
    value: float | None = None
    layer: int | None = None
    condition: dict[str, Any] = field(default_factory=dict)
    title_ja: str = ""
    action_ja: str = ""

    def public(self) -> dict[str, Any]:
        """The finding as `show --json` prints it."""
        return {"check_id": self.check_id, "severity": self.severity, "title": self.title, "detail": self.detail,
                "meaning": dict(self.meaning), "clauses": list(self.clauses), "action": self.action,
                "owner": self.owner, "due": self.due}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    path = Path(str(resources.files("auditor_templates"))) / "findings.yaml"
    data = load_yaml(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _text(key: str, part: str, lang: str, fallback: str) -> str:
    entry = catalogue().get(key) or {}
    return str((entry.get(part) or {}).get(lang) or fallback)


def _from_catalogue(key: str, check_id: str, fallback_title: str) -> dict[str, Any]:
    return {
        "key": key,
        "title": _text(key, "title", "en", fallback_title),
        "title_ja": _text(key, "title", "ja", _text(key, "title", "en", fallback_title)),
        "meaning": {"en": _text(key, "meaning", "en", fallback_title),
                    "ja": _text(key, "meaning", "ja", _text(key, "meaning", "en", fallback_title))},
        "action": _text(key, "action", "en", "Review the figures with the model owner."),
        "action_ja": _text(key, "action", "ja", "モデル所有者と数値を確認してください。"),
    }


def evaluate(template: Template, results: Iterable[CheckResult]) -> list[Finding]:
    """Findings for every condition of the template on the stored results."""
    by_id = {r.check_id: r for r in results}
    findings: list[Finding] = []
    for spec in template.checks:
        result = by_id.get(spec.id)
        if result is None:
            continue
        if result.outcome == "skipped":
            findings.append(Finding(check_id=spec.id, severity="info", detail=result.summary,
                                    clauses=[DEFAULT_CLAUSE], **_from_catalogue("check.skipped", spec.id, "")))
            continue
        if result.outcome == "error":
            findings.append(Finding(check_id=spec.id, severity="error", detail=result.summary,
                                    clauses=[DEFAULT_CLAUSE], **_from_catalogue("check.error", spec.id, "")))
            continue
        steps = _step_metrics(spec.id)
        findings += [_condition_finding(spec.id, cond, result.metrics, steps) for cond in spec.conditions]
    return findings


def _step_metrics(check_id: str) -> frozenset[str]:
    from auditor.checks import registry

    try:
        return registry.get(check_id).step_metrics
    except KeyError:
        return frozenset()


def where_text(metric: str | None, layer: int | None, steps: frozenset[str]) -> str:
    """'block 3' for per-step metrics, 'layer 2' for per-boundary ones (layer 0 = embeddings)."""
    if layer is None:
        return ""
    if metric in steps:
        return f" at block {layer + 1}"
    return " at layer 0 (embeddings)" if layer == 0 else f" at layer {layer}"


def _condition_finding(check_id: str, cond: Condition, metrics: Mapping[str, Any],
                       steps: frozenset[str] = frozenset()) -> Finding:
    outcome = cond.evaluate(metrics)
    key = {"error": "condition.error", "not_applicable": "condition.not_applicable"}.get(outcome.status, cond.finding)
    texts = _from_catalogue(key, check_id, cond.title or f"{cond.metric} {cond.condition} threshold")
    verdict = {"pass": "within threshold", "warn": "warning threshold crossed",
               "fail": "failure threshold crossed", "info": "efficiency opportunity",
               "error": "not evaluated", "not_applicable": "not applicable"}[outcome.status]
    where = where_text(cond.metric, outcome.layer, steps) if cond.reduce in ("any_layer", "min", "max") else ""
    detail = outcome.message if outcome.status in ("error", "not_applicable") else \
        f"{outcome.message}{where}; {cond.threshold_text()} ({verdict})"
    severity = "info" if outcome.status == "not_applicable" else outcome.status
    return Finding(check_id=check_id, severity=severity, detail=detail,
                   clauses=list(cond.clauses) or [DEFAULT_CLAUSE], metric=cond.metric, value=outcome.value,
                   layer=outcome.layer, condition=cond.to_dict(), **texts)


def check_status(result: CheckResult, findings: Iterable[Finding]) -> str:
    """pass|warn|fail|error from its conditions; `error` if the check raised; `skipped`."""
    if result.outcome in ("skipped", "error"):
        return result.outcome
    return worst([f.severity for f in findings if f.check_id == result.check_id and f.severity != "info"])


def verdict(statuses: Iterable[str]) -> str:
    """fail if any check fails, else warn if any warns or errors, else pass; skips are not counted."""
    counted = [s for s in statuses if s != "skipped"]
    if "fail" in counted:
        return "fail"
    if "warn" in counted or "error" in counted:
        return "warn"
    return "pass"
