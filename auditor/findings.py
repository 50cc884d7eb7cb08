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

from auditor.checks._tasks import MODEL_PREDICTIONS
from auditor.checks.base import CheckResult
from auditor.checks.conditions import Condition
from auditor.safe_yaml import load_yaml
from auditor.status import Status, status_of_check, verdict_of
from auditor.templates import CheckSpec, Template

SEVERITIES = ("pass", "warn", "fail", "error", "info", "inconclusive")
DEFAULT_CLAUSE = "EU AI Act Annex IV 2(g)"
# the check_id of findings about the audit as a whole (too few probes, nothing measured)
AUDIT_SCOPE = "audit"
# appended to a rule's detail when its figure used the model's own predictions as labels
# (reports/finding_text.py recognises it to say the same in Japanese)
LABELS_NOTE = " (labels: the model's own predictions)"
CIRCULAR_LABELS = ("the figures used the model's own predictions as labels, which is circular (they measure "
                   "agreement with the model itself); give a probe file with a label column")


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


def evaluate(template: Template, results: Iterable[CheckResult], *, probe_count: int | None = None,
             probes_fed: bool = True, why_not_fed: str = "") -> list[Finding]:
    """Findings for every condition of the template on the stored results, then the audit-wide ones.

    A required check that was skipped, failed to run or is absent from the stored audit gives an
    `inconclusive` finding that says why; so do rules whose figure the check marked as resting on
    insufficient evidence, a probe set below the template's `min_probes`, and an audit in which no
    probe reached the model.
    """
    by_id = {r.check_id: r for r in results}
    findings: list[Finding] = []
    for spec in template.checks:
        result = by_id.get(spec.id)
        if result is None:
            if spec.required:
                findings.append(_required_missing(spec.id, "this audit has no result for the check (the template "
                                                           "it ran under did not include it)"))
            continue
        if result.outcome in ("skipped", "error"):
            if spec.required:
                findings.append(_required_missing(spec.id, result.summary))
            elif result.outcome == "skipped":
                findings.append(Finding(check_id=spec.id, severity="info", detail=result.summary,
                                        clauses=[DEFAULT_CLAUSE], **_from_catalogue("check.skipped", spec.id, "")))
            else:
                findings.append(Finding(check_id=spec.id, severity="error", detail=result.summary,
                                        clauses=[DEFAULT_CLAUSE], **_from_catalogue("check.error", spec.id, "")))
            continue
        steps = _step_metrics(spec.id)
        evidence = result.evidence or {}
        insufficient = {**(evidence.get("insufficient") or {}), **_circular(spec, evidence)}
        # the rules whose figures used the model's own predictions as labels (none with probe labels)
        on_predictions = _label_metrics(evidence) if evidence.get("label_source") == MODEL_PREDICTIONS \
            else frozenset()
        findings += [_condition_finding(spec.id, cond, result.metrics, steps, insufficient,
                                        labels_note=_is_label_rule(cond.metric, on_predictions))
                     for cond in spec.conditions]
    return findings + audit_findings(template, probe_count, probes_fed, why_not_fed)


def audit_findings(template: Template, probe_count: int | None, probes_fed: bool,
                   why_not_fed: str = "") -> list[Finding]:
    """Inconclusive findings about the audit as a whole: too few probes, or none fed to the model."""
    out = []
    if not probes_fed:
        out.append(Finding(check_id=AUDIT_SCOPE, severity=Status.INCONCLUSIVE.value, clauses=[DEFAULT_CLAUSE],
                           detail="no probe reached the model, so only static checks of the file ran"
                                  + (f": {why_not_fed}" if why_not_fed else ""),
                           **_from_catalogue("evidence.nothing_measured", AUDIT_SCOPE, "")))
    if probes_fed and probe_count is not None and template.min_probes and probe_count < template.min_probes:
        out.append(Finding(check_id=AUDIT_SCOPE, severity=Status.INCONCLUSIVE.value, clauses=[DEFAULT_CLAUSE],
                           detail=f"{probe_count} probes; template {template.name} needs at least "
                                  f"{template.min_probes}", metric="probe_count", value=float(probe_count),
                           **_from_catalogue("evidence.too_few_probes", AUDIT_SCOPE, "")))
    return out


