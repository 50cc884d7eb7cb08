"""A rating per dimension (flow, retention, robustness, trainability, transparency, integrity).

A dimension's rating is the worst status of its checks, as in the overall verdict (auditor.status):
skipped checks do not count, a check that raised counts as a warning, a required check with no
figures makes it `inconclusive`; `not_assessed` where no check of the dimension produced a
result. The trend compares with the previous audit of the same model, and only where both
ratings are measured conclusions (pass, warn, fail): an inconclusive rating has no trend.

Ratings are computed once, when an audit is evaluated (auditor.governance.record_evaluation),
and stored with the evaluation; `show`, reports and the GUI read them (auditor.views.RatingView).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from auditor.status import verdict_of
from auditor.store.legacy import dimension_of as family_dimension
from auditor.views import DIMENSIONS, trend_of


def dimension_of(check_id: str) -> str:
    """The dimension a check reports on: its class attribute, else by the id's family."""
    try:
        from auditor.checks import registry

        declared = getattr(registry.get(check_id), "dimension", "")
        if declared in DIMENSIONS:
            return declared
    except KeyError:
        pass
    return family_dimension(check_id)   # a check this version no longer has: by its id's family


def rate(checks: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{dimension: {rating, checks}} from [{id, status}] as `show --json` lists them."""
    ratings: dict[str, dict[str, Any]] = {d: {"rating": "not_assessed", "checks": [], "trend": None}
                                          for d in DIMENSIONS}
    counted: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    for check in checks:
        dimension = dimension_of(check["id"])
        ratings[dimension]["checks"].append(check["id"])
        if check["status"] in ("pass", "warn", "fail", "error", "inconclusive"):
            counted[dimension].append(check["status"])
    for dimension, statuses in counted.items():
        if statuses:
            ratings[dimension]["rating"] = str(verdict_of(statuses))
    return ratings


def with_trend(now: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Adds `trend` (better | worse | same) where both audits assessed the dimension."""
    for dimension, entry in now.items():
        entry["trend"] = trend_of(entry["rating"], (before or {}).get(dimension, {}).get("rating"))
    return now
