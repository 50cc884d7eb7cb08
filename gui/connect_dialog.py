"""File → Connect to audit service…: the service's address and an API token, checked before the window
switches to it (GET /v1/health without the token, then GET /v1/whoami and GET /v1/audits with it).

A failure is one plain sentence in the UI language (gui_service.fail.*: unreachable, not a service, 401
bad token, TLS not trusted, rate limited). The address is remembered in the settings; the token only
when "Remember token on this computer" is ticked, in a file beside the settings that only the user can
read (0600), never in the settings themselves and never in a log or message.
"""
from __future__ import annotations

import json
import os
import ssl
import urllib.error
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from auditor.messages import Message, render, verbatim
from gui.source import ServiceSource
from gui.state import AppState
from gui.widgets.wrapping_label import WrappingLabel
from gui.worker import in_background

URL_KEY = "service/url"
TOKEN_FILE = "service-token.json"


# ---- the remembered token -------------------------------------------------------------------------------

def token_path(settings: Any) -> Path:
    return Path(settings.file()).with_name(TOKEN_FILE)


def remembered_token(settings: Any, url: str) -> str:
    """The token remembered for `url` ("" when none, or when the file is not the user's alone)."""
    path = token_path(settings)
    try:
        if path.stat().st_mode & 0o077:      # readable by others: not trusted, not used
            return ""
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(saved.get("token") or "") if saved.get("url") == url else ""


def remember_token(settings: Any, url: str, token: str | None) -> None:
    """Writes {url, token} to a file created 0600 (never readable by others, not even for an instant);
    None forgets it."""
    path = token_path(settings)
    if token is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)               # an older file may have had other bits
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"url": url, "token": token}, out)


# ---- checking a service -----------------------------------------------------------------------------------

def connect(url: str, token: str) -> ServiceSource:
    """The service at `url` as the token's identity, or ConnectRefused with the sentence to show."""
    from auditor.errors import AuditorError

    if not url.strip():
        raise ConnectRefused(Message("gui_service.fail.no_url"))
    if not token.strip():
        raise ConnectRefused(Message("gui_service.fail.no_token"))
    try:
        source = ServiceSource(url, token)
    except AuditorError:
        raise ConnectRefused(Message("gui_service.fail.bad_url", {"url": url.strip()})) from None
    try:
        health = source.service.get("/v1/health")
        if not isinstance(health, dict) or health.get("api") != "v1":
            raise ConnectRefused(Message("gui_service.fail.not_service", {"url": source.url}))
        try:
            who = source.whoami()
        except AuditorError as exc:
            if _status(exc) != 404:
                raise
            who = {}                 # a server without /v1/whoami: the token is checked by the list below
        source.list_audits()
    except AuditorError as exc:
        raise ConnectRefused(_why(exc, source.url)) from None
    source.name, source.role = str(who.get("name") or ""), str(who.get("role") or "")
    return source


class ConnectRefused(Exception):
    def __init__(self, sentence: Message) -> None:
        super().__init__(sentence.key)
        self.sentence = sentence


def _status(exc: BaseException) -> int | None:
    """The HTTP status behind a client_http error (it keeps the urllib error as its context)."""
    cause = exc.__context__
    return cause.code if isinstance(cause, urllib.error.HTTPError) else None


def _why(exc: BaseException, url: str) -> Message:
    status, cause = _status(exc), exc.__context__
    reason = getattr(cause, "reason", cause)
    if status == 401:
        return Message("gui_service.fail.bad_token", {"url": url})
    if status == 429:
        return Message("gui_service.fail.rate_limited", {"url": url})
    if status == 404:
        return Message("gui_service.fail.not_service", {"url": url})
    if isinstance(reason, ssl.SSLError) or isinstance(cause, ssl.SSLError):
        return Message("gui_service.fail.tls", {"url": url})
    if status is None and isinstance(cause, (urllib.error.URLError, OSError)):
        return Message("gui_service.fail.unreachable", {"url": url})
    if "not JSON" in str(exc):
        return Message("gui_service.fail.not_service", {"url": url})
    return Message("gui_service.fail.other", {"url": url, "detail": verbatim(str(exc))})


# ---- the dialog ---------------------------------------------------------------------------------------------

