"""Findings: one per evaluated condition (passes included), plus skips and errors.

Meanings, titles and actions come from the en/ja catalogue (templates/findings.yaml), so the
words a board reads are reviewable text, not code. A finding's detail is stated as facts in
`sentences` (catalogue messages, templates/sentences/findings.yaml); `detail` is their English
rendering, kept because `show --json` has always printed it. Readers render `sentences` in their
language and never parse `detail`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from auditor import condition_text as wording
from auditor.checks._tasks import MODEL_PREDICTIONS
from auditor.checks.base import CheckResult
from auditor.checks.conditions import Condition
from auditor.messages import CatalogueError, Message, render, to_json, verbatim
from auditor.safe_yaml import load_yaml
from auditor.status import Status, status_of_check, verdict_of
from auditor.templates import CheckSpec, Template

SEVERITIES = ("pass", "warn", "fail", "error", "info", "inconclusive")
DEFAULT_CLAUSE = "EU AI Act Annex IV 2(g)"
# the check_id of findings about the audit as a whole (too few probes, nothing measured)
AUDIT_SCOPE = "audit"
# the English ending of a rule's detail when its figure used the model's own predictions as labels
# (sentence finding.on_predictions; tests match on it, as scripts reading `detail` may)
LABELS_NOTE = " (labels: the model's own predictions)"
CIRCULAR = Message("finding.circular_labels")
CIRCULAR_LABELS = render(CIRCULAR, "en")


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
    sentences: tuple[Message, ...] = ()    # the detail as facts; `detail` is their English rendering

    def public(self) -> dict[str, Any]:
        """The finding as `show --json` prints it."""
        return {"check_id": self.check_id, "severity": self.severity, "title": self.title, "detail": self.detail,
                "meaning": dict(self.meaning), "clauses": list(self.clauses), "action": self.action,
                "owner": self.owner, "due": self.due, "sentences": to_json(self.sentences)}

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready data; `sentences` as a list of Message.to_json()."""
        return {**asdict(replace(self, sentences=())), "sentences": to_json(self.sentences)}

    def text(self, lang: str = "en") -> str:
        """The detail in `lang` (the stored English `detail` when there are no sentences)."""
        return render(self.sentences, lang, default=self.detail) if self.sentences else self.detail


def stated(check_id: str, severity: str, sentences: tuple[Message, ...], **fields: Any) -> Finding:
    """A finding whose `detail` is the English rendering of `sentences`."""
    return Finding(check_id=check_id, severity=severity, detail=render(sentences, "en"), sentences=sentences,
                   **fields)


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
            # only a re-evaluation under another template gets here: figures never measured decide nothing,
            # so the template's rules on them are undecided whether or not the check is required
            findings.append(_required_missing(spec.id, (Message("finding.not_in_template"),)) if spec.required
                            else stated(spec.id, Status.INCONCLUSIVE.value, (Message("finding.not_in_template"),),
                                        clauses=[DEFAULT_CLAUSE], **_from_catalogue("check.not_run", spec.id, "")))
            continue
        if result.outcome in ("skipped", "error"):
            if spec.required:
                findings.append(_required_missing(spec.id, check_sentences(result)))
            else:
                key = "check.skipped" if result.outcome == "skipped" else "check.error"
                findings.append(stated(spec.id, "info" if result.outcome == "skipped" else "error",
                                       check_sentences(result), clauses=[DEFAULT_CLAUSE],
                                       **_from_catalogue(key, spec.id, "")))
            continue
        steps = _step_metrics(spec.id)
        evidence = result.evidence or {}
        insufficient = {**(evidence.get("insufficient") or {}), **_circular(spec, evidence)}
        # the rules whose figures used the model's own predictions as labels (none with probe labels)
        on_predictions = _label_metrics(evidence) if evidence.get("label_source") == MODEL_PREDICTIONS \
            else frozenset()
        findings += [_with_backing(_condition_finding(spec.id, cond, result.metrics, steps, insufficient,
                                                      labels_note=_is_label_rule(cond.metric, on_predictions),
                                                      intervals=result.intervals, decide_on=template.decide_on),
                                   evidence)
                     for cond in spec.conditions]
    return findings + audit_findings(template, probe_count, probes_fed, why_not_fed)


