"""Server-Sent Events of a job's progress: the `--progress jsonl` objects the worker stored, then the end.

Each stored event is sent as `id: <seq>`, `event: <its "event" field>` (progress, finished, ...) and
`data: <the object as JSON>`, so a client reads exactly what `auditor audit --progress jsonl` prints.
When the job reaches a final state the stream sends `event: end` whose data is the job (status,
audit_id, error, exit_code) and closes. A reconnecting client sends Last-Event-ID (or ?after=N) and
gets only what followed. A comment line every KEEPALIVE_S keeps proxies from closing a quiet stream
while one check runs for minutes. The database is polled (every POLL_S, queue.peek: one read-only snapshot
of the job's status and new events) in a worker thread, so the event loop never waits on SQLite.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

FINAL = ("completed", "failed", "cancelled", "interrupted")
POLL_S = 0.2
KEEPALIVE_S = 15.0


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One SSE message (JSON data on one line, so no multi-line data fields are needed)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream(db_path: str, job_id: str, after: int, disconnected: Callable[[], Awaitable[bool]],
                 job_state: Callable[[dict[str, Any]], dict[str, Any]], *, poll_s: float = POLL_S,
                 keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[bytes]:
    """The job's events after `after`, as they are stored, then `end` with `job_state(job)`."""
    from auditor.service import queue

    quiet_since = time.monotonic()
    yield b": stream of " + job_id.encode() + b"\n\n"      # headers and a first byte at once
    while True:
        # the status and the events in one snapshot: a final status comes after every event of the job
        status, events = await run_in_threadpool(queue.peek, db_path, job_id, after)
        for seq, event in events:
            yield frame(str(event.get("event") or "progress"), event, seq)
            after = seq
        if status is None or status in FINAL:
            job = await run_in_threadpool(queue.get, db_path, job_id) if status is not None else None
            yield frame("end", job_state(job or {"id": job_id, "status": "unknown"}))
            return
        now = time.monotonic()
        if events:
            quiet_since = now
        elif now - quiet_since >= keepalive_s:
            yield b": keep-alive\n\n"
            quiet_since = now
        if await disconnected():
            return
        await asyncio.sleep(poll_s)
