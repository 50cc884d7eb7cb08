"""Shared state of the window: the data source (a local database or an audit service, gui/source.py),
language, the open audit; pages listen to its signals and read through `state.source`."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from auditor import api
from gui.settings import Settings
from gui.source import LocalSource, ServiceSource
from gui.strings import tr

LAST_KEY = "service/last"      # "service": the window was last on the service at service/url


class AppState(QObject):
    language_changed = Signal(str)
    db_changed = Signal(str)
    audit_opened = Signal(str)
    audits_changed = Signal()
    # one signal from the data layer: an audit's stored record changed (sign-off, assignment, re-evaluation,
    # a finished or cancelled run); every page that shows that audit re-reads it. "" means "some audit".
    audit_changed = Signal(str)
    # the audit service stopped (False) or started again (True) answering; emitted from any thread (queued)
    service_reached = Signal(bool)

    def __init__(self, settings: Settings, db: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.db: str | None = db or settings.db or None
        _ensure(self.db)
        self.source: LocalSource | ServiceSource = LocalSource(self.db)
        self.lang = settings.language
        self.audit_id = ""

    def tr(self, key: str, **fields: object) -> str:
        return tr(key, self.lang, **fields)

    def set_language(self, lang: str) -> None:
        if lang != self.lang:
            self.lang = lang
            self.settings.language = lang
            self.language_changed.emit(lang)

    def set_db(self, db: str) -> None:
        _ensure(db)
        self.db = db or None
        self.settings.db = db
        self.source = LocalSource(self.db)
        self.audit_id = ""
        self.settings.set(LAST_KEY, "local")      # the next start opens this database, not a service
        self.db_changed.emit(db)

    def set_source(self, source: LocalSource | ServiceSource) -> None:
        """Reads from `source` from now on (db_changed tells every page to re-read; its argument is the
        source's place: a database path or a service URL)."""
        self.source = source
        if isinstance(source, LocalSource):
            self.db = source.db
        else:
            source.reached = lambda up, s=source: self.service_reached.emit(up) if s is self.source else None
        self.settings.set(LAST_KEY, "local" if source.local else "service")   # what the next start reconnects to
        self.audit_id = ""
        self.db_changed.emit(source.where())

    def changed(self, audit_id: str = "") -> None:
        """Call after any action that writes to the database: pages showing `audit_id` (and the audit
        list) re-read the new state, so no page needs its own reload."""
        self.audit_changed.emit(audit_id)
        self.audits_changed.emit()

    def open_audit(self, audit_id: str) -> None:
        self.audit_id = audit_id
        self.audit_opened.emit(audit_id)


def _ensure(db: str | None) -> None:
    """The GUI names new databases in its file dialog, so it creates the chosen file (read commands never do)."""
    if db and not Path(db).exists():
        api.create_database(db)
