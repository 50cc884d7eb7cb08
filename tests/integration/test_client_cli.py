"""`auditor --server URL --token T ...` against a real `auditor serve` on a free loopback port: the same
output and exit codes as the local CLI on the server's database (list, show, audit, report, sign,
compare), one line and exit 2 for a bad token, a server that is down and an unknown audit, and the
token in no output. The server runs in its own process group and is stopped in `finally`; every wait
is bounded.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import AUDITOR, ROOT

pytestmark = pytest.mark.slow

PASS = "client test passphrase"
START_S = 90
RUN_S = 300           # one CLI call, a tiny-BERT audit included
# the compare route is auditor/service/routes_compare.py; it answers once create_app includes its router
COMPARE_ROUTED = "routes_compare" in (ROOT / "auditor" / "service" / "app.py").read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([AUDITOR, *args], capture_output=True, text=True, env=env, timeout=RUN_S)


def one_line_exit_2(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("auditor: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A served database with a preparer's token, the tiny BERT and the quick template without its minimum."""
    from tests.fixtures.templates import no_minimum
    from tests.fixtures.torch_models import make_tiny_bert

    base = tmp_path_factory.mktemp("client")
    env = {k: v for k, v in os.environ.items() if k not in ("AUDITOR_SERVER", "AUDITOR_TOKEN", "AUDITOR_DB")}
    env.update(AUDITOR_IDENTITY_DIR=str(base / "ids"), AUDITOR_PASSPHRASE=PASS)
    db = base / "audits.db"
    created = run("identity", "create", "--name", "P. Prep", "--role", "preparer", env=env)
    assert created.returncode == 0, created.stderr
    minted = run("token", "create", "P. Prep", "--db", str(db), env=env)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    port = free_port()
    log = base / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([AUDITOR, "serve", "--port", str(port), "--db", str(db), "--workers", "1"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{url}/v1/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield {"url": url, "token": token, "db": db, "env": env, "base": base,
               "model": str(make_tiny_bert(base / "bert")), "template": no_minimum("quick"),
               "remote": ["--server", url, "--token", token]}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def audits(service):
    """The same tiny-BERT audit run locally and through the service (--fail-on fail, progress as JSON lines)."""
    args = ["audit", service["model"], "--template", service["template"], "--limit", "12", "--seed", "3",
            "--progress", "jsonl", "--json", "--fail-on", "fail"]
    local = run(*args, "--db", str(service["db"]), env=service["env"])
    remote = run(*service["remote"], *args, env=service["env"])
    return local, remote


def test_audit_through_the_service_prints_and_exits_as_the_local_run(service, audits):
    local, remote = audits
    assert local.returncode in (0, 1), local.stderr
    assert remote.returncode == local.returncode, (remote.returncode, remote.stderr[-2000:])
    mine, theirs = json.loads(remote.stdout), json.loads(local.stdout)
    assert mine["audit_id"] != theirs["audit_id"] and mine["status"] == "completed"
    assert mine["verdict"] == theirs["verdict"]
    assert [(c["id"], c["status"]) for c in mine["checks"]] == [(c["id"], c["status"]) for c in theirs["checks"]]
    lines = [json.loads(line) for line in remote.stderr.splitlines() if line.startswith("{")]
    assert lines and all(line["event"] in ("progress", "finished") for line in lines)
    assert lines[-1] == {"event": "finished", "audit_id": mine["audit_id"]}
    assert [k for k in lines[0]] == ["event", "fraction", "message", "key", "params"]
    assert service["token"] not in remote.stdout + remote.stderr


def test_list_and_show_equal_the_local_commands(service, audits):
    env, remote, db = service["env"], service["remote"], str(service["db"])
    listed = run(*remote, "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == json.loads(run("list", "--json", "--db", db, env=env).stdout)
    audit_id = json.loads(audits[1].stdout)["audit_id"]
    shown = run(*remote, "show", audit_id, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == run("show", audit_id, "--json", "--db", db, env=env).stdout
    text = run(*remote, "show", audit_id, env=env)
    assert text.returncode == 0 and text.stdout.startswith(f"Audit {audit_id}  status: completed")
    assert f"Server:      {service['url']}" in text.stdout and db not in text.stdout
    table = run(*remote, "list", env=env)
    assert table.stdout.splitlines()[0].startswith("AUDIT ID") and audit_id in table.stdout
    assert service["token"] not in shown.stdout + text.stdout + table.stdout + listed.stderr


def test_report_downloads_the_pdf(service, audits):
    audit_id = json.loads(audits[1].stdout)["audit_id"]
    out = service["base"] / "out" / "board.pdf"
    done = run(*service["remote"], "report", audit_id, "--kind", "board", "--out", str(out), env=service["env"])
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Report:      {out} (board, en, ") and lines[2].startswith("Fingerprint: ")
    assert json.loads(audits[1].stdout)["fingerprint"] in lines[2]
    assert not list(out.parent.glob(".*.part"))
    refused = run(*service["remote"], "report", audit_id, "--out", str(out.with_suffix(".txt")), env=service["env"])
    one_line_exit_2(refused, "must end in .pdf")


def test_sign_is_signed_here_and_recorded_there(service, audits):
    env, remote = service["env"], service["remote"]
    audit_id = json.loads(audits[1].stdout)["audit_id"]
    one_line_exit_2(run(*remote, "sign", audit_id, "--role", "preparer", "--name", "P. Prep", env=env),
                    "--identity")
    signed = run(*remote, "sign", audit_id, "--role", "preparer", "--name", "P. Prep", "--identity", "P. Prep",
                 env=env)
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.startswith(f"Audit {audit_id} signed by P. Prep as preparer (fingerprint ")
    after = json.loads(run(*remote, "show", audit_id, "--json", env=env).stdout)
    assert [(s["name"], s["role"]) for s in after["signoffs"]] == [("P. Prep", "preparer")]
    one_line_exit_2(run(*remote, "sign", audit_id, "--role", "approver", "--name", "P. Prep",
                        "--identity", "P. Prep", env=env), "cannot sign as approver")


@pytest.mark.xfail(not COMPARE_ROUTED, strict=True, reason="create_app does not include routes_compare yet")
def test_compare_equals_the_local_command(service, audits):
    env, db = service["env"], str(service["db"])
    a, b = json.loads(audits[0].stdout)["audit_id"], json.loads(audits[1].stdout)["audit_id"]
    remote = run(*service["remote"], "compare", a, b, "--json", env=env)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == json.loads(run("compare", a, b, "--json", "--db", db, env=env).stdout)
    text = run(*service["remote"], "compare", a, b, env=env)
    assert text.stdout == run("compare", a, b, "--db", db, env=env).stdout


def test_refusals_are_one_line_and_exit_2(service):
    env, url = service["env"], service["url"]
    bad = run("--server", url, "--token", "aud_T-00000000_" + "x" * 43, "list", env=env)
    one_line_exit_2(bad, "token is not valid")
    one_line_exit_2(run("--server", url, "list", env=env), "--token T or $AUDITOR_TOKEN")
    one_line_exit_2(run(*service["remote"], "show", "no-such-audit", env=env), "no-such-audit")
    one_line_exit_2(run(*service["remote"], "list", "--db", str(service["db"]), env=env), "--db")
    one_line_exit_2(run(*service["remote"], "templates", env=env), "--server works with")
    missing = run(*service["remote"], "audit", str(service["base"] / "nothing-here"), env=env)
    one_line_exit_2(missing, "nothing-here")
    down = f"http://127.0.0.1:{free_port()}"
    gone = run("--server", down, "--token", service["token"], "list", env=env)
    one_line_exit_2(gone, f"cannot reach the audit server at {down}", "connection refused")
    from_env = run("list", "--json", env={**env, "AUDITOR_SERVER": url, "AUDITOR_TOKEN": service["token"]})
    assert from_env.returncode == 0 and "audits" in json.loads(from_env.stdout)
    for result in (bad, gone, from_env):
        assert service["token"] not in result.stdout + result.stderr
