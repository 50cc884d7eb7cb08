"""Signed PDF reports through a real `auditor serve` (the fixture of test_client_cli), the signer's key
staying on the client: `auditor --server URL report ID --sign IDENTITY` writes a PAdES-signed PDF that
pdfsig and `auditor verify-report --db <the server's database>` accept, recorded as `reported` with the
person as actor; the server refuses another person's key, a file changed by one byte, a report it did
not prepare, a second upload, a report of an audit re-evaluated since, and a draft (the local sentence).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_client_cli import one_line_exit_2, run, service  # noqa: F401  (the served database)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("pdfsig"), reason="poppler's pdfsig is missing")]


@pytest.fixture(scope="module")
def audit_id(service):  # noqa: F811
    """One completed tiny-BERT audit in the served database (run by the local CLI on that database)."""
    done = run("audit", service["model"], "--template", service["template"], "--limit", "12", "--seed", "3",
               "--json", "--db", str(service["db"]), env=service["env"])
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return json.loads(done.stdout)["audit_id"]


def _api(service, method: str, path: str, body: dict) -> tuple[int, dict]:  # noqa: F811
    request = urllib.request.Request(service["url"] + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {service['token']}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _reported(db: Path) -> list[tuple[str, dict]]:
    with sqlite3.connect(db) as conn:
        return [(actor, json.loads(d)) for actor, d in
                conn.execute("SELECT actor, detail_json FROM events WHERE kind = 'reported' ORDER BY id")]


def _signed_here(service, audit_id: str, monkeypatch) -> bytes:  # noqa: F811
    """A report the server prepared for P. Prep, signed in this process with P. Prep's key (as the client does)."""
    from auditor.identity import load_identity
    from reports.commands import sign_rendered
    from reports.signature_block import SignatureBlock

    for key in ("AUDITOR_IDENTITY_DIR", "AUDITOR_PASSPHRASE"):
        monkeypatch.setenv(key, service["env"][key])
    signer = load_identity("P. Prep")
    status, answer = _api(service, "POST", f"/v1/audits/{audit_id}/report/to-sign",
                          {"kind": "board", "certificate": signer.cert_pem})
    assert status == 200, answer
    b = answer["signature_block"]
    assert b["fingerprint"] == signer.fingerprint and b["name"] == "P. Prep"
    from datetime import datetime

    block = SignatureBlock(b["name"], b["role"], b["org"], b["fingerprint"],
                           datetime.fromisoformat(b["at"].replace("Z", "+00:00")), b["page"], tuple(b["box"]))
    pdf = service["base"] / f"here-{len(list(service['base'].glob('here-*')))}.pdf"
    pdf.write_bytes(base64.b64decode(answer["pdf"]))
    sign_rendered(pdf, signer, block)
    return pdf.read_bytes()


def _upload(service, audit_id: str, raw: bytes) -> tuple[int, dict]:  # noqa: F811
    return _api(service, "POST", f"/v1/audits/{audit_id}/reports",
                {"pdf": base64.b64encode(raw).decode("ascii"), "file": "board.pdf"})


