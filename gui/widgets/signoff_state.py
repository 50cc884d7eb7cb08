"""An audit's sign-off state in words: who prepared, reviewed and approved (or rejected) it, and when.

Shown prominently at the top of the Sign-off page (a framed panel coloured by the state, the state also in
words, so it never rests on colour alone) and as the Sign-offs table beside the history.
"""
from __future__ import annotations

import html

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from auditor.messages import Message, has, render
from auditor.presentation import DECISIONS, audit_status_label
from auditor.views import AuditView, SignoffView
from gui.theme import BACKGROUNDS, COLOURS
from gui.widgets.history import decision_message, role_message, when
from gui.widgets.wrapping_label import WrappingLabel

ROLES = ("preparer", "reviewer", "approver")
# the panel's colour for each state: approved, approved with conditions, rejected, still to sign
_STYLE = {"approved": "pass", "conditions": "warn", "rejected": "fail", "awaiting": "info"}
# the sentence's colour where the status colour is too light on its background (warn: 3.9:1; this: 5.8:1)
_TEXT = {"conditions": "#8a5300"}


def _when(at: str | None) -> Message:
    return Message("gui.signoff.state.when", {"date": when(at)})


def is_current(view: AuditView, signoff: SignoffView) -> bool:
    """Whether a sign-off is of the evaluation shown (one stored before evaluations were tracked counts)."""
    return signoff.evaluation_id is None or signoff.evaluation_id == view.evaluation_id


def stopped_message(status: str, lang: str) -> Message:
    """Why an audit that did not complete cannot be signed, worded for how its run ended ('the audit failed',
    never 'the audit is failed'); a state without its own sentence is named in words."""
    key = f"gui.signoff.state.stopped.{status}"
    if has(key):
        return Message(key)
    return Message("gui.signoff.state.stopped_other", {"status": audit_status_label(status, lang)})


def overall(view: AuditView, lang: str) -> tuple[str, Message]:
    """The state ('approved', 'conditions', 'rejected', 'awaiting') and its sentence."""
    if view.status != "completed":
        return "awaiting", stopped_message(view.status, lang)
    current = {s.role: s for s in view.signoffs if is_current(view, s)}
    approver = current.get("approver")
    if approver is not None:
        code = DECISIONS.get(str(approver.decision or ""), "approve")
        state = {"approve": "approved", "conditions": "conditions", "reject": "rejected"}[code]
        params = {"name": approver.name or "", "when": _when(approver.at),
                  "role": Message("duties.role.approver")}
        return state, Message(f"gui.signoff.state.{state}", params)
    rejecting = next((current[r] for r in ROLES if r in current and current[r].decision == "reject"), None)
    if rejecting is not None:
        return "rejected", Message("gui.signoff.state.rejected", {
            "role": Message(f"duties.role.{rejecting.role}"), "name": rejecting.name or "",
            "when": _when(rejecting.at)})
    missing = [Message(f"duties.role.{r}") for r in ROLES if r not in current]
    return "awaiting", Message("gui.signoff.state.awaiting", {"roles": missing})


def role_lines(view: AuditView) -> list[Message]:
    """One line per role: its latest sign-off (marked when it is of an earlier evaluation) or 'not signed'."""
    latest = {s.role: s for s in view.signoffs}
    lines = []
    for role in ROLES:
        s = latest.get(role)
        if s is None:
            lines.append(Message("gui.signoff.state.role_open", {"role": Message(f"signoff.role.{role}")}))
            continue
        key = "role_signed" if is_current(view, s) else "role_signed_earlier"
        lines.append(Message(f"gui.signoff.state.{key}", {
            "role": Message(f"signoff.role.{role}"), "name": s.name or "",
            "decision": decision_message(s.decision), "when": _when(s.at)}))
    return lines


class SignoffStateLabel(WrappingLabel):
    """The framed panel: the heading, the overall state in its colour, then a line per role (its minimum
    height follows its width, so at 200% scaling it never squeezes the form below it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("signoffState")
        self.state = "awaiting"

    def set_view(self, view: AuditView | None, lang: str) -> None:
        if view is None:
            self.hide()
            return
        self.show()
        heading = render(Message("gui.signoff.state.heading"), lang)
        state, sentence = overall(view, lang)
        self.state = state
        colour, background = COLOURS[_STYLE[state]], BACKGROUNDS[_STYLE[state]]
        self.setStyleSheet(f"QLabel#signoffState {{background:{background};border:2px solid {colour};"
                           "border-radius:6px;padding:6px;color:#212121;}")
        colour = _TEXT.get(state, colour)
        lines = [render(m, lang) for m in role_lines(view)]
        self.setText(f"<b>{html.escape(heading)}</b><br><span style='font-size:12pt;color:{colour}'><b>"
                     f"{html.escape(render(sentence, lang))}</b></span><br>"
                     + "<br>".join(html.escape(line) for line in lines))
        self.setAccessibleName(render(Message("gui.signoff.a11y.state"), lang))
        # a screen reader reads the plain sentences, not the markup
        self.setAccessibleDescription(" ".join([render(sentence, lang), *lines]))


def fill_signoffs(table: QTableWidget, view: AuditView | None, lang: str) -> None:
    """The latest sign-off of each role: role, name, decision, date (UTC)."""
    signoffs = view.signoffs if view is not None else ()
    table.setRowCount(len(signoffs))
    for r, s in enumerate(signoffs):
        role = role_message(s.role)
        values = (render(role, lang) if isinstance(role, Message) else role, s.name or "",
                  render(decision_message(s.decision), lang), when(s.at))
        for c, value in enumerate(values):
            table.setItem(r, c, QTableWidgetItem(value))