def why_not_fed(details: Mapping[str, Any]) -> str:
    """The adapter's reason no probe could reach the model (its first unavailable capability), or ''."""
    return str(next(iter((details.get("unavailable") or {}).values()), ""))


def _label_metrics(evidence: Mapping[str, Any]) -> frozenset[str] | None:
    """The metrics that depend on the labels (evidence `label_metrics`); None: all of the check's."""
    named = evidence.get("label_metrics")
    return frozenset(str(m) for m in named) if isinstance(named, list) else None


def _is_label_rule(metric: str, label_metrics: frozenset[str] | None) -> bool:
    return label_metrics is None or metric in label_metrics


def _circular(spec: CheckSpec, evidence: Mapping[str, Any]) -> dict[str, str]:
    """{metric: reason} for a `requires_labels` check whose labels were the model's own predictions."""
    if not spec.requires_labels or evidence.get("label_source") != MODEL_PREDICTIONS:
        return {}
    label_metrics = _label_metrics(evidence)
    return {c.metric: CIRCULAR_LABELS for c in spec.conditions if _is_label_rule(c.metric, label_metrics)}


def _required_missing(check_id: str, reason: str) -> Finding:
    return Finding(check_id=check_id, severity=Status.INCONCLUSIVE.value, clauses=[DEFAULT_CLAUSE],
                   detail=f"required by the template; {reason}",
                   **_from_catalogue("check.required_missing", check_id, ""))


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
                       steps: frozenset[str] = frozenset(), insufficient: Mapping[str, str] | None = None,
                       labels_note: bool = False) -> Finding:
    outcome = cond.evaluate(metrics, insufficient)
    key = {"error": "condition.error", "not_applicable": "condition.not_applicable",
           "inconclusive": "evidence.insufficient"}.get(outcome.status, cond.finding)
    texts = _from_catalogue(key, check_id, cond.title or f"{cond.metric} {cond.condition} threshold")
    verdict = {"pass": "within threshold", "warn": "warning threshold crossed",
               "fail": "failure threshold crossed", "info": "efficiency opportunity",
               "error": "not evaluated", "not_applicable": "not applicable"}.get(outcome.status, "not decided")
    where = where_text(cond.metric, outcome.layer, steps) if cond.reduce in ("any_layer", "min", "max") else ""
    detail = outcome.message if outcome.status in ("error", "not_applicable", "inconclusive") else \
        f"{outcome.message}{where}; {cond.threshold_text()} ({verdict})"
    if labels_note and outcome.status in ("pass", "warn", "fail", "info"):
        detail += LABELS_NOTE
    severity = "info" if outcome.status == "not_applicable" else str(outcome.status)
    return Finding(check_id=check_id, severity=severity, detail=detail,
                   clauses=list(cond.clauses) or [DEFAULT_CLAUSE], metric=cond.metric, value=outcome.value,
                   layer=outcome.layer, condition=cond.to_dict(), **texts)


def check_status(result: CheckResult, findings: Iterable[Finding]) -> str:
    """pass|warn|fail|inconclusive from its conditions; `error` if the check raised; `skipped`."""
    return str(status_of_check(result.outcome, [f.severity for f in findings if f.check_id == result.check_id]))


def verdict(statuses: Iterable[str]) -> str:
    """fail if any check fails, else inconclusive if evidence is missing, else warn if any warns or
    errors, else pass; skips that the template allows are not counted."""
    return str(verdict_of(statuses))


def audit_verdict(results: Iterable[CheckResult], findings: list[Finding]) -> str:
    """The verdict over the checks' statuses and the audit-wide findings."""
    statuses = [check_status(r, findings) for r in results]
    return verdict(statuses + [f.severity for f in findings if f.check_id == AUDIT_SCOPE])
