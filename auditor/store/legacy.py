"""What migration 3 stores for rows written before it: each check's status and the ratings.

Since migration 3 the engine stores a check's status and an evaluation's ratings when it
evaluates (auditor.governance.record_evaluation). Rows written before that carry only the
findings, so migration 3 derives both here, by the rules of the version that wrote them:

- a check's status: `auditor.status.status_of_check` over its outcome and its findings;
- a dimension's rating: the worst counted status of its checks (`verdict_of`), `not_assessed`
  where none counted, with the checks of each dimension listed.

The check -> dimension map below is a frozen copy of the dimensions the checks declared when
migration 3 was written (the store imports no check; a migration must not change meaning when
the code later does). Only rows written before migration 3 are rated with it, and a database on
read-only media, which cannot be migrated, is read through the same functions.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from auditor.status import COUNTED, Status, status_of_check, verdict_of
from auditor.views import DIMENSIONS

# check id family -> dimension, as every check declared it at migration 3 (tests/unit/test_views.py
# checks it against the registry); an unknown family was rated `integrity` then too. auditor.ratings
# uses it for a check id this version no longer has.
_FAMILY = {"flow": "flow", "bottleneck": "retention", "perturbation": "robustness",
           "gradients": "trainability", "attention": "transparency", "sanity": "transparency",
           "artifact": "integrity"}


def dimension_of(check_id: str) -> str:
    return _FAMILY.get(check_id.split(".", 1)[0], "integrity")


def check_statuses(results: Iterable[Mapping[str, Any]], findings: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """{check_id: status} for check_results rows (check_id, outcome) under findings (check_id, severity)."""
    severities: dict[str, list[str]] = {}
    for f in findings:
        severities.setdefault(str(f["check_id"]), []).append(str(f["severity"]))
    return {str(r["check_id"]): str(status_of_check(str(r["outcome"]), severities.get(str(r["check_id"]), [])))
            for r in results}


def ratings(statuses: Mapping[str, str]) -> list[dict[str, Any]]:
    """[{dimension, rating, checks}] in dimension order from {check_id: status} (checks in their order)."""
    out: dict[str, dict[str, Any]] = {d: {"rating": str(Status.NOT_ASSESSED), "checks": []} for d in DIMENSIONS}
    counted: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    for check_id, status in statuses.items():
        dimension = dimension_of(check_id)
        out[dimension]["checks"].append(check_id)
        if Status.of(status) in COUNTED:
            counted[dimension].append(status)
    for dimension, found in counted.items():
        if found:
            out[dimension]["rating"] = str(verdict_of(found))
    return [{"dimension": d, **entry} for d, entry in out.items()]
