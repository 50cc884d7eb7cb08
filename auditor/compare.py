"""What changed between two audits: per check and metric, improved / worse / unchanged / not_compared.

Only what both audits measured under the same conditions is compared (auditor.comparability): a
check run in one audit only, or under other rules, parameters or probes, or that did not run
conclusively on either side, is `not_compared` with the reason, and so are its figures, findings
and its dimension's rating. A finding is `gone` only when its check ran conclusively in both
audits under the same rule and the rule no longer produced it.

Direction comes from the conditions of audit B's evaluation: a metric with a `below` rule is
better higher, one with an `above` rule better lower. Metrics without a rule are `changed`
or `unchanged` only. A list metric is compared through its rule's reducer (or its mean), and
both series are returned for charts.

Every reason is a catalogue message (auditor.comparability): the JSON carries it as `reason_message`
/ `reason_messages` ({"key", "params"}) beside its English (`reason`, `reasons`) and Japanese
(`reason_ja`, `reasons_ja`) renderings. `change_word` words the `change` and `direction` codes.
"""
from __future__ import annotations

import math
from typing import Any

import sqlite_utils

from auditor import comparability as cmpy
from auditor.checks.conditions import REDUCERS
from auditor.messages import Message, has, render, verbatim
from auditor.status import Status, rank
from auditor.store import queries
from auditor.views import AuditView

# below this relative difference a figure counts as unchanged (estimators carry ~1% noise)
RELATIVE_TOLERANCE = 0.01
NOT_COMPARED = "not_compared"
DIRECTIONS = ("improved", "worse", "unchanged", "changed", "not_comparable", NOT_COMPARED)
AUDIT_SCOPE = "audit"   # check_id of findings about the audit as a whole (auditor.findings.AUDIT_SCOPE)


def change_word(code: str | None) -> Message:
    """improved / worse / not compared / … as words (comparison.change.<code>)."""
    key = f"comparison.change.{code}"
    return Message(key) if has(key) else verbatim(str(code))


def reason_fields(reason: Message | None) -> dict[str, Any]:
    """`reason` (English), `reason_ja` and `reason_message` (the facts) of one entry; None when compared."""
    if reason is None:
        return {"reason": None, "reason_ja": None, "reason_message": None}
    return {"reason": render(reason, "en"), "reason_ja": render(reason, "ja"), "reason_message": reason.to_json()}


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


def _rank_change(a: str | None, b: str | None) -> str:
    delta = rank(b) - rank(a)
    return "same" if delta == 0 else ("worse" if delta > 0 else "better")


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


def _assembled(db: sqlite_utils.Database, audit: str | AuditView) -> dict[str, Any]:
    """The audit as `show --json` prints it: from its view when the caller assembled one already."""
    return audit.to_json() if isinstance(audit, AuditView) else queries.audit_json(db, audit)


def compare(db: sqlite_utils.Database, audit_a: str | AuditView, audit_b: str | AuditView) -> dict[str, Any]:
    """A before, B after: IDs (or prefixes), or views already read on `db` (a report passes its own, so
    neither audit is assembled twice)."""
    a, b = _assembled(db, audit_a), _assembled(db, audit_b)
    side_a, side_b = cmpy.load_side(db, "A", a), cmpy.load_side(db, "B", b)
    checks = _compare_checks(a, b, side_a, side_b)
    blocked = {c["id"]: c for c in checks if c["change"] == NOT_COMPARED}
    rows = _compare_metrics(a, b, blocked)
    scope = cmpy.scope_reason(side_a, side_b)
    if scope is not None:
        blocked = {**blocked, AUDIT_SCOPE: {**reason_fields(scope), "message": scope}}
    findings = _compare_findings(a["findings"], b["findings"], blocked)
    reasons = cmpy.header_reasons(side_a, side_b) + [
        Message("comparison.check_not_compared", {"check": c["id"], "reason": c["message"]})
        for c in checks if c.get("blocks")]
    if scope is not None and any(f["check_id"] == AUDIT_SCOPE for f in a["findings"] + b["findings"]):
        reasons.append(Message("comparison.audit_scope_not_compared", {"reason": scope}))
    ratings = _compare_ratings(a, b, blocked)
    for c in checks:
        c.pop("blocks", None)
        c.pop("message", None)
    summary = {k: sum(r["direction"] == k for r in rows) for k in DIRECTIONS}
    comparable = not reasons
    return {
        "a": a["audit_id"], "b": b["audit_id"],
        "comparable": comparable,
        "reasons": [render(r, "en") for r in reasons], "reasons_ja": [render(r, "ja") for r in reasons],
        "reason_messages": [r.to_json() for r in reasons],
        "templates": {"a": side_a.template, "b": side_b.template},
        "same_template": cmpy.same_template(side_a, side_b),
        "probe_sets": {"a": side_a.probes, "b": side_b.probes},
        "same_probes": cmpy.same_probes(side_a, side_b),
        "models": {"a": _model_line(a), "b": _model_line(b)},
        "same_model_name": a["model"]["name"] == b["model"]["name"],
        "same_artifact": a["model"]["sha256"] == b["model"]["sha256"],
        "verdict": {"a": a["verdict"], "b": b["verdict"],
                    "change": _rank_change(a["verdict"], b["verdict"]) if comparable else NOT_COMPARED},
        "ratings": ratings,
        "checks": checks,
        "metrics": rows, "findings": findings, "summary": summary,
        "tolerance": RELATIVE_TOLERANCE,
    }


