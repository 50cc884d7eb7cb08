"""Interrupted audits: a `running` audit whose process is gone is marked `interrupted` when any command next
opens the database; an audit whose process is alive is left alone; a report of it is only ever a draft."""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor import api
from auditor.store import lease, open_db
from tests.conftest import AUDITOR, ROOT, run_cli
from tests.fixtures.stored import make_audit

pytestmark = pytest.mark.skipif(lease.boot_id() is None, reason="leases are judged from Linux's /proc")

# a process that creates a `running` audit (with its own lease) and stays alive until its stdin closes
HOLDER = "import sys\nfrom tests.fixtures.stored import make_audit\n" \
         "print(make_audit(sys.argv[1], complete=False), flush=True)\nsys.stdin.read()\n"


def raw(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows read with plain sqlite3 (no auditor code, so no sweep)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, params).fetchall()


def statuses(db: Path) -> dict[str, str]:
    listed = run_cli("list", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    return {a["audit_id"]: a["status"] for a in json.loads(listed.stdout)["audits"]}


def shown(db: Path, audit_id: str) -> dict:
    result = run_cli("show", audit_id, "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_lease_names_this_process_and_judges_the_others():
    here = lease.current()
    assert here["pid"] == os.getpid() and here["boot_id"] and here["start_time"]
    assert lease.judge(here) is None
    assert lease.judge({**here, "boot_id": "another-boot"}) == "the machine restarted since the audit started"
    assert "another process" in lease.judge({**here, "start_time": here["start_time"] + 1})   # PID reused
    assert lease.judge({**here, "pid_ns": "pid:[1]"}) is None     # another container's PID: not judged from here
    assert lease.judge(None).startswith("no lease was recorded")
    child = subprocess.Popen(["true"])
    for _ in range(200):                                            # exited, not yet reaped: a zombie
        fields = lease._stat(child.pid)
        if fields is None or fields[0] == "Z":
            break
        time.sleep(0.01)
    assert lease.judge({**here, "pid": child.pid}) == f"process {child.pid} is gone"
    child.wait()
    assert lease.judge({**here, "pid": child.pid}) == f"process {child.pid} is gone"


def test_a_live_audit_in_another_process_is_not_marked_by_a_concurrent_open(tmp_path):
    db = tmp_path / "audits.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        audit_id = holder.stdout.readline().strip()
        assert audit_id, "the holder process did not create its audit"
        open_db(db).conn.close()                    # a read-write open (what `audit` and `sign` do) ...
        open_db(db, read_only=True).conn.close()    # ... a read-only one, and a CLI read in a third process
        assert statuses(db) == {audit_id: "running"}
        assert raw(db, "SELECT kind FROM events") == [("created",)]
    finally:
        holder.kill()
        holder.wait()
    data = api.show_audit(audit_id, str(db))
    assert (data["status"], data["error"], data["finished_at"]) == ("interrupted", lease.INTERRUPTED, None)
    assert [(e["kind"], e["detail"].get("reason")) for e in data["events"]] == [
        ("created", None), ("interrupted", f"process {holder.pid} is gone")]
    api.list_audits(str(db))                        # a later open adds nothing: the event is written once
    assert raw(db, "SELECT count(*) FROM events WHERE kind = 'interrupted'") == [(1,)]


@pytest.mark.parametrize(("change", "reason"), [
    ("UPDATE leases SET boot_id = 'a-boot-before-a-power-cut'", "the machine restarted since the audit started"),
    ("DELETE FROM leases", "no lease was recorded (the audit was started by an earlier version)"),
])
def test_a_restart_or_a_missing_lease_marks_running_audits(tmp_path, change, reason):
    db = tmp_path / "audits.db"
    done = make_audit(db)
    running = make_audit(db, complete=False)        # this process is alive: its own audit stays running
    assert {a["audit_id"]: a["status"] for a in api.list_audits(str(db))} == {done: "completed", running: "running"}
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(change)
    assert statuses(db) == {done: "completed", running: "interrupted"}
    assert api.show_audit(running, str(db))["events"][-1]["detail"]["reason"] == reason


@pytest.fixture(scope="module")
def killed(tiny_bert, tmp_path_factory) -> dict:
    """A real CLI audit of a tiny model, killed with SIGKILL while its checks run (330 probes: still running)."""
    db = tmp_path_factory.mktemp("killed") / "audits.db"
    proc = subprocess.Popen([AUDITOR, "audit", str(tiny_bert), "--db", str(db), "--progress", "jsonl"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "captured" in line:                      # the audit row exists and the probes are being fed
            break
    else:
        proc.wait()
        pytest.fail("the audit ended before it was killed: " + "".join(seen[-5:]))
    live = statuses(db)                             # a concurrent open while the audit process is alive
    proc.kill()                                     # SIGKILL: no handler runs, nothing is recorded
    before = raw(db, "SELECT status FROM audits")   # read while the killed process is not yet reaped
    after = statuses(db)
    proc.wait()
    (audit_id,) = after
    return {"db": db, "id": audit_id, "pid": proc.pid, "live": live, "before": before, "after": after}


def test_a_killed_audit_is_marked_interrupted_by_the_next_command(killed):
    assert killed["live"] == {killed["id"]: "running"}
    assert killed["before"] == [("running",)]
    assert killed["after"] == {killed["id"]: "interrupted"}
    data = shown(killed["db"], killed["id"])
    assert data["status"] == "interrupted" and data["verdict"] is None and data["fingerprint"] is None
    assert data["error"] == "the process running it stopped (killed or the machine restarted); run the audit again"
    assert [e["kind"] for e in data["events"]] == ["created", "interrupted"]
    assert data["events"][-1]["detail"]["reason"] == f"process {killed['pid']} is gone"
    text = run_cli("show", killed["id"], "--db", str(killed["db"])).stdout
    assert "status: interrupted" in text and f"Error: {lease.INTERRUPTED}" in text


def test_a_report_of_an_interrupted_audit_is_only_a_draft_and_never_verifies(killed, tmp_path):
    from pypdf import PdfReader

    db, audit_id = str(killed["db"]), killed["id"]
    refused = run_cli("report", audit_id, "--db", db, "--out", str(tmp_path / "final.pdf"))
    assert refused.returncode == 2 and not (tmp_path / "final.pdf").exists()
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"audit {audit_id} is interrupted, not completed" in refused.stderr and "--draft" in refused.stderr

    pdf = tmp_path / "draft.pdf"
    made = run_cli("report", audit_id, "--db", db, "--out", str(pdf), "--draft")
    assert made.returncode == 0, made.stderr
    pages = ["".join((p.extract_text() or "").split()) for p in PdfReader(str(pdf)).pages]
    assert len(pages) > 1 and all("DRAFT:notafinalreport;theauditisinterrupted" in p for p in pages)
    assert PdfReader(str(pdf)).metadata["/AuditorDraft"] == "true"
    for args in ((), ("--db", db)):
        checked = run_cli("verify-report", str(pdf), *args)
        assert checked.returncode == 1, checked.stdout
        assert "Result:    NOT A FINAL REPORT: a draft, or a report of an audit that did not complete" in checked.stdout
        assert "everything matches" not in checked.stdout


def test_a_draft_never_verifies_even_of_a_completed_audit(tmp_path, capsys):
    from argparse import Namespace

    from reports.commands import build_report, cmd_verify_report

    db = tmp_path / "audits.db"
    audit_id = make_audit(db)
    final = build_report(audit_id, tmp_path / "final.pdf", kind="board", db=str(db))
    draft = build_report(audit_id, tmp_path / "draft.pdf", kind="board", db=str(db), draft=True)
    assert cmd_verify_report(Namespace(pdf=str(final), db=str(db))) == 0
    assert "everything matches" in capsys.readouterr().out
    assert cmd_verify_report(Namespace(pdf=str(draft), db=str(db))) == 1
    out = capsys.readouterr().out
    assert "MISMATCH  the report is marked DRAFT" in out and "NOT A FINAL REPORT" in out
