"""queue.peek, what a progress stream polls: the job's status and its events after a sequence number in one
read-only snapshot, None for an unknown job, and the same answer as `get` and `events`."""
from __future__ import annotations

import os

import pytest

from auditor.service import queue
from tests.unit.test_service_queue import db, model, request  # noqa: F401  (the queue tests' fixtures)

pytestmark = pytest.mark.timeout(120)


def test_peek_reads_the_status_and_the_new_events_in_one_snapshot(db, model):  # noqa: F811
    job = queue.submit(db, request(model), "alice")
    assert queue.peek(db, job["id"]) == ("queued", [])
    assert queue.claim(db, "w1", os.getpid())["id"] == job["id"]
    lines = [{"event": "progress", "fraction": f / 10, "message": "m"} for f in range(3)]
    queue.add_events(db, job["id"], 1, lines)
    assert queue.peek(db, job["id"]) == ("running", queue.events(db, job["id"]))
    assert queue.peek(db, job["id"], 2) == ("running", [(3, lines[2])])
    queue.add_events(db, job["id"], 4, [{"event": "finished", "audit_id": "A"}])
    assert queue.finish(db, job["id"], os.getpid(), "completed", exit_code=0)
    status, events = queue.peek(db, job["id"], 3)
    assert status == queue.get(db, job["id"])["status"] == "completed"
    assert events == [(4, {"event": "finished", "audit_id": "A"})]
    assert queue.peek(db, "J-000000000000") == (None, [])
