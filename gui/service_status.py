"""The window's line about the audit service: reconnecting at start, a start that could not reconnect, and a
service that stopped answering while a page was shown; with the buttons that help (try again, open a local
database). One sentence at a time, above every page, in the UI language (gui_service.start.*, .down.*).

At start, when the window was last on a service and its token was remembered (gui/connect_dialog.py), it
reconnects on a pool thread: the window opens at once on the local database and switches when the service
answers; a service that does not answer leaves it there, saying so, never a blank window or a traceback.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from auditor.messages import Message, render
from gui.state import LAST_KEY, AppState
from gui.widgets.banner import Banner
from gui.worker import in_background


class ServiceLine(QWidget):
    """Hidden until there is something to say about the service; `sentence` is what it says (a Message)."""

    def __init__(self, state: AppState, choose_db: Any) -> None:
        super().__init__()
        self.state = state
        self.sentence: Message | None = None
        self.kind = "info"
        self.banner = Banner("serviceLine")
        self.retry_button = QPushButton(clicked=self.retry)
        self.local_button = QPushButton(clicked=choose_db)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 4)
        row.addWidget(self.banner, 1)
        row.addWidget(self.retry_button)
        row.addWidget(self.local_button)
        self._url = ""                         # the service a failed start-up reconnect was for
        state.service_reached.connect(self._reached)
        state.db_changed.connect(lambda _w: self._switched())
        state.language_changed.connect(lambda _l: self.retranslate())
        self.retranslate()
        self.hide()

    def retranslate(self) -> None:
        t = self.state.tr
        self.retry_button.setText(t("gui_service.line.retry"))
        self.retry_button.setAccessibleDescription(t("gui_service.line.retry_description"))
        self.local_button.setText(t("gui_service.line.local"))
        self.local_button.setAccessibleDescription(t("gui_service.line.local_description"))
        if self.sentence is not None:
            self.say(self.sentence, self.kind)

    def say(self, sentence: Message | None, kind: str = "warn", buttons: bool = True) -> None:
        self.sentence, self.kind = sentence, kind
        if sentence is None:
            self.banner.clear_banner()
            self.hide()
            return
        text = render(sentence, self.state.lang)
        self.banner.say([text], kind, name=text)
        self.retry_button.setVisible(buttons)
        self.local_button.setVisible(buttons)
        self.show()

    # ---- reconnecting at start
    def reconnect_on_start(self) -> bool:
        """Reconnects to the service the window was last on, when its token was remembered; False: nothing to do."""
        from gui.connect_dialog import URL_KEY, remembered_token

        settings = self.state.settings
        url = settings.get(URL_KEY, "")
        if settings.get(LAST_KEY, "") != "service" or not url or not remembered_token(settings, url):
            return False
        self._reconnect(url)
        return True

    def _reconnect(self, url: str) -> None:
        from gui.connect_dialog import _attempt, remembered_token

        token = remembered_token(self.state.settings, url)
        self._url = url
        self.say(Message("gui_service.start.connecting", {"url": url}), "info", buttons=False)
        in_background(lambda: _attempt(url, token), self._answered,
                      lambda detail: self._answered(Message("gui_service.fail.other", {"url": url, "detail": detail})),
                      owner=self)

    def _answered(self, result: Any) -> None:
        if isinstance(result, Message):       # not reached, or refused: stay on the local database, say why
            said = {"url": self._url, "path": self.state.source.where()}
            self.say(Message("gui_service.start.unreachable", said) if result.key == "gui_service.fail.unreachable"
                     else Message("gui_service.start.refused", {**said, "why": result}))
            return
        if self.state.source.local and self.state.settings.get(LAST_KEY, "") == "service":
            self.state.set_source(result)     # unless the user chose something else meanwhile
        self.say(None)

    # ---- while connected
    def _reached(self, up: bool) -> None:
        source = self.state.source
        if source.local:
            return
        self.say(None if up else Message("gui_service.down.sentence", {"url": source.url}))

    def _switched(self) -> None:
        """Another source was chosen: what was said about the previous one no longer applies."""
        if self.sentence is not None and self.sentence.key != "gui_service.start.connecting":
            self.say(None)

    def retry(self) -> None:
        if self.state.source.local and self._url:
            self._reconnect(self._url)                 # the start-up reconnect, again
        elif not self.state.source.local:
            self.say(Message("gui_service.down.trying", {"url": self.state.source.url}), "info", buttons=False)
            in_background(self.state.source.list_audits, lambda _a: self._back(), lambda _m: self._reached(False),
                          owner=self)

    def _back(self) -> None:
        """The service answers again: every page re-reads what it shows."""
        self.say(None)
        self.state.changed("")
