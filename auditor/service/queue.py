"""The durable job queue (migration 5, table `jobs`): submit, read, cancel, follow and recover audit jobs.

A job is `queued`, then `running` once a worker claims it (auditor.service.workers), then `completed`,
`failed`, `cancelled` or `interrupted`. A running job names its worker (`pid`) and holds a lease
(`lease_until`, unix time) that the worker renews; a job whose worker is gone or whose lease ran out
is lost and `recover` marks it interrupted: a worker that dies never marks anything complete.

Every state change is also a signed event in the chain (auditor.store.chain): the submitter's and
the canceller's names are the actors; what the service does on its own (start, finish, interrupt)
is signed as `auditor`. The events name the job's audit once it has one, else the database.
"""
from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from auditor import api  # noqa: F401  (registers the machine key as the signer of the service's events)
from auditor.errors import BadInput
from auditor.store import lease, open_db, records

STATUSES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")
FINAL = ("completed", "failed", "cancelled", "interrupted")
# a job as the functions below return it: the row, with `request` parsed and `cancel_requested` a bool
JOB_FIELDS = ("id", "status", "request", "submitted_by", "submitted_at", "started_at", "finished_at", "audit_id",
              "worker", "pid", "lease_until", "cancel_requested", "error", "exit_code")
REQUEST_FIELDS = ("model", "probes", "template", "limit", "seed", "device", "name", "model_version", "meta",
                  "batch_size", "dtype")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
LEASE_S = 60.0           # a worker renews its lease every few seconds; a minute without one means it is gone
INTERRUPTED = "the worker running it stopped (killed, or the service stopped or restarted); submit the audit again"
SERVICE_ACTOR = "auditor"
WORKER_MODULE = b"auditor.service.workers"


class UnknownJob(BadInput):
    """No job with this ID (an HTTP 404)."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def host() -> str:
    return socket.gethostname()


@contextmanager
def _handle(db_path: str | Path) -> Iterator[sqlite_utils.Database]:
    """One short-lived handle per call: a long-lived one in a process that also opens the file elsewhere
    loses its POSIX locks when another handle closes (see api.sign_audit)."""
    db = open_db(db_path)
    try:
        yield db
    finally:
        db.conn.close()


@contextmanager
def _write(db_path: str | Path) -> Iterator[sqlite_utils.Database]:
    """A handle inside one IMMEDIATE transaction: the job's row and its chain event change together."""
    with _handle(db_path) as db:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.conn.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise


def _job(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = {k: row.get(k) for k in JOB_FIELDS if k != "request"}
    out["request"] = json.loads(row["request_json"] or "{}")
    out["cancel_requested"] = bool(row.get("cancel_requested"))
    return {k: out[k] for k in JOB_FIELDS}


def _row(db: sqlite_utils.Database, job_id: str) -> dict[str, Any] | None:
    rows = list(db["jobs"].rows_where("id = ?", [job_id], limit=1))
    return rows[0] if rows else None


def _event(db: sqlite_utils.Database, row: dict[str, Any], kind: str, actor: str, **detail: Any) -> None:
    records.add_event(db, row.get("audit_id"), kind, {"job_id": row["id"], **detail}, actor=actor)


# --- submitting -------------------------------------------------------------------------------------------

def checked_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request with defaults filled and paths made absolute, or BadInput in the CLI's wording."""
    from auditor.api import META_FIELDS, AuditRequest
    from auditor.audit_run import _checked_inputs  # the CLI's own checks, so the wording is the CLI's
    from auditor.models import safety

    if not isinstance(request, dict):
        raise BadInput("the request must be a JSON object of " + ", ".join(REQUEST_FIELDS))
    unknown = sorted(set(request) - set(REQUEST_FIELDS))
    if unknown:
        raise BadInput(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(REQUEST_FIELDS)})")
    out = {"probes": "builtin:text", "template": None, "limit": None, "seed": 0, "device": "auto", "name": None,
           "model_version": None, "meta": {}, "batch_size": 16, "dtype": "auto",
           **{k: v for k, v in request.items() if v is not None}}
    model = out.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadInput("model: give the path of a model on the server's disk")
    for key in ("probes", "template", "name", "model_version"):
        if out[key] is not None and not isinstance(out[key], str):
            raise BadInput(f"{key}: give a string")
    for key in ("limit", "seed", "batch_size"):
        if key == "batch_size" and out[key] == "auto":
            continue
        if out[key] is not None and (isinstance(out[key], bool) or not isinstance(out[key], int)):
            raise BadInput(f"{key}: give a whole number" + (" or auto" if key == "batch_size" else ""))
    if out["batch_size"] != "auto" and out["batch_size"] <= 0:
        raise BadInput("--batch-size must be a positive number or auto")
    if out["dtype"] not in DTYPES:
        raise BadInput(f"dtype: give one of {', '.join(DTYPES)}")
    if out["device"] not in DEVICES:
        raise BadInput(f"device: give one of {', '.join(DEVICES)}")
    meta = out["meta"]
    if not isinstance(meta, dict):
        raise BadInput(f"meta must be a mapping of {', '.join(META_FIELDS)}")
    extra = sorted(map(str, set(meta) - set(META_FIELDS)))
    if extra:
        raise BadInput(f"meta: unknown key(s) {', '.join(extra)} (known: {', '.join(META_FIELDS)})")
    out["meta"] = {str(k): (str(v) if v is not None else None) for k, v in meta.items()}
    path = Path(model).expanduser()
    kind = safety.detect_format(path)           # the refusals `auditor audit` gives before loading
    if kind == "transformers":
        safety.validate_safetensors(path)
    out["model"] = str(path.resolve())
    for key in ("probes", "template"):          # a file named on the server's disk: absolute, as the worker's cwd
        if out[key] and not out[key].startswith("builtin:") and Path(out[key]).expanduser().exists():
            out[key] = str(Path(out[key]).expanduser().resolve())
    _checked_inputs(AuditRequest(model=out["model"], probes=out["probes"], template=out["template"],
                                 limit=out["limit"], seed=out["seed"]))
    return {k: out[k] for k in REQUEST_FIELDS}