def audit_findings(template: Template, probe_count: int | None, probes_fed: bool,
                   why_not_fed: Message | Mapping[str, Any] | str | None = "") -> list[Finding]:
    """Inconclusive findings about the audit as a whole: too few probes, or none fed to the model.

    `why_not_fed` is the adapter's reason: a Message, a stored one ({"key": …, "params": …}) or text."""
    out = []
    if not probes_fed:
        reason = wording.as_message(why_not_fed)
        sentence = Message("finding.nothing_measured") if reason is None else \
            Message("finding.nothing_measured_because", {"reason": reason})
        out.append(stated(AUDIT_SCOPE, Status.INCONCLUSIVE.value, (sentence,), clauses=[DEFAULT_CLAUSE],
                          **_from_catalogue("evidence.nothing_measured", AUDIT_SCOPE, "")))
    if probes_fed and probe_count is not None and template.min_probes and probe_count < template.min_probes:
        sentence = Message("finding.too_few_probes", {"count": probe_count, "template": template.name,
                                                      "minimum": template.min_probes})
        out.append(stated(AUDIT_SCOPE, Status.INCONCLUSIVE.value, (sentence,), clauses=[DEFAULT_CLAUSE],
                          metric="probe_count", value=float(probe_count),
                          **_from_catalogue("evidence.too_few_probes", AUDIT_SCOPE, "")))
    return out


def why_not_fed(details: Mapping[str, Any]) -> Any:
    """The adapter's reason no probe could reach the model (its first unavailable capability): text or a
    stored message as the adapter gave it, or ''. Adapters store the message ({"key", "params"}) under
    `unavailable_messages` and its English under `unavailable` (models.base.ExplainsMissing)."""
    stored = details.get("unavailable_messages") or details.get("unavailable") or {}
    return next(iter(stored.values()), "")


def check_sentences(result: CheckResult) -> tuple[Message, ...]:
    """What a check said about itself (why it was skipped, its error), as messages; a result read back
    without sentences (or with keys this version does not know) quotes its stored English summary."""
    if result.sentences:
        try:
            render(result.sentences, "en")
            return tuple(result.sentences)
        except CatalogueError:
            pass
    return (verbatim(result.summary),)


def _label_metrics(evidence: Mapping[str, Any]) -> frozenset[str] | None:
    """The metrics that depend on the labels (evidence `label_metrics`); None: all of the check's."""
    named = evidence.get("label_metrics")
    return frozenset(str(m) for m in named) if isinstance(named, list) else None


def _is_label_rule(metric: str, label_metrics: frozenset[str] | None) -> bool:
    return label_metrics is None or metric in label_metrics


def _circular(spec: CheckSpec, evidence: Mapping[str, Any]) -> dict[str, Message]:
    """{metric: reason} for a `requires_labels` check whose labels were the model's own predictions."""
    if not spec.requires_labels or evidence.get("label_source") != MODEL_PREDICTIONS:
        return {}
    label_metrics = _label_metrics(evidence)
    return {c.metric: CIRCULAR for c in spec.conditions if _is_label_rule(c.metric, label_metrics)}


def _required_missing(check_id: str, reasons: tuple[Message, ...]) -> Finding:
    """A required check without a conclusive result; `reasons`: the check's own skip or error sentences."""
    return stated(check_id, Status.INCONCLUSIVE.value, (Message("finding.required_missing", {"reasons": reasons}),),
                  clauses=[DEFAULT_CLAUSE], **_from_catalogue("check.required_missing", check_id, ""))


def step_metrics(check_id: str) -> frozenset[str]:
    """The check's metrics indexed by block (step l -> l+1); empty for an unknown check."""
    from auditor.checks import registry

    try:
        return registry.get(check_id).step_metrics
    except KeyError:
        return frozenset()


_step_metrics = step_metrics


def where_text(metric: str | None, layer: int | None, steps: frozenset[str]) -> str:
    """' at block 3' for per-step metrics, ' at layer 2' for per-boundary ones (layer 0 = embeddings)."""
    where = wording.place(metric, layer, steps)
    return "" if where is None else f" at {render(where, 'en')}"


