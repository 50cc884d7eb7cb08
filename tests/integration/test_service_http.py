"""The audit service over real HTTP: `auditor serve` (uvicorn, its worker processes) on a free loopback port,
urllib as the client, identities and tokens in a temporary folder, the tiny BERT as the model.

Every server is started in its own process group and killed in `finally`; every wait is bounded.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUDITOR, run_cli

PASS = "correct horse battery"
PEOPLE = {"P. Preparer": "preparer", "R. Reviewer": "reviewer", "A. Approver": "approver"}
START_S = 90          # a server answers /v1/health within this
AUDIT_S = 240         # a tiny-BERT audit ends within this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`auditor serve` in its own process group (under `strace` when `trace` names a log of its connect() and
    bind() calls, its workers' and their audits' included); `stop()` ends it and the workers it started."""

    def __init__(self, db: Path, logs: Path, *extra: str, trace: Path | None = None) -> None:
        self.db, self.port, self.trace = db, free_port(), trace
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"serve-{self.port}.log"
        command = [AUDITOR, "serve", "--port", str(self.port), "--db", str(db), *extra]
        if trace is not None:
            command = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "trace=connect,bind", "-e", "signal=none",
                       "-o", str(trace), *command]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, url: str | None = None, context: ssl.SSLContext | None = None) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(f"{url or self.url}/v1/health", timeout=2, context=context) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not answer in {START_S} s:\n{self.log.read_text()}")

    def processes(self) -> dict[int, list[bytes]]:
        """PID -> command line of the server, its workers and their audits (their command lines name the
        database; the workers run in sessions of their own), strace left out."""
        found = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.proc.pid:
                try:
                    cmd = (entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if str(self.db).encode() in cmd and Path(cmd[0].decode(errors="replace")).name != "strace":
                    found[int(entry.name)] = cmd
        return found

    def workers(self) -> list[int]:
        return [pid for pid, cmd in self.processes().items() if b"serve" not in cmd]

    def stop(self) -> None:
        serve = [pid for pid, cmd in self.processes().items() if b"serve" in cmd]
        for pid in serve if self.trace is not None else [self.proc.pid]:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for pid in self.processes():    # left behind only when the server was killed and they failed to follow
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def call(method: str, url: str, token: str | None = None, body: Any = None,
         context: ssl.SSLContext | None = None) -> tuple[int, Any, bytes]:
    """(status, headers, body bytes) of one request; an HTTP error status is returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120, context=context) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def jcall(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    status, _, raw = call(method, url, token, body)
    return status, json.loads(raw)


def events(url: str, token: str, limit_s: float = AUDIT_S) -> list[tuple[str, dict[str, Any], float]]:
    """Every (event, data, seconds since the call) of an SSE stream until the server closes it."""
    start = time.monotonic()
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}",
                                                   "Accept": "text/event-stream"})
    out, name, data = [], "message", []
    with urllib.request.urlopen(request, timeout=limit_s) as answer:
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        for raw in answer:
            assert time.monotonic() - start < limit_s, out[-3:]
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    out.append((name, json.loads("\n".join(data)), time.monotonic() - start))
                name, data = "message", []
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_bert):
    """Identities (a preparer, a reviewer, an approver), one database with a token each, and a request."""
    root = tmp_path_factory.mktemp("service-http")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(root / "ids"))
        for name in ("AUDITOR_DB", "AUDITOR_SERVER", "AUDITOR_TOKEN", "AUDITOR_PASSPHRASE"):
            mp.delenv(name, raising=False)
        from auditor import api
        from auditor.identity import create_identity
        from auditor.service.tokens import create_token
        from tests.fixtures.templates import no_minimum

        for name, role in PEOPLE.items():
            create_identity(name, role, passphrase=PASS)
        db = root / "audits.db"
        api.create_database(str(db))
        tokens = {role: create_token(str(db), name)[1] for name, role in PEOPLE.items()}
        quick = {"model": str(tiny_bert), "template": no_minimum("quick"), "limit": 12, "name": "tiny-bert",
                 "model_version": "1"}
        # long enough to be cancelled or killed mid-run: every probe, one at a time
        slow = {"model": str(tiny_bert), "template": no_minimum("standard"), "batch_size": 1, "name": "tiny-bert",
                "model_version": "2"}
        yield {"root": root, "db": db, "tokens": tokens, "quick": quick, "slow": slow}


@pytest.fixture(scope="module")
def server(setup):
    """The module's server, traced (strace) for test_the_service_opened_no_outside_connection."""
    trace = setup["root"] / "connect.log" if shutil.which("strace") else None
    srv = Server(setup["db"], setup["root"], "--workers", "1", trace=trace)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_health_needs_no_token_and_the_api_needs_one(server, setup):
    status, data = jcall("GET", f"{server.url}/v1/health")
    assert status == 200 and data["status"] == "ok" and data["api"] == "v1"
    status, spec = jcall("GET", f"{server.url}/v1/openapi.json")
    assert status == 200 and "/v1/audits/{audit_id}/signoffs" in spec["paths"]
    status, headers, raw = call("GET", f"{server.url}/v1/audits")
    error = json.loads(raw)["error"]
    assert status == 401 and error["code"] == "unauthorized" and headers["WWW-Authenticate"].startswith("Bearer")
    assert error["message"].startswith("this request needs an API token")
    status, data = jcall("GET", f"{server.url}/v1/audits", token="aud_T-00000000_" + "x" * 43)
    assert status == 401 and data["error"]["message"].startswith("the API token is not valid")
    status, data = jcall("GET", f"{server.url}/v1/audits/nope", token=setup["tokens"]["reviewer"])
    assert status == 404 and data["error"]["message"].startswith("no audit with ID nope")
    assert jcall("GET", f"{server.url}/v1/jobs/J-000000000000", setup["tokens"]["reviewer"])[0] == 404
    # bad input: the CLI's line (400), or a body the API does not take (422)
    cli = run_cli("audit", "/nonexistent/model", "--db", str(setup["db"]))
    status, data = jcall("POST", f"{server.url}/v1/audits", setup["tokens"]["preparer"], {"model": "/nonexistent/model"})
    assert status == 400 and f"auditor: {data['error']['message']}" == cli.stderr.strip() and cli.returncode == 2
    status, data = jcall("POST", f"{server.url}/v1/audits", setup["tokens"]["preparer"], {"model": "x", "colour": 1})
    assert status == 422 and data["error"]["code"] == "invalid_request" and "colour" in data["error"]["message"]


def test_submit_follow_and_show_as_the_cli(server, setup):
    token = setup["tokens"]["preparer"]
    started = time.monotonic()
    status, job = jcall("POST", f"{server.url}/v1/audits", token, setup["quick"])
    assert status == 202, job
    assert job["id"].startswith("J-") and job["status"] == "queued" and job["submitted_by"] == "P. Preparer"
    assert job["links"]["progress"] == f"/v1/audits/{job['id']}/progress"
    opened = time.monotonic()
    stream = events(server.url + job["links"]["progress"], token)
    first = opened - started + next(t for name, _, t in stream if name == "progress")
    print(f"\nsubmit -> first progress event: {first:.2f} s; -> end: {opened - started + stream[-1][2]:.2f} s")
    progress = [data for name, data, _ in stream if name == "progress"]
    assert progress and all(set(p) >= {"event", "fraction", "message", "key", "params"} for p in progress)
    assert [p["fraction"] for p in progress] == sorted(p["fraction"] for p in progress)
    name, end, _ = stream[-1]
    assert name == "end" and end["status"] == "completed" and end["exit_code"] == 0, end
    audit_id = end["audit_id"]
    shown = run_cli("show", audit_id, "--json", "--db", str(setup["db"]))
    assert shown.returncode == 0, shown.stderr
    status, served = jcall("GET", f"{server.url}/v1/audits/{audit_id}", token)
    assert status == 200 and served == json.loads(shown.stdout)
    assert served["meta"]["preparer"] == "P. Preparer"
    assert jcall("GET", f"{server.url}/v1/audits/{job['id']}", token)[1] == served     # the job names its audit
    listed = jcall("GET", f"{server.url}/v1/audits?status=completed&name=TINY", token)[1]
    assert [a["audit_id"] for a in listed["audits"]] == [audit_id]
    models = jcall("GET", f"{server.url}/v1/models", token)[1]["models"]
    assert [(m["name"], m["latest_audit"]["audit_id"], m["audits"]) for m in models] == [("tiny-bert", audit_id, 1)]
    compared = run_cli("compare", audit_id, audit_id, "--json", "--db", str(setup["db"]))
    assert jcall("GET", f"{server.url}/v1/compare?a={audit_id}&b={job['id']}", token)[1] == json.loads(compared.stdout)
    setup["audit_id"] = audit_id


def _signoff(setup: dict[str, Any], identity: str, role: str, decision: str | None = None) -> dict[str, Any]:
    from auditor.identity import load_identity
    from auditor.service.statements import make_statement, signed_request

    shown = json.loads(run_cli("show", setup["audit_id"], "--json", "--db", str(setup["db"])).stdout)
    statement = make_statement(shown["audit_id"], shown["fingerprint"], role, decision, "read the findings")
    return signed_request(load_identity(identity, PASS), statement)


def test_signoffs_follow_the_policy_and_the_duties_rules(server, setup):
    url = f"{server.url}/v1/audits/{setup['audit_id']}/signoffs"
    tokens = setup["tokens"]
    # a preparer token signing as a reviewer, or approving: the duties rules refuse (403, their sentence)
    status, data = jcall("POST", url, tokens["preparer"], _signoff(setup, "P. Preparer", "reviewer"))
    assert status == 403 and data["error"]["key"] == "duties.role_mismatch", data
    assert data["error"]["message"] == "identity P. Preparer is a preparer in its certificate; it cannot sign as reviewer"
    status, data = jcall("POST", url, tokens["preparer"], _signoff(setup, "P. Preparer", "approver", "approve"))
    assert status == 403 and data["error"]["code"] == "forbidden"
    # someone else's signed statement under my token, and a statement changed after it was signed
    status, data = jcall("POST", url, tokens["reviewer"], _signoff(setup, "P. Preparer", "preparer"))
    assert status == 403 and data["error"]["key"] == "service.api.statement.not_yours", data
    tampered = _signoff(setup, "P. Preparer", "preparer")
    tampered["statement"]["decision"] = "approve"
    status, data = jcall("POST", url, tokens["preparer"], tampered)
    assert status == 403 and data["error"]["key"] == "service.api.statement.bad_signature", data
    # the preparer's own statement is recorded, once
    body = _signoff(setup, "P. Preparer", "preparer")
    status, data = jcall("POST", url, tokens["preparer"], body)
    assert status == 201 and (data["role"], data["name"]) == ("preparer", "P. Preparer"), data
    assert jcall("POST", url, tokens["preparer"], body)[0] == 409
    shown = jcall("GET", f"{server.url}/v1/audits/{setup['audit_id']}", tokens["reviewer"])[1]
    assert [(s["role"], s["name"]) for s in shown["signoffs"]] == [("preparer", "P. Preparer")]
    from auditor import api
    from auditor.store import open_db

    handle = open_db(setup["db"], read_only=True)
    try:
        event = handle.execute("SELECT actor, detail_json FROM events WHERE kind = 'signed'").fetchall()
    finally:
        handle.conn.close()
    detail = json.loads(event[0][1])
    assert event[0][0] == "P. Preparer" and detail["statement_signature"] == body["signature"]
    from auditor.identity import identity_cert, verify_signature
    from auditor.service.statements import statement_bytes

    # the statement kept in the chain still verifies with the person's certificate
    assert verify_signature(identity_cert("P. Preparer"), statement_bytes(detail["statement"]),
                            base64.b64decode(detail["statement_signature"]))
    verified = api.verify_audit(setup["audit_id"], str(setup["db"]))
    assert verified.ok and verified.checked["statements"] == 1, verified.problems
    _forged_signoffs_fail_verify(setup["db"], setup["audit_id"], detail, setup["root"])


def _forged_signoffs_fail_verify(db: Path, audit_id: str, detail: dict, folder: Path) -> None:
    """A service whose machine key is misused records sign-offs its signature vouches for, but the people's
    own signatures inside do not: `auditor verify` finds each (on a copy: other tests share the database)."""
    import sqlite3

    from auditor import api
    from auditor.store import open_db

    cases = {   # what the forged event claims -> the problem verify must name
        "decision": ({**detail, "decision": "approve", "role": "preparer"}, "verify.statement.mismatch"),
        "signature": ({**detail, "statement": {**detail["statement"], "decision": "approve"},
                       "decision": "approve"}, "verify.statement.signature"),
        "role": ({**detail, "role": "approver"}, "verify.statement.mismatch"),
        "certificate": ({**detail, "statement_certificate": "0" * 64}, "verify.statement.no_certificate"),
    }
    for case, (forged, key) in cases.items():
        copy = folder / f"forged-{case}.db"
        with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        handle = open_db(str(copy))
        try:
            api.add_event(handle, audit_id, "signed", forged, actor=forged["name"])
        finally:
            handle.conn.close()
        result = api.verify_audit(audit_id, str(copy))
        assert not result.ok and [p.key for p in result.problems] == [key], (case, result.problems)
        if key == "verify.statement.mismatch":
            assert result.problems[0].params["field"] == case


def test_a_statement_is_refused_when_stale_malformed_or_under_another_certificate(setup):
    """The checks of auditor.service.statements that need no server."""
    from datetime import datetime, timedelta, timezone

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from auditor.identity import identity_cert, load_identity
    from auditor.identity.certs import build_certificate
    from auditor.identity.signer import signer_for
    from auditor.service.statements import StatementRefused, make_statement, signed_request, verify_request

    registered = identity_cert("P. Preparer")
    signer = load_identity("P. Preparer", PASS)

    def refusal(body: dict[str, Any]) -> tuple[int, str]:
        with pytest.raises(StatementRefused) as caught:
            verify_request(body, "P. Preparer", registered)
        return caught.value.status, caught.value.message.key

    fresh = make_statement("A-1", "f" * 64, "preparer")
    assert verify_request(signed_request(signer, fresh), "P. Preparer", registered)[0] == fresh
    old = make_statement("A-1", "f" * 64, "preparer", at=datetime.now(timezone.utc) - timedelta(minutes=20))
    assert refusal(signed_request(signer, old)) == (400, "service.api.statement.stale")
    assert refusal(signed_request(signer, {**fresh, "extra": 1})) == (400, "service.api.statement.fields")
    assert refusal({**signed_request(signer, fresh), "signature": "not base64!"}) == \
        (400, "service.api.statement.no_signature")
    # a key and certificate made elsewhere under the same name: the signature verifies, the certificate is not hers
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build_certificate(key, name="P. Preparer", role="preparer", org=None)
    impostor = signer_for(key, cert.public_bytes(serialization.Encoding.PEM).decode())
    assert refusal(signed_request(impostor, fresh)) == (403, "service.api.statement.not_registered")


def test_assignment_and_report_are_recorded_with_the_caller(server, setup):
    token = setup["tokens"]["reviewer"]
    shown = jcall("GET", f"{server.url}/v1/audits/{setup['audit_id']}", token)[1]
    finding = shown["findings"][0]["id"]
    status, data = jcall("POST", f"{server.url}/v1/audits/{setup['audit_id']}/assignments", token,
                         {"finding_id": finding, "owner": "M. Owner", "due": "2031-03-31"})
    assert status == 201 and (data["owner"], data["due"]) == ("M. Owner", "2031-03-31"), data
    status, data = jcall("POST", f"{server.url}/v1/audits/{setup['audit_id']}/assignments", token,
                         {"finding_id": finding, "due": "31/03/2031"})
    assert status == 400 and data["error"]["message"] == "--due must be a date written YYYY-MM-DD, not '31/03/2031'"
    status, headers, pdf = call("GET", f"{server.url}/v1/audits/{setup['audit_id']}/report?kind=board&lang=ja",
                                token)
    assert status == 200 and headers["Content-Type"] == "application/pdf" and pdf.startswith(b"%PDF")
    assert jcall("GET", f"{server.url}/v1/audits/{setup['audit_id']}/report?kind=poster", token)[0] == 422
    from auditor.store import open_db

    handle = open_db(setup["db"], read_only=True)
    try:
        actors = dict(handle.execute("SELECT kind, actor FROM events WHERE kind IN ('assigned', 'report.served', "
                                     "'job.submitted')").fetchall())
    finally:
        handle.conn.close()
    assert actors == {"assigned": "R. Reviewer", "report.served": "R. Reviewer", "job.submitted": "P. Preparer"}


def wait_for_audit(url: str, job_id: str, token: str) -> str:
    """The job's audit ID once its worker has stored the audit (running)."""
    deadline = time.monotonic() + AUDIT_S
    while not (audit_id := jcall("GET", f"{url}/v1/jobs/{job_id}", token)[1]["audit_id"]):
        assert time.monotonic() < deadline, "the audit did not start"
        time.sleep(0.2)
    return audit_id


def test_cancel_a_queued_and_a_running_audit(server, setup):
    tokens = setup["tokens"]
    slow = jcall("POST", f"{server.url}/v1/audits", tokens["preparer"], setup["slow"])[1]
    queued = jcall("POST", f"{server.url}/v1/audits", tokens["preparer"], setup["quick"])[1]
    status, data = jcall("POST", f"{server.url}/v1/audits/{queued['id']}/cancel", tokens["reviewer"])
    assert status == 403 and data["error"]["key"] == "service.api.cancel_not_yours"
    status, data = jcall("POST", f"{server.url}/v1/audits/{queued['id']}/cancel", tokens["preparer"])
    assert status == 200 and data["status"] == "cancelled" and data["audit_id"] is None, data
    # the running one: cancelled once its audit is stored as running
    wait_for_audit(server.url, slow["id"], tokens["preparer"])
    status, data = jcall("POST", f"{server.url}/v1/audits/{slow['id']}/cancel", tokens["preparer"])
    assert status == 200 and data["cancel_requested"] is True, data
    name, end, _ = events(f"{server.url}/v1/audits/{slow['id']}/progress", tokens["preparer"])[-1]
    assert name == "end" and end["status"] == "cancelled", end
    audit = jcall("GET", f"{server.url}/v1/audits/{end['audit_id']}", tokens["preparer"])[1]
    assert audit["status"] == "cancelled"


def test_the_service_opened_no_outside_connection(server):
    """The offline rule (tests/integration/test_offline.py), for the server, its workers and their audits over
    every request of the tests above: no connect() to an address other than loopback."""
    if server.trace is None:
        pytest.fail("strace is not installed: `make setup` installs it (or: apt-get install strace)")
    lines = server.trace.read_text(errors="replace").splitlines()
    assert any(f"htons({server.port})" in line and "bind(" in line for line in lines), lines[:5]   # it traced
    inet = re.compile(r"sa_family=AF_INET6?\b")
    loopback = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "(::1|::ffff:127\.)')
    outside = [line for line in lines if "connect(" in line and inet.search(line) and not loopback.search(line)]
    assert not outside, "\n".join(outside[:5])


@pytest.mark.parametrize("crash", ["server", "everything"])
def test_a_killed_server_leaves_no_job_running_and_no_audit_completed(setup, crash):
    """kill -9 of the server mid-audit (`server`: its workers see it go and stop their audits; `everything`:
    the server, its workers and the audit at once, as a power cut): after the next start the job is
    interrupted and its audit is not completed."""
    from auditor.service.tokens import create_token

    db = setup["root"] / f"restart-{crash}.db"
    token = create_token(str(db), "P. Preparer")[1]
    first = Server(db, setup["root"], "--workers", "1")
    second = None
    try:
        first.wait_ready()
        job = jcall("POST", f"{first.url}/v1/audits", token, setup["slow"])[1]
        wait_for_audit(first.url, job["id"], token)
        for pid in [first.proc.pid, *(first.workers() if crash == "everything" else [])]:
            os.kill(pid, signal.SIGKILL)
        first.proc.wait(timeout=10)
        deadline = time.monotonic() + 30       # its workers and their audit follow it
        while first.workers():
            assert time.monotonic() < deadline, f"still running after the server was killed: {first.workers()}"
            time.sleep(0.2)
        second = Server(db, setup["root"], "--workers", "1")
        second.wait_ready()
        data = jcall("GET", f"{second.url}/v1/jobs/{job['id']}", token)[1]
        assert data["status"] == "interrupted" and data["audit_id"], data
        time.sleep(2)      # nothing left of the old run completes it afterwards
        audit = jcall("GET", f"{second.url}/v1/audits/{data['audit_id']}", token)[1]
        assert audit["status"] == "interrupted", audit["status"]
        if crash == "everything":       # nobody was left to mark it: the restart did
            assert f"marked interrupted: {job['id']}" in second.log.read_text()
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_network_address_needs_tls(setup, tmp_path):
    """A non-loopback host without TLS is refused in one line (exit 2); over TLS the API answers on https."""
    result = run_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--db", str(tmp_path / "a.db"))
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr.startswith("auditor: --host 0.0.0.0 is reachable from the network")
    assert len(result.stderr.splitlines()) == 1 and "--insecure-http" in result.stderr

    cert, key = _self_signed(tmp_path)
    srv = Server(tmp_path / "tls.db", tmp_path, "--workers", "1", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        context = ssl.create_default_context(cafile=str(cert))
        srv.wait_ready(f"https://127.0.0.1:{srv.port}", context)
        status, _, raw = call("GET", f"https://127.0.0.1:{srv.port}/v1/audits", context=context)
        assert status == 401 and json.loads(raw)["error"]["code"] == "unauthorized"
    finally:
        srv.stop()


def test_insecure_http_is_a_warning_not_a_refusal(capsys):
    from auditor.errors import BadInput
    from auditor.service.app import _check_host

    with pytest.raises(BadInput):
        _check_host("10.1.2.3", tls=False, insecure=False)
    _check_host("10.1.2.3", tls=False, insecure=True)
    _check_host("::1", tls=False, insecure=False)
    assert capsys.readouterr().err.startswith("auditor: warning: serving plain HTTP on 10.1.2.3")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from datetime import datetime, timedelta, timezone
    from ipaddress import ip_address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_failed_authentication_is_rate_limited(setup):
    """After 10 failures in a minute the address gets 429 with Retry-After, even with a good token (an app of
    its own under uvicorn in a thread, so the other tests' address is not limited)."""
    import threading

    import uvicorn

    from auditor.service.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(str(setup["db"]), None), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/v1/jobs"
        assert [call("GET", url, "aud_T-00000000_" + "y" * 43)[0] for _ in range(10)] == [401] * 10
        status, headers, raw = call("GET", url, setup["tokens"]["reviewer"])
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
        assert json.loads(raw)["error"]["message"].startswith("too many failed authentications from 127.0.0.1")
        assert call("GET", f"http://127.0.0.1:{port}/v1/health")[0] == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":   # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