def test_the_client_signs_the_report_and_the_server_records_it(service, audit_id):  # noqa: F811
    env, db = service["env"], service["db"]
    out = service["base"] / "signed" / "board.pdf"
    made = run(*service["remote"], "report", audit_id, "--kind", "board", "--out", str(out), "--sign", "P. Prep",
               env=env)
    assert made.returncode == 0, made.stderr
    local_out = service["base"] / "signed" / "local.pdf"
    local = run("report", audit_id, "--kind", "board", "--out", str(local_out), "--sign", "P. Prep", "--db", str(db),
                env=env)
    assert local.returncode == 0, local.stderr
    # the same lines as the local command, but for the file name and the digest
    heads = [line.split(":")[0] for line in made.stdout.splitlines()]
    assert heads == [line.split(":")[0] for line in local.stdout.splitlines()] == \
        ["Report", "Report ID", "Fingerprint", "PDF SHA-256", "Signed"]
    assert made.stdout.splitlines()[-1].startswith("Signed:      P. Prep (preparer) at ")
    raw = out.read_bytes()
    assert not list(out.parent.glob(".*.part")) and not list(out.parent.glob("*.signing"))
    sig = subprocess.run(["pdfsig", "-nocert", str(out)], capture_output=True, text=True).stdout
    assert "Signature #1" in sig and "Signature #2" not in sig, sig
    assert "Signature is Valid." in sig and "Total document signed" in sig and "CN=P. Prep" in sig, sig
    checked = run("verify-report", str(out), "--db", str(db), env=env)
    assert checked.returncode == 0, checked.stdout
    assert "SIGNED    signed by P. Prep, role preparer, at " in checked.stdout
    assert "OK        the audit's history records this report as signed by the same certificate" in checked.stdout
    assert "Result:    everything matches" in checked.stdout
    fpr = re.search(r"certificate SHA-256 ([0-9a-f]{64})", made.stdout).group(1)
    actor, detail = next(e for e in _reported(db) if e[1]["pdf_sha256"] == hashlib.sha256(raw).hexdigest())
    assert actor == "P. Prep" and detail["via"] == "service" and detail["file"] == "board.pdf"
    assert detail["signed_by"] == {"name": "P. Prep", "role": "preparer", "fingerprint": fpr}
    assert (detail["kind"], detail["lang"]) == ("board", "en") and detail["signed_at"].endswith("Z")
    again = _upload(service, audit_id, raw)
    assert again[0] == 409 and "already recorded" in again[1]["error"]["message"], again
    # a report signed by the right person but not prepared by this server is not recorded
    foreign = _upload(service, audit_id, local_out.read_bytes())
    assert foreign[0] == 403 and "not a report the server prepared" in foreign[1]["error"]["message"], foreign


def test_a_token_of_one_person_with_another_persons_key_is_refused(service, audit_id):  # noqa: F811
    env = service["env"]
    made = run("identity", "create", "--name", "R. Rev", "--role", "reviewer", env=env)
    assert made.returncode == 0, made.stderr
    before = len(_reported(service["db"]))
    out = service["base"] / "other" / "board.pdf"
    refused = run(*service["remote"], "report", audit_id, "--out", str(out), "--sign", "R. Rev", env=env)
    one_line_exit_2(refused, "the certificate is R. Rev's, but the API token is P. Prep's")
    assert not out.exists() and len(_reported(service["db"])) == before


def test_a_signed_report_changed_by_one_byte_is_refused(service, audit_id, monkeypatch):  # noqa: F811
    raw = bytearray(_signed_here(service, audit_id, monkeypatch))
    a, la, b, lb = map(int, re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", raw).groups())
    offset = raw.rindex(rb"/AuditorReportId (R\055") + len(rb"/AuditorReportId (R\055")
    assert a <= offset < a + la and b + lb == len(raw)     # inside the signed range
    raw[offset] = ord("7") if raw[offset] != ord("7") else ord("8")
    before = len(_reported(service["db"]))
    status, answer = _upload(service, audit_id, bytes(raw))
    assert status == 403 and "does not verify over the whole file" in answer["error"]["message"], answer
    assert len(_reported(service["db"])) == before


def test_a_draft_is_never_signed_with_the_local_sentence(service, audit_id):  # noqa: F811
    env = service["env"]
    out = service["base"] / "draft" / "board.pdf"
    remote = run(*service["remote"], "report", audit_id, "--out", str(out), "--draft", "--sign", "P. Prep", env=env)
    local = run("report", audit_id, "--out", str(out), "--draft", "--sign", "P. Prep", "--db", str(service["db"]),
                env=env)
    one_line_exit_2(remote, "--sign: a draft is never signed; sign the report of a completed audit")
    assert remote.stderr == local.stderr and not out.exists()


def test_a_report_of_an_audit_re_evaluated_since_is_refused(service, audit_id, monkeypatch):  # noqa: F811
    # last in this module: it adds an evaluation to the shared audit
    raw = _signed_here(service, audit_id, monkeypatch)
    again = run("reevaluate", audit_id, "--template", service["template"], "--db", str(service["db"]),
                env=service["env"])
    assert again.returncode in (0, 1), again.stderr
    status, answer = _upload(service, audit_id, raw)
    assert status == 409 and "has changed since the report was prepared" in answer["error"]["message"], answer
