"""Routes of audits and jobs: submit, list, show, follow (SSE), cancel, and the queue.

An audit submitted to the service is first a job (`J-<12 hex>`, auditor.service.queue); its audit ID
exists once a worker has started it. Routes that take `{audit_id}` accept either: a job ID stands for
its audit (show, report, sign-offs) or for itself (progress, cancel). Audit IDs may be shortened to a
unique prefix, as in the CLI.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from auditor.errors import BadInput
from auditor.service.app import Db, Who, refuse
from auditor.service.errors import ApiError, CliJSON

router = APIRouter(tags=["audits"])
JOB_RE = re.compile(r"^J-[0-9a-f]{12}$")


class AuditSubmission(BaseModel):
    """What to audit: the model's path on the server's disk and the CLI's audit options."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str = Field(min_length=1, description="transformers folder or ONNX file/folder on the server's disk")
    probes: str = Field("builtin:text", description="builtin:text, builtin:images or a probe file on the server")
    template: str | None = Field(None, description="built-in template name or a .yaml path on the server")
    limit: int | None = Field(None, ge=1, description="a seeded, label-stratified sample of N probes")
    seed: int = 0
    meta: dict[str, Any] = Field(default_factory=dict, description="purpose, users, out_of_scope, ...")
    name: str | None = None
    model_version: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int | Literal["auto"] = Field(16, description="probes per batch (>= 1), or auto")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


def links(job: dict[str, Any]) -> dict[str, str]:
    job_id = job["id"]
    return {"job": f"/v1/jobs/{job_id}", "progress": f"/v1/audits/{job_id}/progress",
            "cancel": f"/v1/audits/{job_id}/cancel", "audit": f"/v1/audits/{job.get('audit_id') or job_id}"}


def with_links(job: dict[str, Any]) -> dict[str, Any]:
    return {**job, "links": links(job)}


def job_or_404(db: str, job_id: str) -> dict[str, Any]:
    from auditor.service import queue

    job = queue.get(db, job_id)
    if job is None:
        raise refuse(404, "not_found", "service.api.no_job", job_id=job_id)
    return job


def stored_audit_id(db: str, audit_id: str) -> str:
    """The full ID of a stored audit (a unique prefix works); 404 with the CLI's line when there is none."""
    from auditor.store import open_db, queries

    handle = open_db(db, read_only=True)
    try:
        return str(queries.audit_row(handle, audit_id)["id"])
    except BadInput as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    finally:
        handle.conn.close()


def known_audit(db: str, audit_id: str) -> str:
    """The stored audit `audit_id` names (itself, or a job's audit once the job has started it)."""
    if JOB_RE.match(audit_id):
        job = job_or_404(db, audit_id)
        if not job.get("audit_id"):
            raise refuse(409, "not_started", "service.api.not_started", job_id=job["id"], status=job["status"])
        return str(job["audit_id"])
    return stored_audit_id(db, audit_id)


def job_of(db: str, audit_id: str) -> dict[str, Any]:
    """The job `audit_id` names: a job ID, or the audit a job of this service ran."""
    from auditor.service import queue
    from auditor.store import open_db

    if JOB_RE.match(audit_id):
        return job_or_404(db, audit_id)
    full = stored_audit_id(db, audit_id)
    handle = open_db(db, read_only=True)
    try:
        row = handle.execute("SELECT id FROM jobs WHERE audit_id = ? ORDER BY submitted_at DESC LIMIT 1",
                             [full]).fetchone()
    finally:
        handle.conn.close()
    job = queue.get(db, row[0]) if row else None
    if job is None:
        raise refuse(404, "no_job", "service.api.not_a_service_audit", audit_id=full)
    return job


@router.post("/audits", status_code=202, summary="Queue an audit")
def submit(body: AuditSubmission, response: Response, db: Db,
           who: Who) -> dict[str, Any]:
    """Queues the audit (202 with the job and its links). The preparer recorded with the audit is the
    identity that submitted it, whatever `meta.preparer` says (the duties rules read it)."""
    from auditor.service import queue

    request = body.model_dump()
    request["meta"] = {**request["meta"], "preparer": who.name}
    job = queue.submit(db, request, who.name)
    response.headers["Location"] = f"/v1/jobs/{job['id']}"
    return with_links(job)


