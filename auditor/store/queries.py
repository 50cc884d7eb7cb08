"""Reads: the audit object (`show --json`), the audit list, the fingerprint content."""
from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from auditor.errors import BadInput
from auditor.store import metrics as metric_rows
from auditor.text import fold

META_KEYS = ("purpose", "users", "out_of_scope", "preparer", "decision_requested")


def load_json(text: str | None, default: Any) -> Any:
    """A stored JSON column, or `default` when it is empty."""
    return json.loads(text) if text else default


_load = load_json


def audit_row(db: sqlite_utils.Database, audit_id: str) -> dict[str, Any]:
    rows = list(db["audits"].rows_where("id = ?", [audit_id], limit=1))
    if not rows:
        matches = list(db["audits"].rows_where("id LIKE ?", [f"{audit_id}%"], limit=2))
        if len(matches) != 1:
            raise BadInput(f"no audit with ID {audit_id} in {db_name(db)}; `auditor list` shows the IDs")
        rows = matches
    return rows[0]


def db_name(db: sqlite_utils.Database) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] or "the in-memory database"


def latest_evaluation(db: sqlite_utils.Database, audit_id: str) -> dict[str, Any] | None:
    rows = list(db["evaluations"].rows_where("audit_id = ?", [audit_id], order_by="id desc", limit=1))
    return rows[0] if rows else None


def _model(db: sqlite_utils.Database, audit: dict[str, Any]) -> dict[str, Any]:
    row = db["models"].get(audit["model_id"])
    identity = _load(row["identity_json"], {})
    return {
        "name": audit["name"], "version": audit["model_version"], "format": identity.get("format"),
        "sha256": identity.get("sha256"), "files": identity.get("files", []),
        "parameters": identity.get("parameters"), "layers": identity.get("layers"),
        "architecture": identity.get("architecture"), "pooling": identity.get("pooling"),
        "pooling_source": identity.get("pooling_source"), "model_type": identity.get("model_type"),
        "dtype": identity.get("dtype"), "modality": identity.get("modality"),
        "hidden_size": identity.get("hidden_size"), "heads": identity.get("heads"),
        "details": identity.get("details", {}),
    }


def findings_of(db: sqlite_utils.Database, evaluation_id: int) -> list[dict[str, Any]]:
    rows = db["findings"].rows_where("evaluation_id = ?", [evaluation_id], order_by="position")
    return [{
        "id": r["id"], "check_id": r["check_id"], "severity": r["severity"], "title": r["title"],
        "title_ja": r["title_ja"], "detail": r["detail"], "meaning": {"en": r["meaning_en"], "ja": r["meaning_ja"]},
        "clauses": _load(r["clauses_json"], []), "action": r["action"], "action_ja": r["action_ja"],
        "owner": r["owner"], "due": r["due"], "key": r["key"], "metric": r["metric"], "value": r["value"],
        "layer": r["layer"], "condition": _load(r["condition_json"], {}),
    } for r in rows]


def _check_status(outcome: str, check_id: str, findings: list[dict[str, Any]]) -> str:
    from auditor.status import status_of_check

    return str(status_of_check(outcome, [f["severity"] for f in findings if f["check_id"] == check_id]))


def stored_content(db: sqlite_utils.Database, audit_id: str, evaluation_id: int | None) -> dict[str, Any]:
    """Everything the fingerprint covers, read back from the rows (so it can be recomputed later).

    Owners and due dates of findings are left out: officers assign them after the audit, and
    doing so must not change the evidence.
    """
    audit = audit_row(db, audit_id)
    results = list(db["check_results"].rows_where("audit_id = ?", [audit["id"]], order_by="position"))
    metric_list = [list(r) for r in db.execute(
        "SELECT check_id, name, layer, head, variant, value FROM metrics WHERE audit_id = ? "
        "ORDER BY check_id, name, variant, layer, head", [audit["id"]]).fetchall()]
    findings = []
    evaluation = None
    if evaluation_id is not None:
        evaluation = db["evaluations"].get(evaluation_id)
        findings = [{k: v for k, v in f.items() if k not in ("owner", "due", "id")}
                    for f in findings_of(db, evaluation_id)]
    return {
        "audit_id": audit["id"],
        "model": _model(db, audit),
        "probes": _load(db["probe_sets"].get(audit["probe_set_id"])["detail_json"], {}),
        "environment": _load(audit["environment_json"], {}),
        "meta": _load(audit["meta_json"], {}),
        "template": {"name": audit["template_name"], "version": audit["template_version"],
                     "sha256": audit["template_sha256"]},
        "started_at": audit["started_at"], "finished_at": audit["finished_at"],
        "checks": [{"id": r["check_id"], "outcome": r["outcome"], "summary": r["summary"],
                    "evidence": _load(r["evidence_json"], {}), "duration_s": r["duration_s"]} for r in results],
        "metrics": metric_list,     # [check_id, name, layer, head, variant, value], sorted
        "evaluation": None if evaluation is None else {
            "id": evaluation["id"], "template_sha256": evaluation["template_sha256"],
            "verdict": evaluation["verdict"], "reason": evaluation["reason"], "findings": findings},
    }


