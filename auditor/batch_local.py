"""`auditor batch` on this computer: every model a job of the local queue, run by one worker process.

The jobs go through auditor.service.queue (the same checks, records and signed job events as a
service's jobs) and a WorkerPool of one worker, so each audit is `auditor audit ... --db DB` run as a
child process. A model the queue refuses (no such path, unsafe files) is a failed outcome at once;
the others still run. Ctrl-C cancels the jobs not yet finished, so none is left queued.
"""
from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from typing import Any

from auditor.batch import Outcome
from auditor.batch_inventory import Entry
from auditor.errors import AuditorError

POLL_S = 0.5


def _submitter() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "auditor"


def run_locally(entries: list[Entry], db: str | None, progress: Callable[[Entry, str], None]) -> list[Outcome]:
    from auditor.api import db_path
    from auditor.service import queue
    from auditor.service.workers import WorkerPool

    path = str(db_path(db))
    outcomes: dict[int, Outcome] = {}
    jobs: dict[int, str] = {}
    for entry in entries:
        try:
            jobs[entry.index] = queue.submit(path, entry.request, _submitter())["id"]
        except AuditorError as exc:
            outcomes[entry.index] = Outcome.of(entry, "failed", error=" ".join(str(exc).split()))
            progress(entry, f"failed: {outcomes[entry.index].error}")
            continue
        progress(entry, f"queued (job {jobs[entry.index]})")
    pool = WorkerPool(path, 1)
    pool.start()
    try:
        _follow(path, entries, jobs, outcomes, progress)
    finally:
        for index, job_id in jobs.items():
            if index not in outcomes:
                queue.cancel(path, job_id, by=_submitter())
        pool.stop()
    return [outcomes[e.index] for e in entries]


def _follow(path: str, entries: list[Entry], jobs: dict[int, str], outcomes: dict[int, Outcome],
            progress: Callable[[Entry, str], None]) -> None:
    from auditor.service import queue

    by_index = {e.index: e for e in entries}
    seen: dict[int, str] = {i: "queued" for i in jobs}
    started: dict[int, float] = {}
    while any(i not in outcomes for i in jobs):
        for index, job_id in jobs.items():
            if index in outcomes:
                continue
            job = queue.get(path, job_id) or {}
            status = str(job.get("status"))
            if status == "running" and index not in started:
                started[index] = time.monotonic()
            if status != seen[index]:
                seen[index] = status
                if status in queue.FINAL:
                    outcomes[index] = _outcome(path, by_index[index], job, started.get(index))
                    progress(by_index[index], _final_line(outcomes[index]))
                else:
                    progress(by_index[index], status + (f" (audit {job['audit_id']})" if job.get("audit_id") else ""))
        time.sleep(POLL_S)


def _outcome(path: str, entry: Entry, job: dict[str, Any], started: float | None) -> Outcome:
    seconds = round(time.monotonic() - started, 1) if started is not None else None
    if job["status"] != "completed" or not job.get("audit_id"):
        return Outcome.of(entry, str(job["status"]), audit_id=job.get("audit_id"), job_id=job["id"], seconds=seconds,
                          error=" ".join(str(job.get("error") or "the audit did not complete").split()))
    from auditor.api import show_audit

    data = show_audit(job["audit_id"], path)
    return Outcome.of(entry, "completed", audit_id=job["audit_id"], verdict=data["verdict"],
                      fingerprint=data["fingerprint"], seconds=seconds, job_id=job["id"])


def _final_line(o: Outcome) -> str:
    if o.status == "completed":
        return f"completed: {o.verdict} (audit {o.audit_id}, {o.seconds} s)"
    return f"{o.status}: {o.error}"
