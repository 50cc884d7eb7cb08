"""What evidence an inconclusive audit lacks and how to get it, in the reader's language.

An `inconclusive` finding says that something needed for a verdict was not measured: a required
check that was skipped or failed (check.required_missing), a figure resting on too few probes or on
circular labels (evidence.insufficient), or the audit as a whole (check_id "audit":
evidence.too_few_probes, evidence.nothing_measured). The board page and the full report list them
first, grouped so that one cause (e.g. "no layer-by-layer hidden states") is said once with every
check it stops.

Each reason is rendered from the finding's stored sentences (auditor.views.FindingView.sentences):
the check's own skip or error sentence for a required check, the reason a figure is not decided
without the figure's name (so two rules of one check with one cause read once). Audits stored
before the catalogue show the stored English detail. No reportlab here.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.messages import render, verbatim
from auditor.status import Status
from auditor.views import FindingView

AUDIT_SCOPE = "audit"          # the check_id of findings about the audit as a whole (auditor.findings)


@dataclass
class Missing:
    """One cause of an inconclusive verdict: what is missing, where, why, and how to get it."""
    title: str
    reason: str
    action: str
    scopes: list[str] = field(default_factory=list)   # check ids ("audit" for the audit as a whole)


def inconclusive_findings(findings: Iterable[FindingView]) -> list[FindingView]:
    return [f for f in findings if f.severity is Status.INCONCLUSIVE]


def reason_of(finding: FindingView, lang: str, t: dict[str, Any]) -> str:
    """Why the evidence is missing, without the parts the title already says."""
    first = finding.sentences[0] if finding.sentences else None
    if first is None:
        return finding.detail
    if first.key == "finding.required_missing":
        parts = [_why_not_run(r, lang, t, finding.detail) for r in first.params.get("reasons") or ()]
        return render([verbatim(p) for p in parts], lang)   # joined by the language's clause separator
    if first.key == "finding.not_decided":
        return render(first.params["reason"], lang, default=finding.detail)
    return finding.detail_in(lang)


def _why_not_run(reason: Any, lang: str, t: dict[str, Any], stored: str) -> str:
    """'did not run: <the check's reasons>' / 'failed to run: <its error>' / that the template lacked it."""
    key, params = getattr(reason, "key", ""), getattr(reason, "params", {})
    if key == "check.skipped":
        why = render(list(params.get("reasons") or ()), lang, default=stored)
        return t["missing_not_run"].format(why=why)
    if key == "check.error" and "detail" in params:
        return t["missing_failed"].format(why=render(params["detail"], lang, default=stored))
    return render(reason, lang, default=stored)


def missing_evidence(findings: Iterable[FindingView], lang: str, t: dict[str, Any]) -> list[Missing]:
    """Inconclusive findings grouped by (title, reason, action), audit-wide causes first."""
    groups: dict[tuple[str, str, str], Missing] = {}
    ordered = sorted(inconclusive_findings(findings), key=lambda f: f.check_id != AUDIT_SCOPE)
    for f in ordered:
        title, reason, action = f.title_in(lang), reason_of(f, lang, t), f.action_in(lang)
        entry = groups.setdefault((title, reason, action), Missing(title=title, reason=reason, action=action))
        scope = f.check_id or AUDIT_SCOPE
        if scope not in entry.scopes:
            entry.scopes.append(scope)
    return list(groups.values())
