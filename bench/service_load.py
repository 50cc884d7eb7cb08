"""Load and faults on the audit service (issue 18), measured on a real `auditor serve` on 127.0.0.1.

    .venv/bin/python -m bench.service_load [--clients 20] [--audits 4] [--seconds 60] [--workers 2]
        [--think 0] [--audit-nice N]

In a scratch folder: an identity (its own AUDITOR_IDENTITY_DIR), a database, a token from `auditor token create`,
a tiny BERT (tests/fixtures/torch_models) and the quick template without its probe minimum. It starts `auditor
serve` on a free loopback port, submits `--audits` audits (limit 12), follows each one's progress stream from
its submission (time from submit to the first progress event), and while they run drives `--clients` threads,
each on its own keep-alive connection (http.client), doing list, show (GET /v1/audits/{id}) and bounded reads
of progress streams, for `--seconds` or `--requests` per client. It prints the request count, the 5xx count
(goal 0), p50/p95/p99 of show (goal p95 < 50 ms) and the audits lost (goal 0: every one completed).
Then the fault run: a long audit is submitted, the server is killed with SIGKILL once the audit is stored and
running, and restarted on the same database; it prints the jobs left running (goal 0), the jobs and audits
marked interrupted, and the audits completed without a completed job (goal 0).

Figures only, no asserts: the machine is shared and timings vary. Every wait is bounded; the servers, their
workers and their audits are killed in `finally`.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

AUDITOR = str(Path(sys.executable).parent / "auditor")
PERSON, PASS = "B. Bench", "bench passphrase long enough"
START_S = 120            # a server answers /v1/health within this
AUDITS_S = 900           # the audits end within this after the load
STREAM_READ_S = 2.0      # a load client reads a progress stream this long, then hangs up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`auditor serve` in its own session; `kill9()` kills only the server process, `stop()` everything."""

    def __init__(self, db: Path, folder: Path, env: dict[str, str], workers: int) -> None:
        self.db, self.port = db, free_port()
        self.log = folder / f"serve-{self.port}.log"
        self.started = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([AUDITOR, "serve", "--port", str(self.port), "--db", str(db),
                                          "--workers", str(workers)], stdout=out, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)

    def wait_ready(self) -> float:
        began = time.monotonic()
        while time.monotonic() - began < START_S:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server stopped:\n{self.log.read_text()[-2000:]}")
            try:
                status, _ = request(self.port, "GET", "/v1/health")
                if status == 200:
                    return time.monotonic() - began
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer in {START_S} s:\n{self.log.read_text()[-2000:]}")

    def processes(self) -> list[int]:
        """The server, its workers and their audits: every process whose command line names the database."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmd = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if str(self.db).encode() in cmd.split(b"\0") and int(entry.name) != os.getpid():
                    found.append(int(entry.name))
        return found

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def request(port: int, method: str, path: str, token: str | None = None, body: Any = None,
            timeout: float = 30) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=_headers(token))
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def _headers(token: str | None) -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


class Stats:
    """Counts and latencies of every request, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []
        self.show_ms: list[float] = []
        self.list_ms: list[float] = []

    def add(self, kind: str, status: int, ms: float) -> None:
        with self.lock:
            self.count[kind] = self.count.get(kind, 0) + 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200 and kind in ("show", "list"):
                (self.show_ms if kind == "show" else self.list_ms).append(ms)

    def error(self, kind: str, exc: BaseException) -> None:
        with self.lock:
            self.count[kind] = self.count.get(kind, 0) + 1
            self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")


