"""`auditor --server URL audit`: the request the service's queue takes, and following the job's progress
stream to its end with the local command's progress output and exit codes.

The job's events are the worker's `--progress jsonl` lines, so with `--progress jsonl` they are printed
as they came (the same lines a local run prints); with `bar` they drive the same tqdm bar. A job that
ends failed, cancelled or interrupted is one line on stderr and the local exit code (3; 2 where the
worker's own run refused its input); Ctrl-C (or SIGTERM) asks the service to cancel the job, as a local
run records a cancelled audit.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import quote

from auditor.client_http import Service, ServiceError, StreamLost
from auditor.errors import AuditorError, Cancelled

FINAL = ("completed", "failed", "cancelled", "interrupted")
RECONNECTS = 3            # a lost progress stream is resumed this often before the client gives up
CANCEL_WAIT_S = 60.0      # after Ctrl-C: how long to wait for the service to say the job is cancelled


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST /v1/audits body from the audit command's flags; --meta is read here (the service is given
    its content, not a path on this computer)."""
    from auditor.cli import meta_from_args

    meta = meta_from_args(args)
    body = {"model": args.model, "probes": args.probes, "template": args.template, "limit": args.limit,
            "seed": args.seed, "device": args.device, "name": args.name, "model_version": args.model_version,
            "meta": meta, "batch_size": args.batch_size, "dtype": getattr(args, "dtype", "auto")}
    return {k: v for k, v in body.items() if v is not None}


def follow(service: Service, job: dict[str, Any], style: str | None) -> str:
    """Prints the job's progress until it ends; returns its audit ID when it completed, else raises the
    error the local run raises (Cancelled / AuditFailed-like, BadInput when the run refused its input)."""
    from auditor.cli_progress import ProgressSink, default_style

    job_id = job_id_of(job)
    sink = ProgressSink(style or default_style())
    try:
        final = _stream(service, job_id, sink)
    except KeyboardInterrupt:
        sink.close()
        raise _cancelled(service, job_id) from None
    finally:
        sink.close()
    return _outcome(final, job_id)


def job_id_of(job: dict[str, Any]) -> str:
    value = job.get("id") or job.get("job_id") or (job.get("job") or {}).get("id")
    if not value:
        raise ServiceError("the audit server accepted the audit but did not say its job ID")
    return str(value)


def _stream(service: Service, job_id: str, sink: Any) -> dict[str, Any]:
    """Relays the job's events to `sink` until the stream's `end` event, whose data is the job as it ended.
    A lost connection is resumed (RECONNECTS times, after the last event received); a stream that closes
    without `end` is answered by asking for the job."""
    path, after = f"/v1/audits/{quote(job_id, safe='')}/progress", 0
    for attempt in range(RECONNECTS + 1):
        try:
            for event in service.events(path, {"after": after} if after else None):
                if event.name == "end":
                    return _final(service, job_id, event.data)
                if isinstance(event.data, dict):
                    _relay(event.data, sink)
                if event.id is not None and event.id.isdigit():
                    after = int(event.id)
            break
        except StreamLost:
            if attempt == RECONNECTS:
                raise
            time.sleep(1.0 + attempt)
    return _final(service, job_id, _job(service, job_id))


def _final(service: Service, job_id: str, job: Any) -> dict[str, Any]:
    if not isinstance(job, dict) or job.get("status") not in FINAL:
        status = job.get("status") if isinstance(job, dict) else None
        raise ServiceError(f"the progress stream of job {job_id} ended while the job is {status}; follow it with "
                           f"`auditor --server {service.url} show {job_id}`")
    return job


def _relay(event: dict[str, Any], sink: Any) -> None:
    """One worker progress line, as a local run shows it."""
    if sink.style == "jsonl":
        sys.stderr.write(json.dumps(event) + "\n")
        sys.stderr.flush()
    elif event.get("event") == "progress" and isinstance(event.get("fraction"), (int, float)):
        sink(float(event["fraction"]), str(event.get("message") or ""))


def _job(service: Service, job_id: str) -> dict[str, Any]:
    answer = service.get(f"/v1/jobs/{quote(job_id, safe='')}")
    return answer.get("job", answer) if isinstance(answer, dict) else {}


def _outcome(job: dict[str, Any], job_id: str) -> str:
    status, audit_id = job.get("status"), job.get("audit_id")
    if status == "completed" and audit_id:
        return str(audit_id)
    what = f"audit {audit_id}" if audit_id else f"job {job_id}"
    error = _clean(job.get("error"))
    if status == "cancelled":
        raise Cancelled(f"{what} was cancelled; it is recorded as cancelled")
    if status == "interrupted":
        raise AuditorError(f"{what} was interrupted (the audit server stopped while it ran); it is recorded as "
                           "interrupted")
    failure = AuditorError(error or f"{what} failed on the audit server")
    failure.exit_code = 2 if job.get("exit_code") == 2 else 3
    raise failure


def _clean(text: Any) -> str | None:
    """The worker's last stderr line without its own `auditor: ` prefix (the CLI adds one)."""
    if not text:
        return None
    line = " ".join(str(text).split())
    return line[len("auditor: "):] if line.startswith("auditor: ") else line


def _cancelled(service: Service, job_id: str) -> AuditorError:
    """Ctrl-C: ask the service to cancel and wait (bounded) for it to say so."""
    sys.stderr.write(f"auditor: cancelling job {job_id} on the audit server…\n")
    try:
        service.post(f"/v1/audits/{quote(job_id, safe='')}/cancel", {})
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            job = _job(service, job_id)
            if job.get("status") in FINAL:
                try:
                    _outcome(job, job_id)
                except AuditorError as exc:
                    return exc
                return Cancelled(f"job {job_id} completed before it could be cancelled")
            time.sleep(0.5)
    except (AuditorError, KeyboardInterrupt):
        pass
    return Cancelled(f"asked the audit server to cancel job {job_id}; "
                     f"`auditor --server {service.url} list` shows when it has stopped")
