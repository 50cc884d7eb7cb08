"""`auditor batch --ray ADDRESS|auto`: each audit a Ray task; the driver is the database's single writer.

A task runs `auditor audit` (the same command line as a service worker's) against a private
temporary database on its node, and returns that database's bytes; it never opens the main
database. The driver imports each finished audit into the main database
(auditor.store.import_audit: the rows copied, the events appended to this database's signed chain,
each evaluation sealed again), one at a time, as the tasks finish.

`auto` starts a local Ray with 2 CPUs on 127.0.0.1 only, without the dashboard and without usage
statistics (RAY_USAGE_STATS_ENABLED=0 is set before Ray is imported); an ADDRESS joins an existing
cluster, whose nodes need this package installed and the models' paths readable. A task asks for one
GPU where the cluster has GPUs, else one CPU.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditor.batch import Outcome
from auditor.batch_inventory import Entry
from auditor.errors import AuditorError, BadInput

LOCAL_CPUS = 2


def run_task(request: dict[str, Any]) -> dict[str, Any]:
    """On a Ray worker: one CLI audit against a private database; returns its exit code, its last
    `auditor:` line, and the database's bytes (None when no database was written)."""
    from auditor.service.workers import cli_arguments

    with tempfile.TemporaryDirectory(prefix="auditor-batch-") as tmp:
        folder = Path(tmp)
        db = folder / "audit.db"
        argv = cli_arguments(request, str(db), "auto", folder)
        started = time.monotonic()
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
        seconds = round(time.monotonic() - started, 1)
        errors = [line.removeprefix("auditor:").strip() for line in done.stderr.decode("utf-8", "replace").splitlines()
                  if line.startswith("auditor:")]
        data = None
        if db.is_file():
            conn = sqlite3.connect(db)
            try:
                data = conn.serialize()     # the whole database, its WAL included
            finally:
                conn.close()
    return {"code": done.returncode, "error": errors[-1] if errors else None, "db": data, "seconds": seconds,
            "host": os.uname().nodename}


def _start(address: str) -> Any:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"     # read when Ray is imported and when it starts nodes
    if address == "auto":
        # Ray turns a node address of 127.0.0.1 into the machine's own IP unless it runs as a single-machine
        # (Windows/macOS-style) cluster; so a local cluster talks over loopback only
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise BadInput("--ray needs Ray: pip install 'auditor[cluster]' (or ray>=2.9)") from None
    import logging

    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address == "auto":   # a new local cluster, never one found through $RAY_ADDRESS
            ray.init(address="local", num_cpus=LOCAL_CPUS, _node_ip_address="127.0.0.1", **quiet)
        else:
            ray.init(address=address, **quiet)
    except Exception as exc:  # Ray's own errors: unreachable cluster, version mismatch
        raise BadInput(f"--ray {address}: cannot start or join Ray: {' '.join(str(exc).split())}") from None
    return ray


def run_on_ray(entries: list[Entry], db: str | None, address: str,
               progress: Callable[[Entry, str], None]) -> list[Outcome]:
    ray = _start(address)
    try:
        gpus = float(ray.cluster_resources().get("GPU", 0))
        task = ray.remote(run_task).options(**({"num_gpus": 1} if gpus >= 1 else {"num_cpus": 1}))
        pending = {}
        for entry in entries:
            pending[task.remote(entry.request)] = entry
            progress(entry, "submitted to Ray" + (" (1 GPU)" if gpus >= 1 else " (1 CPU)"))
        outcomes: dict[int, Outcome] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            entry = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # the task itself died (node lost, worker killed)
                outcomes[entry.index] = Outcome.of(entry, "failed", error=f"the Ray task failed: "
                                                   f"{' '.join(str(exc).split())[:300]}")
            else:
                outcomes[entry.index] = _imported(entry, result, db)
            progress(entry, _line(outcomes[entry.index]))
        return [outcomes[e.index] for e in entries]
    finally:
        ray.shutdown()


def _imported(entry: Entry, result: dict[str, Any], db: str | None) -> Outcome:
    """The task's audit copied into the main database (by this process alone), as an Outcome."""
    from auditor.api import db_path, show_audit
    from auditor.store import open_db
    from auditor.store.import_audit import audit_ids, import_audit, read_source

    seconds, error = result.get("seconds"), result.get("error")
    if not result.get("db"):
        return Outcome.of(entry, "failed", seconds=seconds, error=error or f"exit code {result.get('code')}")
    with tempfile.TemporaryDirectory(prefix="auditor-import-") as tmp:
        source_path = Path(tmp) / "worker.db"
        source_path.write_bytes(result["db"])
        src = read_source(source_path)
        main = open_db(db_path(db))
        ids: list[str] = []
        try:
            ids = audit_ids(src)
            if not ids:
                return Outcome.of(entry, "failed", seconds=seconds, error=error or "the audit stored nothing")
            stored = import_audit(main, src, ids[-1], {"host": result.get("host"), "runner": "ray"})
        except AuditorError as exc:
            return Outcome.of(entry, "failed", audit_id=ids[-1] if ids else None, seconds=seconds,
                              error=" ".join(str(exc).split()))
        finally:
            src.conn.close()
            main.conn.close()
    if stored["status"] != "completed":
        return Outcome.of(entry, stored["status"], audit_id=stored["audit_id"], seconds=seconds,
                          error=error or f"the audit is recorded as {stored['status']}")
    verdict = show_audit(stored["audit_id"], db)["verdict"]
    return Outcome.of(entry, "completed", audit_id=stored["audit_id"], verdict=verdict,
                      fingerprint=stored["fingerprint"], seconds=seconds)


def _line(o: Outcome) -> str:
    if o.status == "completed":
        return f"completed: {o.verdict} (audit {o.audit_id} imported, {o.seconds} s)"
    return f"{o.status}: {o.error}"
