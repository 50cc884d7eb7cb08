"""Worker processes that run queued audits exactly as the CLI runs them.

`WorkerPool(db, n)` starts n worker processes (`python -m auditor.service.workers`, each in its own
session, so a Ctrl-C meant for the server does not cancel audits) and restarts one that dies. Each
worker claims the oldest queued job (auditor.service.queue.claim, one atomic UPDATE with a lease)
and runs `python -m auditor.cli audit MODEL ... --db DB --progress jsonl --json` as a child: the
same engine call, records and fingerprints as a user's CLI audit. The child's progress lines are
copied into `job_events`; its audit is found through the audit's lease (the child's PID and start
time, auditor.store.lease) as soon as the row exists. While it runs, the worker renews its lease
and watches `cancel_requested`: a cancel sends SIGTERM, which the CLI records as `cancelled`.

A worker that dies marks nothing complete: its child dies with it (PR_SET_PDEATHSIG on Linux), the
audit's lease then names a dead process (-> interrupted), and `queue.recover` marks the job
interrupted. Stopping the pool (or the server dying) interrupts running audits the same way.
"""
from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditor.service import queue
from auditor.store import lease

log = logging.getLogger("auditor.service")
POLL_S = 0.5          # how often an idle worker looks for a queued job
TICK_S = 1.0          # how often a busy worker checks for a cancel (and renews its lease every RENEW_S)
RENEW_S = 5.0
TERM_GRACE_S = 15.0   # after SIGTERM, how long a cancelled audit has to record itself before SIGKILL
AUDIT_NICE = 10       # the audits' CPU priority below the server's (audit_nice)
STOPPED = "the service stopped while the audit ran; submit it again"