def read_stream(port: int, token: str, job_id: str, limit_s: float,
                on_event: Any = None) -> tuple[int, str | None]:
    """Reads a job's SSE stream for at most `limit_s` (or to its `end`): (status, the last event's name).
    `on_event(name)` is called at each event as it arrives."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)     # the headers: as for any request
    deadline, last = time.monotonic() + limit_s, None
    try:
        conn.request("GET", f"/v1/audits/{job_id}/progress", headers=_headers(token))
        answer = conn.getresponse()
        if answer.status != 200:
            answer.read()
            return answer.status, None
        if conn.sock is not None:       # the events: read until `limit_s` has passed
            conn.sock.settimeout(max(0.05, min(deadline - time.monotonic(), 20.0)))
        while time.monotonic() < deadline:
            try:
                line = answer.fp.readline()
            except TimeoutError:
                break
            if not line:
                break
            if line.startswith(b"event:"):
                last = line[6:].strip().decode()
                if on_event is not None:
                    on_event(last)
                if last == "end":
                    break
        return 200, last
    finally:
        conn.close()


class Shared:
    """What the clients pick from: the submitted jobs and the audits they have stored so far."""

    def __init__(self) -> None:
        self.jobs: list[str] = []
        self.audits: list[str] = []


def client(index: int, port: int, token: str, shared: Shared, stats: Stats, until: float, max_requests: int,
           think_s: float = 0.0) -> None:
    """One user: show, show, list, show, show, progress stream, over and over, on one keep-alive connection,
    with `think_s` between one answer and the next request (0: unpaced, each client as fast as answered)."""
    ops = ("show", "show", "list", "show", "show", "progress")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    step = index
    try:
        for _ in range(max_requests):
            if time.monotonic() >= until:
                return
            op, step = ops[step % len(ops)], step + 1
            audits, jobs = list(shared.audits), list(shared.jobs)
            if op == "show" and not audits:
                op = "list"
            began = time.perf_counter()
            try:
                if op == "progress":
                    job = jobs[step % len(jobs)]
                    status, _ = read_stream(port, token, job, min(STREAM_READ_S, max(0.1, until - time.monotonic())))
                else:
                    path = "/v1/audits?limit=20" if op == "list" else f"/v1/audits/{audits[step % len(audits)]}"
                    conn.request("GET", path, headers=_headers(token))
                    answer = conn.getresponse()
                    answer.read()
                    status = answer.status
            except (OSError, http.client.HTTPException) as exc:
                stats.error(op, exc)
                conn.close()      # http.client opens a new connection at the next request
                continue
            stats.add(op, status, (time.perf_counter() - began) * 1000)
            if think_s:
                time.sleep(think_s)
    finally:
        conn.close()


class Watcher(threading.Thread):
    """Follows one job's progress stream from just after its submission: the time to its first progress event."""

    def __init__(self, port: int, token: str, job_id: str, submitted: float, limit_s: float) -> None:
        super().__init__(daemon=True)
        self.args_ = (port, token, job_id)
        self.submitted, self.limit_s = submitted, limit_s
        self.first: float | None = None
        self.last: str | None = None

    def _seen(self, name: str) -> None:
        if name == "progress" and self.first is None:
            self.first = time.monotonic() - self.submitted

    def run(self) -> None:
        deadline = self.submitted + self.limit_s
        while time.monotonic() < deadline and self.last != "end":     # a stream cut by the server is resumed
            try:
                _, self.last = read_stream(*self.args_, deadline - time.monotonic(), self._seen)
            except (OSError, http.client.HTTPException):
                time.sleep(0.5)


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of a process (with its waited-for children's when `children`), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = sum(int(f) for f in fields[11:15 if children else 13])     # utime stime [cutime cstime]
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] if ordered else float("nan")


def prepare(folder: Path) -> tuple[dict[str, str], Path, str, str]:
    """(environment of the server, database, token, tiny BERT folder) in `folder`."""
    env = {k: v for k, v in os.environ.items() if k not in ("AUDITOR_DB", "AUDITOR_SERVER", "AUDITOR_TOKEN")}
    env["AUDITOR_IDENTITY_DIR"] = os.environ["AUDITOR_IDENTITY_DIR"] = str(folder / "ids")
    import auditor  # noqa: F401  (first: it sets the offline variables before transformers is imported)
    from auditor.identity import create_identity
    from tests.fixtures.torch_models import make_tiny_bert

    create_identity(PERSON, "preparer", passphrase=PASS)
    db = folder / "audits.db"
    made = subprocess.run([AUDITOR, "token", "create", PERSON, "--db", str(db)], env=env, capture_output=True,
                          text=True, timeout=120)
    if made.returncode != 0:
        raise SystemExit(f"auditor token create failed: {made.stderr.strip()}")
    return env, db, made.stdout.strip(), str(make_tiny_bert(folder / "tiny-bert"))


def wait_job(port: int, token: str, job_id: str, limit_s: float, done: Any) -> dict[str, Any]:
    """The job once `done(job)` holds, polled every 0.2 s for at most `limit_s` (the last one seen otherwise)."""
    deadline, job = time.monotonic() + limit_s, {}
    while time.monotonic() < deadline:
        status, job = request(port, "GET", f"/v1/jobs/{job_id}", token)
        if status == 200 and done(job):
            break
        time.sleep(0.2)
    return job