def previous_audit_id(db: sqlite_utils.Database, audit_id: str) -> str | None:
    """The latest completed audit of the same model name that started before this one."""
    audit = audit_row(db, audit_id)
    # started_at has one-second resolution and IDs end in random hex: within a second, the row
    # inserted first (the lower rowid) started first
    row = db.execute(
        "SELECT id FROM audits WHERE name = ? AND status = 'completed' AND id != ? AND "
        "(started_at < ? OR (started_at = ? AND rowid < (SELECT rowid FROM audits WHERE id = ?))) "
        "ORDER BY started_at DESC, rowid DESC LIMIT 1",
        [audit["name"], audit["id"], audit["started_at"], audit["started_at"], audit["id"]]).fetchone()
    return row[0] if row else None


def check_statuses(db: sqlite_utils.Database, audit_id: str) -> list[dict[str, str]]:
    """[{id, status}] under the latest evaluation, as `show --json` lists the checks."""
    evaluation = latest_evaluation(db, audit_id)
    findings = findings_of(db, evaluation["id"]) if evaluation else []
    return [{"id": r["check_id"], "status": _check_status(r["outcome"], r["check_id"], findings)}
            for r in db["check_results"].rows_where("audit_id = ?", [audit_id], order_by="position")]


def ratings_of(db: sqlite_utils.Database, audit_id: str, previous: str | None) -> dict[str, Any]:
    from auditor.ratings import rate, with_trend

    before = rate(check_statuses(db, previous)) if previous and _same_conditions(db, audit_id, previous) else None
    return with_trend(rate(check_statuses(db, audit_id)), before)


def _same_conditions(db: sqlite_utils.Database, audit_id: str, other_id: str) -> bool:
    """Whether two audits were evaluated under the same template on the same probe set: only then is
    a rating's trend a change of the model (`auditor compare` says in detail what differs)."""
    def conditions(audit: str) -> tuple[Any, ...]:
        row = audit_row(db, audit)
        evaluation = latest_evaluation(db, row["id"])
        # one probe_sets row per spec, hash, count, seeded selection and skips: the same row, the same probes
        return (evaluation["template_sha256"] if evaluation else row["template_sha256"], row["probe_set_id"])

    return conditions(audit_id) == conditions(other_id)


def events_of(db: sqlite_utils.Database, audit_id: str) -> list[dict[str, Any]]:
    return [{"id": r["id"], "at": r["at"], "actor": r["actor"], "kind": r["kind"],
             "detail": _load(r["detail_json"], {})}
            for r in db["events"].rows_where("audit_id = ?", [audit_id], order_by="id")]


def signoffs_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest sign-off per role (earlier ones stay in the event log)."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["kind"] == "signed":
            d = event["detail"]
            latest[d.get("role", "")] = {"role": d.get("role"), "name": d.get("name"),
                                         "decision": d.get("decision"), "at": event["at"],
                                         "evaluation_id": d.get("evaluation_id"),
                                         "fingerprint": d.get("fingerprint")}
    order = {"preparer": 0, "reviewer": 1, "approver": 2}
    return sorted(latest.values(), key=lambda s: order.get(s["role"] or "", 9))


def evaluations_of(db: sqlite_utils.Database, audit_id: str) -> list[dict[str, Any]]:
    return [{k: r[k] for k in ("id", "template_name", "template_version", "template_sha256", "verdict",
                               "reason", "created_at", "fingerprint")}
            for r in db["evaluations"].rows_where("audit_id = ?", [audit_id], order_by="id")]


