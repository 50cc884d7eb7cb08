"""The cached show of a finished audit (auditor.service.cache) never outlives a change: a real `auditor serve`
on a free loopback port, a real tiny-BERT audit recorded by the CLI, then an assignment through the API and a
sign-off by another process (the CLI on the same database): the next GET shows each, and equals `auditor show
--json` at every step. A running audit is kept only while its process lives, and its end is seen."""
from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.integration.test_service_http import PASS, Server, jcall


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("service-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(root / "ids"))
        for name in ("AUDITOR_DB", "AUDITOR_SERVER", "AUDITOR_TOKEN", "AUDITOR_PASSPHRASE"):
            mp.delenv(name, raising=False)
        from auditor.identity import create_identity
        from auditor.service.tokens import create_token
        from tests.fixtures.templates import no_minimum

        create_identity("R. Reviewer", "reviewer", passphrase=PASS)
        db = root / "audits.db"
        done = run_cli("audit", str(tiny_bert), "--template", no_minimum("quick"), "--limit", "12", "--name",
                       "tiny-bert", "--json", db=db)
        assert done.returncode == 0, done.stderr
        token = create_token(str(db), "R. Reviewer")[1]
        srv = Server(db, root, "--workers", "1")
        try:
            srv.wait_ready()
            yield {"db": db, "url": srv.url, "token": token, "audit_id": json.loads(done.stdout)["audit_id"]}
        finally:
            srv.stop()


def _cli_show(db: Path, audit_id: str) -> dict[str, Any]:
    shown = run_cli("show", audit_id, "--json", db=db)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_a_cached_show_follows_an_assignment_and_another_process_s_sign_off(served):
    url, token, audit_id, db = served["url"], served["token"], served["audit_id"], served["db"]
    show = f"{url}/v1/audits/{audit_id}"
    first = jcall("GET", show, token)
    assert first[0] == 200 and first[1] == _cli_show(db, audit_id)
    assert jcall("GET", show, token) == first                  # the second one comes from the cache
    assert jcall("GET", f"{url}/v1/audits/{audit_id[:12]}", token) == first     # a prefix: the same object
    finding = first[1]["findings"][0]["id"]
    assert first[1]["findings"][0]["owner"] != "M. Owner"

    status, _ = jcall("POST", f"{show}/assignments", token, {"finding_id": finding, "owner": "M. Owner"})
    assert status == 201
    status, after = jcall("GET", show, token)
    assert status == 200 and after["findings"][0]["owner"] == "M. Owner", after["findings"][0]
    assert after == _cli_show(db, audit_id)

    # a sign-off written by another process (no request of this server saw it)
    signed = run_cli("sign", audit_id, "--role", "preparer", "--name", "P. Outside", db=db)
    assert signed.returncode == 0, signed.stderr
    status, after = jcall("GET", show, token)
    assert status == 200 and [(s["role"], s["name"]) for s in after["signoffs"]] == [("preparer", "P. Outside")]
    assert after == _cli_show(db, audit_id)
    assert after["events"][-1]["kind"] == "signed"


def _running_copy(db: Path, folder: Path, audit_id: str, held: dict[str, Any]) -> str:
    """A copy of the database where the audit is `running` under the lease `held`."""
    copy = folder / f"running-{len(list(folder.glob('*.db')))}.db"
    with contextlib.closing(sqlite3.connect(db)) as src, contextlib.closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
        with dst:
            dst.execute("UPDATE audits SET status = 'running', finished_at = NULL WHERE id = ?", [audit_id])
            dst.execute("UPDATE leases SET pid = ?, boot_id = ?, start_time = ?, pid_ns = ? WHERE audit_id = ?",
                        [held["pid"], held["boot_id"], held["start_time"], held["pid_ns"], audit_id])
    return str(copy)


def test_a_running_audit_is_kept_only_while_its_process_lives(served, tmp_path):
    from auditor.service.cache import ShowCache
    from auditor.store import lease, open_db, records

    audit_id, shows = served["audit_id"], ShowCache()
    # alive (this process holds the lease): the second show is a hit
    alive = _running_copy(served["db"], tmp_path, audit_id, lease.current())
    first = shows.show(alive, audit_id)
    assert json.loads(first)["status"] == "running" and shows.show(alive, audit_id) is first
    # its process is gone (no event says so yet): not answered from the cache; the usual path marks it interrupted
    child = subprocess.Popen(["true"])
    child.wait()
    with contextlib.closing(sqlite3.connect(alive)) as conn, conn:
        conn.execute("UPDATE leases SET pid = ? WHERE audit_id = ?", [child.pid, audit_id])
    assert json.loads(shows.show(alive, audit_id))["status"] == "interrupted"
    # the end of a run (its rows and its event) is seen at the next show
    ending = _running_copy(served["db"], tmp_path, audit_id, lease.current())
    assert json.loads(shows.show(ending, audit_id))["status"] == "running"
    handle = open_db(ending, must_exist=True)
    try:
        records.fail_audit(handle, audit_id, "out of memory")
    finally:
        handle.conn.close()
    after = json.loads(shows.show(ending, audit_id))
    assert (after["status"], after["error"]) == ("failed", "out of memory")
