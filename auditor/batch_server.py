"""`auditor batch --server URL`: every model submitted to an audit service, then followed to its end.

The service's own queue and workers run the audits and write its database (the single writer);
this client submits each model (POST /v1/audits), polls each job (GET /v1/jobs/{id}) and reads the
finished audit (GET /v1/audits/{id}, the `auditor show --json` object). A refused submission is that
model's failure; the others still run. Ctrl-C asks the service to cancel the jobs not yet finished.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from auditor.batch import Outcome
from auditor.batch_inventory import Entry
from auditor.errors import AuditorError

POLL_S = 1.0
FINAL = ("completed", "failed", "cancelled", "interrupted")


def run_on_server(entries: list[Entry], url: str, token: str | None,
                  progress: Callable[[Entry, str], None]) -> list[Outcome]:
    from auditor.client_audit import job_id_of
    from auditor.client_http import Service

    service = Service(url, token)       # a bad URL or no token: one line, exit 2, before anything is sent
    outcomes: dict[int, Outcome] = {}
    jobs: dict[int, str] = {}
    for entry in entries:
        body = {k: v for k, v in entry.request.items() if v is not None}
        try:
            jobs[entry.index] = job_id_of(service.post("/v1/audits", body))
        except AuditorError as exc:
            outcomes[entry.index] = Outcome.of(entry, "failed", error=" ".join(str(exc).split()))
            progress(entry, f"failed: {outcomes[entry.index].error}")
            continue
        progress(entry, f"queued (job {jobs[entry.index]})")
    try:
        _follow(service, entries, jobs, outcomes, progress)
    except KeyboardInterrupt:
        for index, job_id in jobs.items():
            if index not in outcomes:
                try:
                    service.post(f"/v1/audits/{quote(job_id, safe='')}/cancel", {})
                except AuditorError:
                    pass
        raise
    return [outcomes[e.index] for e in entries]


def _follow(service: Any, entries: list[Entry], jobs: dict[int, str], outcomes: dict[int, Outcome],
            progress: Callable[[Entry, str], None]) -> None:
    by_index = {e.index: e for e in entries}
    seen = {i: "queued" for i in jobs}
    started: dict[int, float] = {}
    while any(i not in outcomes for i in jobs):
        for index, job_id in jobs.items():
            if index in outcomes:
                continue
            answer = service.get(f"/v1/jobs/{quote(job_id, safe='')}")
            job = answer.get("job", answer) if isinstance(answer, dict) else {}
            status = str(job.get("status"))
            if status == "running":
                started.setdefault(index, time.monotonic())
            if status == seen[index]:
                continue
            seen[index] = status
            if status in FINAL:
                outcomes[index] = _outcome(service, by_index[index], job, started.get(index))
                o = outcomes[index]
                progress(by_index[index], f"completed: {o.verdict} (audit {o.audit_id}, {o.seconds} s)"
                         if o.status == "completed" else f"{o.status}: {o.error}")
            else:
                progress(by_index[index], status + (f" (audit {job['audit_id']})" if job.get("audit_id") else ""))
        time.sleep(POLL_S)


def _outcome(service: Any, entry: Entry, job: dict[str, Any], started: float | None) -> Outcome:
    seconds = round(time.monotonic() - started, 1) if started is not None else None
    if job.get("status") != "completed" or not job.get("audit_id"):
        return Outcome.of(entry, str(job.get("status")), audit_id=job.get("audit_id"), job_id=job.get("id"),
                          seconds=seconds, error=" ".join(str(job.get("error") or "the audit did not complete").split()))
    data = service.get(f"/v1/audits/{quote(str(job['audit_id']), safe='')}")
    return Outcome.of(entry, "completed", audit_id=job["audit_id"], verdict=data.get("verdict"),
                      fingerprint=data.get("fingerprint"), seconds=seconds, job_id=job.get("id"))
