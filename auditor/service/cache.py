"""The encoded `show --json` of audits, kept per (database, audit) under a version stamp.

GET /v1/audits/{id} is the service's most frequent read (clients poll it) and building the read model of
an audit costs ~7-13 ms of CPU, while what it shows changes only at a few moments, each written together
with, or followed by, an event in the append-only chain: a finished audit (completed, failed, cancelled,
interrupted) changes by a sign-off or an assignment (one transaction with their event), a re-evaluation
(its evaluation row, then its event) or another audit of the same model completing (its `completed`
event: it may become the previous audit); a running one writes its results, evaluation and end time just
before its `completed` (or `failed`, `cancelled`) event, or is marked interrupted with its event. So the
stamp is the database's newest event ID, evaluation ID and check-result row: any of those writes changes
it, and the next request builds the object again. The stamp is read before the object is built, so an
object may be kept under a stamp older than what it shows (a write landed in between; the next request
sees a newer stamp and builds again), never under a newer one.

A running audit whose process is gone (its lease, auditor.store.lease) is never answered from here: the
usual path (auditor.api.show_audit, open_db's checks and the interrupted sweep) marks it interrupted
first. The status, lease and stamp are read on a plain read-only connection (~0.2 ms).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from typing import Any

FINISHED = ("completed", "failed", "cancelled", "interrupted")
MAX_ENTRIES = 64          # ~70-150 KB each for a quick audit: a few MB at most


class ShowCache:
    """An LRU of encoded show objects; thread-safe (FastAPI runs the plain routes in a thread pool)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, int, str], tuple[tuple[Any, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def show(self, db_path: str, audit_id: str) -> bytes:
        """The UTF-8 JSON `auditor show --json` prints for `audit_id` (an ID or a unique prefix); BadInput
        with the CLI's line when there is no such audit."""
        from auditor import api

        probe = _probe(db_path, audit_id)
        if probe is None:       # a prefix, an unknown ID, an unreadable file, a running audit whose process is gone
            return encode(api.show_audit(audit_id, db_path))
        key, stamp = probe
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None and kept[0] == stamp:
                self._entries.move_to_end(key)
                self.hits += 1
                return kept[1]
            self.misses += 1
        body = encode(api.show_audit(key[2], db_path))
        with self._lock:
            self._entries[key] = (stamp, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return body


def encode(shown: dict[str, Any]) -> bytes:
    """As `auditor show --json` writes it (auditor.service.errors.CliJSON)."""
    return json.dumps(shown, ensure_ascii=False).encode("utf-8")


def _probe(db_path: str, audit_id: str) -> tuple[tuple[str, int, str], tuple[Any, ...]] | None:
    """((path, inode, audit ID), stamp) of a stored audit named by its full ID; None for a prefix, an unknown
    ID, an unreadable file or a running audit whose process is gone (the usual path answers those)."""
    from auditor.service.queue import read_only_uri
    from auditor.store import lease

    try:
        inode = os.stat(db_path).st_ino      # a database file replaced under the same name is another one
        conn = sqlite3.connect(read_only_uri(db_path), uri=True, timeout=5.0)
    except (OSError, sqlite3.Error):
        return None
    try:
        conn.execute("BEGIN")                # one snapshot for the status, the lease and the stamp
        row = conn.execute("SELECT status FROM audits WHERE id = ?", [audit_id]).fetchone()
        if row is None:
            return None
        if row[0] not in FINISHED:
            held = conn.execute("SELECT pid, boot_id, start_time, pid_ns FROM leases WHERE audit_id = ? "
                                "ORDER BY rowid DESC LIMIT 1", [audit_id]).fetchone()
            if held is None or lease.judge(dict(zip(("pid", "boot_id", "start_time", "pid_ns"), held, strict=True))):
                return None
        stamp = conn.execute("SELECT (SELECT max(id) FROM events), (SELECT max(id) FROM evaluations), "
                             "(SELECT max(rowid) FROM check_results)").fetchone()
        return (db_path, inode, audit_id), (row[0], *stamp)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
