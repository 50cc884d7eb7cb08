"""A rating per dimension (flow, retention, robustness, trainability, transparency, integrity).

A dimension's rating is the worst status of its checks (skipped checks do not count; a check
that raised counts as a warning, as in the overall verdict); `not_assessed` where no check of
the dimension produced a result. The trend compares with the previous audit of the same model.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DIMENSIONS = ("flow", "retention", "robustness", "trainability", "transparency", "integrity")
_BY_PREFIX = {"flow": "flow", "bottleneck": "retention", "perturbation": "robustness",
              "gradients": "trainability", "attention": "transparency", "sanity": "transparency",
              "artifact": "integrity"}
_ORDER = {"pass": 0, "warn": 1, "fail": 2}


def dimension_of(check_id: str) -> str:
    """The dimension a check reports on: its class attribute, else by the id's family."""
    try:
        from auditor.checks import registry

        declared = getattr(registry.get(check_id), "dimension", "")
        if declared in DIMENSIONS:
            return declared
    except KeyError:
        pass
    return _BY_PREFIX.get(check_id.split(".", 1)[0], "integrity")


def rate(checks: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{dimension: {rating, checks}} from [{id, status}] as `show --json` lists them."""
    ratings: dict[str, dict[str, Any]] = {d: {"rating": "not_assessed", "checks": [], "trend": None}
                                          for d in DIMENSIONS}
    for check in checks:
        entry = ratings[dimension_of(check["id"])]
        entry["checks"].append(check["id"])
        status = {"error": "warn", "skipped": None}.get(check["status"], check["status"])
        if status is None or status not in _ORDER:
            continue
        current = entry["rating"]
        if current == "not_assessed" or _ORDER[status] > _ORDER[current]:
            entry["rating"] = status
    return ratings


def with_trend(now: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Adds `trend` (better | worse | same) where both audits assessed the dimension."""
    for dimension, entry in now.items():
        prior = (before or {}).get(dimension, {}).get("rating")
        if entry["rating"] in _ORDER and prior in _ORDER:
            delta = _ORDER[entry["rating"]] - _ORDER[prior]
            entry["trend"] = "same" if delta == 0 else ("worse" if delta > 0 else "better")
        else:
            entry["trend"] = None
    return now