@router.get("/audits", summary="List stored audits")
def list_audits(db: Db, _who: Who,
                status: str | None = Query(None, description="running, completed, failed, cancelled, interrupted"),
                verdict: str | None = Query(None, description="pass, warn, fail, inconclusive, error"),
                name: str | None = Query(None, description="part of the model's name (case folded)"),
                template: str | None = None, limit: int | None = Query(None, ge=1, le=100_000),
                offset: int = Query(0, ge=0)) -> dict[str, Any]:
    """The rows of `auditor list --json`, newest first, filtered."""
    from auditor import api

    rows = api.list_audits(db)
    wanted = (name or "").casefold()
    rows = [r for r in rows if (status is None or r["status"] == status) and (verdict is None or r["verdict"] == verdict)
            and (template is None or r["template"] == template) and wanted in str(r["name"] or "").casefold()]
    # a response, not a dict: FastAPI would walk the rows with jsonable_encoder first (they are plain JSON already)
    return CliJSON({"audits": rows[offset: offset + limit if limit else None], "total": len(rows)})


@router.get("/audits/{audit_id}", summary="One audit, as `auditor show --json`")
def show(audit_id: str, request: Request, db: Db, _who: Who) -> Any:
    """The object `auditor show --json` prints, sent as it is (jsonable_encoder on it cost ~10 ms of CPU per
    request). A finished audit's encoded object is kept until the database's newest event or evaluation
    changes (auditor.service.cache). When the lookup fails, the ID is looked up again for the CLI's 404 line."""
    shows = request.app.state.show_cache
    if JOB_RE.match(audit_id):
        return Response(shows.show(db, known_audit(db, audit_id)), media_type="application/json")
    try:
        body = shows.show(db, audit_id)
    except BadInput:
        stored_audit_id(db, audit_id)
        raise
    return Response(body, media_type="application/json")


@router.get("/audits/{audit_id}/progress", summary="Progress as Server-Sent Events",
            response_class=StreamingResponse)
async def progress(audit_id: str, request: Request, db: Db, _who: Who,
                   after: int = Query(0, ge=0)) -> StreamingResponse:
    """The `--progress jsonl` events of the job (event: progress, finished, ...), then `end` with the job."""
    from starlette.concurrency import run_in_threadpool

    from auditor.service import sse

    job = await run_in_threadpool(job_of, db, audit_id)
    resume = request.headers.get("last-event-id", "")
    start = max(after, int(resume)) if resume.isdigit() else after
    return StreamingResponse(sse.stream(db, job["id"], start, request.is_disconnected, with_links),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/audits/{audit_id}/cancel", summary="Cancel a queued or running audit")
def cancel(audit_id: str, db: Db, who: Who) -> dict[str, Any]:
    """Queued: cancelled at once; running: the worker stops it and records it cancelled. Only the submitter
    or an administrator may cancel."""
    from auditor.service import queue

    job = job_of(db, audit_id)
    if who.name != job.get("submitted_by") and who.role != "admin":
        raise refuse(403, "forbidden", "service.api.cancel_not_yours", job_id=job["id"],
                     submitted_by=job.get("submitted_by"))
    return with_links(queue.cancel(db, job["id"], who.name))


@router.get("/jobs", tags=["queue"], summary="The queue")
def jobs(db: Db, _who: Who,
         status: Literal["queued", "running", "completed", "failed", "cancelled", "interrupted"] | None = None,
         limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
    from auditor.service import queue

    return {"jobs": [with_links(j) for j in queue.list_jobs(db, status=status, limit=limit)]}


@router.get("/jobs/{job_id}", tags=["queue"], summary="One job")
def job(job_id: str, db: Db, _who: Who) -> dict[str, Any]:
    return with_links(job_or_404(db, job_id))
