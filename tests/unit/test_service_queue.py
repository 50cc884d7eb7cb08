"""The job queue (auditor.service.queue) without running audits: migration 5, submit's refusals in the CLI's
wording, atomic claims, cancel, events, and recover of jobs whose worker is gone."""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from auditor import api
from auditor.errors import BadInput
from auditor.service import queue
from auditor.store import lease, open_db
from tests.conftest import ROOT
from tests.fixtures.templates import no_minimum

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A folder that passes the checks `auditor audit` makes before loading (config.json with a model_type,
    a well-formed model.safetensors): these tests queue jobs, they run none (the integration tests do)."""
    folder = tmp_path_factory.mktemp("queue-model") / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(4))
    return folder


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "audits.db")


def request(model: Path, **extra) -> dict:
    return {"model": str(model), "template": no_minimum("quick"), "limit": 12, **extra}


def raw(db: str, sql: str, params: tuple = ()) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def chain_events(db: str) -> list[tuple]:
    return raw(db, "SELECT kind, actor, audit_id, detail_json, signature FROM events ORDER BY id")


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_migrations_5_and_6_create_the_service_tables_as_designed():
    handle = open_db(memory=True)
    columns = {t: [(c.name, c.type, c.notnull, c.is_pk) for c in handle[t].columns]
               for t in ("jobs", "job_events", "api_tokens")}
    assert [c[0] for c in columns["jobs"]] == [
        "id", "status", "request_json", "submitted_by", "submitted_at", "started_at", "finished_at", "audit_id",
        "worker", "pid", "lease_until", "cancel_requested", "error", "exit_code"]
    assert {c[0]: c[1] for c in columns["jobs"]}["lease_until"] == "REAL"
    assert [c[0] for c in columns["job_events"] if c[3]] == ["job_id", "seq"]
    assert [(c[0], c[1]) for c in columns["api_tokens"]] == [
        ("id", "TEXT"), ("identity", "TEXT"), ("salt", "BLOB"), ("hash", "BLOB"), ("created_at", "TEXT"),
        ("revoked_at", "TEXT"), ("last_used_at", "TEXT"), ("fingerprint", "TEXT")]     # 6: bound to a certificate
    with pytest.raises(sqlite3.IntegrityError):      # only the six statuses
        handle.execute("INSERT INTO jobs (id, status, request_json, submitted_by, submitted_at) "
                       "VALUES ('J-1', 'done', '{}', 'a', 'now')")


@pytest.mark.parametrize("change, line", [
    ({"model": "/nowhere/model"}, "no such file or folder: /nowhere/model"),
    ({"template": "no-such-template"}, "no-such-template"),
    ({"limit": 0}, "--limit must be a positive number of probes"),
    ({"batch_size": 0}, "--batch-size must be a positive number"),
    ({"limit": "12"}, "limit: give a whole number"),
    ({"device": "tpu"}, "device: give one of auto, cpu, cuda"),
    ({"meta": {"colour": "red"}}, "meta: unknown key(s) colour"),
    ({"probes": "/nowhere/probes.csv"}, "/nowhere/probes.csv"),
    ({"gpu": 1}, "unknown field(s) gpu"),
    ({"template": None, "limit": 12}, "template standard needs at least"),
])
def test_submit_refuses_bad_input_in_one_line_and_stores_nothing(db, model, change, line):
    with pytest.raises(BadInput) as refused:
        queue.submit(db, {**request(model), **change}, "alice")
    message = str(refused.value)
    assert line in message and "\n" not in message
    assert queue.list_jobs(db) == [] and raw(db, "SELECT count(*) FROM events") == [(0,)]


def test_submit_queues_the_checked_request_and_signs_an_event(db, model, monkeypatch, tmp_path):
    monkeypatch.chdir(model.parent)
    job = queue.submit(db, {"model": model.name, "template": no_minimum("quick"), "limit": 12,
                            "meta": {"purpose": "triage"}}, "alice")
    assert job["id"].startswith("J-") and len(job["id"]) == 14 and job["status"] == "queued"
    assert job["request"] == {"model": str(model.resolve()), "probes": "builtin:text",
                              "template": no_minimum("quick"), "limit": 12, "seed": 0, "device": "auto",
                              "name": None, "model_version": None, "meta": {"purpose": "triage"},
                              "batch_size": 16, "dtype": "auto"}
    assert (job["submitted_by"], job["cancel_requested"], job["audit_id"]) == ("alice", False, None)
    assert tuple(job) == queue.JOB_FIELDS and queue.get(db, job["id"]) == job
    [(kind, actor, audit_id, detail, signature)] = chain_events(db)
    assert (kind, actor, audit_id, json.loads(detail)["job_id"]) == ("job.submitted", "alice", None, job["id"])
    assert signature                                  # signed by the service's machine key
    assert api.verify_audit(None, db).ok
    assert queue.get(db, "J-000000000000") is None


def test_jobs_are_claimed_oldest_first_each_by_exactly_one_worker(db, model):
    ids = [queue.submit(db, request(model, seed=i), "alice")["id"] for i in range(6)]
    claimed: list[str] = []

    def worker(n: int) -> None:
        while (job := queue.claim(db, f"w{n}@{queue.host()}", os.getpid())) is not None:
            claimed.append(job["id"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(claimed) == sorted(ids) and len(claimed) == len(set(claimed)) == 6
    assert {j["status"] for j in queue.list_jobs(db)} == {"running"}
    assert [j["id"] for j in queue.list_jobs(db)] == ids[::-1]         # newest first
    assert queue.list_jobs(db, "queued") == [] and len(queue.list_jobs(db, "running", limit=2)) == 2
    with pytest.raises(BadInput, match="status: give one of"):
        queue.list_jobs(db, "done")
    assert [k for k, *_ in chain_events(db)].count("job.started") == 6


def test_cancel_a_queued_job_at_once_and_ask_a_running_one_to_stop(db, model):
    first, second = (queue.submit(db, request(model), "alice") for _ in range(2))
    running = queue.claim(db, "w1", os.getpid())
    assert running["id"] == first["id"]
    assert queue.heartbeat(db, first["id"], os.getpid(), renew=True) is False
    done = queue.cancel(db, second["id"], by="bob")
    assert (done["status"], done["cancel_requested"]) == ("cancelled", True) and done["finished_at"]
    asked = queue.cancel(db, first["id"], by="carol")
    assert (asked["status"], asked["cancel_requested"]) == ("running", True)
    assert queue.heartbeat(db, first["id"], os.getpid(), renew=False) is True
    assert queue.claim(db, "w1", os.getpid()) is None                  # the cancelled job is never claimed
    assert queue.finish(db, first["id"], os.getpid(), "cancelled", exit_code=3, error="cancelled")
    assert queue.cancel(db, first["id"], by="carol")["status"] == "cancelled"    # finished: unchanged
    kinds = [(k, a) for k, a, *_ in chain_events(db)]
    assert ("job.cancelled", "bob") in kinds and ("job.cancel_requested", "carol") in kinds
    assert kinds.count(("job.cancel_requested", "carol")) == 1
    with pytest.raises(queue.UnknownJob, match="no job with ID J-nope"):
        queue.cancel(db, "J-nope", by="bob")


def test_events_are_numbered_and_read_after_a_sequence_number(db, model):
    job = queue.submit(db, request(model), "alice")
    lines = [{"event": "progress", "fraction": f / 10, "message": "m"} for f in range(3)]
    queue.add_events(db, job["id"], 1, lines)
    queue.add_events(db, job["id"], 4, [{"event": "finished", "audit_id": "A"}])
    assert [s for s, _ in queue.events(db, job["id"])] == [1, 2, 3, 4]
    assert queue.events(db, job["id"], after_seq=2) == [(3, lines[2]), (4, {"event": "finished", "audit_id": "A"})]
    with pytest.raises(queue.UnknownJob):
        queue.events(db, "J-nope")


# a process standing in for a worker (its command line names the worker module), alive until stdin closes
FAKE_WORKER = [sys.executable, "-c", "import sys; sys.stdin.read()", "auditor.service.workers"]
# a process that creates a `running` audit (with its own lease, as the CLI does) and stays alive
HOLDER = "import sys\nfrom tests.fixtures.stored import make_audit\n" \
         "print(make_audit(sys.argv[1], complete=False), flush=True)\nsys.stdin.read()\n"


@pytest.mark.skipif(lease.boot_id() is None, reason="processes are judged from Linux's /proc")
def test_recover_interrupts_jobs_whose_worker_is_gone_or_whose_lease_ran_out(db, model):
    gone, expired, alive = (queue.submit(db, request(model, seed=i), "alice") for i in range(3))
    worker = subprocess.Popen(FAKE_WORKER, stdin=subprocess.PIPE)
    try:
        queue.claim(db, f"w1@{queue.host()}", dead_pid())
        queue.claim(db, f"w2@{queue.host()}", worker.pid)
        queue.claim(db, f"w3@{queue.host()}", worker.pid)
        raw_update(db, "UPDATE jobs SET lease_until = ? WHERE id = ?", (time.time() - 1, expired["id"]))
        assert queue.worker_alive(worker.pid, f"w2@{queue.host()}") is True
        assert queue.worker_alive(os.getpid(), f"w2@{queue.host()}") is False   # alive, but not a worker
        assert sorted(queue.recover(db)) == sorted([gone["id"], expired["id"]])
        assert queue.recover(db) == []
        states = {j["id"]: (j["status"], j["error"]) for j in queue.list_jobs(db)}
        assert states[gone["id"]] == states[expired["id"]] == ("interrupted", queue.INTERRUPTED)
        assert states[alive["id"]] == ("running", None)
        # the worker that lost its job finds out and finishes nothing
        assert queue.heartbeat(db, expired["id"], worker.pid, renew=True) is None
        assert queue.finish(db, expired["id"], worker.pid, "completed", exit_code=0) is False
        assert queue.get(db, expired["id"])["status"] == "interrupted"
        assert [a for k, a, *_ in chain_events(db) if k == "job.interrupted"] == ["auditor", "auditor"]
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.skipif(lease.boot_id() is None, reason="processes are judged from Linux's /proc")
def test_recover_stops_the_orphaned_audit_of_a_lost_job_so_it_is_never_completed(db, model):
    job = queue.submit(db, request(model), "alice")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, db], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        audit_id = holder.stdout.readline().strip()
        assert audit_id, "the holder process did not create its audit"
        queue.claim(db, f"w1@{queue.host()}", dead_pid())
        queue.set_audit(db, job["id"], dead_pid(), audit_id)                # not this worker's job: ignored
        assert queue.get(db, job["id"])["audit_id"] is None
        pid = queue.get(db, job["id"])["pid"]
        queue.set_audit(db, job["id"], pid, audit_id)
        assert api.show_audit(audit_id, db)["status"] == "running"
        assert queue.recover(db) == [job["id"]]
        holder.wait(timeout=10)                       # killed by recover: it held the lost job's audit
        assert holder.returncode == -9
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
    shown = api.show_audit(audit_id, db)
    assert (shown["status"], shown["error"]) == ("interrupted", lease.INTERRUPTED)
    assert queue.get(db, job["id"])["status"] == "interrupted"


def raw_update(db: str, sql: str, params: tuple) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(sql, params)


def test_dtype_and_auto_batch_size_reach_the_worker_command(db, model, tmp_path):
    from auditor.service.workers import cli_arguments

    job = queue.submit(db, {"model": str(model), "template": no_minimum("quick"), "dtype": "bfloat16",
                            "batch_size": "auto"}, "alice")
    assert (job["request"]["dtype"], job["request"]["batch_size"]) == ("bfloat16", "auto")
    argv = cli_arguments(job["request"], str(db), "cpu", tmp_path)
    assert argv[argv.index("--dtype") + 1] == "bfloat16" and argv[argv.index("--batch-size") + 1] == "auto"
    for bad, line in (({"dtype": "float8"}, "dtype: give one of auto, float32, bfloat16, float16"),
                      ({"batch_size": "big"}, "batch_size: give a whole number or auto"),
                      ({"batch_size": 0}, "--batch-size must be a positive number or auto")):
        with pytest.raises(BadInput, match=line):
            queue.submit(db, {"model": str(model), **bad}, "alice")
