"""Routes a client reads to fill its forms: the built-in templates this server runs, and who the token is.

The desktop client in service mode (gui/source.py) offers only the templates the server has (a newer client
may know templates an older server does not), and says which identity it is connected as.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from auditor.service.app import Who

router = APIRouter(tags=["catalogue"])


@router.get("/templates", summary="The built-in templates")
def templates(_who: Who) -> dict[str, Any]:
    """Each built-in template's name, version, checks, minimum probe count, whether it is approval-grade and
    its description (en, ja: the client shows the server's words, not its own copy's), and the default one."""
    from auditor.templates import DEFAULT_TEMPLATE, list_templates

    return {"default": DEFAULT_TEMPLATE,
            "templates": [{"name": t.name, "version": t.version, "checks": [c.id for c in t.checks],
                           "min_probes": t.min_probes, "approval_grade": t.approval_grade,
                           "description": {"en": t.describe("en"), "ja": t.describe("ja")}}
                          for t in list_templates()]}


@router.get("/whoami", summary="The identity of the token")
def whoami(who: Who) -> dict[str, Any]:
    """The caller's name and role, as the service authenticated them (the token itself is never sent back)."""
    return {"name": who.name, "role": who.role}
