"""IdentityError: a BadInput (exit 2, one line) that also carries its sentence as a catalogue Message,
so the GUI can show a refusal (a wrong passphrase, a key others can read) in Japanese as well."""
from __future__ import annotations

from typing import Any

from auditor.errors import BadInput
from auditor.messages import Message, render


class IdentityError(BadInput):
    """Refused input about an identity or a certificate; `message` renders in en or ja."""

    def __init__(self, key: str, **params: Any) -> None:
        self.message = Message(key, params)
        super().__init__(render(self.message, "en"))
