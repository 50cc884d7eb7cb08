"""The findings page's sentences about the audit as a whole: no audit to show, a run that ended without a
verdict, a template that is not approval-grade, the sign-off state, and the heading.

Every sentence is a catalogue key (templates/sentences/gui_findings.yaml) rendered in the UI language; the
engine's own error text (an exception's words) is only ever shown after "Details:" / "詳細：".
"""
from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from auditor.messages import render
from auditor.presentation import audit_status_label, presentation
from auditor.views import AuditView
from gui.widgets.signoff_state import ROLES, overall, role_lines

Tr = Callable[..., str]
STOPPED = ("cancelled", "failed", "interrupted", "running")
CANCELLED_ERROR = "cancelled by the user"    # what auditor.audit_run stores for a cancellation (not news to show)
NAME_CHARS = 80                              # a longer model name is shortened in the heading (full in the tooltip)


def when(at: str | None) -> str:
    """'2026-12-01 17:53' from a stored ISO time ('' when none)."""
    return (at or "")[:16].replace("T", " ")


def empty_lines(source: Any, tr: Tr) -> list[str]:
    """What to do when no audit is open: start one (the database has none) or open one from the library."""
    from gui.source import Unreachable

    try:
        has_audits = bool(source.list_audits())
    except Unreachable as down:      # not "no audits": the service did not answer
        return [tr(down.sentence.key, **down.sentence.params)]
    except Exception:   # an unreadable file is the library's to report; here it simply has nothing to open
        has_audits = False
    return [tr("gui.findings.empty.none_open" if has_audits else "gui.findings.empty.no_audits")]


def stopped_lines(view: AuditView, tr: Tr, lang: str) -> list[str]:
    """A run without a verdict: how it ended and when, what was measured, and how to get a verdict."""
    status = view.status
    if status in STOPPED:
        at = view.started_at if status == "running" else (view.finished_at or view.started_at)
        lines = [tr(f"gui.findings.stopped.{status}", when=when(at))]
    else:
        lines = [tr("gui.findings.stopped.other", status=audit_status_label(status, lang))]
    if status == "running":
        return lines
    if view.checks:
        titles = [presentation(c.id).title_in(lang) for c in view.checks]
        lines.append(tr("gui.findings.measured.some", count=len(view.checks), checks=titles))
    else:
        lines.append(tr("gui.findings.measured.none"))
    if view.error and view.error != CANCELLED_ERROR:
        lines.append(tr("gui.findings.details", detail=view.error))
    lines.append(tr("gui.findings.stopped.again"))
    return lines


def banner_lines(view: AuditView, tr: Tr) -> list[str]:
    """The not-for-approval banner of a completed audit whose evaluation's template is not approval-grade."""
    if view.status != "completed" or view.template.approval_grade:
        return []
    return [tr("gui.findings.banner.quick", template=view.template.name or "")]


def signoff_lines(view: AuditView, tr: Tr, lang: str) -> tuple[str, list[str]]:
    """The audit's sign-off state in the Sign-off page's own words (gui.widgets.signoff_state), so both pages
    say the same: ('approved' | 'conditions' | 'rejected' | 'awaiting', ['Sign-off: Not approved yet; still to
    sign: preparer, approver', 'Reviewer: R. Reviewer — Approve with conditions, 2026-12-01 09:15 UTC'])."""
    state, sentence = overall(view, lang)
    signed = {s.role for s in view.signoffs}
    roles = [render(line, lang) for role, line in zip(ROLES, role_lines(view), strict=True) if role in signed]
    return state, [tr("gui.findings.signoff.state", state=render(sentence, lang))] + ([" · ".join(roles)] if roles
                                                                                       else [])


def heading_html(view: AuditView, lang: str) -> tuple[str, str]:
    """The heading (model name shortened past NAME_CHARS, version, ID, date, format, template, run state)
    and the full model name for its tooltip."""
    model = view.model
    name = model.name or ""
    shown = name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…"
    facts = " · ".join(x for x in (view.audit_id, when(view.started_at), model.format or "", view.template.name or "",
                                   audit_status_label(view.status, lang)) if x)
    return (f"<span style='font-size:14pt'><b>{html.escape(shown)}</b> {html.escape(model.version or '')}</span>"
            f"<br>{html.escape(facts)}", name)
