"""Everything a report shows: the audit's typed view (auditor.views) and its evidence, read once per build.

Reports read the engine only through its public surface: `auditor.api` opens one handle per command
(`api.session`) and reads the audit on it once (`api.read_stored`: the view, the fingerprinted
content, the planned checks and the comparison with the previous audit); statuses are ordered by
auditor.status, and a check's dimension comes from its declaration (auditor.presentation).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from auditor import api
from auditor.presentation import presentation
from auditor.status import Status
from auditor.views import AuditView, CheckView, FindingView, ModelView, RatingView, RuleView

AUDIT_SCOPE = "audit"   # the check_id of findings about the audit as a whole
# severities that need someone's attention: a measured breach, evidence missing, a check that could not run
NEEDS_ATTENTION = (Status.FAIL, Status.INCONCLUSIVE, Status.ERROR, Status.WARN)


@dataclass
class ReportData:
    view: AuditView
    evidence_json: bytes               # the canonical evidence the fingerprint covers, embedded in the PDF
    fingerprint: str                   # of that evidence, printed on every page and embedded
    comparison: dict[str, Any] | None
    report_id: str
    generated_at: str
    lang: str = "en"
    planned: tuple[str, ...] = ()      # the check ids of the template the audit ran under
    draft: bool = False                # set by the build; the page furniture marks every page of a draft
    content: dict[str, Any] = field(default_factory=dict)

    @property
    def stored_fingerprint(self) -> str | None:
        return self.view.fingerprint

    @property
    def model(self) -> ModelView:
        return self.view.model

    @property
    def checks(self) -> tuple[CheckView, ...]:
        return self.view.checks

    @property
    def findings(self) -> tuple[FindingView, ...]:
        return self.view.findings

    @property
    def ratings(self) -> tuple[RatingView, ...]:
        return self.view.ratings

    @property
    def conditions(self) -> tuple[RuleView, ...]:
        return self.view.template_conditions

    def check(self, check_id: str) -> CheckView | None:
        return self.view.check(check_id)

    def metrics(self, check_id: str) -> dict[str, Any]:
        check = self.check(check_id)
        return dict(check.metrics) if check else {}

    def evidence(self, check_id: str) -> dict[str, Any]:
        check = self.check(check_id)
        return dict(check.evidence) if check else {}

    @property
    def incomplete(self) -> bool:
        return self.view.status != "completed"

    @property
    def shown_verdict(self) -> str | None:
        """The verdict a report may show: none for an audit that did not complete, whatever its row holds (a
        failed or edited record never reads as a pass)."""
        return None if self.incomplete else self.view.verdict

    @property
    def missing_checks(self) -> list[str]:
        """Checks that errored, were skipped, or that the template planned but never stored a result."""
        stored = {c.id for c in self.checks}
        return ([c.id for c in self.checks if c.status in (Status.ERROR, Status.SKIPPED)]
                + [c for c in self.planned if c not in stored])

    def missing_titles(self) -> str:
        """The missing checks by their titles in the report's language, joined as the language lists things."""
        from auditor.messages import Message, render

        return render(Message("join.list"), self.lang).join(presentation(c).title_in(self.lang)
                                                           for c in self.missing_checks)


def read(handle: Any, audit_id: str, lang: str = "en") -> ReportData:
    """Everything a report shows, read once from one open handle; works for failed, cancelled and running audits."""
    stored = api.read_stored(handle, audit_id, compare_previous=True)
    now = datetime.now(timezone.utc)
    return ReportData(view=stored.view, evidence_json=stored.evidence_json, fingerprint=stored.fingerprint,
                      comparison=stored.comparison,
                      report_id=f"R-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}",
                      generated_at=now.isoformat(timespec="seconds"), lang=lang, planned=stored.planned,
                      content=stored.content)


def load(audit_id: str, db: str | None = None, lang: str = "en") -> ReportData:
    """`read` through a read-only handle of its own, for callers that hold none."""
    with api.session(db) as handle:
        return read(handle, audit_id, lang)


def top_risks(data: ReportData, n: int = 3) -> list[FindingView]:
    """Findings that need attention (fail, inconclusive, error, warn), worst first in auditor.status's order."""
    risky = [f for f in data.findings if f.severity in NEEDS_ATTENTION]
    risky.sort(key=lambda f: -f.severity.rank)
    return risky[:n]


def open_actions(data: ReportData) -> int:
    """Findings that need attention and have no owner yet."""
    return sum(1 for f in data.findings if f.severity in NEEDS_ATTENTION and not f.owner)


def dimension_of(check_id: str) -> str:
    """The dimension the check declares; `other` for findings about the audit as a whole or unknown checks."""
    return "other" if check_id == AUDIT_SCOPE else (presentation(check_id).dimension or "other")


def opportunities(data: ReportData) -> list[FindingView]:
    """Efficiency findings: info severity with a key `opportunity.*`."""
    return [f for f in data.findings if f.severity is Status.INFO and (f.key or "").startswith("opportunity.")]


def layer_series(data: ReportData, check_id: str, name: str) -> list[float | None]:
    value = data.metrics(check_id).get(name)
    if not isinstance(value, list) or any(isinstance(v, (list, dict)) for v in value):
        return []
    return list(value)
