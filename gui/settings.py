"""Persisted settings (QSettings): database path, language, last folders."""
from __future__ import annotations

from PySide6.QtCore import QSettings


class Settings:
    """A thin typed wrapper; tests pass an INI file so they never touch the user's settings."""

    def __init__(self, path: str | None = None) -> None:
        self._q = (QSettings(path, QSettings.Format.IniFormat) if path
                   else QSettings("TransformerAuditor", "auditor-gui"))

    def get(self, key: str, default: str = "") -> str:
        value = self._q.value(key, default)
        return str(value) if value is not None else default

    def set(self, key: str, value: str) -> None:
        self._q.setValue(key, value)
        self._q.sync()

    @property
    def language(self) -> str:
        return self.get("language", "en") if self.get("language", "en") in ("en", "ja") else "en"

    @language.setter
    def language(self, value: str) -> None:
        self.set("language", value)

    @property
    def db(self) -> str:
        return self.get("database", "")

    @db.setter
    def db(self, value: str) -> None:
        self.set("database", value)

    def file(self) -> str:
        """The settings file's path (the remembered service token is kept beside it, gui/connect_dialog.py)."""
        return self._q.fileName()

    def folder(self, kind: str) -> str:
        return self.get(f"folders/{kind}", "")

    def remember_folder(self, kind: str, path: str) -> None:
        self.set(f"folders/{kind}", path)
