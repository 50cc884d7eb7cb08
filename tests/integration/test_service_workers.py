"""Worker processes running real audits of a tiny BERT: the same figures as a CLI audit, cancel of a queued
and of a running job, and a `kill -9` mid-audit that leaves the job interrupted and the audit never completed."""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor import api
from auditor.service import queue
from auditor.service.workers import JobRun, WorkerPool
from auditor.store import lease
from tests.conftest import AUDITOR, ROOT
from tests.fixtures.templates import no_minimum

pytestmark = [pytest.mark.timeout(600),
              pytest.mark.skipif(lease.boot_id() is None, reason="workers are judged from Linux's /proc")]
LONG = 4000     # probes for a job that must still be running when it is cancelled or killed (minutes of capture)


def request(model: Path, **extra) -> dict:
    return {"model": str(model), "template": no_minimum("quick"), "limit": 12, **extra}


def long_request(model: Path, folder: Path) -> dict:
    """A job that is still capturing long after its first progress event: LONG distinct probes (the
    built-in set is too small; a quick audit of all of it can finish within one worker tick)."""
    path = folder / "long-probes.csv"
    lines = [f"Customer {i} asks whether the loan for account {i * 7919 % 100003} can be repaid early."
             for i in range(LONG)]
    path.write_text("text\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return request(model, probes=str(path), limit=None)


def wait_for(what: Callable[[], object], timeout: float, why: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting until {why}")


def final(db: str, job_id: str, timeout: float = 300) -> dict:
    return wait_for(lambda: (j := queue.get(db, job_id))["status"] in queue.FINAL and j, timeout,
                    f"job {job_id} finished")


def capturing(db: str, job_id: str) -> dict:
    """The job once its audit row exists and its probes are being captured."""
    def ready() -> dict | None:
        job = queue.get(db, job_id)
        assert job["status"] in ("queued", "running"), job
        keys = [e.get("params", {}).get("detail", {}).get("$message", {}).get("key")
                for _, e in queue.events(db, job_id)]
        return job if job["audit_id"] and "progress.capture.probes" in keys else None
    return wait_for(ready, 240, f"job {job_id} captured probes")


def chain(db: str) -> list[tuple[str, str, dict]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT kind, actor, detail_json FROM events WHERE kind LIKE 'job.%' ORDER BY id")
        return [(k, a, json.loads(d)) for k, a, d in rows.fetchall()]


def same_figures(a: list, b: list) -> bool:
    """Metric rows [check, name, layer, head, variant, value] equal, values to 1e-9 (NaN equals NaN)."""
    def close(x, y) -> bool:
        if x is None or y is None:
            return x is y
        return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    return len(a) == len(b) and all(r[:5] == s[:5] and close(r[5], s[5]) for r, s in zip(a, b, strict=True))


def test_two_jobs_complete_with_the_figures_of_a_cli_audit(tmp_path, tiny_bert):
    db = str(tmp_path / "service.db")
    first = queue.submit(db, request(tiny_bert, seed=0), "alice")
    second = queue.submit(db, request(tiny_bert, seed=1, name="second"), "alice")
    cli_db = tmp_path / "cli.db"
    cli = subprocess.Popen([AUDITOR, "audit", str(tiny_bert), "--template", no_minimum("quick"), "--limit", "12",
                            "--seed", "0", "--db", str(cli_db), "--json", "--progress", "jsonl"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pool = WorkerPool(db, 1)
    pool.start()
    try:
        done = [final(db, first["id"]), final(db, second["id"])]
        out, err = cli.communicate(timeout=300)
    finally:
        pool.stop()
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, err
    for job in done:
        assert (job["status"], job["exit_code"], job["error"]) == ("completed", 0, None), job
        assert job["audit_id"] and job["worker"].startswith("worker-1@")
        assert api.verify_audit(job["audit_id"], db).ok          # its fingerprint recomputes from its rows
    assert done[0]["started_at"] <= done[1]["started_at"]       # claimed oldest first
    local = json.loads(out)
    served = api.show_audit(done[0]["audit_id"], db)
    assert served["status"] == local["status"] == "completed"
    assert (served["verdict"], served["model"]["sha256"]) == (local["verdict"], local["model"]["sha256"])
    assert [(c["id"], c["outcome"]) for c in served["checks"]] == [(c["id"], c["outcome"]) for c in local["checks"]]
    figures = api.audit_evidence(done[0]["audit_id"], db)["metrics"]
    assert figures and same_figures(figures, api.audit_evidence(local["audit_id"], str(cli_db))["metrics"])
    assert api.show_audit(done[1]["audit_id"], db)["model"]["name"] == "second"
    # the job's events are the CLI's --progress jsonl lines, first to last
    events = [e for _, e in queue.events(db, first["id"])]
    cli_events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert events[0] == cli_events[0] and events[-1] == {"event": "finished", "audit_id": done[0]["audit_id"]}
    assert events[-2] == cli_events[-2]                          # progress.audit.complete
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions == sorted(fractions) and len(fractions) >= 5
    kinds = [(k, a, d.get("status")) for k, a, d in chain(db) if d["job_id"] == first["id"]]
    assert kinds == [("job.submitted", "alice", None), ("job.started", "auditor", None),
                     ("job.finished", "auditor", "completed")]


def test_cancel_a_queued_job_at_once_and_a_running_one_through_the_cli(tmp_path, tiny_bert):
    db = str(tmp_path / "service.db")
    running = queue.submit(db, long_request(tiny_bert, tmp_path), "alice")
    waiting = queue.submit(db, request(tiny_bert), "alice")
    assert queue.cancel(db, waiting["id"], by="bob")["status"] == "cancelled"
    pool = WorkerPool(db, 1)
    pool.start()
    try:
        job = capturing(db, running["id"])
        assert queue.cancel(db, running["id"], by="carol")["cancel_requested"] is True
        job = final(db, running["id"], timeout=60)
    finally:
        pool.stop()
    assert (job["status"], job["exit_code"]) == ("cancelled", 3), job
    assert "recorded as cancelled" in job["error"]
    shown = api.show_audit(job["audit_id"], db)
    assert (shown["status"], shown["verdict"]) == ("cancelled", None)
    assert queue.get(db, waiting["id"])["started_at"] is None            # never ran
    actors = [(k, a) for k, a, d in chain(db)]
    assert ("job.cancelled", "bob") in actors and ("job.cancel_requested", "carol") in actors


# a service process: a pool of one worker, alive until stdin closes; prints the worker's PID
SERVER = "import sys\nfrom auditor.service.workers import WorkerPool\npool = WorkerPool(sys.argv[1], 1)\n" \
         "pool.start()\nprint(pool.pids[0], flush=True)\nsys.stdin.read()\npool.stop()\n"


def test_a_worker_killed_mid_audit_leaves_its_job_interrupted_and_a_new_pool_runs_the_queue(tmp_path, tiny_bert):
    db = str(tmp_path / "service.db")
    lost = queue.submit(db, long_request(tiny_bert, tmp_path), "alice")
    queued = queue.submit(db, request(tiny_bert), "alice")
    server = subprocess.Popen([sys.executable, "-c", SERVER, db], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        worker = int(server.stdout.readline())
        job = capturing(db, lost["id"])
        assert job["pid"] == worker
        os.kill(server.pid, signal.SIGSTOP)           # the pool must not restart or recover anything itself
        os.kill(worker, signal.SIGKILL)
        os.kill(server.pid, signal.SIGKILL)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
    audit_id = job["audit_id"]
    held = lease_of(db, audit_id)
    wait_for(lambda: lease.judge(held) is not None, 20, "the audit's process died with its worker")
    assert queue.get(db, lost["id"])["status"] == "running"             # nobody has noticed yet
    assert queue.recover(db) == [lost["id"]]
    job = queue.get(db, lost["id"])
    assert (job["status"], job["error"], job["exit_code"]) == ("interrupted", queue.INTERRUPTED, None)
    shown = api.show_audit(audit_id, db)
    assert (shown["status"], shown["fingerprint"], shown["verdict"]) == ("interrupted", None, None)
    assert queue.get(db, queued["id"])["status"] == "queued"
    pool = WorkerPool(db, 1)
    pool.start()
    try:
        done = final(db, queued["id"])
        assert done["status"] == "completed", done
        [idle] = pool.pids
        os.kill(idle, signal.SIGKILL)                 # a worker that dies while idle is replaced
        wait_for(lambda: pool.pids and pool.pids != [idle], 30, "the pool restarted its worker")
    finally:
        pool.stop()
    assert pool.pids == []
    assert api.show_audit(audit_id, db)["status"] == "interrupted"
    assert [a["status"] for a in api.list_audits(db)].count("completed") == 1


def lease_of(db: str, audit_id: str) -> dict:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        pid, boot, started, ns = conn.execute("SELECT pid, boot_id, start_time, pid_ns FROM leases WHERE audit_id = ?",
                                              [audit_id]).fetchone()
    return {"pid": pid, "boot_id": boot, "start_time": started, "pid_ns": ns}


def test_a_cancel_that_lands_after_the_audit_is_recorded_complete_leaves_the_job_completed(tmp_path, tiny_bert):
    """The CLI records the audit and prints `finished`, then the cancel's SIGTERM kills it while Python shuts
    down (exit -15): the job says what the record says, completed, not cancelled."""
    db = str(tmp_path / "service.db")
    done = subprocess.run([AUDITOR, "audit", str(tiny_bert), "--template", no_minimum("quick"), "--limit", "12",
                           "--db", db, "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    audit_id = json.loads(done.stdout)["audit_id"]
    job = queue.submit(db, request(tiny_bert), "alice")
    claimed = queue.claim(db, "worker-test", os.getpid())
    assert claimed["id"] == job["id"]
    queue.cancel(db, job["id"], by="carol")
    run = JobRun(db, claimed, "cpu", lambda: False)
    run.audit_id, run.cancel_sent = audit_id, time.monotonic()
    run._finish(-signal.SIGTERM, "")
    finished = queue.get(db, job["id"])
    assert (finished["status"], finished["exit_code"], finished["error"]) == ("completed", -signal.SIGTERM, None)
    # and one whose audit the CLI recorded as cancelled is cancelled
    second = queue.submit(db, request(tiny_bert), "alice")
    claimed = queue.claim(db, "worker-test", os.getpid())
    run = JobRun(db, claimed, "cpu", lambda: False)
    run.cancel_sent, run.child_lease = time.monotonic(), {"pid": 0}     # a PID no audit's lease names
    run._finish(3, "")
    assert queue.get(db, second["id"])["status"] == "cancelled"


def test_each_worker_sees_one_gpu_of_those_visible(tmp_path, monkeypatch):
    """One worker per GPU, each pinned to its own (round robin when there are more workers than GPUs); on a
    machine without a GPU (or CUDA_VISIBLE_DEVICES=-1) the workers' environment is the server's."""
    from auditor.service.workers import visible_gpus

    def pinned(pool: WorkerPool) -> list[str | None]:
        seen = []
        for pid in pool.pids:
            environ = dict(item.split("=", 1) for item in
                           Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item)
            seen.append(environ.get("CUDA_VISIBLE_DEVICES"))
        return seen

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7, 9")
    assert visible_gpus() == ["7", "9"]
    pool = WorkerPool(str(tmp_path / "service.db"), 3)
    pool.start()
    try:
        assert pinned(pool) == ["7", "9", "7"]
    finally:
        pool.stop()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []
    pool = WorkerPool(str(tmp_path / "service.db"), 1)
    pool.start()
    try:
        assert pinned(pool) == ["-1"]
    finally:
        pool.stop()
