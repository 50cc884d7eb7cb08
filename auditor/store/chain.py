"""The signed hash chain of events (migration 4): one global chain in insertion order.

Each event holds the previous event's hash (`prev_hash`; 64 zeros for the first), its own hash
(SHA-256 hex over the canonical JSON of prev_hash, audit_id, kind, detail, actor, at and signer)
and a signature by the acting identity over that hash's 32 bytes (`signing_bytes`), base64, with
the signer's certificate fingerprint. The certificate itself is kept in `certificates`, so a
signature can be checked from the database alone (auditor.verify).

The store never imports auditor.identity (an import-linter contract): it takes a signer as a
duck-typed object (.sign(bytes) -> bytes, .fingerprint, .cert_pem, .name, .role, .machine). When a
writer gives none, the provider registered with `use_default_signer` (the installation's machine
key, registered by auditor.api) signs; with no provider the event is chained but unsigned, which
auditor.verify reports as a problem.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from auditor.errors import BadInput
from auditor.store.fingerprint import canonical_json

GENESIS = "0" * 64
_provider: Callable[[], Any] | None = None


def use_default_signer(provider: Callable[[], Any] | None) -> None:
    """Who signs an event whose writer names no signer (None: nobody; events are then unsigned)."""
    global _provider
    _provider = provider


def default_signer() -> Any:
    return _provider() if _provider is not None else None


def event_hash(prev_hash: str, audit_id: str | None, kind: str, detail: Mapping[str, Any], actor: str | None,
               at: str, signer: str | None) -> str:
    """SHA-256 hex of the event's canonical JSON; the row id is left out, the previous hash is in."""
    return hashlib.sha256(canonical_json({"prev_hash": prev_hash, "audit_id": audit_id, "kind": kind,
                                          "detail": dict(detail), "actor": actor, "at": at,
                                          "signer": signer})).hexdigest()


def signing_bytes(hash_hex: str) -> bytes:
    """What a signature covers: the event hash as its 32 raw bytes."""
    return bytes.fromhex(hash_hex)


def head(db: sqlite_utils.Database) -> str:
    """The hash of the last event (GENESIS for an empty log)."""
    row = db.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row and row[0] else GENESIS


def revocations(db: sqlite_utils.Database) -> dict[str, int]:
    """Certificate fingerprint -> the id of the first `identity.revoked` event naming it."""
    out: dict[str, int] = {}
    for event_id, detail in db.execute("SELECT id, detail_json FROM events WHERE kind = 'identity.revoked' "
                                       "ORDER BY id").fetchall():
        fingerprint = (json.loads(detail or "{}") or {}).get("fingerprint")
        if fingerprint:
            out.setdefault(str(fingerprint), int(event_id))
    return out


def signer_kind(signer: Any) -> str | None:
    if signer is None:
        return None
    return "machine" if getattr(signer, "machine", False) else "person"


def append(db: sqlite_utils.Database, audit_id: str | None, kind: str, detail: Mapping[str, Any],
           actor: str, signer: Any = None) -> int:
    """Appends one chained, signed event in its own (or the caller's) transaction; returns its id.

    The write lock is taken before the chain head is read, so two writers never link to the same
    event (a UNIQUE index on prev_hash would refuse the second anyway). A revoked signer is refused.
    """
    signer = signer if signer is not None else default_signer()
    fingerprint = getattr(signer, "fingerprint", None) if signer is not None else None
    with db.atomic():
        # a write that matches no row still takes SQLite's write lock, before the head is read
        db.execute("UPDATE events SET id = id WHERE 0")
        if fingerprint is not None:
            revoked = revocations(db).get(fingerprint)
            if revoked is not None:
                raise BadInput(f"identity {signer.name} was revoked (event {revoked}); it can no longer sign")
            _remember_certificate(db, signer)
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        plain = json.loads(json.dumps(dict(detail), ensure_ascii=False, allow_nan=False))
        prev = head(db)
        digest = event_hash(prev, audit_id, kind, plain, actor, at, fingerprint)
        signature = None if signer is None else base64.b64encode(signer.sign(signing_bytes(digest))).decode("ascii")
        return int(db["events"].insert({
            "audit_id": audit_id, "at": at, "actor": actor, "kind": kind,
            "detail_json": json.dumps(plain, sort_keys=True, ensure_ascii=False, allow_nan=False),
            "prev_hash": prev, "hash": digest, "signature": signature, "signer": fingerprint}).last_pk)


def _remember_certificate(db: sqlite_utils.Database, signer: Any) -> None:
    remember_certificate(db, signer.fingerprint, signer.cert_pem, signer.name, signer.role)


def remember_certificate(db: sqlite_utils.Database, fingerprint: str, cert_pem: str, name: str | None,
                         role: str | None) -> None:
    """Keeps a certificate the chain refers to (an event's signer, or the person whose own signature a
    service sign-off carries), so `auditor verify` can check signatures offline."""
    db.execute("INSERT OR IGNORE INTO certificates (fingerprint, cert_pem, name, role, first_seen) "
               "VALUES (?, ?, ?, ?, ?)", [fingerprint, cert_pem, name or "", role or "",
                                          datetime.now(timezone.utc).isoformat(timespec="seconds")])


def link_existing(db: sqlite_utils.Database) -> int:
    """Migration 4: chains the events recorded before it (unsigned: nobody signed them then); returns how many.

    The append-only triggers are dropped for the update and recreated by the caller.
    """
    prev = GENESIS
    rows = db.execute("SELECT id, audit_id, kind, detail_json, actor, at FROM events ORDER BY id").fetchall()
    for event_id, audit_id, kind, detail, actor, at in rows:
        digest = event_hash(prev, audit_id, kind, json.loads(detail or "{}"), actor, at, None)
        db.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", [prev, digest, event_id])
        prev = digest
    return len(rows)
