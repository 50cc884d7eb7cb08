"""`auditor identity ...` and `auditor trust add` through the installed command: output lines, exit codes,
one-line refusals, and the signed events they record (identities in a temporary AUDITOR_IDENTITY_DIR)."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli

PASS = "correct horse battery"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """An identities folder with one approver and one reviewer, made through the CLI once, and an empty
    audit database."""
    root = tmp_path_factory.mktemp("identity-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(root / "ids"))
        mp.setenv("AUDITOR_PASSPHRASE", PASS)
        mp.delenv("AUDITOR_CA_PASSPHRASE", raising=False)
        created = run_cli("identity", "create", "--name", "A. Tanaka", "--role", "approver", "--org", "ACME")
        reviewer = run_cli("identity", "create", "--name", "B. Suzuki", "--role", "reviewer", "--json")
        db = root / "audits.db"
        from auditor import api

        api.create_database(str(db))
        yield {"root": root, "ids": root / "ids", "db": db, "created": created, "reviewer": reviewer}


def _events(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, kind, actor, detail_json, signer, signature FROM events ORDER BY id").fetchall()


def test_create_prints_name_role_and_fingerprint(home):
    created = home["created"]
    assert created.returncode == 0 and created.stderr == ""
    lines = created.stdout.splitlines()
    assert lines[0] == "Created identity A. Tanaka (approver, ACME)"
    assert lines[1].startswith("Fingerprint: ") and len(lines[1].split()[-1]) == 64
    assert lines[2].startswith("Certificate: self-signed, valid until ")
    assert PASS not in created.stdout
    data = json.loads(home["reviewer"].stdout)
    assert (data["name"], data["role"], data["org"], data["self_signed"]) == ("B. Suzuki", "reviewer", None, True)
    assert oct(os.stat(data["key_path"]).st_mode & 0o777) == "0o600"


def test_an_existing_name_and_a_bad_role_are_refused_in_one_line(home):
    again = run_cli("identity", "create", "--name", "A. Tanaka", "--role", "reviewer")
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.count("\n") == 1 and "an identity named A. Tanaka already exists" in again.stderr
    bad_role = run_cli("identity", "create", "--name", "X", "--role", "boss")
    assert bad_role.returncode == 2 and "invalid choice: 'boss'" in bad_role.stderr
    half_ca = run_cli("identity", "create", "--name", "X", "--role", "admin", "--ca-cert", "ca.pem")
    assert half_ca.returncode == 2 and "--ca-cert and --ca-key go together" in half_ca.stderr


def test_a_missing_passphrase_is_refused_without_a_terminal(home, monkeypatch):
    monkeypatch.delenv("AUDITOR_PASSPHRASE")
    result = run_cli("identity", "create", "--name", "C. Ito", "--role", "preparer", stdin=open(os.devnull))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "needs a passphrase: set AUDITOR_PASSPHRASE" in result.stderr
    assert not list(home["ids"].glob("c-ito*"))


def test_list_shows_every_identity_in_text_and_json(home):
    text = run_cli("identity", "list")
    assert text.returncode == 0
    header, *rows = text.stdout.splitlines()
    assert header.split() == ["NAME", "ROLE", "ORG", "FINGERPRINT", "EXPIRES"]
    assert rows[0].split()[:4] == ["A.", "Tanaka", "approver", "ACME"] and rows[1].split()[:3] == ["B.", "Suzuki",
                                                                                                  "reviewer"]
    data = json.loads(run_cli("identity", "list", "--json").stdout)
    assert [i["name"] for i in data["identities"]] == ["A. Tanaka", "B. Suzuki"]
    assert all(len(i["fingerprint"]) == 64 and i["has_key"] for i in data["identities"])


def test_export_cert_writes_the_public_certificate_only(home, tmp_path):
    out = tmp_path / "tanaka.pem"
    result = run_cli("identity", "export-cert", "A. Tanaka", "--out", str(out))
    assert result.returncode == 0 and result.stdout.startswith("Wrote the certificate of A. Tanaka (approver, ")
    text = out.read_text()
    assert text.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE" not in text
    missing = run_cli("identity", "export-cert", "Nobody", "--out", str(out))
    assert missing.returncode == 2 and "no identity named Nobody" in missing.stderr and "identity list" in missing.stderr


def test_trust_add_and_revoke_record_signed_events(home, tmp_path):
    cert = tmp_path / "suzuki.pem"
    assert run_cli("identity", "export-cert", "B. Suzuki", "--out", str(cert)).returncode == 0
    trusted = run_cli("trust", "add", str(cert), "--db", str(home["db"]))
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.startswith("Trusted title=reviewer,CN=B. Suzuki (individual certificate, fingerprint ")
    assert "signed by auditor machine key" in trusted.stdout
    revoked = run_cli("identity", "revoke", "B. Suzuki", "--by", "A. Tanaka", "--db", str(home["db"]), "--json")
    assert revoked.returncode == 0, revoked.stderr
    facts = json.loads(revoked.stdout)
    events = _events(home["db"])
    kinds = [(e[1], e[2]) for e in events[-2:]]
    assert kinds[0][0] == "trust.added" and kinds[1] == ("identity.revoked", "A. Tanaka")
    trust_detail, revoke_detail = json.loads(events[-2][3]), json.loads(events[-1][3])
    assert set(trust_detail) == {"cert_pem", "fingerprint", "subject"}
    assert trust_detail["fingerprint"] == facts["fingerprint"] and trust_detail["cert_pem"] == cert.read_text()
    assert revoke_detail == {"fingerprint": facts["fingerprint"], "name": "B. Suzuki"}
    assert events[-1][4] == facts["signed_by"] and events[-1][5]            # signed by the approver's key
    for e in events:
        assert PASS not in (e[3] or "") and "PRIVATE KEY" not in (e[3] or "")


def test_wrong_passphrase_unknown_files_and_a_missing_database_are_one_line_exit_2(home, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITOR_PASSPHRASE", "not the passphrase")
    wrong = run_cli("identity", "revoke", "B. Suzuki", "--by", "A. Tanaka", "--db", str(home["db"]))
    assert wrong.returncode == 2 and wrong.stderr == "auditor: wrong passphrase for A. Tanaka\n"
    monkeypatch.setenv("AUDITOR_PASSPHRASE", PASS)
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    bad = run_cli("trust", "add", str(not_pem), "--db", str(home["db"]))
    assert bad.returncode == 2 and bad.stderr.strip().endswith("is not a PEM X.509 certificate")
    absent = run_cli("trust", "add", str(tmp_path / "absent.pem"), "--db", str(home["db"]))
    assert absent.returncode == 2 and "cannot read it" in absent.stderr and absent.stderr.count("\n") == 1
    no_db = run_cli("identity", "revoke", "B. Suzuki", "--db", str(tmp_path / "nope.db"))
    assert no_db.returncode == 2 and "no audit database at" in no_db.stderr
    assert not (tmp_path / "nope.db").exists()


def test_a_group_readable_key_is_refused_through_the_cli(home):
    key = home["ids"] / "a-tanaka.key.pem"
    try:
        os.chmod(key, 0o644)
        result = run_cli("identity", "revoke", "B. Suzuki", "--by", "A. Tanaka", "--db", str(home["db"]))
    finally:
        os.chmod(key, 0o600)
    assert result.returncode == 2 and "can be read or changed by other users (mode 0644)" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
