"""Sign-off (preparer, reviewer, approver) and finding owners/due dates, recorded as events by the engine.

Before the button is pressed the page asks the engine's separation-of-duties rules (api.signoff_refusal):
a refused sign-off disables the button and shows the reason beside it, also to a screen reader. A permitted
one asks for confirmation and, when signed with an identity, its passphrase.
"""
from __future__ import annotations

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
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
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from auditor.messages import Message, render
from auditor.views import AuditView, FindingView
from gui import dialogs
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import colour

ROLES = ("preparer", "reviewer", "approver")
DECISIONS = (("approve", "s.dec.approve"), ("approve with conditions", "s.dec.conditions"), ("reject", "s.dec.reject"))


class SignOffPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.view: AuditView | None = None
        self._findings: tuple[FindingView, ...] = ()
        self.audit = QLabel(wordWrap=True)
        self.role, self.decision = QComboBox(), QComboBox()
        self.name = QLineEdit(state.settings.get("signer", ""))
        self.identity = QComboBox()
        self._identities: list[dict] = []
        self.sign_button = QPushButton(clicked=self.sign)
        self.reason = QLabel(wordWrap=True)     # why the button is disabled, beside it
        self.message = QLabel(wordWrap=True)
        self._make_tables()
        self.owner = QLineEdit()
        self.due = QDateEdit(calendarPopup=True)
        self.due.setDisplayFormat("yyyy-MM-dd")
        self.due.setDate(QDate.currentDate().addDays(30))
        self.save_button = QPushButton(clicked=self.assign)
        self._lay_out()
        state.audit_opened.connect(lambda _a: self.reload())
        state.language_changed.connect(lambda _l: self.retranslate())
        state.db_changed.connect(lambda _d: self.reload())
        self.role.currentIndexChanged.connect(lambda _i: self._role_changed())
        self.identity.currentIndexChanged.connect(lambda _i: self._update_permission())
        self.decision.currentIndexChanged.connect(lambda _i: self._update_permission())
        self.retranslate()
        self.reload()

    def _make_tables(self) -> None:
        """Sign-offs and history (as tabs) and the findings to assign, read-only and sized to their columns."""
        self.signoffs = QTableWidget(0, 4)
        self.history = QTableWidget(0, 4)
        self.findings = QTableWidget(0, 5)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.signoffs, "")
        self.tabs.addTab(self.history, "")
        for table in (self.signoffs, self.history, self.findings):
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            table.horizontalHeader().setStretchLastSection(True)
        self.findings.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.findings.horizontalHeader().setStretchLastSection(False)
        for column, width in ((3, 180), (4, 110)):
            self.findings.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.findings.setColumnWidth(column, width)
        self.signoffs.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.signoffs.horizontalHeader().setStretchLastSection(False)
        self.findings.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.findings.itemSelectionChanged.connect(self._finding_selected)

    def _lay_out(self) -> None:
        """The audit line, the sign-off box, the assignment box and the message line, top to bottom."""
        self.sign_box, self.assign_box = QGroupBox(), QGroupBox()
        self.sign_form = QFormLayout()
        for w in (self.role, self.identity, self.name, self.decision):
            self.sign_form.addRow(QLabel(), w)
        sign_row = QHBoxLayout()
        sign_row.addLayout(self.sign_form, 1)
        sign_row.addWidget(self.tabs, 2)
        sign_layout = QVBoxLayout(self.sign_box)
        sign_layout.addLayout(sign_row)
        button_row = QHBoxLayout()
        button_row.addWidget(self.sign_button)
        button_row.addWidget(self.reason, 1)
        sign_layout.addLayout(button_row)
        self.owner_label, self.due_label = QLabel(), QLabel()
        assign_row = QHBoxLayout()
        for w in (self.owner_label, self.owner, self.due_label, self.due, self.save_button):
            assign_row.addWidget(w)
        assign_layout = QVBoxLayout(self.assign_box)
        assign_layout.addWidget(self.findings, 1)
        assign_layout.addLayout(assign_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.audit)
        layout.addWidget(self.sign_box)
        layout.addWidget(self.assign_box, 1)
        layout.addWidget(self.message)

    def retranslate(self) -> None:
        t = self.state.tr
        self.sign_box.setTitle(t("s.signoffs"))
        self.assign_box.setTitle(t("s.assign"))
        labels = (t("s.role"), self._say("duties.gui.identity"), t("s.name"), t("s.decision"))
        for row, label in enumerate(labels):
            self.sign_form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().setText(label)
        self.reason.setAccessibleName(self._say("duties.gui.reason_name"))
        for combo, items in ((self.role, [(r, f"s.role.{r}") for r in ROLES]), (self.decision, DECISIONS)):
            current = combo.currentIndex()
            combo.blockSignals(True)        # one permission check after the refill, not one per item
            combo.clear()
            for value, key in items:
                combo.addItem(t(key), value)
            combo.setCurrentIndex(max(0, current))
            combo.blockSignals(False)
        self._fill_identities()
        self.sign_button.setText(t("s.sign"))
        self.owner_label.setText(t("s.owner"))
        self.due_label.setText(t("s.due"))
        self.save_button.setText(t("s.save"))
        self.signoffs.setHorizontalHeaderLabels([t("s.role"), t("s.signer"), t("s.decision"), t("s.when")])
        self.history.setHorizontalHeaderLabels([t("s.when"), t("s.actor"), t("s.event"), t("s.detail")])
        self.tabs.setTabText(0, t("s.signoffs"))
        self.tabs.setTabText(1, t("s.history"))
        self.findings.setHorizontalHeaderLabels(["", t("cmp.check"), t("s.finding"), t("s.owner"), t("s.due")])
        self._render()

    def reload(self) -> None:
        audit_id = self.state.audit_id
        self.view = api.audit_view(audit_id, self.state.db) if audit_id else None
        self._render()
        self._update_permission()

    def _say(self, key: str, **params: object) -> str:
        return render(Message(key, params), self.state.lang)

    def _fill_identities(self) -> None:
        """The identities in the identities folder that can sign (a key beside the certificate)."""
        from auditor.identity import list_identities

        try:
            rows = [r for r in list_identities() if r.get("has_key") and not r.get("error")]
        except Exception:  # an unreadable identities folder: signing without an identity still works
            rows = []
        current = self.identity.currentData()
        self.identity.blockSignals(True)
        self.identity.clear()
        self.identity.addItem(self._say("duties.gui.no_identity"), None)
        for row in rows:
            role = Message(f"duties.role.{row.get('role')}") if row.get("role") in ROLES else str(row.get("role"))
            self.identity.addItem(self._say("duties.gui.identity_item", name=row["name"], role=role), row["name"])
        self._identities = rows
        self.identity.setCurrentIndex(max(0, self.identity.findData(current)))
        self.identity.blockSignals(False)
        self._role_changed()

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
        identity = self.identity.currentData()
        self.name.setReadOnly(bool(identity))        # a person signs under the name in their certificate
        if identity:
            self.name.setText(identity)
        role, decision = self.role.currentData(), self.decision.currentData()
        refused = None
        if self.view is not None and role:
            refused = api.signoff_refusal(self.view.audit_id, role, decision, identity, self.state.db)
        text = "" if refused is None else render(refused, self.state.lang)
        self.reason.setText(text)
        self.reason.setVisible(bool(text))
        self.reason.setAccessibleDescription(text)
        self.sign_button.setEnabled(refused is None)
        self.sign_button.setToolTip(text)
        self.sign_button.setAccessibleDescription(text)

    def _render(self) -> None:
        t, lang, view = self.state.tr, self.state.lang, self.view
        enabled = view is not None
        self.sign_box.setEnabled(enabled)
        self.assign_box.setEnabled(enabled)
        if view is None:
            self.audit.setText(t("f.none"))
            self.signoffs.setRowCount(0)
            self.findings.setRowCount(0)
            return
        self.audit.setText(f"<b>{t('s.audit')}:</b> {view.audit_id} · {view.model.name or ''} "
                           f"{view.model.version or ''} · {verdict_word(view.verdict, lang)}")
        self.signoffs.setRowCount(len(view.signoffs))
        for r, s in enumerate(view.signoffs):
            for c, v in enumerate((t(f"s.role.{s.role}"), s.name, s.decision, s.at)):
                self.signoffs.setItem(r, c, QTableWidgetItem(str(v or "")))
        events = list(reversed(view.events))
        self.history.setRowCount(len(events))
        for r, e in enumerate(events):
            detail = ", ".join(f"{k}: {v}" for k, v in e.detail.items() if not isinstance(v, dict))
            for c, v in enumerate((e.at.replace("T", " "), e.actor, e.kind, detail)):
                self.history.setItem(r, c, QTableWidgetItem(str(v or "")))
        findings = tuple(f for f in view.findings if f.severity != "pass") or view.findings
        self._findings = findings
        self.findings.setRowCount(len(findings))
        for r, f in enumerate(findings):
            values = (verdict_word(f.severity, lang), f.check_id, f.title_in(lang), f.owner, f.due)
            for c, v in enumerate(values):
                item = QTableWidgetItem(str(v or ""))
                if c == 0:
                    item.setForeground(colour(f.severity))
                self.findings.setItem(r, c, item)

    def _finding_selected(self) -> None:
        rows = self.findings.selectionModel().selectedRows()
        if rows:
            f = self._findings[rows[0].row()]
            self.owner.setText(f.owner or "")
            if f.due:
                self.due.setDate(QDate.fromString(f.due[:10], "yyyy-MM-dd"))

    def sign(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.message.setText(self.state.tr("s.need_name"))
            return
        role, decision, identity = self.role.currentData(), self.decision.currentData(), self.identity.currentData()
        if self.view is None:
            return
        question = self._say("duties.gui.confirm", audit_id=self.view.audit_id, role=Message(f"duties.role.{role}"),
                             name=name, decision=self.decision.currentText())
        if not dialogs.confirm(self, self._say("duties.gui.confirm_title"), question):
            self.message.setText(self._say("duties.gui.not_signed"))
            return
        try:
            signer = self._unlock(identity)
            if identity and signer is None:
                self.message.setText(self._say("duties.gui.not_signed"))
                return
            api.sign_audit(self.view.audit_id, role, name, decision=decision, db=self.state.db, signer=signer)
        except Exception as exc:  # a refused sign-off (a wrong passphrase, a rule) is a dialog, in the user's language
            message = getattr(exc, "message", None)
            QMessageBox.warning(self, self.state.tr("err.action"),
                                render(message, self.state.lang) if isinstance(message, Message) else str(exc))
            self.reload()
            return
        self.state.settings.set("signer", name)
        self.message.setText(self.state.tr("s.signed", role=self.role.currentText(), name=name))
        self.reload()

    def _unlock(self, identity: str | None) -> object:
        """The identity unlocked with the passphrase asked now (None: no identity, or the user cancelled)."""
        if not identity:
            return None
        secret = dialogs.passphrase(self, self._say("duties.gui.passphrase_title"),
                                    self._say("duties.gui.passphrase", name=identity))
        if secret is None:
            return None
        from auditor.identity import load_identity

        return load_identity(identity, secret)

    def assign(self) -> None:
        rows = self.findings.selectionModel().selectedRows()
        if not rows or self.view is None:
            return
        f = self._findings[rows[0].row()]
        try:
            api.assign_finding(self.view.audit_id, f.id, owner=self.owner.text().strip() or None,
                   due=self.due.date().toString("yyyy-MM-dd"), actor=self.name.text().strip() or None,
                   db=self.state.db)
        except Exception as exc:
            QMessageBox.warning(self, self.state.tr("err.action"), str(exc))
            return
        self.message.setText(self.state.tr("s.saved"))
        row = rows[0].row()
        self.reload()
        self.findings.selectRow(row)
