"""Reads: the audit object (`show --json`), the audit list, the fingerprint content."""
from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from auditor.errors import BadInput
from auditor.store import metrics as metric_rows

META_KEYS = ("purpose", "users", "out_of_scope", "preparer", "decision_requested")


def _load(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


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
    from auditor.checks.conditions import worst

    if outcome in ("skipped", "error"):
        return outcome
    return worst([f["severity"] for f in findings if f["check_id"] == check_id and f["severity"] != "info"])


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


def audit_json(db: sqlite_utils.Database, audit_id: str) -> dict[str, Any]:
    """The object `auditor show --json` prints (ARCHITECTURE.md, CLI contract)."""
    audit = audit_row(db, audit_id)
    evaluation = latest_evaluation(db, audit["id"])
    findings = findings_of(db, evaluation["id"]) if evaluation else []
    results = list(db["check_results"].rows_where("audit_id = ?", [audit["id"]], order_by="position"))
    metrics = metric_rows.from_rows(list(db["metrics"].rows_where("audit_id = ?", [audit["id"]])))
    probe_detail = _load(db["probe_sets"].get(audit["probe_set_id"])["detail_json"], {})
    meta = _load(audit["meta_json"], {})
    return {
        "audit_id": audit["id"],
        "status": audit["status"],
        "verdict": audit["verdict"],
        "model": _model(db, audit),
        "probes": probe_detail,
        "environment": _load(audit["environment_json"], {}),
        "meta": {**{k: meta.get(k) for k in META_KEYS}, **meta},
        "template": {"name": audit["template_name"], "version": audit["template_version"],
                     "sha256": audit["template_sha256"], "source": audit["template_source"]},
        "started_at": audit["started_at"],
        "finished_at": audit["finished_at"],
        "error": audit["error"],
        "checks": [{"id": r["check_id"], "status": _check_status(r["outcome"], r["check_id"], findings),
                    "summary": r["summary"], "metrics": metrics.get(r["check_id"], {}),
                    "duration_s": r["duration_s"]} for r in results],
        "findings": [{k: f[k] for k in ("check_id", "severity", "title", "detail", "meaning", "clauses", "action",
                                        "owner", "due")} for f in findings],
        "evaluation_id": evaluation["id"] if evaluation else None,
        "fingerprint": evaluation["fingerprint"] if evaluation else None,
    }


def list_audits(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = db.execute("""
        SELECT a.id, a.status, a.verdict, a.name, a.model_version, a.template_name, a.started_at,
               a.finished_at, m.sha256, m.format, m.architecture
        FROM audits a JOIN models m ON m.id = a.model_id ORDER BY a.started_at DESC, a.id DESC""").fetchall()
    keys = ("audit_id", "status", "verdict", "name", "version", "template", "started_at", "finished_at",
            "model_sha256", "format", "architecture")
    return [dict(zip(keys, row, strict=True)) for row in rows]
