"""auditor-gui: the desktop client. Starts fast: no torch, transformers, onnxruntime or reportlab at start.

Audits run in a worker process (`python -m auditor.cli audit ... --progress jsonl`); results are read
from the database through auditor.api.
"""
from __future__ import annotations

import argparse
import sys

from PySide6.QtWidgets import QApplication

from gui import qtfix
from gui.main_window import MainWindow
from gui.settings import Settings
from gui.theme import apply_language_font


def create_window(db: str | None = None, settings: Settings | None = None) -> MainWindow:
    """The main window with the shipped fonts applied for the saved language (a QApplication must exist)."""
    qtfix.apply()
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
