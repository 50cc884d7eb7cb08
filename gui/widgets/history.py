"""An audit's history (its append-only events) in words, in the UI's language.

Each event kind the app records (created, completed, signed, assigned, re-evaluated, failed, cancelled,
interrupted, reported, report.served, identity.revoked, trust.added, token.created, token.revoked) is
gui.signoff.event.<kind>; its detail is a sentence
(gui.signoff.detail.<kind>), never the stored keys ("finding_id: 29"). Names, file names, template names and
quoted exception text stay as they are.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from auditor.messages import Message, has, render, verbatim
from auditor.presentation import DECISIONS, status_label
from auditor.views import AuditView, EventView

CANCELLED = "cancelled by the user"        # what auditor/audit_run.py stores as a cancelled audit's error


def event_key(kind: str) -> str:
    """The catalogue key of an event kind ('re-evaluated' -> gui.signoff.event.re_evaluated)."""
    return "gui.signoff.event." + kind.replace("-", "_").replace(".", "_")


def event_word(kind: str, lang: str) -> str:
    key = event_key(kind)
    return render(Message(key) if has(key) else Message("gui.signoff.event.other", {"kind": kind}), lang)


def when(at: str | None) -> str:
    """A stored UTC time ('2030-06-30T09:15:02+00:00') as '2030-06-30 09:15'."""
    return (at or "")[:16].replace("T", " ")


def actor_word(actor: str | None, lang: str) -> str:
    """Who recorded the event; the app itself ('auditor') said so in words."""
    if not actor or actor == "auditor":
        return render(Message("gui.signoff.actor.app"), lang)
    return actor


def role_message(role: Any) -> Any:
    return Message(f"signoff.role.{role}") if has(f"signoff.role.{role}") else str(role or "")


def decision_message(decision: Any) -> Message:
    """A stored decision ('approve with conditions') as its catalogue words; none stated said so."""
    code = DECISIONS.get(str(decision or ""))
    if code:
        return Message(f"signoff.decision.{code}")
    return verbatim(str(decision)) if decision else Message("gui.signoff.decision.none")


def _status(value: Any, lang: str) -> str:
    return status_label(str(value), lang) if value else render(Message("value.unknown"), lang)


def changes_said(detail: Mapping[str, Any]) -> list[Message]:
    """What an assignment set: the owner and/or the due date, or that it removed them."""
    out = []
    if "owner" in detail:
        out.append(Message("gui.signoff.change.owner", {"owner": detail["owner"]}) if detail["owner"]
                   else Message("gui.signoff.change.no_owner"))
    if "due" in detail:
        out.append(Message("gui.signoff.change.due", {"due": detail["due"]}) if detail["due"]
                   else Message("gui.signoff.change.no_due"))
    return out


def _assigned(detail: Mapping[str, Any], view: AuditView | None, lang: str) -> Message:
    finding_id = detail.get("finding_id")
    found = next((f for f in (view.findings if view else ()) if f.id == finding_id), None)
    title = found.title_in(lang) if found is not None else ""
    params = {"finding_id": finding_id, "changes": changes_said(detail)}
    return Message("gui.signoff.detail.assigned_titled", {**params, "title": title}) if title \
        else Message("gui.signoff.detail.assigned", params)


def _report_params(detail: Mapping[str, Any]) -> dict[str, Any]:
    kind, language = str(detail.get("kind") or ""), str(detail.get("lang") or "")
    return {"kind": Message(f"gui.signoff.report.{kind}") if has(f"gui.signoff.report.{kind}") else kind,
            "language": Message(f"gui.signoff.language.{language}") if has(f"gui.signoff.language.{language}")
            else language}


def _reported(detail: Mapping[str, Any]) -> Message:
    params = {**_report_params(detail), "file": str(detail.get("file") or "")}
    signed = detail.get("signed_by")
    if isinstance(signed, Mapping) and signed.get("name"):
        return Message("gui.signoff.detail.reported_signed", {**params, "name": str(signed["name"])})
    return Message("gui.signoff.detail.reported", params)


def detail_message(event: EventView, view: AuditView | None, lang: str) -> Message | None:
    """The event's detail as one sentence; None for a kind whose detail says nothing a reader needs."""
    kind, d = event.kind, event.detail
    if kind == "created":
        return Message("gui.signoff.detail.created", {"template": str(d.get("template") or "")})
    if kind == "completed":
        return Message("gui.signoff.detail.completed", {"verdict": _status(d.get("verdict"), lang)})
    if kind == "signed":
        return Message("gui.signoff.detail.signed", {"role": role_message(d.get("role")),
                                                     "name": str(d.get("name") or ""),
                                                     "decision": decision_message(d.get("decision"))})
    if kind == "assigned":
        return _assigned(d, view, lang)
    if kind == "re-evaluated":
        params = {"template": str(d.get("template") or ""), "verdict": _status(d.get("verdict"), lang)}
        if d.get("previous_verdict"):
            return Message("gui.signoff.detail.re_evaluated", {**params,
                                                                "previous": _status(d["previous_verdict"], lang)})
        return Message("gui.signoff.detail.re_evaluated_first", params)
    if kind == "cancelled" and d.get("error") in (None, CANCELLED):
        return Message("gui.signoff.detail.cancelled")
    if kind == "interrupted":
        return Message("gui.signoff.detail.interrupted")
    if kind in ("failed", "cancelled") and d.get("error"):
        return Message("gui.signoff.detail.failed", {"error": verbatim(str(d["error"]))})
    if kind == "reported":
        return _reported(d)
    if kind == "report.served":     # downloaded through the service (auditor/service/routes_records.py)
        return Message("gui.signoff.detail.report_served_draft" if d.get("draft") else
                       "gui.signoff.detail.report_served", _report_params(d))
    if kind in ("token.created", "token.revoked"):
        return Message("gui.signoff.detail.token", {"token_id": str(d.get("token_id") or ""),
                                                    "identity": str(d.get("identity") or "")})
    if kind == "identity.revoked":
        return Message("gui.signoff.detail.identity_revoked", {"name": str(d.get("name") or "")})
    if kind == "trust.added":
        return Message("gui.signoff.detail.trust_added", {"subject": str(d.get("subject") or "")})
    return None


def fill_history(table: QTableWidget, view: AuditView | None, lang: str) -> None:
    """The audit's events, newest first: date, who, event, detail (the full detail also as a tooltip)."""
    events = list(reversed(view.events)) if view is not None else []
    table.setRowCount(len(events))
    for r, event in enumerate(events):
        detail = detail_message(event, view, lang)
        values = (when(event.at), actor_word(event.actor, lang), event_word(event.kind, lang),
                  render(detail, lang) if detail is not None else "")
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            table.setItem(r, c, item)
    table.resizeRowsToContents()        # a long detail wraps onto more lines instead of being cut