def _compare_checks(a: dict[str, Any], b: dict[str, Any], side_a: cmpy.Side, side_b: cmpy.Side) -> list[dict[str, Any]]:
    """Every check of either audit (B's order, then A's others), with `change` or why it is not compared."""
    ids = [c["id"] for c in b["checks"]] + [c["id"] for c in a["checks"] if c["id"] not in side_b.statuses]
    out = []
    for check_id in ids:
        sa, sb = side_a.statuses.get(check_id), side_b.statuses.get(check_id)
        entry: dict[str, Any] = {"id": check_id, "a": sa, "b": sb}
        why = cmpy.check_reason(check_id, side_a, side_b)
        if why is None:
            entry.update(change=_rank_change(sa, sb), **reason_fields(None))
        else:
            message, blocks = why
            entry.update(change=NOT_COMPARED, **reason_fields(message), blocks=blocks, message=message)
        out.append(entry)
    return out


def _compare_metrics(a: dict[str, Any], b: dict[str, Any], blocked: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
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
            if check["id"] in blocked:
                # a difference measured under other conditions is not a change of the model
                row.update(direction=NOT_COMPARED, **reason_fields(blocked[check["id"]]["message"]))
            if isinstance(flat_a[(name, variant)], list) and isinstance(flat_b[(name, variant)], list):
                row["series"] = {"a": flat_a[(name, variant)], "b": flat_b[(name, variant)]}
            rows.append(row)
    return rows


def _compare_ratings(a: dict[str, Any], b: dict[str, Any],
                     blocked: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per dimension: better / worse / same only when every check of it was compared and neither
    rating is inconclusive; `not_compared` with the reason otherwise."""
    out = {}
    for dim in b["ratings"]:
        ra, rb = (a["ratings"].get(dim) or {}).get("rating"), b["ratings"][dim]["rating"]
        entry: dict[str, Any] = {"a": ra, "b": rb, "change": _rank_change(ra, rb), **reason_fields(None)}
        ids = sorted({*((a["ratings"].get(dim) or {}).get("checks") or []), *(b["ratings"][dim].get("checks") or [])})
        # a check skipped in both audits (no reference model for parity, say) leaves both ratings
        # resting on the same checks, so it does not stop the rating from being compared
        missing = [c for c in ids if blocked.get(c, {}).get("blocks")]
        unsure = [s for s, r in (("A", ra), ("B", rb)) if r == Status.INCONCLUSIVE.value]
        reason = None
        if missing:
            reason = Message("comparison.rating_missing_checks", {"checks": missing})
        elif len(unsure) == 2:
            reason = Message("comparison.rating_inconclusive_both", {"a": unsure[0], "b": unsure[1]})
        elif unsure:
            reason = Message("comparison.rating_inconclusive", {"side": unsure[0]})
        elif ra == rb == Status.NOT_ASSESSED.value:
            reason = Message("comparison.rating_not_assessed")
        if reason is not None:
            entry.update(change=NOT_COMPARED, **reason_fields(reason))
        out[dim] = entry
    return out


def _model_line(audit: dict[str, Any]) -> dict[str, Any]:
    m = audit["model"]
    return {"name": m["name"], "version": m["version"], "sha256": m["sha256"], "format": m["format"],
            "started_at": audit["started_at"]}


def _compare_findings(fa: list[dict[str, Any]], fb: list[dict[str, Any]],
                      blocked: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
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
        ref = fb_ or fa_
        why = blocked.get(ref["check_id"])
        if why is not None:
            change = NOT_COMPARED
        elif sa is None:
            change = "new"
        elif sb is None:
            change = "gone"
        else:
            change = _rank_change(sa, sb)
        out.append({"check_id": ref["check_id"], "title": ref["title"], "title_ja": ref.get("title_ja"),
                    "metric": ref.get("metric"), "a": sa, "b": sb, "change": change,
                    "value_a": fa_.get("value") if fa_ else None, "value_b": fb_.get("value") if fb_ else None,
                    **reason_fields(why["message"] if why else None)})
    return out
