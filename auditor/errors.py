"""Errors the CLI maps to exit codes (docs/ARCHITECTURE.md, CLI contract)."""
from __future__ import annotations


class AuditorError(Exception):
    """Base class for errors the product reports as one clear line."""

    exit_code = 3


class BadInput(AuditorError):
    """The user's input (model, probes, template, flags) cannot be used: exit code 2."""

    exit_code = 2


class Cancelled(AuditorError):
    """The user stopped a running audit."""

    exit_code = 3


class AuditFailed(AuditorError):
    """The audit failed while running; recorded as failed in the database: exit code 3."""

    exit_code = 3
