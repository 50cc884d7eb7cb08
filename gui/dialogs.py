"""The modal questions of a signed action: a confirmation and a passphrase.

Kept apart from the pages so the questions are asked the same way everywhere (and tests can answer them).
The passphrase is returned to the caller, which unlocks the identity with it at once and keeps it nowhere.
"""
from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """OK / Cancel, Cancel the default: a permanent record is made only on an explicit OK."""
    buttons = QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel
    answer = QMessageBox.question(parent, title, text, buttons, QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Ok


def passphrase(parent: QWidget, title: str, label: str) -> str | None:
    """The passphrase typed in a password field (shown as dots); None when the user cancels."""
    text, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Password)
    return text if ok else None
