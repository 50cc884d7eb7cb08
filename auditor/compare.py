"""What changed between two audits: per check and metric, improved / worse / unchanged.

Direction comes from the conditions of audit B's evaluation: a metric with a `below` rule is
better higher, one with an `above` rule better lower. Metrics without a rule are `changed`
or `unchanged` only. A list metric is compared through its rule's reducer (or its mean), and
both series are returned for charts. Findings are matched by check, catalogue key and metric,
so a threshold crossed in either direction shows as `worse` or `better`.
"""
from __future__ import annotations

import math
from typing import Any

import sqlite_utils

from auditor.checks.conditions import REDUCERS
from auditor.store import queries

# below this relative difference a figure counts as unchanged (estimators carry ~1% noise)
RELATIVE_TOLERANCE = 0.01
_SEVERITY = {"pass": 0, "info": 0, "warn": 1, "error": 2, "fail": 3}


def _reduce(value: Any, reduce: str | None, direction: str) -> float | None:
    if value is None or isinstance(value, dict):
        return None
    if not isinstance(value, list):
        return float(value)
    try:
        return float(REDUCERS[reduce or "mean"](value, direction)[0])
    except (ValueError, ZeroDivisionError):
        return None


def _direction(a: float | None, b: float | None, rule: str | None) -> str:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return "not_comparable"
    if abs(b - a) <= 1e-9 + RELATIVE_TOLERANCE * max(abs(a), abs(b)):
        return "unchanged"
    if rule is None:
        return "changed"
    higher_is_better = rule == "below"
    return "improved" if (b > a) == higher_is_better else "worse"


def _rules(conditions: list[dict[str, Any]]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    rules: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for c in conditions:
        if c.get("info") is None:     # opportunities say nothing about better or worse
            rules.setdefault((c["check_id"], c["metric"], c.get("variant")), c)
    return rules


def _flat(metrics: dict[str, Any]) -> dict[tuple[str, str | None], Any]:
    out: dict[tuple[str, str | None], Any] = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            out.update({(name, variant): inner for variant, inner in value.items()})
        else:
            out[(name, None)] = value
    return out


def compare(db: sqlite_utils.Database, audit_a: str, audit_b: str) -> dict[str, Any]:
    a, b = queries.audit_json(db, audit_a), queries.audit_json(db, audit_b)
    rules = _rules(b.get("template_conditions") or a.get("template_conditions") or [])
    checks_a = {c["id"]: c for c in a["checks"]}
    rows = []
    for check in b["checks"]:
        before = checks_a.get(check["id"])
        if before is None:
            continue
        flat_a, flat_b = _flat(before["metrics"]), _flat(check["metrics"])
        for (name, variant) in sorted(set(flat_a) & set(flat_b), key=lambda k: (k[0], k[1] or "")):
            rule = rules.get((check["id"], name, variant))
            kind = rule["condition"] if rule else "below"
            reduce = rule.get("reduce") if rule else None
            va = _reduce(flat_a[(name, variant)], reduce, kind)
            vb = _reduce(flat_b[(name, variant)], reduce, kind)
            row = {"check_id": check["id"], "name": name, "variant": variant, "layer": None,
                   "reduce": reduce if isinstance(flat_b[(name, variant)], list) else None,
                   "a": va, "b": vb, "delta": (vb - va) if va is not None and vb is not None else None,
                   "direction": _direction(va, vb, rule["condition"] if rule else None),
                   "rule": None if rule is None else {k: rule.get(k) for k in ("condition", "warn", "fail")}}
            if isinstance(flat_a[(name, variant)], list) and isinstance(flat_b[(name, variant)], list):
                row["series"] = {"a": flat_a[(name, variant)], "b": flat_b[(name, variant)]}
            rows.append(row)
    findings = _compare_findings(a["findings"], b["findings"])
    summary = {k: sum(r["direction"] == k for r in rows)
               for k in ("improved", "worse", "unchanged", "changed", "not_comparable")}
    return {
        "a": a["audit_id"], "b": b["audit_id"],
        "models": {"a": _model_line(a), "b": _model_line(b)},
        "same_model_name": a["model"]["name"] == b["model"]["name"],
        "same_artifact": a["model"]["sha256"] == b["model"]["sha256"],
        "verdict": {"a": a["verdict"], "b": b["verdict"]},
        "ratings": {d: {"a": a["ratings"][d]["rating"], "b": b["ratings"][d]["rating"]} for d in b["ratings"]},
        "checks": [{"id": c["id"], "a": checks_a.get(c["id"], {}).get("status"), "b": c["status"]}
                   for c in b["checks"]],
        "metrics": rows, "findings": findings, "summary": summary,
        "tolerance": RELATIVE_TOLERANCE,
    }


def _model_line(audit: dict[str, Any]) -> dict[str, Any]:
    m = audit["model"]
    return {"name": m["name"], "version": m["version"], "sha256": m["sha256"], "format": m["format"],
            "started_at": audit["started_at"]}


def _compare_findings(fa: list[dict[str, Any]], fb: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(f: dict[str, Any]) -> tuple[Any, ...]:
        return (f["check_id"], f.get("key"), f.get("metric"), (f.get("condition") or {}).get("variant"),
                (f.get("condition") or {}).get("condition"))

    before = {key(f): f for f in fa}
    after = {key(f): f for f in fb}
    out = []
    for k in list(after) + [k for k in before if k not in after]:
        fa_, fb_ = before.get(k), after.get(k)
        sa = fa_["severity"] if fa_ else None
        sb = fb_["severity"] if fb_ else None
        if sa is None:
            change = "new"
        elif sb is None:
            change = "gone"
        elif _SEVERITY.get(sb, 0) > _SEVERITY.get(sa, 0):
            change = "worse"
        elif _SEVERITY.get(sb, 0) < _SEVERITY.get(sa, 0):
            change = "better"
        else:
            change = "same"
        ref = fb_ or fa_
        out.append({"check_id": ref["check_id"], "title": ref["title"], "title_ja": ref.get("title_ja"),
                    "metric": ref.get("metric"), "a": sa, "b": sb, "change": change,
                    "value_a": fa_.get("value") if fa_ else None, "value_b": fb_.get("value") if fb_ else None})
    return out
