"""GET /v1/compare?a=&b=: what changed from audit A (before) to audit B (after), as `auditor compare --json`.

The comparison needs both audits' stored figures, so it runs where the database is; `auditor --server URL
compare A B` prints this object as the local command does. Either ID may be a job ID (its audit) or a
unique prefix of an audit ID, as in the other routes.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from auditor.service.app import Db, Who
from auditor.service.routes_audits import known_audit

router = APIRouter(tags=["audits"])


@router.get("/compare", summary="Compare two audits, as `auditor compare --json`")
def compare(db: Db, _who: Who, a: str = Query(min_length=1, description="audit A (before)"),
            b: str = Query(min_length=1, description="audit B (after)")) -> dict[str, Any]:
    from auditor import api
    from auditor.compare import compare as compare_audits

    first, second = known_audit(db, a), known_audit(db, b)
    with api.session(db) as handle:     # closed after each request (api.compare_audits leaves its handle open)
        return compare_audits(handle, first, second)
