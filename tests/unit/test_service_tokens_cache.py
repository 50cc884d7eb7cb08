"""What auditor.service.tokens.authenticate remembers between requests (issue 18, load bench): the parsed
certificate is read again when its file changes, and nothing about the token's row is remembered."""
from __future__ import annotations

import sqlite3

import pytest

from auditor.service.tokens import authenticate, create_token

PASS = "correct horse battery"


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(tmp_path / "ids"))
    from auditor.identity import create_identity

    create_identity("A. Tanaka", "approver", passphrase=PASS)
    create_identity("R. Reviewer", "reviewer", passphrase=PASS)
    return str(tmp_path / "audits.db")


def test_a_changed_certificate_is_read_again(db, tmp_path):
    token_id, token = create_token(db, "A. Tanaka")
    assert authenticate(db, token).role == "approver"
    assert authenticate(db, token).role == "approver"            # remembered
    cert = tmp_path / "ids" / "a-tanaka.cert.pem"
    original = cert.read_bytes()
    cert.write_bytes((tmp_path / "ids" / "r-reviewer.cert.pem").read_bytes())   # replaced in place
    try:
        # read again (a remembered certificate would still say approver), and it is another certificate than
        # the one the token was made for: the token stops working rather than speak for R. Reviewer
        assert authenticate(db, token) is None
    finally:
        cert.write_bytes(original)
    assert authenticate(db, token).role == "approver"
    cert.chmod(0o666)                 # writable by others: the identity's own check refuses it
    try:
        assert authenticate(db, token) is None
    finally:
        cert.chmod(0o644)
    assert authenticate(db, token).name == "A. Tanaka"


def test_a_token_revoked_by_another_process_stops_at_once(db):
    token_id, token = create_token(db, "A. Tanaka")
    assert authenticate(db, token) is not None
    with sqlite3.connect(db) as conn:      # as `auditor token revoke` in another process writes it
        conn.execute("UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00+00:00' WHERE id = ?", [token_id])
    assert authenticate(db, token) is None