class WorkerPool:
    """n worker processes on one database; `start()` then `stop()`."""

    def __init__(self, db_path: str | Path, n_workers: int, device: str = "auto") -> None:
        if n_workers < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.db_path, self.n_workers, self.device = str(db_path), int(n_workers), device
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * self.n_workers
        self._quick_deaths = [0] * self.n_workers
        self._started = [0.0] * self.n_workers
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._gpus = visible_gpus()

    @property
    def pids(self) -> list[int]:
        """The PIDs of the worker processes now running."""
        with self._lock:
            return [p.pid for p in self._procs if p is not None and p.poll() is None]

    def start(self) -> None:
        with self._lock:
            for slot in range(self.n_workers):
                self._procs[slot] = self._spawn(slot)
        self._thread = threading.Thread(target=self._supervise, name="auditor-worker-pool", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM every worker (a running audit is stopped and its job marked interrupted), SIGKILL after
        `timeout` seconds; then any job left running by a killed worker is recovered."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            procs = [p for p in self._procs if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        killed = False
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                killed = True
        if killed:
            queue.recover(self.db_path)

    def _spawn(self, slot: int) -> subprocess.Popen[bytes]:
        name = f"worker-{slot + 1}@{queue.host()}"
        self._started[slot] = time.monotonic()
        return subprocess.Popen([sys.executable, "-m", "auditor.service.workers", self.db_path, name, self.device,
                                 str(os.getpid())], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                start_new_session=True, env=worker_env(slot, self._gpus))

    def _supervise(self) -> None:
        """Restart a worker that died (after recovering its job); recover expired leases now and then."""
        last_recover = time.monotonic()
        while not self._stopping.wait(1.0):
            try:
                died = self._reap()
                if died or time.monotonic() - last_recover > queue.LEASE_S / 2:
                    queue.recover(self.db_path)
                    last_recover = time.monotonic()
                    with self._lock:
                        for slot in died:
                            if not self._stopping.is_set() and self._quick_deaths[slot] < 5:
                                self._procs[slot] = self._spawn(slot)
            except Exception as exc:  # the supervisor must outlive a locked database or a failed spawn
                log.warning("worker pool: %s: %s", type(exc).__name__, exc)

    def _reap(self) -> list[int]:
        died = []
        with self._lock:
            for slot, proc in enumerate(self._procs):
                if proc is not None and proc.poll() is not None:
                    quick = time.monotonic() - self._started[slot] < 10
                    self._quick_deaths[slot] = self._quick_deaths[slot] + 1 if quick else 0
                    log.warning("worker %d exited with code %s", slot + 1, proc.returncode)
                    self._procs[slot] = None
                    died.append(slot)
        return died


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES when set (its entries, "-1" meaning none), else
    one index per GPU the NVIDIA driver lists; [] on a machine without one."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        entries = [d.strip() for d in visible.split(",") if d.strip()]
        return [] if not entries or entries[0] == "-1" else entries
    gpus = Path("/proc/driver/nvidia/gpus")
    return [str(i) for i in range(len(list(gpus.iterdir())))] if gpus.is_dir() else []


def worker_env(slot: int, gpus: list[str]) -> dict[str, str]:
    """A worker's environment: with GPUs, it sees one of them (slot i gets GPU i, round robin when there are
    more workers than GPUs), so one audit per GPU runs and two workers never load models onto the same
    device by default; without GPUs, the server's environment unchanged."""
    env = dict(os.environ)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    return env


def cli_arguments(request: dict[str, Any], db_path: str, device: str, folder: Path) -> list[str]:
    """The `auditor audit` command line for a job's request (meta goes through a --meta file)."""
    argv = [sys.executable, "-m", "auditor.cli", "audit", request["model"], "--db", db_path,
            "--progress", "jsonl", "--json", "--probes", request.get("probes") or "builtin:text",
            "--seed", str(request.get("seed") or 0), "--batch-size", str(request.get("batch_size") or 16),
            "--device", request.get("device") if request.get("device") not in (None, "auto") else device,
            "--dtype", request.get("dtype") or "auto"]
    for key, flag in (("template", "--template"), ("limit", "--limit"), ("name", "--name"),
                      ("model_version", "--model-version")):
        if request.get(key) is not None:
            argv += [flag, str(request[key])]
    if request.get("meta"):
        meta = folder / "meta.yaml"
        meta.write_text(json.dumps(request["meta"]), encoding="utf-8")   # JSON is YAML
        argv += ["--meta", str(meta)]
    return argv


def audit_nice() -> int:
    """How much lower the audits' CPU priority is than the server's: AUDITOR_AUDIT_NICE (0-19), default
    AUDIT_NICE. The API must answer while audits use every core; on a GPU machine the audits wait on the
    GPU anyway, and on an idle CPU a niced audit runs as fast as before (nice only orders who runs first)."""
    raw = os.environ.get("AUDITOR_AUDIT_NICE", "").strip()
    try:
        return min(max(int(raw), 0), 19) if raw else AUDIT_NICE
    except ValueError:
        log.warning("AUDITOR_AUDIT_NICE=%r is not a whole number; using %d", raw, AUDIT_NICE)
        return AUDIT_NICE


def _child_setup() -> Callable[[], None]:
    """The audit child's preexec: it dies with this worker, and runs at a lower CPU priority (audit_nice)."""
    die, nice = _die_with_parent(), audit_nice()

    def set_it() -> None:
        if die is not None:
            die()
        if nice:
            try:
                os.nice(nice)
            except OSError:       # not allowed here: the audit runs at the worker's priority
                pass
    return set_it


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function that makes the child die (SIGKILL) when this worker dies (Linux prctl)."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_it() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)        # PR_SET_PDEATHSIG
        if os.getppid() != parent:               # the worker died before the line above
            os.kill(os.getpid(), signal.SIGKILL)
    return set_it


class JobRun:
    """One job: the CLI child, its events, the lease, cancel and stop."""

    def __init__(self, db_path: str, job: dict[str, Any], device: str, stopping: Callable[[], bool]) -> None:
        self.db_path, self.job, self.device, self.stopping = db_path, job, device, stopping
        self.pid = os.getpid()
        self.seq = 0
        self.audit_id: str | None = None
        self.error_line: str | None = None
        self.buffer = b""
        self.cancel_sent: float | None = None
        self.stopped = False     # the worker is stopping: the audit is interrupted
        self.lost = False        # the job was recovered as interrupted meanwhile: not ours any more
        self.child_lease: dict[str, Any] = {}
        self.finished = False    # the CLI printed its `finished` event: the audit is recorded, too late to cancel

    def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="auditor-job-") as tmp:
            folder = Path(tmp)
            argv = cli_arguments(self.job["request"], self.db_path, self.device, folder)
            with open(folder / "stdout.json", "wb") as out:
                child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                                         preexec_fn=_child_setup(),
                                         env=dict(os.environ, PYTHONUNBUFFERED="1"))
                self.child_lease = {"pid": child.pid, "start_time": lease.start_time(child.pid),
                                    "boot_id": lease.boot_id()}
                self._follow(child)
            stdout = (folder / "stdout.json").read_text(encoding="utf-8", errors="replace")
        self._finish(child.returncode, stdout)

    def _follow(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stderr is not None
        os.set_blocking(child.stderr.fileno(), False)
        selector = selectors.DefaultSelector()
        selector.register(child.stderr, selectors.EVENT_READ)
        last_tick = last_renew = time.monotonic()
        open_pipe = True
        while child.poll() is None or open_pipe:
            if open_pipe and selector.select(timeout=0.25):
                try:
                    chunk = os.read(child.stderr.fileno(), 65536)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":           # EOF: the child closed stderr (it is ending)
                    open_pipe = False
                    selector.unregister(child.stderr)
                self._take(chunk or b"")
            elif not open_pipe:
                time.sleep(0.05)
            if child.poll() is None and time.monotonic() - last_tick >= TICK_S:
                renew = time.monotonic() - last_renew >= RENEW_S
                self._tick(child, renew)
                last_tick = time.monotonic()
                last_renew = last_tick if renew else last_renew
        selector.close()
        self._take(b"", final=True)

    def _take(self, chunk: bytes, final: bool = False) -> None:
        """Progress lines into job_events; the CLI's `auditor: ...` line kept as the error."""
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        if final and self.buffer:
            lines, self.buffer = [*lines, self.buffer], b""
        found = []
        for raw in lines:
            text = raw.decode("utf-8", "replace").strip()
            if text.startswith("{"):
                try:
                    event = json.loads(text)
                except ValueError:
                    continue
                if isinstance(event, dict) and "event" in event:
                    found.append(event)
                    if event.get("event") == "finished" and event.get("audit_id"):
                        self.finished = True
                        self._audit(str(event["audit_id"]))
            elif text.startswith("auditor:"):
                self.error_line = text.removeprefix("auditor:").strip()
        if found:
            queue.add_events(self.db_path, self.job["id"], self.seq + 1, found)
            self.seq += len(found)

    def _audit(self, audit_id: str) -> None:
        if self.audit_id is None:
            self.audit_id = audit_id
            queue.set_audit(self.db_path, self.job["id"], self.pid, audit_id)

    def _tick(self, child: subprocess.Popen[bytes], renew: bool) -> None:
        if self.audit_id is None:
            found = queue.audit_of_process(self.db_path, self.child_lease)
            if found:
                self._audit(found)
        if self.stopping() and not self.stopped:
            self.stopped = True
            child.kill()           # not SIGTERM: that would record the audit as cancelled by a user
            return
        cancel = queue.heartbeat(self.db_path, self.job["id"], self.pid, renew)
        if cancel is None and not self.lost:
            self.lost = True
            child.kill()
        elif cancel and self.cancel_sent is None and not self.finished:
            self.cancel_sent = time.monotonic()
            child.terminate()      # the CLI turns SIGTERM into a recorded cancel
        elif self.cancel_sent is not None and time.monotonic() - self.cancel_sent > TERM_GRACE_S:
            child.kill()

    def _finish(self, code: int, stdout: str) -> None:
        if self.audit_id is None:
            found = queue.audit_of_process(self.db_path, self.child_lease)
            if found:
                self._audit(found)
        if self.lost:
            return
        recorded = queue.audit_status(self.db_path, self.audit_id) if self.audit_id else None
        if self.stopped:
            status, error = "interrupted", STOPPED
        elif code == 0 or (recorded == "completed" and self.cancel_sent is not None):
            # a cancel that reached the CLI after it had recorded the audit complete (while the process
            # was ending) changes nothing: the job is what the audit's record says (exit_code stays the real one)
            if code != 0:
                log.info("job %s: the cancel came after the audit was recorded complete", self.job["id"])
            status, error = "completed", None
            try:
                self._audit(str(json.loads(stdout)["audit_id"]))
            except (ValueError, KeyError, TypeError):
                pass
        elif self.cancel_sent is not None:
            status, error = "cancelled", self.error_line or "cancelled"
        else:
            status = "failed"
            error = self.error_line or (f"the audit process was killed by signal {-code}" if code < 0
                                        else f"the audit process ended with exit code {code}")
        queue.finish(self.db_path, self.job["id"], self.pid, status, exit_code=code, error=error,
                     audit_id=self.audit_id)


_STOP = threading.Event()


def work(db_path: str, name: str, device: str, parent_pid: int) -> int:
    """The worker process's loop: claim, run, repeat, until SIGTERM or the pool's process is gone."""
    def stopping() -> bool:
        return _STOP.is_set() or os.getppid() != parent_pid

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: _STOP.set())
    while not stopping():
        try:
            job = queue.claim(db_path, name, os.getpid())
        except Exception as exc:  # a locked database: try again shortly
            log.warning("%s: cannot claim a job: %s", name, exc)
            job = None
        if job is None:
            _STOP.wait(POLL_S)
            continue
        try:
            JobRun(db_path, job, device, stopping).run()
        except Exception as exc:  # the job fails, the worker goes on
            log.error("%s: job %s: %s: %s", name, job["id"], type(exc).__name__, exc)
            try:
                queue.finish(db_path, job["id"], os.getpid(), "failed", error=f"{type(exc).__name__}: {exc}")
            except Exception:
                pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        sys.stderr.write("usage: python -m auditor.service.workers DB NAME DEVICE PARENT_PID\n")
        return 2
    logging.basicConfig(level=logging.INFO, format=f"auditor {args[1]}: %(message)s")
    return work(args[0], args[1], args[2], int(args[3]))


if __name__ == "__main__":
    raise SystemExit(main())
