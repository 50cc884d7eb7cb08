"""The typed read model: one stored audit as frozen views, built once per request.

`auditor.api.audit_view(audit_id, db=None, evaluation_id=None)` returns an `AuditView`, built by
`auditor.store.read_model` on one database handle; `auditor show --json` prints `AuditView.to_json()`.
Reports and the GUI read these views instead of the JSON dict or the tables:

    view = api.audit_view(audit_id, db)
    view.verdict                      # Status | None (of the evaluation shown: the latest, or the one asked for)
    for check in view.checks:         # in the order they ran
        check.status, check.summary_in("ja"), check.metrics["update_ratio"], check.interval("pde_r2", 3)
    view.findings_of("flow.pde")      # that check's findings; FindingView.detail_in("ja"), .title_in("ja")
    view.rating("flow").rating        # RatingView per dimension, with its trend against the previous audit

Everything here is stored data: statuses, verdicts and ratings were computed once when the audit was evaluated
(auditor.governance.record_evaluation) and are only read back. A sentence is the catalogue messages it was made
from (`sentences`, auditor.messages), rendered in the reader's language; audits stored before the catalogue have
`sentences` None, and then the stored English text is shown in every language. Mappings inside a view (metrics,
intervals, evidence, probes) are plain JSON data, read-only; this module imports only auditor.status and
auditor.messages (an import-linter contract).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.messages import Message, from_json, render, to_json
from auditor.status import Status

Json = dict[str, Any]
DIMENSIONS = ("flow", "retention", "robustness", "trainability", "transparency", "integrity")   # in report order
_CONCLUSIVE = (Status.PASS, Status.WARN, Status.FAIL)


def _sentences(value: Any) -> tuple[Message, ...] | None:
    return None if value is None else from_json(value)


def _sentences_json(value: tuple[Message, ...] | None) -> list[Json] | None:
    return None if value is None else to_json(value)


def _say(sentences: tuple[Message, ...] | None, lang: str, stored: str) -> str:
    """The sentences in `lang`; the stored English where there are none or a later version renamed a key."""
    if not sentences:
        return stored
    return render(sentences, lang, default=stored)


def trend_of(now: str | Status | None, before: str | Status | None) -> str | None:
    """better | worse | same between two ratings, only where both are measured conclusions (pass, warn,
    fail): an inconclusive or unassessed rating has no trend."""
    a, b = Status.of(now), Status.of(before)
    if a not in _CONCLUSIVE or b not in _CONCLUSIVE:
        return None
    delta = a.rank - b.rank
    return "same" if delta == 0 else ("worse" if delta > 0 else "better")


@dataclass(frozen=True)
class ModelView:
    """The audited artifact as identified when the audit ran (name and version as the officer gave them)."""

    name: str | None
    version: str | None
    format: str | None
    sha256: str | None
    files: tuple[Mapping[str, Any], ...] = ()     # {path, size, sha256} per file of the manifest
    parameters: int | None = None
    layers: int | None = None
    architecture: str | None = None
    pooling: str | None = None
    pooling_source: str | None = None
    model_type: str | None = None
    dtype: str | None = None
    modality: str | None = None
    hidden_size: int | None = None
    heads: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> Json:
        return {**vars(self), "files": [dict(f) for f in self.files], "details": dict(self.details)}   # field order

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelView:
        return cls(**{**data, "files": tuple(data.get("files") or ()), "details": dict(data.get("details") or {})})


@dataclass(frozen=True)
class TemplateView:
    """A template by name, version and content hash; `source` is builtin:NAME, a path, or 're-evaluation N'."""

    name: str | None
    version: str | None
    sha256: str | None
    source: str | None
    approval_grade: bool = False                  # the template lets an approver approve (auditor.duties)

    def to_json(self) -> Json:
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "source": self.source,
                "approval_grade": self.approval_grade}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TemplateView:
        return cls(**data)


@dataclass(frozen=True)
class CheckView:
    """One check's stored result and its status under the evaluation shown."""

    id: str
    status: Status                                # pass | warn | fail | inconclusive | error | skipped
    outcome: str                                  # how its run ended: ok | skipped | error
    summary: str                                  # English, as stored
    sentences: tuple[Message, ...] | None = None  # what `summary` was rendered from; None before the catalogue
    metrics: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)   # chart data and details (not in show --json)
    duration_s: float | None = None
    intervals: Mapping[str, Any] = field(default_factory=dict)   # 95% CIs: {metric: {ci_low, ci_high}} (store.metrics)

    def summary_in(self, lang: str) -> str:
        return _say(self.sentences, lang, self.summary)

    def interval(self, metric: str, layer: int | None = None, variant: str | None = None) -> tuple[Any, Any] | None:
        """(low, high) of a metric (at `layer` of a per-layer one, of `variant`); None where none is stored."""
        entry = self.intervals.get(metric)
        entry = entry.get(variant) if isinstance(entry, Mapping) and variant is not None else entry
        pair = [entry.get(b) if isinstance(entry, Mapping) else None for b in ("ci_low", "ci_high")]
        pair = [p[layer] if isinstance(p, list) and layer is not None and layer < len(p) else p for p in pair]
        return None if any(p is None or isinstance(p, list) for p in pair) else (pair[0], pair[1])

    def to_json(self, evidence: bool = False) -> Json:
        out = {"id": self.id, "status": str(self.status), "summary": self.summary, "metrics": dict(self.metrics),
               "duration_s": self.duration_s, "outcome": self.outcome,
               "sentences": _sentences_json(self.sentences), "intervals": dict(self.intervals)}
        if evidence:
            out["evidence"] = dict(self.evidence)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckView:
        return cls(id=data["id"], status=Status(data["status"]), outcome=data.get("outcome") or "ok",
                   summary=data["summary"], sentences=_sentences(data.get("sentences")),
                   metrics=dict(data.get("metrics") or {}), evidence=dict(data.get("evidence") or {}),
                   duration_s=data.get("duration_s"), intervals=dict(data.get("intervals") or {}))


