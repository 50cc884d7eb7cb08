"""The identities a person can sign with, as a combo box, and unlocking one with a passphrase asked now.

Shared by the sign-off box and the assignment box of the Sign-off page, so both list the same identities and
ask for the passphrase the same way (gui/dialogs.py); the passphrase is used at once and kept nowhere.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QWidget

from auditor.messages import Message, render
from gui import dialogs

ROLES = ("preparer", "reviewer", "approver")


def signing_identities() -> list[dict[str, Any]]:
    """The identities of the identities folder that can sign (a key beside the certificate)."""
    from auditor.identity import list_identities

    try:
        return [r for r in list_identities() if r.get("has_key") and not r.get("error")]
    except Exception:  # an unreadable identities folder: signing with the machine key still works
        return []


def fill_identities(combo: QComboBox, rows: list[dict[str, Any]], lang: str) -> None:
    """'none (machine key)' then each identity as 'NAME (role)'; the current choice is kept, no signal sent."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(render(Message("duties.gui.no_identity"), lang), None)
    for row in rows:
        role = Message(f"duties.role.{row.get('role')}") if row.get("role") in ROLES else str(row.get("role"))
        combo.addItem(render(Message("duties.gui.identity_item", {"name": row["name"], "role": role}), lang),
                      row["name"])
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)


def unlock(parent: QWidget, identity: str | None, lang: str) -> Any:
    """The identity unlocked with the passphrase asked now (None: no identity, or the user cancelled).
    A wrong passphrase raises the identity's error (a Message in `.message`), for the caller's dialog."""
    if not identity:
        return None
    secret = dialogs.passphrase(parent, render(Message("duties.gui.passphrase_title"), lang),
                                render(Message("duties.gui.passphrase", {"name": identity}), lang))
    if secret is None:
        return None
    from auditor.identity import load_identity

    return load_identity(identity, secret)
