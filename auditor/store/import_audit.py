"""Imports one audit from another database file (a batch worker's private database) into this one.

Batch audits on Ray run `auditor audit` on each node against a private temporary database; the driver
is the single writer of the main database and copies each audit in: the audit row, its model and
probe set (reused when the same bytes are already known, as a CLI audit would), check results,
metrics, evaluations, findings and check statuses, in one transaction. The audit's events are
appended to this database's chain as new events signed by this machine's default signer (the
worker's chain cannot be spliced into ours). An evaluation gets a new row id here, and the id is
part of the fingerprinted content, so each evaluation is sealed again; the import first checks that
everything else it copied is identical to what the worker stored, and the `completed` event keeps
the worker's fingerprint beside the new one (`worker`), so `auditor verify` passes on this database.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from auditor.errors import AuditorError, BadInput
from auditor.store import queries, records

_RUNNING_LEFT = "the audit process stopped before the audit finished; run the audit again"


class ImportMismatch(AuditorError):
    """The copied audit does not read back as the worker stored it (nothing is kept)."""


def read_source(path: str | Path) -> sqlite_utils.Database:
    """The worker's database, opened without migrations or sweeps (it is read, never written)."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    return sqlite_utils.Database(conn)


def audit_ids(src: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in src.execute("SELECT id FROM audits ORDER BY rowid").fetchall()]


def import_audit(db: sqlite_utils.Database, src: sqlite_utils.Database, audit_id: str,
                 provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copies `audit_id` from `src` into `db` (one transaction); returns {audit_id, status, verdict, fingerprint}.

    An audit left `running` in `src` (its process is gone) is stored as interrupted, never completed.
    """
    audit = src["audits"].get(audit_id)
    if db.execute("SELECT 1 FROM audits WHERE id = ?", [audit_id]).fetchone():
        raise BadInput(f"audit {audit_id} is already in the database")
    with db.atomic():
        model = src["models"].get(audit["model_id"])
        probes = src["probe_sets"].get(audit["probe_set_id"])
        row = {**audit, "model_id": records.upsert_model(db, json.loads(model["identity_json"])),
               "probe_set_id": records.upsert_probe_set(db, json.loads(probes["detail_json"]))}
        if row["status"] == "running":
            row.update(status="interrupted", error=_RUNNING_LEFT, verdict=None, fingerprint=None)
        db["audits"].insert(row)
        _copy_rows(db, src, "check_results", audit_id)
        _copy_rows(db, src, "metrics", audit_id)
        evaluations = _copy_evaluations(db, src, audit_id)
        _copy_events(db, src, audit_id, evaluations, provenance or {})
        if audit["status"] == "running":
            records.add_event(db, audit_id, "interrupted", {"error": _RUNNING_LEFT})
        stored = db["audits"].get(audit_id)
    return {k: stored[k] for k in ("status", "verdict", "fingerprint")} | {"audit_id": audit_id}


def _copy_rows(db: sqlite_utils.Database, src: sqlite_utils.Database, table: str, audit_id: str) -> None:
    rows = [{k: v for k, v in r.items() if k != "rowid"} for r in src[table].rows_where("audit_id = ?", [audit_id])]
    if rows:
        db[table].insert_all(rows)


def _copy_evaluations(db: sqlite_utils.Database, src: sqlite_utils.Database, audit_id: str) -> dict[int, int]:
    """Each evaluation with its findings and statuses under a new row id; returns {source id: new id}."""
    mapping: dict[int, int] = {}
    for evaluation in src["evaluations"].rows_where("audit_id = ?", [audit_id], order_by="id"):
        old = int(evaluation["id"])
        new = int(db["evaluations"].insert({k: v for k, v in evaluation.items() if k != "id"}).last_pk)
        mapping[old] = new
        db["findings"].insert_all([{**{k: v for k, v in f.items() if k != "id"}, "evaluation_id": new}
                                   for f in src["findings"].rows_where("evaluation_id = ?", [old], order_by="id")])
        db["check_statuses"].insert_all([{**s, "evaluation_id": new}
                                         for s in src["check_statuses"].rows_where("evaluation_id = ?", [old])])
        _same_content(db, src, audit_id, old, new)
    return mapping


def _comparable(content: dict[str, Any]) -> dict[str, Any]:
    """The fingerprinted content without what is this database's own: the evaluation's row id, and the
    model and probe-set rows (shared with earlier audits of the same bytes, as for a CLI audit)."""
    out = {k: v for k, v in content.items() if k not in ("model", "probes")}
    out["model_sha256"] = (content.get("model") or {}).get("sha256")
    out["probes_sha256"] = (content.get("probes") or {}).get("sha256")
    if out.get("evaluation"):
        out["evaluation"] = {k: v for k, v in out["evaluation"].items() if k != "id"}
    return out


def _same_content(db: sqlite_utils.Database, src: sqlite_utils.Database, audit_id: str, old: int, new: int) -> None:
    theirs = _comparable(queries.stored_content(src, audit_id, old))
    ours = _comparable(queries.stored_content(db, audit_id, new))
    if theirs != ours:
        differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise ImportMismatch(f"audit {audit_id} does not read back as its worker stored it ({', '.join(differ)} "
                             "differ); nothing was imported")


def _copy_events(db: sqlite_utils.Database, src: sqlite_utils.Database, audit_id: str, evaluations: dict[int, int],
                 provenance: dict[str, Any]) -> None:
    """The audit's events, in order, appended to this chain; a sealing event (`completed`, `re-evaluated`)
    carries the seal of the evaluation as stored here and the worker's own seal under `worker`."""
    for kind, detail_json, actor in src.execute("SELECT kind, detail_json, actor FROM events WHERE audit_id = ? "
                                                "ORDER BY id", [audit_id]).fetchall():
        detail = json.loads(detail_json or "{}")
        old = detail.get("evaluation_id")
        if kind in ("completed", "re-evaluated") and detail.get("fingerprint"):
            new = evaluations.get(int(old)) if old is not None else next(iter(evaluations.values()), None)
            if new is None:
                raise ImportMismatch(f"audit {audit_id}: its {kind} event names no stored evaluation")
            seal = records.evaluation_seal(db, audit_id, new)
            worker = {"fingerprint": detail.get("fingerprint"), "evaluation_id": old, **provenance}
            detail = {**detail, **seal, "worker": worker}
            if kind == "completed":
                db["audits"].update(audit_id, {"fingerprint": seal["fingerprint"]})
        records.add_event(db, audit_id, kind, detail, actor=actor or "auditor")
