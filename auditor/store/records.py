"""Writes: audits (with their leases), results, evaluations, findings and the append-only event log.

Every write to the database goes through these functions; each is one transaction (sqlite-utils'
atomic(); nested calls become savepoints). They take plain data (mappings of JSON-ready values),
never the engine's types: auditor.api and auditor.governance turn CheckResults and Findings into
these rows (the store imports no domain module; an import-linter contract)."""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from auditor.store import chain, lease, legacy, queries
from auditor.store import metrics as metric_rows
from auditor.store.fingerprint import fingerprint_of, part_digests

# a template as stored with an audit or an evaluation: name, version, sha256, source, text
TemplateRow = Mapping[str, Any]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _json_or_null(value: Any) -> str | None:
    """Stored sentences: NULL where the writer had none (readers then show the stored English)."""
    return None if value is None else json.dumps(list(value), ensure_ascii=False, allow_nan=False)


def new_audit_id() -> str:
    """Readable, sortable and unique: date, time and 6 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def add_event(db: sqlite_utils.Database, audit_id: str | None, kind: str, detail: Mapping[str, Any] | None = None,
              actor: str = "auditor", signer: Any = None) -> int:
    """Appends a chained event signed by `signer` (default: the registered machine signer; store.chain)."""
    return chain.append(db, audit_id, kind, dict(detail or {}), actor, signer)


def upsert_model(db: sqlite_utils.Database, identity: Mapping[str, Any]) -> int:
    """The models row for these bytes (keyed by the manifest hash); created on first sight."""
    existing = list(db["models"].rows_where("sha256 = ?", [identity["sha256"]], limit=1))
    if existing:
        return int(existing[0]["id"])
    return int(db["models"].insert({
        "sha256": identity["sha256"], "format": identity["format"], "architecture": identity["architecture"],
        "model_type": identity.get("model_type"), "parameters": identity.get("parameters"),
        "layers": identity.get("layers"), "dtype": identity.get("dtype"), "path": identity.get("path"),
        "identity_json": _json(dict(identity)), "created_at": now(),
    }).last_pk)


def upsert_probe_set(db: sqlite_utils.Database, description: Mapping[str, Any]) -> int:
    key = _json({k: description.get(k) for k in ("spec", "sha256", "count", "selection", "skipped")})
    existing = list(db["probe_sets"].rows_where("key = ?", [key], limit=1))
    if existing:
        return int(existing[0]["id"])
    return int(db["probe_sets"].insert({"key": key, "spec": description["spec"], "sha256": description["sha256"],
                             "kind": description.get("kind"), "count": description["count"],
                             "detail_json": _json(dict(description)), "created_at": now()}).last_pk)


def create_audit(db: sqlite_utils.Database, *, identity: Mapping[str, Any], probes: Mapping[str, Any],
                 template: TemplateRow, meta: Mapping[str, Any], environment: Mapping[str, Any], seed: int,
                 device: str, name: str, model_version: str, signer: Any = None) -> str:
    """A new audit row in status `running` (it becomes `completed` only when every check is stored)."""
    audit_id = new_audit_id()
    signer = signer if signer is not None else chain.default_signer()
    with db.atomic():
        model_id = upsert_model(db, identity)
        probe_id = upsert_probe_set(db, probes)
        db["audits"].insert({
            "id": audit_id, "status": "running", "verdict": None, "model_id": model_id,
            "probe_set_id": probe_id, "name": name, "model_version": model_version,
            "template_name": template["name"], "template_version": template["version"],
            "template_sha256": template["sha256"], "template_source": template["source"],
            "template_text": template["text"], "meta_json": _json(dict(meta)),
            "environment_json": _json(dict(environment)), "seed": seed, "device": device,
            "started_at": now(), "finished_at": None, "fingerprint": None, "error": None,
        })
        # in the same transaction as the row: a `running` audit always names the process that runs it
        lease.record(db, audit_id)
        add_event(db, audit_id, "created", {"template": template["name"], "model_sha256": identity["sha256"],
                                            "signer_kind": chain.signer_kind(signer)},
                  actor=str(meta.get("preparer") or "auditor"), signer=signer)
    return audit_id


def store_results(db: sqlite_utils.Database, audit_id: str, results: Iterable[Mapping[str, Any]]) -> None:
    """Each check's result, in run order: {check_id, outcome, summary, metrics, evidence, duration_s,
    sentences (a list of messages as JSON, or None), intervals (optional: {metric: {ci_low, ci_high}},
    stored as variants of the metric's rows, store.metrics)}."""
    with db.atomic():
        for position, result in enumerate(results):
            db["check_results"].insert({
                "audit_id": audit_id, "check_id": result["check_id"], "position": position,
                "outcome": result["outcome"], "summary": result.get("summary") or "",
                "evidence_json": _json(dict(result.get("evidence") or {})),
                "duration_s": round(float(result.get("duration_s") or 0.0), 4),
                "sentences_json": _json_or_null(result.get("sentences")),
            })
            db["metrics"].insert_all(metric_rows.to_rows(audit_id, result["check_id"], result.get("metrics") or {},
                                                         result.get("intervals") or {}))


_FINDING_COLUMNS = ("check_id", "key", "severity", "title", "title_ja", "detail", "action", "action_ja", "owner",
                    "due", "metric", "value", "layer")


def store_evaluation(db: sqlite_utils.Database, audit_id: str, template: TemplateRow,
                     findings: Sequence[Mapping[str, Any]], verdict: str, reason: str, *,
                     statuses: Mapping[str, str] | None = None,
                     ratings: Sequence[Mapping[str, Any]] | None = None) -> int:
    """An evaluation with its findings, each check's status and the ratings, computed once by the caller.

    findings: {check_id, key, severity, title, title_ja, detail, meaning {en, ja}, clauses, action,
    action_ja, owner, due, metric, value, layer, condition, sentences (JSON list or None)};
    statuses: {check_id: status} for every stored check; ratings: [{dimension, rating, checks}].
    Where the caller gives none they are derived as for rows older than migration 3 (store.legacy).
    """
    with db.atomic():
        evaluation_id = int(db["evaluations"].insert({
            "audit_id": audit_id, "template_name": template["name"], "template_version": template["version"],
            "template_sha256": template["sha256"], "template_text": template["text"], "verdict": verdict,
            "reason": reason, "created_at": now(),
        }).last_pk)
        db["findings"].insert_all([{
            "evaluation_id": evaluation_id, "audit_id": audit_id, "position": i,
            **{k: f.get(k) for k in _FINDING_COLUMNS},
            "meaning_en": (f.get("meaning") or {}).get("en"), "meaning_ja": (f.get("meaning") or {}).get("ja"),
            "clauses_json": _json(list(f.get("clauses") or [])), "condition_json": _json(dict(f.get("condition") or {})),
            "sentences_json": _json_or_null(f.get("sentences")),
        } for i, f in enumerate(findings)])
        if statuses is None:
            results = db.query("SELECT check_id, outcome FROM check_results WHERE audit_id = ? ORDER BY position",
                               [audit_id])
            statuses = legacy.check_statuses(results, findings)
        db["check_statuses"].insert_all([{"evaluation_id": evaluation_id, "audit_id": audit_id, "check_id": c,
                                          "status": str(s)} for c, s in statuses.items()])
        db["evaluations"].update(evaluation_id, {"ratings_json": json.dumps(
            list(ratings) if ratings is not None else legacy.ratings(statuses))})
    return evaluation_id


def seal_evaluation(db: sqlite_utils.Database, audit_id: str, evaluation_id: int) -> str:
    """Stores the evaluation's fingerprint: the SHA-256 of everything stored for it (queries.stored_content)."""
    return str(evaluation_seal(db, audit_id, evaluation_id)["fingerprint"])


def evaluation_seal(db: sqlite_utils.Database, audit_id: str, evaluation_id: int) -> dict[str, Any]:
    """Stores the evaluation's fingerprint and returns what its signed event holds: the evaluation id, the
    fingerprint, the digests of its parts (fingerprint.part_digests) and of its statuses and ratings."""
    content = queries.stored_content(db, audit_id, evaluation_id)
    digest = fingerprint_of(content)
    with db.atomic():
        db["evaluations"].update(evaluation_id, {"fingerprint": digest})
    return {"evaluation_id": evaluation_id, "fingerprint": digest, "parts": part_digests(content),
            "read_model": queries.read_model_digest(db, evaluation_id)}


def update_environment(db: sqlite_utils.Database, audit_id: str, environment: Mapping[str, Any]) -> None:
    """The audit's environment as completed after the run (input notes, timings, whether probes were fed)."""
    with db.atomic():
        db["audits"].update(audit_id, {"environment_json": _json(dict(environment))})


def assign_finding(db: sqlite_utils.Database, audit_id: str, finding_id: int, changes: Mapping[str, Any],
                   actor: str, signer: Any = None) -> None:
    """Sets a finding's owner and/or due date, and logs it (signed), in one transaction."""
    with db.atomic():
        db["findings"].update(finding_id, {k: changes[k] for k in ("owner", "due") if k in changes})
        add_event(db, audit_id, "assigned", {"finding_id": finding_id, **changes}, actor=actor, signer=signer)


def finish_audit(db: sqlite_utils.Database, audit_id: str, *, verdict: str, fingerprint: str,
                 seal: Mapping[str, Any] | None = None, signer: Any = None) -> None:
    """Marks the audit completed; its `completed` event signs the fingerprint (and `seal`: evaluation_seal)."""
    signer = signer if signer is not None else chain.default_signer()
    with db.atomic():
        db["audits"].update(audit_id, {"status": "completed", "verdict": verdict, "fingerprint": fingerprint})
        add_event(db, audit_id, "completed", {**dict(seal or {}), "verdict": verdict, "fingerprint": fingerprint,
                                              "signer_kind": chain.signer_kind(signer)}, signer=signer)


def mark_finished_at(db: sqlite_utils.Database, audit_id: str) -> None:
    db["audits"].update(audit_id, {"finished_at": now()})


def fail_audit(db: sqlite_utils.Database, audit_id: str, error: str, status: str = "failed",
               signer: Any = None) -> None:
    with db.atomic():
        db["audits"].update(audit_id, {"status": status, "error": error, "finished_at": now()})
        add_event(db, audit_id, status, {"error": error}, signer=signer)


def record_probes_not_fed(db: sqlite_utils.Database, audit_id: str, offered: Mapping[str, Any]) -> None:
    """Points the audit at a probe set of none: the set offered never reached the model, so the
    record must not say it was fed (what was offered stays in the description)."""
    description = {"spec": "none", "sha256": "", "count": 0, "kind": "none", "labelled": False,
                   "label_names": [], "skipped": [], "selection": {},
                   "notes": [f"no probe reached the model; {offered.get('spec')} ({offered.get('count')} probes) "
                             "was offered but every check that feeds the model was skipped"],
                   "offered": {k: offered.get(k) for k in ("spec", "sha256", "count", "kind")}}
    with db.atomic():
        db["audits"].update(audit_id, {"probe_set_id": upsert_probe_set(db, description)})