def outcome_sentence(cond: Condition, outcome: Any, steps: frozenset[str] = frozenset(),
                     labels_note: bool = False) -> Message:
    """A rule's outcome as one sentence: the measured value, where, the thresholds and the verdict
    word; or why it was not applicable, not decided or not evaluated."""
    where = wording.place(cond.metric, outcome.layer, steps) if cond.reduce in wording.PLACED_REDUCERS else None
    straddled = getattr(outcome, "straddled", None)
    if outcome.status == "inconclusive" and straddled is not None and where is not None and outcome.sentence:
        # an interval across a threshold: the same sentence, saying at which layer
        return Message("finding.straddles_at", {**outcome.sentence.params, "place": where})
    if outcome.status in ("error", "not_applicable", "inconclusive") or outcome.sentence is None:
        return outcome.sentence or verbatim(outcome.message)
    params = {"measured": outcome.sentence, "thresholds": wording.thresholds(cond),
              "verdict": wording.verdict(str(outcome.status))}
    sentence = Message("finding.outcome", params) if where is None else \
        Message("finding.outcome_at", {**params, "place": where})
    return Message("finding.on_predictions", {"detail": sentence}) if labels_note else sentence


def _condition_finding(check_id: str, cond: Condition, metrics: Mapping[str, Any],
                       steps: frozenset[str] = frozenset(), insufficient: Mapping[str, Any] | None = None,
                       labels_note: bool = False, intervals: Mapping[str, Any] | None = None,
                       decide_on: str | None = None) -> Finding:
    outcome = cond.evaluate(metrics, insufficient, intervals, decide_on)
    key = {"error": "condition.error", "not_applicable": "condition.not_applicable",
           "inconclusive": "evidence.insufficient"}.get(outcome.status, cond.finding)
    texts = _from_catalogue(key, check_id, cond.title or f"{cond.metric} {cond.condition} threshold")
    sentence = outcome_sentence(cond, outcome, steps, labels_note and outcome.status in ("pass", "warn", "fail", "info"))
    severity = "info" if outcome.status == "not_applicable" else str(outcome.status)
    return stated(check_id, severity, (sentence,), clauses=list(cond.clauses) or [DEFAULT_CLAUSE],
                  metric=cond.metric, value=outcome.value, layer=outcome.layer, condition=cond.to_dict(), **texts)


def _with_backing(finding: Finding, evidence: Mapping[str, Any]) -> Finding:
    """The finding with the measurement behind its figure appended, where the check states one.

    A check puts `evidence["backing"] = {metric: [Message JSON, ...]}` when a rule's figure is derived
    from other measurements a reader needs to see (attention: the share of low-effect heads rests on the
    masked pass's output cosine and flip rate); rules that could not be decided get nothing appended."""
    backing = (evidence.get("backing") or {}).get(finding.metric or "")
    # only a decided rule on a measured figure (not_applicable also reads `info`, but has no value)
    if not backing or finding.value is None or finding.severity not in ("pass", "warn", "fail", "info"):
        return finding
    try:
        extra = tuple(Message.from_json(item) for item in backing)
    except ValueError:   # evidence from a version whose backing this one cannot read: the rule's own words stand
        return finding
    sentences = tuple(finding.sentences) + extra
    return replace(finding, sentences=sentences, detail=render(sentences, "en"))


def check_status(result: CheckResult, findings: Iterable[Finding]) -> str:
    """pass|warn|fail|inconclusive from its conditions; `error` if the check raised; `skipped`."""
    return str(status_of_check(result.outcome, [f.severity for f in findings if f.check_id == result.check_id]))


def verdict(statuses: Iterable[str]) -> str:
    """fail if any check fails, else inconclusive if evidence is missing, else warn if any warns or
    errors, else pass; skips that the template allows are not counted."""
    return str(verdict_of(statuses))


def audit_verdict(results: Iterable[CheckResult], findings: list[Finding]) -> str:
    """The verdict over the checks' statuses and the audit-wide findings."""
    results = list(results)
    ran = {r.check_id for r in results}
    statuses = [check_status(r, findings) for r in results]
    # findings about the audit as a whole, and about checks the template asks for that the audit never ran
    # (a re-evaluation under a wider template): these have no check status to carry them
    return verdict(statuses + [f.severity for f in findings if f.check_id == AUDIT_SCOPE or f.check_id not in ran])
