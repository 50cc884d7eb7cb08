"""Reads: rows as plain data, the audit list, the fingerprint content (the typed views: auditor.store.read_model)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import sqlite_utils

from auditor.errors import BadInput
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


def model_of(db: sqlite_utils.Database, audit: dict[str, Any]) -> dict[str, Any]:
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
    """The findings of one evaluation as plain dicts, in order (`sentences` None where none were stored)."""
    rows = db["findings"].rows_where("evaluation_id = ?", [evaluation_id], order_by="position")
    return [{
        "id": r["id"], "check_id": r["check_id"], "severity": r["severity"], "title": r["title"],
        "title_ja": r["title_ja"], "detail": r["detail"], "meaning": {"en": r["meaning_en"], "ja": r["meaning_ja"]},
        "clauses": _load(r["clauses_json"], []), "action": r["action"], "action_ja": r["action_ja"],
        "owner": r["owner"], "due": r["due"], "key": r["key"], "metric": r["metric"], "value": r["value"],
        "layer": r["layer"], "condition": _load(r["condition_json"], {}),
        "sentences": _load(r.get("sentences_json"), None),
    } for r in rows]


def _with_sentences(item: dict[str, Any], sentences: Any) -> dict[str, Any]:
    """The fingerprint covers stored sentences; rows stored before them keep the content (and digest) they had."""
    return item if sentences is None else {**item, "sentences": sentences}


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
        findings = [_with_sentences({k: v for k, v in f.items() if k not in ("owner", "due", "id", "sentences")},
                                    f["sentences"]) for f in findings_of(db, evaluation_id)]
    return {
        "audit_id": audit["id"],
        "model": model_of(db, audit),
        "probes": _load(db["probe_sets"].get(audit["probe_set_id"])["detail_json"], {}),
        "environment": _load(audit["environment_json"], {}),
        "meta": _load(audit["meta_json"], {}),
        "template": {"name": audit["template_name"], "version": audit["template_version"],
                     "sha256": audit["template_sha256"]},
        "started_at": audit["started_at"], "finished_at": audit["finished_at"],
        "checks": [_with_sentences({"id": r["check_id"], "outcome": r["outcome"], "summary": r["summary"],
                                    "evidence": _load(r["evidence_json"], {}), "duration_s": r["duration_s"]},
                                   _load(r.get("sentences_json"), None)) for r in results],
        "metrics": metric_list,     # [check_id, name, layer, head, variant, value], sorted
        "evaluation": None if evaluation is None else {
            "id": evaluation["id"], "template_sha256": evaluation["template_sha256"],
            "verdict": evaluation["verdict"], "reason": evaluation["reason"], "findings": findings},
    }


def read_model_digest(db: sqlite_utils.Database, evaluation_id: int) -> str:
    """SHA-256 of what the read model shows beside the fingerprinted content: each check's stored status
    and the ratings of the evaluation (signed with it, so a status edited to `pass` is noticed)."""
    from auditor.store.fingerprint import fingerprint_of

    statuses = sorted(list(r) for r in db.execute(
        "SELECT check_id, status FROM check_statuses WHERE evaluation_id = ?", [evaluation_id]).fetchall())
    ratings = db.execute("SELECT ratings_json FROM evaluations WHERE id = ?", [evaluation_id]).fetchone()
    return fingerprint_of({"statuses": statuses, "ratings": load_json(ratings[0] if ratings else None, None)})


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


def events_of(db: sqlite_utils.Database, audit_id: str) -> list[dict[str, Any]]:
    return [{"id": r["id"], "at": r["at"], "actor": r["actor"], "kind": r["kind"],
             "detail": _load(r["detail_json"], {}), "signer": r.get("signer")}
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


@lru_cache(maxsize=16)
def parsed_template(template_text: str | None) -> Mapping[str, Any]:
    """A stored template text as data, parsed once per process per text (the view, the planned checks and
    both sides of a comparison read the same text); {} for none or a text an older rule set no longer
    reads. Shared between callers: read it, never change it."""
    if not template_text:
        return {}
    from auditor.safe_yaml import load_yaml

    try:
        data = load_yaml(template_text)
    except Exception:  # stored text predates a rule change; the report still renders
        return {}
    return data if isinstance(data, dict) else {}


def planned_checks(template_text: str | None) -> tuple[str, ...]:
    """The check ids a stored template lists, in its order."""
    checks = parsed_template(template_text).get("checks")
    return tuple(str(c["id"]) for c in checks or [] if isinstance(c, dict) and c.get("id"))


def template_conditions(template_text: str | None) -> list[dict[str, Any]]:
    """The pre-declared thresholds of the template an evaluation applied, read from its stored text."""
    data = parsed_template(template_text)
    rows = []
    for check in data.get("checks") or []:
        if not isinstance(check, dict):
            continue
        for cond in check.get("conditions") or []:
            rows.append({"check_id": check.get("id"), **{k: cond.get(k) for k in (
                "metric", "condition", "reduce", "variant", "warn", "fail", "info", "finding")},
                "rationale": " ".join(str(cond.get("rationale") or "").split()),
                "rationale_ja": fold(cond.get("rationale_ja")),
                "clauses": list(cond.get("clauses") or [])})
    return rows


def audit_json(db: sqlite_utils.Database, audit_id: str) -> dict[str, Any]:
    """The object `auditor show --json` prints (docs/ARCHITECTURE.md, CLI contract)."""
    from auditor.store.read_model import audit_view

    return audit_view(db, audit_id).to_json()


def list_audits(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every audit, newest first, with its latest sign-off per role (`signoffs`, each `current` when it signs
    the audit's latest evaluation), all in one query: a client shows the sign-off state without a read per row."""
    rows = db.execute("""
        SELECT a.id, a.status,
               COALESCE((SELECT e.verdict FROM evaluations e WHERE e.audit_id = a.id ORDER BY e.id DESC LIMIT 1),
                        a.verdict), a.name, a.model_version,
               COALESCE((SELECT e.template_name FROM evaluations e WHERE e.audit_id = a.id ORDER BY e.id DESC
                         LIMIT 1), a.template_name), a.started_at,
               a.finished_at, m.sha256, m.format, m.architecture,
               (SELECT e.id FROM evaluations e WHERE e.audit_id = a.id ORDER BY e.id DESC LIMIT 1),
               (SELECT json_group_array(json_array(ev.id, ev.at, ev.detail_json)) FROM events ev
                 WHERE ev.audit_id = a.id AND ev.kind = 'signed')
        FROM audits a JOIN models m ON m.id = a.model_id ORDER BY a.started_at DESC, a.rowid DESC""").fetchall()
    keys = ("audit_id", "status", "verdict", "name", "version", "template", "started_at", "finished_at",
            "model_sha256", "format", "architecture", "evaluation_id")
    return [{**dict(zip(keys, row[:-1], strict=True)), "signoffs": _listed_signoffs(row[-1], row[-2])}
            for row in rows]


def _listed_signoffs(signed_json: str | None, evaluation_id: int | None) -> list[dict[str, Any]]:
    """The latest sign-off per role from the audit's `signed` events ([id, at, detail_json] rows)."""
    signed = sorted(_load(signed_json, []), key=lambda e: e[0])
    events = [{"kind": "signed", "at": at, "detail": _load(detail, {})} for _id, at, detail in signed]
    return [{**s, "current": evaluation_id is not None and s["evaluation_id"] == evaluation_id}
            for s in signoffs_of(events)]
