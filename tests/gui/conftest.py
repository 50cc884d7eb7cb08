"""GUI fixtures: a window on a temporary database and settings file, dialogs that never block."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def dialogs(monkeypatch):
    """Records QMessageBox calls instead of showing modal dialogs."""
    from PySide6.QtWidgets import QMessageBox

    seen: list[tuple[str, str, str]] = []

    def fake(kind):
        def record(_parent, title, text, *args, **kwargs):
            seen.append((kind, title, text))
            return QMessageBox.StandardButton.Ok
        return record

    for kind in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return seen


@pytest.fixture(scope="session")
def two_audits(tmp_path_factory, tiny_bert) -> dict:
    """Two quick audits of the same tiny model (versions 1 and 2) in one database."""
    db = tmp_path_factory.mktemp("gui-db") / "audits.db"
    ids = []
    for version in ("1", "2"):
        from tests.fixtures.templates import no_minimum

        result = run_cli("audit", str(tiny_bert), "--template", no_minimum("quick"), "--limit", "12", "--seed", version,
                         "--name", "tiny-bert", "--model-version", version, "--json", db=db)
        assert result.returncode in (0, 1), result.stderr
        import json

        ids.append(json.loads(result.stdout)["audit_id"])
    return {"db": str(db), "ids": ids}


@pytest.fixture
def make_window(qtbot, tmp_path, dialogs, monkeypatch):
    monkeypatch.setenv("AUDITOR_DB", str(tmp_path / "default.db"))   # never the user's own database
    from gui.app import create_window
    from gui.settings import Settings

    def make(db: str | Path | None = None, settings_file: Path | None = None):
        settings = Settings(str(settings_file or tmp_path / "settings.ini"))
        window = create_window(str(db) if db else None, settings)
        qtbot.addWidget(window)
        window.show()
        return window
    return make
