"""`auditor batch INVENTORY.yaml`: audit every model of an inventory, then a summary and one exit code.

Three ways to run the audits, all through `auditor audit` itself (same engine call, records and
fingerprints as a CLI audit): the local job queue with one in-process worker pool (default;
auditor.batch_local), an audit service (`--server URL --token T`; auditor.batch_server), or a Ray
cluster (`--ray ADDRESS|auto`; auditor.batch_ray), where the driver is the database's single writer.

One model failing does not stop the others. Progress is one line per model and state change on
stderr; the summary table (or `--json`) on stdout. Exit codes: 2 the inventory is bad (nothing
ran), 3 some audit did not complete, 1 a verdict matched --fail-on (as `auditor audit`), else 0.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict, dataclass
from typing import Any

from auditor.batch_inventory import Entry, load_inventory

SYMBOL = {"pass": "✓", "warn": "!", "fail": "✗", "inconclusive": "?"}


@dataclass
class Outcome:
    """How one inventory model's audit ended."""

    name: str
    version: str | None
    model: str
    status: str                   # completed | failed | cancelled | interrupted
    audit_id: str | None = None
    verdict: str | None = None
    fingerprint: str | None = None
    seconds: float | None = None
    error: str | None = None
    job_id: str | None = None

    @classmethod
    def of(cls, entry: Entry, status: str, **fields: Any) -> Outcome:
        r = entry.request
        return cls(name=r["name"], version=r.get("model_version"), model=r["model"], status=status, **fields)


class Progress:
    """One stderr line per model and state change: `batch [2/3] credit-bert 2.1: running (audit …)`."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._lock = threading.Lock()

    def __call__(self, entry: Entry, state: str) -> None:
        with self._lock:
            sys.stderr.write(f"batch [{entry.index + 1}/{self.total}] {entry.label}: {' '.join(state.split())}\n")
            sys.stderr.flush()


def add_parser(sub: Any) -> None:
    p = sub.add_parser("batch", help="audit every model of an inventory file (local queue, a service or Ray)")
    p.add_argument("inventory", metavar="INVENTORY.yaml", help="models: [{path, name, version, template, probes, "
                                                                "limit, seed, meta}] and optional defaults:")
    p.add_argument("--db", metavar="PATH", help="database file (default: $AUDITOR_DB or the user data folder)")
    p.add_argument("--server", dest="batch_server", metavar="URL",
                   help="submit the audits to an audit service (paths name files on the server's disk)")
    p.add_argument("--token", dest="batch_token", metavar="T", help="the service's API token (default $AUDITOR_TOKEN)")
    p.add_argument("--ray", metavar="ADDRESS|auto",
                   help="run each audit as a Ray task on the cluster at ADDRESS, or on a local one (auto)")
    p.add_argument("--fail-on", choices=("warn", "fail"), help="exit 1 when any verdict is this bad or worse "
                                                                "(the rules of `auditor audit --fail-on`)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def cmd_batch(args: argparse.Namespace) -> int:
    import os

    from auditor.errors import BadInput

    if args.batch_server and args.ray:
        raise BadInput("--server and --ray exclude each other: a service runs its own workers")
    if args.batch_server and args.db:
        raise BadInput("--db names a local database; with --server the audits are in the server's database")
    entries = load_inventory(args.inventory)
    progress = Progress(len(entries))
    if args.batch_server:
        from auditor.batch_server import run_on_server

        token = args.batch_token or os.environ.get("AUDITOR_TOKEN")
        outcomes = run_on_server(entries, args.batch_server, token, progress)
    elif args.ray:
        from auditor.batch_ray import run_on_ray

        outcomes = run_on_ray(entries, args.db, args.ray, progress)
    else:
        from auditor.batch_local import run_locally

        outcomes = run_locally(entries, args.db, progress)
    code = exit_code(outcomes, args.fail_on)
    if args.json:
        print(json.dumps({"audits": [asdict(o) for o in outcomes], "exit_code": code}, ensure_ascii=False))
    else:
        print(summary_table(outcomes))
    return code


def exit_code(outcomes: list[Outcome], fail_on: str | None) -> int:
    """3 when an audit did not complete; else 1 when a verdict matches --fail-on; else 0."""
    from auditor.status import fails_gate

    if any(o.status != "completed" for o in outcomes):
        return 3
    return 1 if any(fails_gate(o.verdict, fail_on) for o in outcomes) else 0


def summary_table(outcomes: list[Outcome]) -> str:
    lines = [f"{'MODEL':<28} {'VERSION':<10} {'AUDIT ID':<24} {'VERDICT':<14} {'TIME':>8}"]
    for o in outcomes:
        result = f"{SYMBOL.get(o.verdict or '', ' ')} {o.verdict}" if o.status == "completed" else f"✗ {o.status}"
        took = f"{o.seconds:.1f} s" if o.seconds is not None else "-"
        lines.append(f"{o.name[:28]:<28} {(o.version or '')[:10]:<10} {o.audit_id or '-':<24} {result:<14} {took:>8}")
    failed = [o for o in outcomes if o.status != "completed"]
    if failed:
        lines.append("")
        lines += [f"{o.status}: {o.name}{' ' + o.version if o.version else ''}: {o.error or '-'}" for o in failed]
    done = len(outcomes) - len(failed)
    lines += ["", f"{done} of {len(outcomes)} audits completed"]
    return "\n".join(lines)


COMMANDS = {"batch": cmd_batch}
