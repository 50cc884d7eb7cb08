"""The modal questions of a signed action (a confirmation, a passphrase) and the dialog of a failed audit.

Kept apart from the pages so the questions are asked the same way everywhere (and tests can answer them).
The passphrase is returned to the caller, which unlocks the identity with it at once and keeps it nowhere.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from auditor.messages import text


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """OK / Cancel, Cancel the default: a permanent record is made only on an explicit OK."""
    buttons = QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel
    answer = QMessageBox.question(parent, title, text, buttons, QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Ok


def passphrase(parent: QWidget, title: str, label: str) -> str | None:
    """The passphrase typed in a password field (shown as dots); None when the user cancels."""
    text, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Password)
    return text if ok else None


ERROR_TEXT = {"pickle": "err.pickle", "bad_input": "err.bad_input", "oom": "err.oom", "failed": "err.failed",
              "crash": "err.crash", "start": "err.start"}


def failure_sentence(error: Any, lang: str) -> str:
    """What went wrong in `lang`: the kind of failure, and for refused input what was refused."""
    from gui.preview import problem_kind, problem_sentence
    from gui.strings import tr

    said = tr(ERROR_TEXT.get(error.kind, "err.failed"), lang)
    if error.kind == "bad_input" and error.message and problem_kind(error.message) != "other":
        said += ("" if lang == "ja" else " ") + problem_sentence(error.message, lang)   # ja: no space after 。
    return said


def worker_error(parent: QWidget, error: Any, lang: str) -> None:
    """One dialog: the sentence in the UI language first; the worker's own line only as "Details: …"."""
    from gui.strings import tr

    body = failure_sentence(error, lang)
    if error.message:
        body += "\n\n" + text("gui.new.detail", lang, detail=error.message)
    QMessageBox.critical(parent, tr("err.title", lang), body)
