"""Audit leases: which process runs an audit, so an audit whose process is gone is marked `interrupted`.

A lease is the PID, the boot ID and the process start time (clock ticks since boot, field 22 of
/proc/<pid>/stat) of the process that created the audit row. The PID alone is not enough: after a
reboot or a long uptime the same number names another process. Linux only; where /proc is not
there, nothing is judged and no audit is marked.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlite_utils

INTERRUPTED = "the process running it stopped (killed or the machine restarted); run the audit again"


def boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def pid_namespace() -> str | None:
    """The PID namespace: a PID from another container cannot be looked up from this one."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (the command name in field 2 may hold spaces and parentheses)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def start_time(pid: int) -> int | None:
    """Clock ticks after boot at which `pid` started (field 22), or None when there is no such process."""
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def current() -> dict[str, Any]:
    """The lease of this process."""
    pid = os.getpid()
    return {"pid": pid, "boot_id": boot_id(), "start_time": start_time(pid), "pid_ns": pid_namespace()}


def judge(lease: dict[str, Any] | None, here: dict[str, Any] | None = None) -> str | None:
    """Why the process holding `lease` is gone, or None when it is alive or cannot be judged from here."""
    here = here or current()
    if here["boot_id"] is None:
        return None                      # no /proc: nothing can be judged
    if not lease or lease.get("pid") is None:
        return "no lease was recorded (the audit was started by an earlier version)"
    if lease.get("boot_id") and lease["boot_id"] != here["boot_id"]:
        return "the machine restarted since the audit started"
    if lease.get("pid_ns") and here["pid_ns"] and lease["pid_ns"] != here["pid_ns"]:
        return None                      # another container's process: invisible here, so not judged
    fields = _stat(int(lease["pid"]))
    if fields is None:
        return f"process {lease['pid']} is gone"
    if fields[0] in ("Z", "X"):          # killed and not yet reaped by its parent
        return f"process {lease['pid']} is gone"
    if lease.get("start_time") is not None and int(fields[19]) != int(lease["start_time"]):
        return f"process {lease['pid']} is gone (its PID now belongs to another process)"
    return None


def record(db: sqlite_utils.Database, audit_id: str) -> None:
    """The lease of this process for a new audit (inside the transaction that creates the row)."""
    db["leases"].insert({"audit_id": audit_id, **current()})


def sweep(db: sqlite_utils.Database) -> list[str]:
    """Mark every `running` audit whose process is gone as `interrupted`; returns their IDs.

    One short write transaction; the status update is conditional, so an audit that completed
    meanwhile keeps its status.
    """
    from auditor.store.records import add_event

    if "leases" not in db.table_names():
        return []
    rows = db.execute(
        "SELECT a.id, l.pid, l.boot_id, l.start_time, l.pid_ns FROM audits a "
        "LEFT JOIN leases l ON l.audit_id = a.id WHERE a.status = 'running'").fetchall()
    if not rows:
        return []
    here = current()
    gone = []
    for audit_id, pid, boot, started, ns in rows:
        reason = judge({"pid": pid, "boot_id": boot, "start_time": started, "pid_ns": ns}, here)
        if reason:
            gone.append((audit_id, reason))
    marked = []
    with db.atomic():
        for audit_id, reason in gone:
            # finished_at stays empty: when the process died is not known, only when it was noticed (the event)
            cursor = db.execute("UPDATE audits SET status = 'interrupted', error = ? WHERE id = ? AND "
                                "status = 'running'", [INTERRUPTED, audit_id])
            if cursor.rowcount:
                add_event(db, audit_id, "interrupted", {"error": INTERRUPTED, "reason": reason})
                marked.append(audit_id)
    return marked