def submit(db_path: str | Path, request: dict[str, Any], submitted_by: str) -> dict[str, Any]:
    """A new `queued` job for `request` (REQUEST_FIELDS), or BadInput before anything is stored."""
    checked = checked_request(request)
    job_id = f"J-{secrets.token_hex(6)}"
    row = {"id": job_id, "status": "queued", "request_json": json.dumps(checked, ensure_ascii=False),
           "submitted_by": submitted_by, "submitted_at": now_iso(), "cancel_requested": 0}
    with _write(db_path) as db:
        db["jobs"].insert(row)
        _event(db, row, "job.submitted", submitted_by, request=checked)
    return get(db_path, job_id)  # type: ignore[return-value]


# --- reading ----------------------------------------------------------------------------------------------

def get(db_path: str | Path, job_id: str) -> dict[str, Any] | None:
    with _handle(db_path) as db:
        return _job(_row(db, job_id))


def list_jobs(db_path: str | Path, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest jobs first, of one status when given."""
    if status is not None and status not in STATUSES:
        raise BadInput(f"status: give one of {', '.join(STATUSES)}")
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    with _handle(db_path) as db:
        rows = db.query(f"SELECT * FROM jobs {where} ORDER BY submitted_at DESC, rowid DESC LIMIT ?",
                        [*params, max(int(limit), 0)])
        return [_job(r) for r in rows]  # type: ignore[misc]


def events(db_path: str | Path, job_id: str, after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """The job's `--progress jsonl` events after `after_seq`, in order, as (seq, event)."""
    with _handle(db_path) as db:
        if _row(db, job_id) is None:
            raise UnknownJob(f"no job with ID {job_id}")
        rows = db.execute("SELECT seq, event_json FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                          [job_id, after_seq]).fetchall()
    return [(int(seq), json.loads(text)) for seq, text in rows]


@functools.lru_cache(maxsize=16)
def read_only_uri(db_path: str) -> str:
    """The `mode=ro` URI of the database, resolved once per process: Path.resolve walks every folder of the
    path (an lstat each), and the read paths of every request and progress tick open a connection."""
    return f"{Path(db_path).resolve().as_uri()}?mode=ro"


def peek(db_path: str | Path, job_id: str, after_seq: int = 0) -> tuple[str | None, list[tuple[int, dict[str, Any]]]]:
    """(the job's status or None when there is no such job, its events after `after_seq`) in one snapshot, on
    a plain read-only connection: a progress stream asks this every 0.2 s, and `events` and `get` each open
    the database read-write with open_db's checks and the interrupted sweep (ms of CPU per stream and tick).
    The server migrated the database when it started; where this connection cannot read, those are used."""
    try:
        conn = sqlite3.connect(read_only_uri(str(db_path)), uri=True, timeout=5.0)
    except sqlite3.Error:
        conn = None
    if conn is not None:
        try:
            conn.execute("BEGIN")
            row = conn.execute("SELECT status FROM jobs WHERE id = ?", [job_id]).fetchone()
            rows = conn.execute("SELECT seq, event_json FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                                [job_id, after_seq]).fetchall() if row is not None else []
            return (row[0] if row else None), [(int(seq), json.loads(text)) for seq, text in rows]
        except sqlite3.Error:
            pass
        finally:
            conn.close()
    job = get(db_path, job_id)
    return (job["status"] if job else None), (events(db_path, job_id, after_seq) if job else [])


# --- cancelling -------------------------------------------------------------------------------------------

def cancel(db_path: str | Path, job_id: str, by: str) -> dict[str, Any]:
    """A queued job is cancelled at once; a running one is asked to stop (its worker sends the audit
    SIGTERM, which the CLI records as cancelled). A finished job is returned as it is."""
    with _write(db_path) as db:
        row = _row(db, job_id)
        if row is None:
            raise UnknownJob(f"no job with ID {job_id}")
        if row["status"] == "queued":
            db.execute("UPDATE jobs SET status = 'cancelled', cancel_requested = 1, finished_at = ?, error = ? "
                       "WHERE id = ?", [now_iso(), f"cancelled by {by} before it started", job_id])
            _event(db, row, "job.cancelled", by, was="queued")
        elif row["status"] == "running" and not row["cancel_requested"]:
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", [job_id])
            _event(db, row, "job.cancel_requested", by)
    return get(db_path, job_id)  # type: ignore[return-value]


# --- what workers call ------------------------------------------------------------------------------------

def claim(db_path: str | Path, worker: str, pid: int) -> dict[str, Any] | None:
    """The oldest queued job, now `running` under this worker's lease; None when none is queued.

    One UPDATE picks and takes the job, so two workers never claim the same one."""
    with _write(db_path) as db:
        row = db.execute(
            "UPDATE jobs SET status = 'running', worker = ?, pid = ?, lease_until = ?, started_at = ? "
            "WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY submitted_at, rowid LIMIT 1) "
            "AND status = 'queued' RETURNING id", [worker, pid, time.time() + LEASE_S, now_iso()]).fetchall()
        if not row:
            return None
        claimed = _row(db, row[0][0])
        assert claimed is not None
        _event(db, claimed, "job.started", SERVICE_ACTOR, worker=worker)
    return _job(claimed)


def heartbeat(db_path: str | Path, job_id: str, pid: int, renew: bool) -> bool | None:
    """Whether the job's cancel was asked (renewing the lease when `renew`); None when the job is no
    longer this worker's (recovered as interrupted meanwhile): the worker then stops its audit."""
    with _handle(db_path) as db:
        if renew:
            with db.conn:
                db.execute("UPDATE jobs SET lease_until = ? WHERE id = ? AND status = 'running' AND pid = ?",
                           [time.time() + LEASE_S, job_id, pid])
        row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ? AND status = 'running' AND pid = ?",
                         [job_id, pid]).fetchone()
    return None if row is None else bool(row[0])


def add_events(db_path: str | Path, job_id: str, first_seq: int, lines: list[dict[str, Any]]) -> None:
    """Progress events numbered from `first_seq`, in one transaction."""
    if not lines:
        return
    at = now_iso()
    with _handle(db_path) as db, db.conn:
        db.conn.executemany("INSERT INTO job_events (job_id, seq, at, event_json) VALUES (?, ?, ?, ?)",
                            [(job_id, first_seq + i, at, json.dumps(e, ensure_ascii=False))
                             for i, e in enumerate(lines)])


def set_audit(db_path: str | Path, job_id: str, pid: int, audit_id: str) -> None:
    with _handle(db_path) as db, db.conn:
        db.execute("UPDATE jobs SET audit_id = ? WHERE id = ? AND pid = ? AND audit_id IS NULL",
                   [audit_id, job_id, pid])


def audit_of_process(db_path: str | Path, child: dict[str, Any]) -> str | None:
    """The audit whose lease names this process (auditor.store.lease: pid, boot and start time)."""
    with _handle(db_path) as db:
        row = db.execute("SELECT audit_id FROM leases WHERE pid = ? AND start_time IS ? AND boot_id IS ? "
                         "ORDER BY rowid DESC LIMIT 1",
                         [child["pid"], child.get("start_time"), child.get("boot_id")]).fetchone()
    return row[0] if row else None


def audit_status(db_path: str | Path, audit_id: str) -> str | None:
    """The audit's recorded status (running, completed, cancelled, ...), or None if it has no row."""
    with _handle(db_path) as db:
        row = db.execute("SELECT status FROM audits WHERE id = ?", [audit_id]).fetchone()
    return row[0] if row else None


def finish(db_path: str | Path, job_id: str, pid: int, status: str, *, exit_code: int | None = None,
           error: str | None = None, audit_id: str | None = None) -> bool:
    """The job's final state, if it is still this worker's; False when it was recovered meanwhile."""
    assert status in FINAL
    with _write(db_path) as db:
        cursor = db.execute(
            "UPDATE jobs SET status = ?, finished_at = ?, exit_code = ?, error = ?, lease_until = NULL, "
            "audit_id = COALESCE(audit_id, ?) WHERE id = ? AND status = 'running' AND pid = ?",
            [status, now_iso(), exit_code, error, audit_id, job_id, pid])
        if not cursor.rowcount:
            return False
        row = _row(db, job_id)
        assert row is not None
        _event(db, row, "job.finished", SERVICE_ACTOR, status=status, exit_code=exit_code, error=error)
    if status == "interrupted":
        with _handle(db_path) as db:
            lease.sweep(db)            # the audit's process was stopped: its row turns interrupted too
    return True


# --- recovering -------------------------------------------------------------------------------------------

def worker_alive(pid: int | None, worker: str | None) -> bool | None:
    """Whether the worker process still runs (its PID names a process of auditor.service.workers);
    None where that cannot be told from here (another host, or no /proc)."""
    if pid is None:
        return False
    if worker and not worker.endswith(f"@{host()}"):
        return None
    if lease.boot_id() is None:
        return None
    fields = lease._stat(int(pid))
    if fields is None or fields[0] in ("Z", "X"):
        return False
    try:
        return WORKER_MODULE in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def recover(db_path: str | Path) -> list[str]:
    """Mark every running job whose worker is gone or whose lease ran out `interrupted`; returns their IDs.

    The audit of such a job is never completed: a process still running it (orphaned) is killed, and
    the lease sweep (auditor.store.lease) marks the audit interrupted."""
    with _handle(db_path) as db:
        rows = list(db.query("SELECT * FROM jobs WHERE status = 'running'"))
    lost = [r for r in rows if worker_alive(r["pid"], r["worker"]) is False
            or (r["lease_until"] is not None and r["lease_until"] < time.time())]
    marked = []
    for row in lost:
        with _write(db_path) as db:
            cursor = db.execute("UPDATE jobs SET status = 'interrupted', finished_at = ?, error = ?, "
                                "lease_until = NULL WHERE id = ? AND status = 'running' AND pid IS ?",
                                [now_iso(), INTERRUPTED, row["id"], row["pid"]])
            if cursor.rowcount:
                _event(db, row, "job.interrupted", SERVICE_ACTOR, error=INTERRUPTED, worker=row["worker"])
                marked.append(row["id"])
        if row["audit_id"]:
            _stop_orphan(db_path, row["audit_id"])
    with _handle(db_path) as db:
        lease.sweep(db)
    return marked


def _stop_orphan(db_path: str | Path, audit_id: str) -> None:
    """Kill the process still running a lost job's audit (its lease proves which one), so it cannot complete."""
    with _handle(db_path) as db:
        row = db.execute("SELECT a.status, l.pid, l.boot_id, l.start_time, l.pid_ns FROM audits a "
                         "JOIN leases l ON l.audit_id = a.id WHERE a.id = ?", [audit_id]).fetchone()
    if row is None or row[0] != "running" or row[1] == os.getpid():
        return
    held = {"pid": row[1], "boot_id": row[2], "start_time": row[3], "pid_ns": row[4]}
    if lease.judge(held) is not None:
        return                         # already gone: the sweep marks the audit
    try:
        os.kill(int(row[1]), signal.SIGKILL)
    except OSError:
        return
    deadline = time.monotonic() + 5
    while lease.judge(held) is None and time.monotonic() < deadline:
        time.sleep(0.05)
