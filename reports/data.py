"""Everything a report shows, assembled once per build through one database handle (statuses ordered by auditor.status).

The engine reads (`queries.audit_json`, `queries.stored_content`, `compare`) are called here and nowhere
else in reports/, so they can move behind a typed view of the audit in one place.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from auditor.ratings import dimension_of as _engine_dimension
from auditor.status import Status, rank
from auditor.store import queries
from auditor.store.fingerprint import fingerprint_of

AUDIT_SCOPE = "audit"   # the check_id of findings about the audit as a whole (auditor.findings.AUDIT_SCOPE)
# severities that need someone's attention: a measured breach, a check that could not run, missing evidence
NEEDS_ATTENTION = (Status.FAIL, Status.INCONCLUSIVE, Status.ERROR, Status.WARN)

if TYPE_CHECKING:
    from sqlite_utils import Database


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
    draft: bool = False                # set by the build; the page furniture marks every page of a draft

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


def open_store(db: str | None, *, write: bool = False) -> Database:
    """The one database handle a report build (`write`: it records its event) or a verification reads through.

    The open runs migrations and the interrupted sweep, so it is done once per command, not per read.
    """
    from auditor.store import open_db

    return open_db(db, must_exist=True) if write else open_db(db, read_only=True)


def _planned(handle: Database, audit_id: str) -> list[str]:
    """The check ids of the template stored with the audit (none if unreadable: that must not stop a report)."""
    from auditor.safe_yaml import load_yaml

    try:
        template = load_yaml(queries.audit_row(handle, audit_id)["template_text"] or "") or {}
    except Exception:
        return []
    checks = template.get("checks") if isinstance(template, dict) else None
    return [c.get("id") for c in checks or [] if isinstance(c, dict) and c.get("id")]


def _comparison(handle: Database, audit: dict[str, Any]) -> dict[str, Any] | None:
    """What changed since the previous audit of the same model, or None."""
    from auditor.compare import compare

    previous = audit.get("previous_audit_id")
    if not previous:
        return None
    try:
        return compare(handle, previous, audit["audit_id"])
    except Exception:  # a broken previous audit must not stop this report
        return None


def read(handle: Database, audit_id: str, lang: str = "en") -> ReportData:
    """Everything a report shows, assembled once from one open handle; works for failed, cancelled and running audits."""
    audit = queries.audit_json(handle, audit_id)
    # the canonical evidence of the evaluation shown (the latest), which the fingerprint covers
    content = queries.stored_content(handle, audit["audit_id"], audit["evaluation_id"])
    now = datetime.now(timezone.utc)
    return ReportData(
        audit=audit, content=content, fingerprint=fingerprint_of(content),
        stored_fingerprint=audit.get("fingerprint"), ratings=audit.get("ratings") or {},
        conditions=list(audit.get("template_conditions") or []),
        comparison=_comparison(handle, audit), report_id=f"R-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}",
        generated_at=now.isoformat(timespec="seconds"), lang=lang,
        evidence={c["id"]: c.get("evidence") or {} for c in content.get("checks") or []},
        planned=_planned(handle, audit["audit_id"]),
    )


def load(audit_id: str, db: str | None = None, lang: str = "en") -> ReportData:
    """`read` through a read-only handle of its own, for callers that hold none."""
    handle = open_store(db)
    try:
        return read(handle, audit_id, lang)
    finally:
        handle.conn.close()


def top_risks(data: ReportData, n: int = 3) -> list[dict[str, Any]]:
    """Findings that need attention (fail, inconclusive, error, warn), worst first in auditor.status's order."""
    risky = [f for f in data.findings if Status.of(f.get("severity")) in NEEDS_ATTENTION]
    risky.sort(key=lambda f: -rank(f.get("severity")))
    return risky[:n]


def open_actions(data: ReportData) -> int:
    """Findings that need attention and have no owner yet."""
    return sum(1 for f in data.findings if Status.of(f.get("severity")) in NEEDS_ATTENTION and not f.get("owner"))


def dimension_of(check_id: str) -> str:
    """The engine's dimension of a check; `other` for findings about the audit as a whole."""
    return "other" if check_id == AUDIT_SCOPE else _engine_dimension(check_id)


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
