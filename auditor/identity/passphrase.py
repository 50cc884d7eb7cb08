"""Where a passphrase comes from: the caller, an environment variable (scripts, tests), or a prompt
on a terminal (no echo). Never from a file or an argument, and never printed."""
from __future__ import annotations

import getpass
import os
import sys

from auditor.identity.errors import IdentityError

PASSPHRASE_VAR = "AUDITOR_PASSPHRASE"
CA_PASSPHRASE_VAR = "AUDITOR_CA_PASSPHRASE"
MINIMUM = 8


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):   # a closed or replaced stdin
        return False


def passphrase_for(what: str, variable: str = PASSPHRASE_VAR, given: str | None = None) -> str:
    """The passphrase to unlock `what`: `given`, else $variable, else a prompt on a terminal."""
    if given is not None:
        return given
    if os.environ.get(variable):
        return os.environ[variable]
    if _interactive():
        return getpass.getpass(f"Passphrase for {what}: ")
    raise IdentityError("identity.needs_passphrase", what=what, variable=variable)


def new_passphrase(what: str, given: str | None = None) -> str:
    """A passphrase for a new key: `given`, else $AUDITOR_PASSPHRASE, else asked twice on a terminal;
    at least MINIMUM characters."""
    if given is None and not os.environ.get(PASSPHRASE_VAR) and _interactive():
        first = getpass.getpass(f"New passphrase for {what}: ")
        if len(first) < MINIMUM:
            raise IdentityError("identity.short_passphrase", minimum=MINIMUM)
        if getpass.getpass("The same passphrase again: ") != first:
            raise IdentityError("identity.passphrases_differ")
        return first
    chosen = passphrase_for(what, PASSPHRASE_VAR, given)
    if len(chosen) < MINIMUM:
        raise IdentityError("identity.short_passphrase", minimum=MINIMUM)
    return chosen
