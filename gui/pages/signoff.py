"""Sign-off (preparer, reviewer, approver) and finding owners/due dates, recorded as events by the engine.

The audit's sign-off state leads the page (gui/widgets/signoff_state.py). Before the Sign button is pressed
the page asks the engine's separation-of-duties rules (api.signoff_refusal): a refused sign-off disables the
button and shows the reason beside it, also to a screen reader. A permitted one asks for confirmation (role,
decision, audit) and, when signed with an identity, its passphrase. After any write the page calls
state.changed(audit_id), so every page showing the audit re-reads it; this page re-reads on audit_changed.
"""
from __future__ import annotations

from itertools import pairwise
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from auditor import duties
from auditor.messages import Message, has, render
from auditor.views import AuditView
from gui import dialogs
from gui.state import AppState
from gui.strings import verdict_word
from gui.widgets.assignments import AssignmentBox
from gui.widgets.history import fill_history
from gui.widgets.identities import ROLES, fill_identities, signing_identities, unlock
from gui.widgets.signoff_state import SignoffStateLabel, fill_signoffs

DECISIONS = (("approve", "s.dec.approve"), ("approve with conditions", "s.dec.conditions"), ("reject", "s.dec.reject"))


def _table(columns: int) -> QTableWidget:
    """A read-only table that Tab leaves (it does not move between cells)."""
    table = QTableWidget(0, columns)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class SignOffPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.view: AuditView | None = None
        self.audit = QLabel(wordWrap=True)
        self.signoff_state = SignoffStateLabel()
        self.role, self.decision = QComboBox(), QComboBox()
        self.name = QLineEdit(state.settings.get("signer", ""))
        self.identity = QComboBox()
        self._identities: list[dict] = []
        self._can_choose = False       # whether some role, decision and identity could sign the audit shown
        self._has_audits = False
        self.sign_button = QPushButton(clicked=self.sign)
        self.reason = QLabel(wordWrap=True)     # why the button is disabled, beside it
        self.message = QLabel(wordWrap=True)    # the result of the last sign-off; cleared on any change
        self.signoffs, self.history = _table(4), _table(4)
        self.signoffs.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.signoffs.horizontalHeader().setStretchLastSection(False)
        # a long detail wraps: the rows are measured again whenever the columns get their widths
        # (once the layout settles: a column measured mid-layout would cut the text again)
        self._rows_later = QTimer(self, singleShot=True, interval=0, timeout=self.history.resizeRowsToContents)
        self.history.horizontalHeader().sectionResized.connect(lambda *_a: self._rows_later.start())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.signoffs, "")
        self.tabs.addTab(self.history, "")
        self.assign_box = AssignmentBox(state)
        self.findings = self.assign_box.findings
        self._lay_out()
        state.audit_opened.connect(lambda _a: self._reload_when_shown())
        state.audit_changed.connect(self._audit_changed)
        state.language_changed.connect(lambda _l: self.retranslate())
        state.db_changed.connect(lambda _d: self._reload_when_shown())
        # the first audit of an empty database: "no audits" becomes "open one from the library"
        state.audits_changed.connect(lambda: self.reload() if self.view is None else None)
        self.role.currentIndexChanged.connect(lambda _i: self._role_changed())
        self.identity.currentIndexChanged.connect(lambda _i: self._update_permission())
        self.decision.currentIndexChanged.connect(lambda _i: self._update_permission())
        self.name.textEdited.connect(lambda _t: self.message.setText(""))
        self.retranslate()
        self.reload()

    def _lay_out(self) -> None:
        """The audit line; the state and the sign-off form beside the sign-offs/history tabs; the assignments."""
        self.sign_box = QGroupBox()
        self.sign_form = QFormLayout()
        for w in (self.role, self.identity, self.name, self.decision):
            self.sign_form.addRow(QLabel(), w)
            self.sign_form.labelForField(w).setBuddy(w)           # Alt+mnemonic moves to the field
        button_row = QHBoxLayout()
        button_row.addWidget(self.sign_button)
        button_row.addWidget(self.reason, 1)
        button_row.addStretch(0)           # the button keeps its own width when there is no reason beside it
        left = QVBoxLayout()
        left.addWidget(self.signoff_state)
        left.addLayout(self.sign_form)
        left.addLayout(button_row)
        left.addWidget(self.message)
        left.addStretch(1)
        sign_layout = QHBoxLayout(self.sign_box)
        sign_layout.addLayout(left, 1)
        sign_layout.addWidget(self.tabs, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.audit)
        layout.addWidget(self.sign_box, 1)
        layout.addWidget(self.assign_box, 1)
        layout.addStretch(0)           # with no audit open only the sentence shows, at the top
        # the sign-off box holds a wrapped label beside tabs: its height-for-width under-counts the label, so a
        # narrow window (200% scaling) squeezed the form's fields; it keeps at least its minimum hint instead
        chain = (self.role, self.identity, self.name, self.decision, self.sign_button, self.tabs,
                 self.assign_box.findings)
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _say(self, key: str, **params: Any) -> str:
        return render(Message(key, params), self.state.lang)

    def retranslate(self) -> None:
        t, say = self.state.tr, self._say
        self.sign_box.setTitle(say("gui.signoff.box"))
        for field, key in ((self.role, "role"), (self.identity, "identity"), (self.name, "name"),
                           (self.decision, "decision")):
            self.sign_form.labelForField(field).setText(say(f"gui.signoff.{key}_label"))
            field.setAccessibleName(say(f"gui.signoff.a11y.{key}"))
            field.setAccessibleDescription(say(f"gui.signoff.a11y.{key}_desc"))
        self.reason.setAccessibleName(say("duties.gui.reason_name"))
        for combo, items in ((self.role, [(r, f"s.role.{r}") for r in ROLES]), (self.decision, DECISIONS)):
            current = combo.currentIndex()
            combo.blockSignals(True)        # one permission check after the refill, not one per item
            combo.clear()
            for value, key in items:
                combo.addItem(t(key), value)
            combo.setCurrentIndex(max(0, current))
            combo.blockSignals(False)
        self._fill_identities()
        self.sign_button.setText(say("gui.signoff.sign"))
        self.sign_button.setAccessibleName(say("gui.signoff.a11y.sign"))
        self.signoffs.setHorizontalHeaderLabels([t("s.role"), t("s.signer"), t("s.decision"), t("s.when")])
        self.history.setHorizontalHeaderLabels([t("s.when"), t("s.actor"), t("s.event"), t("s.detail")])
        self.tabs.setTabText(0, say("gui.signoff.tab.signoffs"))
        self.tabs.setTabText(1, say("gui.signoff.tab.history"))
        self.tabs.setAccessibleName(say("gui.signoff.a11y.tabs"))
        for widget, key in ((self.signoffs, "signoffs"), (self.history, "history")):
            widget.setAccessibleName(say(f"gui.signoff.a11y.{key}"))
            widget.setAccessibleDescription(say(f"gui.signoff.a11y.{key}_desc"))
        self.message.setAccessibleName(say("gui.signoff.a11y.message"))
        self.audit.setAccessibleName(say("gui.signoff.a11y.audit"))
        self.message.setText("")          # a sentence of the other language would be stale
        self.assign_box.retranslate()
        self._render()

    def _audit_changed(self, audit_id: str) -> None:
        """The one signal after any write (AppState.changed): re-read when it concerns the audit shown."""
        if audit_id in ("", self.state.audit_id):
            self._reload_when_shown()

    def _reload_when_shown(self) -> None:
        """Re-read now if the page is on screen, else when it is next shown: opening an audit then costs
        the Findings page alone (the goal is under 300 ms with 250 findings), not two more reads here."""
        self._stale = not self.isVisible()
        if not self._stale:
            self.reload()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if getattr(self, "_stale", False):
            self.reload()

    def reload(self) -> None:
        self._stale = False
        audit_id = self.state.audit_id
        from gui.source import Unreachable

        try:
            self.view, self._down = (self.state.source.audit_view(audit_id) if audit_id else None), None
        except Unreachable as down:      # the service did not answer: nothing to sign, and the page says why
            self.view, self._down = None, down.sentence
        self._has_audits = self.view is not None or _has_audits(self.state.source)
        self._can_choose = self._anyone_may_sign()
        self._render()
        self._update_permission()

    def _fill_identities(self) -> None:
        """The identities in the identities folder that can sign (a key beside the certificate)."""
        self._identities = signing_identities()
        fill_identities(self.identity, self._identities, self.state.lang)
        self._can_choose = self._anyone_may_sign()
        self._role_changed()

    def _anyone_may_sign(self) -> bool:
        """Whether any role, decision and identity (or the machine key) could sign the audit shown. When none
        could (an audit that did not complete), choosing is pointless and the choosers are disabled; when the
        refusal depends on the choice, they stay enabled so the user can pick one the rules allow."""
        if self.view is None:
            return False
        signers = [duties.identity_facts(None)]
        for row in self._identities:
            try:
                signers.append(duties.identity_facts(row["name"]))
            except Exception:  # an unreadable certificate is refused on its own when chosen
                continue
        return any(duties.refusal(self.view, role, decision, facts) is None
                   for role in ROLES for decision, _key in DECISIONS for facts in signers)

    def _role_changed(self) -> None:
        """An identity in the chosen role, where there is one, instead of one in another role."""
        role = self.role.currentData()
        chosen = next((r for r in self._identities if r["name"] == self.identity.currentData()), None)
        if chosen is None or chosen.get("role") != role:
            match = next((r["name"] for r in self._identities if r.get("role") == role), None)
            self.identity.setCurrentIndex(max(0, self.identity.findData(match)) if match else 0)
        self._update_permission()

    def _update_permission(self) -> None:
        """The rules' answer before the button is pressed: disabled, with the reason beside it, when refused."""
        self.message.setText("")
        identity = self.identity.currentData()
        self.name.setReadOnly(bool(identity))        # a person signs under the name in their certificate
        if identity:
            self.name.setText(identity)
        role, decision = self.role.currentData(), self.decision.currentData()
        refused = None
        if self.view is not None and role:
            refused = self.state.source.signoff_refusal(self.view.audit_id, role, decision, identity)
        text = "" if refused is None else render(_worded(refused), self.state.lang)
        for chooser in (self.role, self.identity, self.name, self.decision):
            chooser.setEnabled(self._can_choose)       # the reason beside the button stays visible either way
        self.reason.setText(text)
        self.reason.setVisible(bool(text))
        self.reason.setAccessibleDescription(text)
        self.sign_button.setEnabled(refused is None)
        self.sign_button.setToolTip(text)
        self.sign_button.setAccessibleDescription(text)

    def _render(self) -> None:
        t, lang, view = self.state.tr, self.state.lang, self.view
        # with no audit open there is nothing to sign or assign: only the sentence saying what to do shows
        self.sign_box.setVisible(view is not None)
        self.assign_box.setVisible(view is not None)
        self.signoff_state.set_view(view, lang)
        fill_signoffs(self.signoffs, view, lang)
        fill_history(self.history, view, lang)
        self.assign_box.set_view(view)
        if view is None and getattr(self, "_down", None) is not None:
            self.audit.setText(render(self._down, lang))
            return
        if view is None:
            self.audit.setText(self._say("gui.signoff.none_open" if self._has_audits else "gui.signoff.no_audits"))
            return
        self.audit.setText(f"<b>{t('s.audit')}:</b> {view.audit_id} · {view.model.name or ''} "
                           f"{view.model.version or ''} · {verdict_word(view.verdict, lang)}")

    def sign(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.message.setText(self.state.tr("s.need_name"))
            return
        role, decision, identity = self.role.currentData(), self.decision.currentData(), self.identity.currentData()
        if self.view is None:
            return
        audit_id = self.view.audit_id
        question = self._say("duties.gui.confirm", audit_id=audit_id, role=Message(f"duties.role.{role}"),
                             name=name, decision=self.decision.currentText())
        if not dialogs.confirm(self, self._say("duties.gui.confirm_title"), question):
            self.message.setText(self._say("duties.gui.not_signed"))
            return
        try:
            signer = unlock(self, identity, self.state.lang)
            if identity and signer is None:
                self.message.setText(self._say("duties.gui.not_signed"))
                return
            self.state.source.sign_audit(audit_id, role, name, decision, signer)
        except Exception as exc:  # a refused sign-off (a wrong passphrase, a rule) is a dialog, in the user's language
            message = getattr(exc, "message", None)
            QMessageBox.warning(self, self.state.tr("err.action"),
                                render(_worded(message), self.state.lang) if isinstance(message, Message)
                                else str(exc))
            self.reload()
            return
        self.state.settings.set("signer", name)
        self.state.changed(audit_id)           # every page showing this audit re-reads it (this one too)
        self.message.setText(self.state.tr("s.signed", role=self.role.currentText(), name=name))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        QTimer.singleShot(0, self._hold_sign_box)     # after the children have their new widths

    def _hold_sign_box(self) -> None:
        least = self.sign_box.minimumSizeHint().height()
        if least != self.sign_box.minimumHeight():
            self.sign_box.setMinimumHeight(least)


def _has_audits(source: Any) -> bool:
    try:
        return bool(source.list_audits())
    except Exception:  # an unreadable file is the library's to report; here there is simply nothing to sign
        return False


def _worded(message: Message) -> Message:
    """The engine's refusal with the audit's run state in words (audit.status.*: 'failed', 失敗), not the stored
    code, so the Japanese sentence carries no English."""
    status = message.params.get("status")
    if message.key == "duties.not_completed" and has(f"audit.status.{status}"):
        return Message(message.key, {**message.params, "status": Message(f"audit.status.{status}")})
    return message