_FINDING_KEYS = ("check_id", "severity", "title", "detail", "meaning", "clauses", "action", "owner", "due", "id",
                 "title_ja", "action_ja", "key", "metric", "value", "layer", "condition")


@dataclass(frozen=True)
class FindingView:
    """One rule's outcome (passes included), a skip or error note, or an audit-wide finding (check_id 'audit')."""

    id: int
    check_id: str
    severity: Status                              # pass | warn | fail | inconclusive | error | info
    title: str
    detail: str                                   # English, as stored
    meaning: Mapping[str, str]                    # {en, ja}
    clauses: tuple[str, ...]
    action: str
    owner: str | None = None                      # assigned after the audit (`auditor assign`)
    due: str | None = None
    title_ja: str = ""
    action_ja: str = ""
    key: str = ""                                 # templates/findings.yaml key of title, meaning and action
    metric: str | None = None
    value: float | None = None
    layer: int | None = None
    condition: Mapping[str, Any] = field(default_factory=dict)   # the rule as the template declared it
    sentences: tuple[Message, ...] | None = None  # what `detail` was rendered from; None before the catalogue

    def detail_in(self, lang: str) -> str:
        return _say(self.sentences, lang, self.detail)

    def title_in(self, lang: str) -> str:   # '' where an older database stored none
        return ((self.title_ja or self.title) if lang == "ja" else self.title) or ""

    def action_in(self, lang: str) -> str:
        return ((self.action_ja or self.action) if lang == "ja" else self.action) or ""

    def meaning_in(self, lang: str) -> str:
        return self.meaning.get(lang) or self.meaning.get("en") or ""

    def to_json(self) -> Json:
        values = {**vars(self), "severity": str(self.severity), "meaning": dict(self.meaning),
                  "clauses": list(self.clauses), "condition": dict(self.condition)}
        return {**{k: values[k] for k in _FINDING_KEYS}, "sentences": _sentences_json(self.sentences)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FindingView:
        return cls(**{**{k: data[k] for k in _FINDING_KEYS}, "severity": Status(data["severity"]),
                      "meaning": dict(data["meaning"]), "clauses": tuple(data["clauses"]),
                      "condition": dict(data.get("condition") or {}),
                      "sentences": _sentences(data.get("sentences"))})


@dataclass(frozen=True)
class RatingView:
    """A dimension's rating: the worst counted status of its checks, `not_assessed` where none counted."""

    dimension: str
    rating: Status
    checks: tuple[str, ...] = ()
    trend: str | None = None                      # better | worse | same against the previous audit, or None

    def to_json(self) -> Json:
        return {"rating": str(self.rating), "checks": list(self.checks), "trend": self.trend}


@dataclass(frozen=True)
class EvaluationView:
    """One application of a template to the stored results (the initial one, or a re-evaluation)."""

    id: int
    template_name: str
    template_version: str
    template_sha256: str
    verdict: Status | None
    reason: str                                   # initial | re-evaluated
    created_at: str
    fingerprint: str | None = None

    def to_json(self, fingerprint: bool = True) -> Json:
        out = {**vars(self), "verdict": None if self.verdict is None else str(self.verdict)}.items()
        return {k: v for k, v in out if fingerprint or k != "fingerprint"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationView:
        return cls(**{**data, "verdict": Status.of(data.get("verdict"))})


@dataclass(frozen=True)
class RuleView:
    """A pre-declared threshold of the evaluation's template (what `template_conditions` lists)."""

    check_id: str | None
    metric: str | None
    condition: str | None
    reduce: str | None = None
    variant: str | None = None
    warn: Any = None
    fail: Any = None
    info: Any = None
    finding: str | None = None
    rationale: str = ""
    rationale_ja: str = ""
    clauses: tuple[str, ...] = ()

    def to_json(self) -> Json:
        return {**vars(self), "clauses": list(self.clauses)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleView:
        return cls(**{**data, "clauses": tuple(data.get("clauses") or ())})


@dataclass(frozen=True)
class EventView:
    """One entry of the append-only event log."""

    id: int
    at: str
    actor: str
    kind: str                                     # created | completed | signed | assigned | re-evaluated | ...
    detail: Mapping[str, Any] = field(default_factory=dict)
    signer: str | None = None                     # fingerprint of the certificate that signed it; None: unsigned

    def to_json(self) -> Json:
        return {**vars(self), "detail": dict(self.detail)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventView:
        return cls(**data)


@dataclass(frozen=True)
class SignoffView:
    """The latest sign-off of one role (earlier ones stay in the events)."""

    role: str | None
    name: str | None
    decision: str | None
    at: str
    evaluation_id: int | None = None
    fingerprint: str | None = None

    def to_json(self) -> Json:
        return dict(vars(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignoffView:
        return cls(**data)


@dataclass(frozen=True)
class AuditView:
    """A stored audit under one evaluation (the latest unless another was asked for)."""

    audit_id: str
    status: str                                   # running | completed | failed | cancelled | interrupted
    verdict: Status | None                        # of the evaluation shown; None before any
    model: ModelView
    probes: Mapping[str, Any]                     # the probe set's description (spec, sha256, count, ...)
    environment: Mapping[str, Any]
    meta: Mapping[str, Any]                       # purpose, users, out_of_scope, preparer, decision_requested
    template: TemplateView                        # of the evaluation shown
    audit_template: TemplateView                  # the one the audit ran under
    started_at: str | None
    finished_at: str | None
    error: str | None
    checks: tuple[CheckView, ...]
    findings: tuple[FindingView, ...]
    evaluation_id: int | None
    fingerprint: str | None                       # of the evaluation shown
    ratings: tuple[RatingView, ...]               # one per dimension, in DIMENSIONS order
    previous_audit_id: str | None                 # the latest earlier completed audit of the same model name
    evaluation: EvaluationView | None
    evaluations: tuple[EvaluationView, ...]       # all of them, oldest first
    template_conditions: tuple[RuleView, ...]
    signoffs: tuple[SignoffView, ...]
    events: tuple[EventView, ...]

    def check(self, check_id: str) -> CheckView | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def findings_of(self, check_id: str) -> tuple[FindingView, ...]:
        return tuple(f for f in self.findings if f.check_id == check_id)

    def rating(self, dimension: str) -> RatingView | None:
        return next((r for r in self.ratings if r.dimension == dimension), None)

    def to_json(self, evidence: bool = False) -> Json:
        """The object `auditor show --json` prints (every field it has printed, plus checks' `outcome` and
        `sentences` and findings' `sentences`); `evidence=True` adds each check's evidence."""
        return {
            "audit_id": self.audit_id, "status": self.status,
            "verdict": None if self.verdict is None else str(self.verdict),
            "model": self.model.to_json(), "probes": dict(self.probes), "environment": dict(self.environment),
            "meta": dict(self.meta), "template": self.template.to_json(),
            "audit_template": self.audit_template.to_json(),
            "started_at": self.started_at, "finished_at": self.finished_at, "error": self.error,
            "checks": [c.to_json(evidence) for c in self.checks],
            "findings": [f.to_json() for f in self.findings],
            "evaluation_id": self.evaluation_id, "fingerprint": self.fingerprint,
            "ratings": {r.dimension: r.to_json() for r in self.ratings},
            "previous_audit_id": self.previous_audit_id,
            "evaluation": None if self.evaluation is None else self.evaluation.to_json(fingerprint=False),
            "evaluations": [e.to_json() for e in self.evaluations],
            "template_conditions": [r.to_json() for r in self.template_conditions],
            "signoffs": [s.to_json() for s in self.signoffs],
            "events": [e.to_json() for e in self.events],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditView:
        """The view back from `to_json` (e.g. from `auditor show --json` output)."""
        evaluation = data.get("evaluation")
        return cls(
            audit_id=data["audit_id"], status=data["status"], verdict=Status.of(data.get("verdict")),
            model=ModelView.from_json(data["model"]), probes=dict(data["probes"]),
            environment=dict(data["environment"]), meta=dict(data["meta"]),
            template=TemplateView.from_json(data["template"]),
            audit_template=TemplateView.from_json(data["audit_template"]),
            started_at=data.get("started_at"), finished_at=data.get("finished_at"), error=data.get("error"),
            checks=tuple(CheckView.from_json(c) for c in data["checks"]),
            findings=tuple(FindingView.from_json(f) for f in data["findings"]),
            evaluation_id=data.get("evaluation_id"), fingerprint=data.get("fingerprint"),
            ratings=ratings_from(data.get("ratings") or {}),
            previous_audit_id=data.get("previous_audit_id"),
            evaluation=None if evaluation is None else EvaluationView.from_json(
                {**evaluation, "fingerprint": data.get("fingerprint")}),
            evaluations=tuple(EvaluationView.from_json(e) for e in data.get("evaluations") or ()),
            template_conditions=tuple(RuleView.from_json(r) for r in data.get("template_conditions") or ()),
            signoffs=tuple(SignoffView.from_json(s) for s in data.get("signoffs") or ()),
            events=tuple(EventView.from_json(e) for e in data.get("events") or ()))


def ratings_from(stored: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]],
                 before: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None = None
                 ) -> tuple[RatingView, ...]:
    """RatingViews from stored ratings ([{dimension, rating, checks}] or {dimension: {rating, checks}}),
    with the trend against `before` (the previous comparable audit's ratings) where given."""
    def by_dimension(value: Any) -> dict[str, Mapping[str, Any]]:
        if isinstance(value, Mapping):
            return {str(k): v for k, v in value.items()}
        return {str(r["dimension"]): r for r in value or ()}

    now, prior = by_dimension(stored), by_dimension(before)
    out = []
    for dimension, entry in now.items():
        trend = trend_of(entry.get("rating"), (prior.get(dimension) or {}).get("rating")) if before is not None \
            else entry.get("trend")
        out.append(RatingView(dimension=dimension, rating=Status(entry["rating"]),
                              checks=tuple(entry.get("checks") or ()), trend=trend))
    return tuple(out)