def load_run(srv: Server, token: str, model: str, args: argparse.Namespace) -> list[str]:
    """Submits the audits, drives the clients and prints the load figures; returns the job IDs."""
    from tests.fixtures.templates import no_minimum

    shared, stats, watchers = Shared(), Stats(), []
    for n in range(args.audits):
        body = {"model": model, "template": no_minimum("quick"), "limit": 12, "seed": n, "name": f"bench-{n}",
                "model_version": "1"}
        submitted = time.monotonic()
        status, job = request(srv.port, "POST", "/v1/audits", token, body)
        if status != 202:
            raise SystemExit(f"submit refused ({status}): {job}")
        shared.jobs.append(job["id"])
        watchers.append(Watcher(srv.port, token, job["id"], submitted, AUDITS_S))
        watchers[-1].start()
    first = wait_job(srv.port, token, shared.jobs[0], START_S, lambda j: bool(j.get("audit_id")))
    shared.audits.append(first.get("audit_id") or shared.jobs[0])   # something to show from the first request
    began, server_cpu = time.monotonic(), cpu_seconds(srv.proc.pid)
    until = began + args.seconds
    threads = [threading.Thread(target=client, daemon=True,
                                args=(i, srv.port, token, shared, stats, until, args.requests, args.think))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        shared.audits[:] = [a for a in (request(srv.port, "GET", f"/v1/jobs/{j}", token)[1].get("audit_id")
                                        for j in shared.jobs) if a]
        time.sleep(0.5)
    elapsed, server_cpu = time.monotonic() - began, cpu_seconds(srv.proc.pid) - server_cpu
    jobs = [wait_job(srv.port, token, j, AUDITS_S, lambda job: job.get("status") in
                     ("completed", "failed", "cancelled", "interrupted")) for j in shared.jobs]
    audits = [request(srv.port, "GET", f"/v1/audits/{j['audit_id']}", token)[1] if j.get("audit_id") else {}
              for j in jobs]
    workers = [p for p in srv.processes() if p != srv.proc.pid]
    audit_cpu = sum(cpu_seconds(p, children=True) for p in workers)
    report_load(args, stats, elapsed, jobs, audits, watchers)
    total = sum(stats.count.values())
    print(f"CPU: the server {server_cpu:.1f} s during the load ({server_cpu / max(total, 1) * 1000:.1f} ms a "
          f"request, progress streams included); the workers and their audits {audit_cpu:.1f} s")
    return shared.jobs


def report_load(args: argparse.Namespace, stats: Stats, elapsed: float, jobs: list[dict[str, Any]],
                audits: list[dict[str, Any]], watchers: list[Watcher]) -> None:
    total = sum(stats.count.values())
    server_errors = sum(n for status, n in stats.statuses.items() if status >= 500)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.count.items()))
    codes = ", ".join(f"{s}: {n}" for s, n in sorted(stats.statuses.items()))
    nice = args.audit_nice if args.audit_nice is not None else "server default"
    print(f"load: {args.clients} clients for {elapsed:.1f} s while {args.audits} audits ran "
          f"({args.workers} worker(s), tiny BERT, quick template, limit 12, audit nice {nice}, think "
          f"{args.think:g} s; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    print(f"requests: {total} ({kinds}; {total / elapsed:.0f}/s); statuses {codes}; 5xx: {server_errors}; "
          f"connection errors: {len(stats.errors)}")
    for line in stats.errors[:3]:
        print(f"  error: {line}")
    for kind, values in (("GET /v1/audits/{id}", stats.show_ms), ("GET /v1/audits (list)", stats.list_ms)):
        p95 = percentile(values, 0.95)
        print(f"{kind}: n={len(values)} p50 {percentile(values, 0.5):.1f} ms, p95 {p95:.1f} ms, "
              f"p99 {percentile(values, 0.99):.1f} ms, max {max(values, default=float('nan')):.1f} ms"
              + (f" (p95 / 50 ms goal = {p95 / 50:.2f})" if kind.endswith("{id}") else ""))
    lost = [j.get("id") for j, a in zip(jobs, audits, strict=True)
            if j.get("status") != "completed" or a.get("status") != "completed"]
    print(f"audits lost: {len(lost)} of {len(jobs)} (jobs {[j.get('status') for j in jobs]}, audits "
          f"{[a.get('status') for a in audits]})")
    print(f"audit run time (job started -> finished, 1 s resolution): {', '.join(_run_time(j) for j in jobs)}")
    firsts = [f"{w.first:.1f} s" if w.first is not None else "none" for w in watchers]
    print(f"submit -> first progress event, in submission order: {', '.join(firsts)} (the first "
          f"{min(args.workers, len(watchers))} had a free worker; any others waited in the queue)")


