"""Everything a report shows, read from the stored rows (through auditor's public API where it exists)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from auditor import api
from auditor.store.fingerprint import fingerprint_of

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "flow": ("flow.representation", "flow.smoothing", "flow.pde"),
    "retention": ("bottleneck.information_plane",),
    "robustness": ("perturbation.sensitivity",),
    "trainability": ("gradients.flow",),
    "transparency": ("attention.structure", "sanity.randomization"),
    "integrity": ("artifact.integrity", "artifact.parity"),
}
ORDER = {"fail": 0, "error": 1, "warn": 2, "pass": 3, "info": 4, "skipped": 5}


@dataclass
class ReportData:
    audit: dict[str, Any]
    content: dict[str, Any]            # the canonical evidence the fingerprint covers
    fingerprint: str                   # of `content`, printed on every page and embedded
    stored_fingerprint: str | None
    ratings: dict[str, dict[str, Any]]
    conditions: list[dict[str, Any]]
    comparison: dict[str, Any] | None
    report_id: str
    generated_at: str
    lang: str = "en"
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)   # the template's check ids

    @property
    def model(self) -> dict[str, Any]:
        return self.audit.get("model") or {}

    @property
    def checks(self) -> list[dict[str, Any]]:
        return self.audit.get("checks") or []

    @property
    def findings(self) -> list[dict[str, Any]]:
        return self.audit.get("findings") or []

    def check(self, check_id: str) -> dict[str, Any] | None:
        return next((c for c in self.checks if c.get("id") == check_id), None)

    def metrics(self, check_id: str) -> dict[str, Any]:
        return (self.check(check_id) or {}).get("metrics") or {}

    @property
    def incomplete(self) -> bool:
        return self.audit.get("status") != "completed"

    @property
    def missing_checks(self) -> list[str]:
        """Checks that errored, were skipped, or that the template planned but never stored a result."""
        stored = {c.get("id") for c in self.checks}
        return ([c["id"] for c in self.checks if c.get("status") in ("error", "skipped")]
                + [c for c in self.planned if c not in stored])


def evidence_content(audit_id: str, db: str | None, audit: dict[str, Any]) -> dict[str, Any]:
    """The canonical content the fingerprint covers (api.audit_evidence, or the store directly)."""
    if hasattr(api, "audit_evidence"):
        return api.audit_evidence(audit_id, db)
    from auditor.store import open_db, queries

    return queries.stored_content(open_db(db), audit["audit_id"], audit.get("evaluation_id"))


def _fallback_ratings(audit: dict[str, Any]) -> dict[str, dict[str, Any]]:
    statuses = {c["id"]: c.get("status") for c in audit.get("checks") or []}
    out = {}
    for dim, ids in DIMENSIONS.items():
        present = [statuses[i] for i in ids if statuses.get(i) in ("pass", "warn", "fail", "error")]
        if not present:
            rating = "not_assessed"
        else:
            worst = min(present, key=lambda s: ORDER[s])
            rating = "warn" if worst == "error" else worst
        out[dim] = {"rating": rating, "checks": [i for i in ids if i in statuses], "trend": None}
    return out


def _template(audit_id: str, db: str | None) -> dict[str, Any]:
    """The template stored with the audit, parsed (empty if unreadable: that must not stop a report)."""
    from auditor.safe_yaml import load_yaml
    from auditor.store import open_db

    try:
        data = load_yaml(open_db(db, read_only=True)["audits"].get(audit_id)["template_text"] or "") or {}
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


def _fallback_conditions(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The template's conditions, read from the template text stored with the audit."""
    out = []
    for check in data.get("checks") or []:
        for cond in (check or {}).get("conditions") or []:
            out.append({"check_id": check.get("id"), **{k: cond.get(k) for k in (
                "metric", "condition", "reduce", "variant", "warn", "fail", "info", "rationale", "rationale_ja", "clauses",
                "finding")}})
    return out


def load(audit_id: str, db: str | None = None, lang: str = "en") -> ReportData:
    """Read one audit for a report; works for failed, cancelled and running audits too."""
    audit = api.show_audit(audit_id, db)
    content = evidence_content(audit["audit_id"], db, audit)
    ratings = audit.get("ratings") or _fallback_ratings(audit)
    template = _template(audit["audit_id"], db)
    conditions = audit.get("template_conditions")
    if conditions is None:
        conditions = _fallback_conditions(template)
    planned = [c.get("id") for c in template.get("checks") or [] if isinstance(c, dict) and c.get("id")]
    comparison = None
    previous = audit.get("previous_audit_id")
    if previous and hasattr(api, "compare_audits"):
        try:
            comparison = api.compare_audits(previous, audit["audit_id"], db)
        except Exception:  # a broken previous audit must not stop this report
            comparison = None
    now = datetime.now(timezone.utc)
    return ReportData(
        audit=audit, content=content, fingerprint=fingerprint_of(content),
        stored_fingerprint=audit.get("fingerprint"), ratings=ratings, conditions=list(conditions),
        comparison=comparison, report_id=f"R-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}",
        generated_at=now.isoformat(timespec="seconds"), lang=lang,
        evidence={c["id"]: c.get("evidence") or {} for c in content.get("checks") or []}, planned=planned,
    )


def top_risks(data: ReportData, n: int = 3) -> list[dict[str, Any]]:
    """Findings at fail, error or warn, worst first; checks that errored count as risks too."""
    risky = [f for f in data.findings if f.get("severity") in ("fail", "error", "warn")]
    risky.sort(key=lambda f: ORDER.get(f.get("severity"), 9))
    return risky[:n]


def dimension_of(check_id: str) -> str:
    return next((d for d, ids in DIMENSIONS.items() if check_id in ids), "other")


def opportunities(data: ReportData) -> list[dict[str, Any]]:
    """Efficiency findings (info, key `opportunity.*`), or ones derived from stored attention figures."""
    found = [f for f in data.findings if f.get("severity") == "info" and str(f.get("key") or "").startswith(
        "opportunity.")]
    if found:
        return found
    m = data.metrics("attention.structure")
    heads, share = m.get("redundant_heads"), m.get("prunable_attention_share")
    if isinstance(heads, (int, float)) and heads > 0 and isinstance(share, (int, float)):
        total = data.model.get("heads") and data.model.get("layers") and data.model["heads"] * data.model["layers"]
        return [{"derived": "heads", "heads": int(heads), "total": total, "share": share}]
    return []


def layer_series(data: ReportData, check_id: str, name: str) -> list[float | None]:
    value = data.metrics(check_id).get(name)
    if not isinstance(value, list) or any(isinstance(v, (list, dict)) for v in value):
        return []
    return list(value)
