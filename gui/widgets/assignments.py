"""Finding owners and due dates: the findings of the current evaluation, and the owner, due date and the
person credited with the assignment, saved as a signed `assigned` event (api.assign_finding).

Nothing is saved that the user did not choose: the due date is unset until "Set a due date" is ticked, and
the assignment is credited to the name in its own "Assigned by" field (or the identity chosen for it), never
to the name typed in the sign-off box. Save is disabled, with the reason beside it, until a finding is chosen,
someone is named and something changed; the status line is cleared whenever the selection or an input changes.
"""
from __future__ import annotations

from itertools import pairwise
from typing import Any

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor.duties import NEEDS_OWNER
from auditor.messages import Message, render
from auditor.presentation import scope_label
from auditor.status import rank
from auditor.views import AuditView, FindingView
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import colour
from gui.widgets.history import changes_said
from gui.widgets.identities import fill_identities, signing_identities, unlock

NO_DATE = QDate(2000, 1, 1)          # the date edit's minimum, shown as "not set" (its special value text)


class DateField(QDateEdit):
    """A date edit that Tab leaves: Qt's moves Tab between year, month and day (arrows still do), and keeps
    it altogether while its special value ("not set") shows."""

    def focusNextPrevChild(self, forward: bool) -> bool:  # noqa: N802 (Qt name)
        return QWidget.focusNextPrevChild(self, forward)