class ConnectDialog(QDialog):
    """Address, token, "remember"; Connect checks on a pool thread (the window never waits on the network)."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.source: ServiceSource | None = None
        self.sentence: Message | None = None
        t = state.tr
        self.setWindowTitle(t("gui_service.dialog.title"))
        self.intro = WrappingLabel(t("gui_service.dialog.intro"))
        self.url = QLineEdit(state.settings.get(URL_KEY, ""))
        self.url.setPlaceholderText(t("gui_service.dialog.url_hint"))
        self.token = QLineEdit(remembered_token(state.settings, self.url.text().strip().rstrip("/")))
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(t("gui_service.dialog.token_hint"))
        self.remember = QCheckBox(t("gui_service.dialog.remember"), checked=bool(self.token.text()))
        self.remember_note = WrappingLabel(t("gui_service.dialog.remember_note"))
        self.message = WrappingLabel()
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("color: #b71c1c")
        self.connect_button = QPushButton(t("gui_service.dialog.connect"), default=True)
        self.connect_button.clicked.connect(self.try_connect)
        self.cancel_button = QPushButton(t("gui_service.dialog.cancel"))
        self.cancel_button.clicked.connect(self.reject)
        form = QFormLayout()
        for label_key, field in (("gui_service.dialog.url", self.url), ("gui_service.dialog.token", self.token)):
            form.addRow(QLabel(t(label_key), buddy=field), field)
        form.addRow("", self.remember)
        form.addRow("", self.remember_note)
        buttons = QDialogButtonBox()
        buttons.addButton(self.connect_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        for part in (self.intro, form, self.message, buttons):
            (layout.addLayout if isinstance(part, QFormLayout) else layout.addWidget)(part)
        self._name(t)
        self.setTabOrder(self.url, self.token)
        self.setTabOrder(self.token, self.remember)
        self.setTabOrder(self.remember, self.connect_button)
        self.setTabOrder(self.connect_button, self.cancel_button)
        self.resize(560, self.sizeHint().height())

    def _name(self, t: Any) -> None:
        for widget, key in ((self.url, "gui_service.dialog.url"), (self.token, "gui_service.dialog.token"),
                            (self.remember, "gui_service.dialog.remember"),
                            (self.connect_button, "gui_service.dialog.connect"),
                            (self.cancel_button, "gui_service.dialog.cancel"),
                            (self.message, "gui_service.dialog.message_name")):
            widget.setAccessibleName(_plain(t(key)))
        self.url.setAccessibleDescription(t("gui_service.dialog.url_hint"))
        self.token.setAccessibleDescription(t("gui_service.dialog.token_hint"))
        self.remember.setAccessibleDescription(t("gui_service.dialog.remember_note"))

    def try_connect(self) -> None:
        url, token = self.url.text().strip(), self.token.text().strip()
        self.connect_button.setEnabled(False)
        self.message.setStyleSheet("color: #424242")
        self.message.setText(self.state.tr("gui_service.dialog.checking", url=url))
        in_background(lambda: _attempt(url, token), self._answered, self._crashed, owner=self)

    def _answered(self, result: ServiceSource | Message) -> None:
        self.connect_button.setEnabled(True)
        if isinstance(result, Message):
            self.say(result)
            return
        self.source = result
        self.state.settings.set(URL_KEY, result.url)
        remember_token(self.state.settings, result.url, self.token.text().strip() if self.remember.isChecked()
                       else None)
        self.accept()

    def _crashed(self, detail: str) -> None:
        self.connect_button.setEnabled(True)
        self.say(Message("gui_service.fail.other", {"url": self.url.text().strip(), "detail": verbatim(detail)}))

    def say(self, sentence: Message) -> None:
        self.sentence = sentence
        self.message.setStyleSheet("color: #b71c1c")
        self.message.setText(render(sentence, self.state.lang))
        self.message.setAccessibleDescription(self.message.text())


def _attempt(url: str, token: str) -> ServiceSource | Message:
    try:
        return connect(url, token)
    except ConnectRefused as refused:
        return refused.sentence


def _plain(label: str) -> str:
    """A label as a screen reader's name: no mnemonic marker '&' or '(&X)', no trailing colon."""
    import re

    return re.sub(r"\(&\w\)", "", label).replace("&", "").rstrip(":：").strip()
