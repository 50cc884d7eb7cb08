"""auditor-gui: the desktop client. Starts fast: no torch, transformers, onnxruntime or reportlab at start.

Audits run in a worker process (`python -m auditor.cli audit ... --progress jsonl`); results are read
from the database through auditor.api. Importing auditor sets the offline environment (auditor/offline.py)
for this process and, by inheritance and its own import, for the worker.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from auditor.offline import data_dir  # importing auditor sets the offline environment (first of ours)
from gui import qtfix
from gui.main_window import MainWindow
from gui.settings import Settings
from gui.theme import apply_language_font


def keep_settings_in_data_folder(migrate: bool = True) -> None:
    """QSettings (ours and Qt's own QtProject.conf) in our data folder, not ~/.config: the app writes
    nothing under HOME outside that folder. With `migrate`, settings from the old place are copied once."""
    target = data_dir() / "settings"
    old = Path(QSettings("TransformerAuditor", "auditor-gui").fileName())
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(target))
    new = Path(QSettings("TransformerAuditor", "auditor-gui").fileName())
    if migrate and old != new and old.is_file() and not new.exists():
        try:
            new.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(old, new)
        except OSError:
            pass    # a fresh start with default settings is better than no start


def create_window(db: str | None = None, settings: Settings | None = None) -> MainWindow:
    """The main window with the shipped fonts applied for the saved language (a QApplication must exist)."""
    qtfix.apply()
    keep_settings_in_data_folder(migrate=settings is None)   # an explicit settings file is left as given
    settings = settings or Settings()
    app = QApplication.instance()
    if isinstance(app, QApplication):
        apply_language_font(app, settings.language)
    return MainWindow(db, settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auditor-gui", description="The desktop client of the auditor.")
    parser.add_argument("--db", metavar="PATH", help="database file (default: the last one used, or the user data folder)")
    parser.add_argument("--settings", metavar="FILE.ini", help="read and write settings in this file")
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("auditor-gui")
    window = create_window(args.db, Settings(args.settings) if args.settings else None)
    window.show()
    code = app.exec()
    window.deleteLater()      # widgets go before the interpreter finalizes
    app.processEvents()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