def template_conditions(template_text: str | None) -> list[dict[str, Any]]:
    """The pre-declared thresholds of the template an evaluation applied, read from its stored text."""
    if not template_text:
        return []
    from auditor.safe_yaml import load_yaml

    try:
        data = load_yaml(template_text)
    except Exception:  # stored text predates a rule change; the report still renders
        return []
    rows = []
    for check in (data or {}).get("checks") or []:
        for cond in check.get("conditions") or []:
            rows.append({"check_id": check.get("id"), **{k: cond.get(k) for k in (
                "metric", "condition", "reduce", "variant", "warn", "fail", "info", "finding")},
                "rationale": " ".join(str(cond.get("rationale") or "").split()),
                "rationale_ja": fold(cond.get("rationale_ja")),
                "clauses": list(cond.get("clauses") or [])})
    return rows


def _current_template(audit: dict[str, Any], evaluation: dict[str, Any] | None) -> dict[str, Any]:
    if evaluation is None or evaluation["template_sha256"] == audit["template_sha256"]:
        return {"name": audit["template_name"], "version": audit["template_version"],
                "sha256": audit["template_sha256"], "source": audit["template_source"]}
    return {"name": evaluation["template_name"], "version": evaluation["template_version"],
            "sha256": evaluation["template_sha256"], "source": f"re-evaluation {evaluation['id']}"}


def audit_json(db: sqlite_utils.Database, audit_id: str) -> dict[str, Any]:
    """The object `auditor show --json` prints (ARCHITECTURE.md, CLI contract)."""
    audit = audit_row(db, audit_id)
    evaluation = latest_evaluation(db, audit["id"])
    findings = findings_of(db, evaluation["id"]) if evaluation else []
    results = list(db["check_results"].rows_where("audit_id = ?", [audit["id"]], order_by="position"))
    previous = previous_audit_id(db, audit["id"])
    events = events_of(db, audit["id"])
    metrics = metric_rows.from_rows(list(db["metrics"].rows_where("audit_id = ?", [audit["id"]])))
    probe_detail = _load(db["probe_sets"].get(audit["probe_set_id"])["detail_json"], {})
    meta = _load(audit["meta_json"], {})
    return {
        "audit_id": audit["id"],
        "status": audit["status"],
        "verdict": evaluation["verdict"] if evaluation else audit["verdict"],   # a re-evaluation can change it
        "model": _model(db, audit),
        "probes": probe_detail,
        "environment": _load(audit["environment_json"], {}),
        "meta": {**{k: meta.get(k) for k in META_KEYS}, **meta},
        # the template of the evaluation shown (a re-evaluation changes it); the audit's own is kept too
        "template": _current_template(audit, evaluation),
        "audit_template": {"name": audit["template_name"], "version": audit["template_version"],
                           "sha256": audit["template_sha256"], "source": audit["template_source"]},
        "started_at": audit["started_at"],
        "finished_at": audit["finished_at"],
        "error": audit["error"],
        "checks": [{"id": r["check_id"], "status": _check_status(r["outcome"], r["check_id"], findings),
                    "summary": r["summary"], "metrics": metrics.get(r["check_id"], {}),
                    "duration_s": r["duration_s"]} for r in results],
        "findings": [{k: f[k] for k in ("check_id", "severity", "title", "detail", "meaning", "clauses", "action",
                                        "owner", "due", "id", "title_ja", "action_ja", "key", "metric", "value",
                                        "layer", "condition")} for f in findings],
        "evaluation_id": evaluation["id"] if evaluation else None,
        "fingerprint": evaluation["fingerprint"] if evaluation else None,
        "ratings": ratings_of(db, audit["id"], previous),
        "previous_audit_id": previous,
        "evaluation": None if evaluation is None else {
            k: evaluation[k] for k in ("id", "template_name", "template_version", "template_sha256", "verdict",
                                       "reason", "created_at")},
        "evaluations": evaluations_of(db, audit["id"]),
        "template_conditions": template_conditions(evaluation["template_text"] if evaluation else None),
        "signoffs": signoffs_of(events),
        "events": events,
    }


def list_audits(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = db.execute("""
        SELECT a.id, a.status,
               COALESCE((SELECT e.verdict FROM evaluations e WHERE e.audit_id = a.id ORDER BY e.id DESC LIMIT 1),
                        a.verdict), a.name, a.model_version,
               COALESCE((SELECT e.template_name FROM evaluations e WHERE e.audit_id = a.id ORDER BY e.id DESC
                         LIMIT 1), a.template_name), a.started_at,
               a.finished_at, m.sha256, m.format, m.architecture
        FROM audits a JOIN models m ON m.id = a.model_id ORDER BY a.started_at DESC, a.rowid DESC""").fetchall()
    keys = ("audit_id", "status", "verdict", "name", "version", "template", "started_at", "finished_at",
            "model_sha256", "format", "architecture")
    return [dict(zip(keys, row, strict=True)) for row in rows]