def _run_time(job: dict[str, Any]) -> str:
    from datetime import datetime

    try:
        took = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
    except (KeyError, TypeError, ValueError):
        return "n/a"
    return f"{took.total_seconds():.0f} s"


def fault_run(srv: Server, folder: Path, env: dict[str, str], token: str, model: str,
              args: argparse.Namespace, completed_jobs: list[str]) -> Server:
    """Kills the server (SIGKILL) mid-audit, restarts it on the same database and prints what it finds;
    returns the restarted server."""
    from tests.fixtures.templates import no_minimum

    body = {"model": model, "template": no_minimum("standard"), "batch_size": 1, "name": "bench-killed",
            "model_version": "1"}
    status, job = request(srv.port, "POST", "/v1/audits", token, body)
    if status != 202:
        raise SystemExit(f"submit refused ({status}): {job}")
    running = wait_job(srv.port, token, job["id"], START_S, lambda j: bool(j.get("audit_id")))
    if running.get("status") != "running":
        print(f"fault: the long audit was not running when it should have been killed: {running.get('status')}")
    alive = [p for p in srv.processes() if p != srv.proc.pid]
    srv.kill9()
    killed_at = time.monotonic()
    while [p for p in srv.processes() if p in alive] and time.monotonic() - killed_at < 30:
        time.sleep(0.2)
    orphans = [p for p in srv.processes() if p in alive]
    followed = time.monotonic() - killed_at
    again = Server(srv.db, folder, env, args.workers)
    ready = again.wait_ready()
    time.sleep(2)      # anything left of the old run would have written by now
    jobs = request(again.port, "GET", "/v1/jobs?limit=1000", token)[1]["jobs"]
    audits = request(again.port, "GET", "/v1/audits", token)[1]["audits"]
    completed_by_job = {j["audit_id"] for j in jobs if j["status"] == "completed"}
    half = [a["audit_id"] for a in audits if a["status"] == "completed" and a["audit_id"] not in completed_by_job]
    killed = next(j for j in jobs if j["id"] == job["id"])
    shown = request(again.port, "GET", f"/v1/audits/{killed['audit_id']}", token)[1] if killed["audit_id"] else {}
    print(f"fault: kill -9 of the server {killed_at - srv.started:.0f} s after its start, with job {job['id']} "
          f"running audit {running.get('audit_id')}; its {len(alive)} worker/audit process(es) were gone "
          f"{followed:.1f} s later ({len(orphans)} left); restart on the same database answered in {ready:.1f} s")
    print(f"after restart: jobs running {sum(j['status'] == 'running' for j in jobs)}, jobs interrupted "
          f"{sum(j['status'] == 'interrupted' for j in jobs)}, audits interrupted "
          f"{sum(a['status'] == 'interrupted' for a in audits)}; the killed job {killed['status']}, its audit "
          f"{shown.get('status')}; half-audits completed: {len(half)}; the load's audits still completed: "
          f"{sum(j['status'] == 'completed' for j in jobs if j['id'] in completed_jobs)} of {len(completed_jobs)}")
    return again


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--audits", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--requests", type=int, default=5000, help="at most this many requests per client")
    parser.add_argument("--workers", type=int, default=2, help="the server's worker processes")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a client waits between an answer and its next request (default 0: unpaced)")
    parser.add_argument("--audit-nice", type=int, default=None,
                        help="the audits' nice value (the server's AUDITOR_AUDIT_NICE; default: the server's, 10)")
    args = parser.parse_args(argv)
    # SIGTERM (a test's timeout) ends the run through `finally`, which kills the servers it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="auditor-service-load-"))
    servers: list[Server] = []
    try:
        env, db, token, model = prepare(folder)
        if args.audit_nice is not None:
            env["AUDITOR_AUDIT_NICE"] = str(args.audit_nice)
        servers.append(Server(db, folder, env, args.workers))
        print(f"server ready in {servers[0].wait_ready():.1f} s on 127.0.0.1:{servers[0].port}")
        jobs = load_run(servers[0], token, model, args)
        servers.append(fault_run(servers[0], folder, env, token, model, args, jobs))
    finally:
        for srv in servers:
            srv.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