class AssignmentBox(QGroupBox):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.view: AuditView | None = None
        self._findings: tuple[FindingView, ...] = ()
        self._filling = False
        self.findings = QTableWidget(0, 5)
        self.identity, self.by, self.owner = QComboBox(), QLineEdit(), QLineEdit()
        self.due_check = QCheckBox()
        self.due = DateField(calendarPopup=True)
        self.due.setDisplayFormat("yyyy-MM-dd")
        self.due.setMinimumDate(NO_DATE)
        self.due.setDate(NO_DATE)
        self.due.setEnabled(False)
        self.save_button = QPushButton(clicked=self.save)
        self.hint = QLabel(wordWrap=True)        # why Save is disabled, beside it
        self.status = QLabel(wordWrap=True)      # the result of the last save; cleared on any change
        self.caption = QLabel(wordWrap=True)     # which findings the table lists, and how many still need an owner
        self._set_up_table()
        self._lay_out()
        self.findings.itemSelectionChanged.connect(self._selection_changed)
        self.findings.activated.connect(lambda _i: self.owner.setFocus())     # Return on a row: edit its owner
        self.identity.currentIndexChanged.connect(lambda _i: self._identity_changed())
        self.by.textEdited.connect(lambda _t: self._input_changed())
        self.owner.textEdited.connect(lambda _t: self._input_changed())
        self.due_check.toggled.connect(self._due_toggled)
        self.due.dateChanged.connect(lambda _d: self._input_changed())

    def _set_up_table(self) -> None:
        table = self.findings
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        table.setTabKeyNavigation(False)           # Tab leaves the table for the editors beside it
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def _lay_out(self) -> None:
        self.form = QFormLayout()
        self.due_row = QHBoxLayout()
        self.due_row.addWidget(self.due_check)
        self.due_row.addWidget(self.due, 1)
        for field in (self.identity, self.by, self.owner):
            self.form.addRow(QLabel(), field)
        self.form.addRow(self.due_row)
        for row in range(3):
            label = self.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
            label.setBuddy(self.form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget())   # Alt+mnemonic
        editors = QVBoxLayout()
        editors.addLayout(self.form)
        editors.addWidget(self.save_button)
        editors.addWidget(self.hint)
        editors.addWidget(self.status)
        editors.addStretch(1)
        side = QWidget()
        side.setLayout(editors)
        side.setMaximumWidth(430)
        listed = QVBoxLayout()
        listed.addWidget(self.caption)
        listed.addWidget(self.findings, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(listed, 1)
        layout.addWidget(side)
        chain = (self.findings, self.identity, self.by, self.owner, self.due_check, self.due, self.save_button)
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _say(self, key: str, **params: Any) -> str:
        return render(Message(key, params), self.state.lang)

    def retranslate(self) -> None:
        say, t = self._say, self.state.tr
        self.setTitle(say("gui.signoff.assign.box"))
        for row, key in enumerate(("identity_label", "by_label", "owner_label")):
            self.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().setText(say(f"gui.signoff.assign.{key}"))
        self.due_check.setText(say("gui.signoff.assign.due_check"))
        self.due.setSpecialValueText(say("gui.signoff.assign.no_date"))
        self.save_button.setText(say("gui.signoff.assign.save"))
        fill_identities(self.identity, signing_identities(), self.state.lang)
        for widget, key in ((self.findings, "findings"), (self.identity, "assign_identity"), (self.by, "by"),
                            (self.owner, "owner"), (self.due_check, "due_check"), (self.due, "due")):
            widget.setAccessibleName(say(f"gui.signoff.a11y.{key}"))
            widget.setAccessibleDescription(say(f"gui.signoff.a11y.{key}_desc"))
        self.save_button.setAccessibleName(say("gui.signoff.a11y.save"))
        self.hint.setAccessibleName(say("gui.signoff.a11y.hint"))
        self.status.setAccessibleName(say("gui.signoff.a11y.status"))
        self.caption.setAccessibleName(say("gui.signoff.a11y.caption"))
        self.findings.setHorizontalHeaderLabels([say("gui.signoff.assign.col.severity"), t("cmp.check"),
                                                 t("s.finding"), t("s.owner"), t("s.due")])
        self.set_view(self.view)
        self.status.setText("")       # a sentence of the other language would be stale

    def set_view(self, view: AuditView | None) -> None:
        """The findings to assign (listed_findings), the selected one kept by its ID."""
        chosen = self.selected()
        self.view = view
        lang = self.state.lang
        findings = listed_findings(view)
        self._findings = findings
        self._say_caption()
        for editor in (self.identity, self.by, self.owner, self.due_check):
            editor.setEnabled(bool(findings))     # nothing to assign: the hint beside Save says why
        self.due.setEnabled(bool(findings) and self.due_check.isChecked())
        self._filling = True
        try:
            self.findings.clearSelection()
            self.findings.setRowCount(len(findings))
            for r, f in enumerate(findings):
                check = scope_label(f.check_id, lang)    # "Audit as a whole" for audit-wide findings
                values = (verdict_word(f.severity, lang), check, f.title_in(lang), f.owner or "", f.due or "")
                for c, value in enumerate(values):
                    item = QTableWidgetItem(str(value))
                    item.setToolTip(f.check_id if c == 1 else str(value))
                    if c == 0:
                        item.setForeground(colour(f.severity))
                    self.findings.setItem(r, c, item)
            row = next((r for r, f in enumerate(findings) if chosen is not None and f.id == chosen.id), -1)
            if row >= 0:
                self.findings.selectRow(row)
        finally:
            self._filling = False
        self._update_save()

    def _say_caption(self) -> None:
        """Which findings are listed; hidden when none are (the hint beside Save then says why)."""
        needing = [f for f in self._findings if f.severity in NEEDS_OWNER]
        if not self._findings:
            text = ""
        elif needing:
            text = self._say("gui.signoff.assign.caption", needing=len(needing),
                             open=sum(1 for f in needing if not (f.owner and f.due)))
        else:
            text = self._say("gui.signoff.assign.caption_none_needed")
        self.caption.setText(text)
        self.caption.setVisible(bool(text))

    def selected(self) -> FindingView | None:
        rows = self.findings.selectionModel().selectedRows()
        return self._findings[rows[0].row()] if rows and rows[0].row() < len(self._findings) else None

    def _selection_changed(self) -> None:
        """The chosen finding's stored owner and due date in the editors (unset when it has none)."""
        if self._filling:
            return
        f = self.selected()
        self.owner.setText((f.owner or "") if f else "")
        due = QDate.fromString((f.due or "")[:10], "yyyy-MM-dd") if f else QDate()
        self.due_check.blockSignals(True)
        self.due_check.setChecked(due.isValid())
        self.due_check.blockSignals(False)
        self.due.setEnabled(due.isValid())
        self.due.setDate(due if due.isValid() else NO_DATE)
        self._input_changed()

    def _identity_changed(self) -> None:
        """A person assigns under the name in their certificate; none: the name typed in Assigned by."""
        identity = self.identity.currentData()
        self.by.setReadOnly(bool(identity))
        self.by.setText(identity or "")
        self._input_changed()

    def _due_toggled(self, on: bool) -> None:
        """Ticked: a date to choose (a month ahead, shown before anything is saved); unticked: no due date."""
        self.due.setEnabled(on)
        if on and self.due.date() == NO_DATE:
            self.due.setDate(QDate.currentDate().addDays(30))
        elif not on:
            self.due.setDate(NO_DATE)
        self._input_changed()

    def _input_changed(self) -> None:
        self.status.setText("")
        self._update_save()

    def changes(self) -> dict[str, str]:
        """What Save would store: the owner and/or the due date where they differ from the stored ones
        ('' removes them)."""
        f = self.selected()
        if f is None:
            return {}
        owner = " ".join(self.owner.text().split())
        due = self.due.date().toString("yyyy-MM-dd") if self.due_check.isChecked() and \
            self.due.date() != NO_DATE else ""
        out = {}
        if owner != (f.owner or ""):
            out["owner"] = owner
        if due != (f.due or "")[:10]:
            out["due"] = due
        return out

    def refusal(self) -> Message | None:
        """Why Save cannot be pressed now (None: it can)."""
        if not self._findings:
            return nothing_to_assign(self.view)
        if self.selected() is None:
            return Message("gui.signoff.assign.need_finding")
        if not self.by.text().strip():
            return Message("gui.signoff.assign.need_by")
        if not self.changes():
            return Message("gui.signoff.assign.nothing_changed")
        return None

    def _update_save(self) -> None:
        refused = self.refusal() if self.view is not None else None
        text = "" if refused is None else render(refused, self.state.lang)
        self.save_button.setEnabled(self.view is not None and refused is None)
        self.hint.setText(text)
        self.hint.setVisible(bool(text))
        self.save_button.setToolTip(text)
        self.save_button.setAccessibleDescription(text)

    def save(self) -> None:
        f, changes, by = self.selected(), self.changes(), " ".join(self.by.text().split())
        if self.view is None or f is None or self.refusal() is not None:
            return
        audit_id = self.view.audit_id
        try:
            signer = unlock(self, self.identity.currentData(), self.state.lang)
            if self.identity.currentData() and signer is None:
                self.status.setText(self._say("gui.signoff.assign.not_saved"))
                return
            self.state.source.assign_finding(audit_id, f.id, changes.get("owner"), changes.get("due"), by, signer)
        except Exception as exc:  # a wrong passphrase or a refused value: one sentence in the user's language
            message = getattr(exc, "message", None)
            QMessageBox.warning(self, self.state.tr("err.action"),
                                render(message, self.state.lang) if isinstance(message, Message) else str(exc))
            return
        self.state.changed(audit_id)         # every page showing this audit re-reads it (this box too)
        self.status.setText(self._say("gui.signoff.assign.saved", finding_id=f.id, changes=changes_said(changes),
                                      by=by))


def listed_findings(view: AuditView | None) -> tuple[FindingView, ...]:
    """The findings that did not pass: those the approval rules need an owner and a due date for (warn, fail:
    auditor.duties.NEEDS_OWNER) first, the others after (inconclusive, error, info), worst first in each group.
    Passed findings are never listed: there is nothing to act on."""
    if view is None:
        return ()
    open_ = [f for f in view.findings if f.severity != "pass"]
    return tuple(sorted(open_, key=lambda f: (f.severity not in NEEDS_OWNER, -rank(f.severity), f.id)))


def nothing_to_assign(view: AuditView | None) -> Message:
    """Why the table is empty: the audit did not complete, it has no findings, or every finding passed."""
    if view is not None and view.status != "completed" and not view.findings:
        return Message("gui.signoff.assign.none_stopped")
    if view is None or not view.findings:
        return Message("gui.signoff.assign.none_at_all")
    return Message("gui.signoff.assign.none_all_passed")
