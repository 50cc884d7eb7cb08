"""Numbered, named migrations; each runs once and is recorded in `_migrations`."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

import sqlite_utils

from auditor.store import legacy


def _m001_initial(db: sqlite_utils.Database) -> None:
    db["models"].create({
        "id": int, "sha256": str, "format": str, "architecture": str, "model_type": str, "parameters": int,
        "layers": int, "dtype": str, "path": str, "identity_json": str, "created_at": str,
    }, pk="id")
    db["models"].create_index(["sha256"], unique=True)
    db["probe_sets"].create({
        "id": int, "key": str, "spec": str, "sha256": str, "kind": str, "count": int, "detail_json": str,
        "created_at": str,
    }, pk="id")
    db["probe_sets"].create_index(["key"], unique=True)
    db["audits"].create({
        "id": str, "status": str, "verdict": str, "model_id": int, "probe_set_id": int, "name": str,
        "model_version": str, "template_name": str, "template_version": str, "template_sha256": str,
        "template_source": str, "template_text": str, "meta_json": str, "environment_json": str, "seed": int,
        "device": str, "started_at": str, "finished_at": str, "fingerprint": str, "error": str,
    }, pk="id", foreign_keys=[("model_id", "models", "id"), ("probe_set_id", "probe_sets", "id")])
    db["audits"].create_index(["model_id"])
    db["check_results"].create({
        "audit_id": str, "check_id": str, "position": int, "outcome": str, "summary": str,
        "evidence_json": str, "duration_s": float,
    }, pk=("audit_id", "check_id"), foreign_keys=[("audit_id", "audits", "id")])
    # long form, one row per number: a contract that scripts read directly
    db["metrics"].create({
        "audit_id": str, "check_id": str, "name": str, "layer": int, "head": int, "variant": str, "value": float,
    }, foreign_keys=[("audit_id", "audits", "id")])
    db["metrics"].create_index(["audit_id", "check_id", "name"])
    db["evaluations"].create({
        "id": int, "audit_id": str, "template_name": str, "template_version": str, "template_sha256": str,
        "template_text": str, "verdict": str, "reason": str, "created_at": str, "fingerprint": str,
    }, pk="id", foreign_keys=[("audit_id", "audits", "id")])
    db["findings"].create({
        "id": int, "evaluation_id": int, "audit_id": str, "position": int, "check_id": str, "key": str,
        "severity": str, "title": str, "title_ja": str, "detail": str, "meaning_en": str, "meaning_ja": str,
        "clauses_json": str, "action": str, "action_ja": str, "owner": str, "due": str, "metric": str,
        "value": float, "layer": int, "condition_json": str,
    }, pk="id", foreign_keys=[("evaluation_id", "evaluations", "id"), ("audit_id", "audits", "id")])
    db["findings"].create_index(["evaluation_id"])
    db["events"].create({
        "id": int, "audit_id": str, "at": str, "actor": str, "kind": str, "detail_json": str,
    }, pk="id")
    db["events"].create_index(["audit_id"])
    # append-only: the history a regulator relies on cannot be edited through SQL by accident
    db.execute("""CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""")
    db.execute("""CREATE TRIGGER events_no_delete BEFORE DELETE ON events
                  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""")


def _m002_leases(db: sqlite_utils.Database) -> None:
    """Which process runs each audit (auditor.store.lease), so a dead one is found and marked interrupted."""
    db["leases"].create({"audit_id": str, "pid": int, "boot_id": str, "start_time": int, "pid_ns": str},
                        pk="audit_id", foreign_keys=[("audit_id", "audits", "id")])


def _m003_read_model(db: sqlite_utils.Database) -> None:
    """What the read model needs stored instead of recomputed on every read (auditor.views):

    - `check_statuses`: each check's status under each evaluation (pass | warn | fail |
      inconclusive | error | skipped), computed once when the evaluation is made;
    - `evaluations.ratings_json`: the evaluation's rating per dimension, in dimension order
      ([{dimension, rating, checks}]);
    - `check_results.sentences_json`, `findings.sentences_json`: the catalogue messages a summary
      or detail was rendered from (auditor.messages), so readers render them in any language.

    Rows written before: statuses and ratings derived from their findings (auditor.store.legacy),
    sentences NULL (readers then show the stored English text).
    """
    db.execute("ALTER TABLE check_results ADD COLUMN sentences_json TEXT")
    db.execute("ALTER TABLE findings ADD COLUMN sentences_json TEXT")
    db.execute("ALTER TABLE evaluations ADD COLUMN ratings_json TEXT")
    db["check_statuses"].create({"evaluation_id": int, "audit_id": str, "check_id": str, "status": str},
                                pk=("evaluation_id", "check_id"),
                                foreign_keys=[("evaluation_id", "evaluations", "id"), ("audit_id", "audits", "id")])
    db["check_statuses"].create_index(["audit_id"])
    for evaluation in list(db.query("SELECT id, audit_id FROM evaluations ORDER BY id")):
        results = list(db.query("SELECT check_id, outcome FROM check_results WHERE audit_id = ? ORDER BY position",
                                [evaluation["audit_id"]]))
        findings = db.query("SELECT check_id, severity FROM findings WHERE evaluation_id = ?", [evaluation["id"]])
        statuses = legacy.check_statuses(results, findings)
        db["check_statuses"].insert_all([{"evaluation_id": evaluation["id"], "audit_id": evaluation["audit_id"],
                                          "check_id": check_id, "status": status}
                                         for check_id, status in statuses.items()])
        db.execute("UPDATE evaluations SET ratings_json = ? WHERE id = ?",
                   [json.dumps(legacy.ratings(statuses)), evaluation["id"]])


_APPEND_ONLY = ("""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                   BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END""",
                """CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                   BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END""")


def _m004_signed_events(db: sqlite_utils.Database) -> None:
    """The signed hash chain (auditor.store.chain): events gain prev_hash, hash, signature (base64) and
    signer (the certificate's fingerprint); `certificates` keeps each signer's certificate, so a
    signature can be checked from the database alone. Events recorded before are chained here,
    unsigned (auditor.verify says so: nobody signed them). A UNIQUE prev_hash forbids a fork."""
    from auditor.store import chain

    for column in ("prev_hash", "hash", "signature", "signer"):
        db.execute(f"ALTER TABLE events ADD COLUMN {column} TEXT")
    db["certificates"].create({"fingerprint": str, "cert_pem": str, "name": str, "role": str, "first_seen": str},
                              pk="fingerprint")
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    chain.link_existing(db)
    db.execute(_APPEND_ONLY[0].format(table="events"))
    for sql in _APPEND_ONLY:
        db.execute(sql.format(table="certificates"))
    db.execute("CREATE UNIQUE INDEX events_prev_hash ON events(prev_hash)")


def _m005_service(db: sqlite_utils.Database) -> None:
    """The audit service (auditor.service): `jobs`, the durable queue (queued -> running -> completed |
    failed | cancelled | interrupted; a running job names its worker process and holds a lease until
    `lease_until`, unix time); `job_events`, each job's `--progress jsonl` lines in order; `api_tokens`,
    tokens bound to identities (only a salt and a hash of the secret)."""
    db.execute("""CREATE TABLE jobs (
        id TEXT PRIMARY KEY, status TEXT NOT NULL, request_json TEXT NOT NULL, submitted_by TEXT NOT NULL,
        submitted_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, audit_id TEXT, worker TEXT, pid INTEGER,
        lease_until REAL, cancel_requested INTEGER NOT NULL DEFAULT 0, error TEXT, exit_code INTEGER,
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')))""")
    db.execute("CREATE INDEX jobs_status ON jobs(status, submitted_at)")
    db.execute("""CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs(id), seq INTEGER NOT NULL, at TEXT NOT NULL, event_json TEXT NOT NULL,
        PRIMARY KEY (job_id, seq))""")
    db.execute("""CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY, identity TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,
        created_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT)""")
    db.execute("CREATE INDEX api_tokens_identity ON api_tokens(identity)")


def _m006_token_certificates(db: sqlite_utils.Database) -> None:
    """A token is bound to the identity's certificate, not only its name: an identity re-created under the
    same name (a new key) does not inherit the old one's tokens. Existing tokens get the fingerprint their
    `token.created` event recorded (written in the same transaction as the token, so every token has one)."""
    import json

    db.execute("ALTER TABLE api_tokens ADD COLUMN fingerprint TEXT")
    for detail_json, in db.execute("SELECT detail_json FROM events WHERE kind = 'token.created'").fetchall():
        detail = json.loads(detail_json or "{}")
        if detail.get("token_id") and detail.get("fingerprint"):
            db.execute("UPDATE api_tokens SET fingerprint = ? WHERE id = ? AND fingerprint IS NULL",
                       [detail["fingerprint"], detail["token_id"]])


MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = [
    (1, "initial", _m001_initial),
    (2, "leases", _m002_leases),
    (3, "read model", _m003_read_model),
    (4, "signed events", _m004_signed_events),
    (5, "service", _m005_service),
    (6, "token certificates", _m006_token_certificates),
]

READ_MODEL = 3   # the first version that stores statuses, ratings and sentences
SIGNED = 4       # the first version whose events are chained and signed
SERVICE = 5      # the first version with the job queue and API tokens (auditor.service)


def migrate(db: sqlite_utils.Database) -> list[int]:
    """Apply the migrations this database has not seen yet; returns their numbers.

    Nothing is written when the schema is current. Otherwise all pending steps run in one
    IMMEDIATE transaction, re-read inside it, so two processes opening a new file at once do
    not both create the tables.
    """
    if version_of(db) >= latest_version():
        return []
    applied: list[int] = []
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        if "_migrations" not in db.table_names():
            db["_migrations"].create({"id": int, "name": str, "applied_at": str}, pk="id")
        done = {row["id"] for row in db["_migrations"].rows}
        for number, name, step in MIGRATIONS:
            if number in done:
                continue
            step(db)
            db["_migrations"].insert({"id": number, "name": name,
                                      "applied_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            applied.append(number)
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    return applied


def version_of(db: sqlite_utils.Database) -> int:
    """The highest migration applied (0 for an empty file)."""
    if "_migrations" not in db.table_names():
        return 0
    return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM _migrations").fetchone()[0])


def latest_version() -> int:
    return MIGRATIONS[-1][0]
