"""auditor.service.tokens and .ratelimit: API tokens bound to real identities (a temporary identities folder)
in a real database, and the failed-authentication limiter on a controlled clock."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from auditor.errors import BadInput
from auditor.service.ratelimit import FailedAuthLimiter
from auditor.service.tokens import Caller, TokenError, authenticate, create_token, list_tokens, revoke_token

PASS = "correct horse battery"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Identities made once per module (each costs ~0.2 s to seal): an approver, a reviewer, a spare."""
    ids = tmp_path_factory.mktemp("tokens") / "ids"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(ids))
        from auditor.identity import create_identity

        for name, role in (("A. Tanaka", "approver"), ("R. Reviewer", "reviewer"), ("S. Spare", "preparer")):
            create_identity(name, role, passphrase=PASS)
    return ids


@pytest.fixture
def db(folder, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(folder))
    return str(tmp_path / "audits.db")


def _events(db: str, kind: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, detail_json, signature, signer FROM events WHERE kind = ?",
                            [kind]).fetchall()


def test_token_format_and_authenticate(db):
    token_id, token = create_token(db, "A. Tanaka")
    assert token_id.startswith("T-") and len(token_id) == 10
    assert token.startswith(f"aud_{token_id}_") and len(token) > len(token_id) + 40
    assert authenticate(db, token) == Caller(name="A. Tanaka", role="approver", token_id=token_id)
    assert authenticate(db, token) == Caller(name="A. Tanaka", role="approver", token_id=token_id)   # cached path
    reviewer_id, reviewer = create_token(db, "R. Reviewer")
    assert authenticate(db, reviewer) == Caller("R. Reviewer", "reviewer", reviewer_id)
    (actor, detail, signature, signer), = _events(db, "token.created")[:1]
    assert actor == "A. Tanaka" and signature and signer          # a signed chain event (the machine key)
    assert json.loads(detail)["token_id"] == token_id


def test_database_holds_no_secret(db, tmp_path):
    token_id, token = create_token(db, "A. Tanaka")
    secret = token.split("_", 2)[2]
    assert authenticate(db, token) is not None
    raw = b"".join(p.read_bytes() for p in Path(db).parent.iterdir() if p.name.startswith("audits.db"))
    assert token_id.encode() in raw                              # the row is there (db, -wal or both)
    assert secret.encode() not in raw and token.encode() not in raw
    with sqlite3.connect(db) as conn:
        salt, digest = conn.execute("SELECT salt, hash FROM api_tokens WHERE id = ?", [token_id]).fetchone()
    assert len(salt) == 16 and len(digest) == 32


def test_wrong_secret_and_malformed(db):
    token_id, token = create_token(db, "A. Tanaka")
    assert authenticate(db, token) is not None                    # the right token is now remembered
    secret = token.split("_", 2)[2]
    wrong = f"aud_{token_id}_{('A' if secret[0] != 'A' else 'B') + secret[1:]}"
    assert authenticate(db, wrong) is None
    other_id = "T-" + ("0" * 8 if token_id != "T-00000000" else "1" * 8)
    for bad in ("", "Bearer " + token, token + "\n", token + "x", token[:-1], f"aud_{other_id}_{secret}",
                token.replace("aud_", "AUD_"), None, 42):
        assert authenticate(db, bad) is None, bad


def test_revoked_token(db):
    token_id, token = create_token(db, "A. Tanaka")
    assert authenticate(db, token) is not None
    assert revoke_token(db, token_id) is True
    assert authenticate(db, token) is None
    assert revoke_token(db, token_id) is False                    # already revoked: nothing changes
    assert len(_events(db, "token.revoked")) == 1
    with pytest.raises(TokenError, match=r"^no API token T-ffffffff in .*audits\.db; `auditor token list`"):
        revoke_token(db, "T-ffffffff")


def test_revoked_identity(db):
    from auditor import api
    from auditor.identity import certificate_facts, identity_cert

    token_id, token = create_token(db, "S. Spare")
    assert authenticate(db, token) is not None
    fingerprint = certificate_facts(identity_cert("S. Spare"))["fingerprint"]
    api.record_event(None, "identity.revoked", {"fingerprint": fingerprint, "name": "S. Spare"}, db=db)
    assert authenticate(db, token) is None                        # even though it was verified before
    with pytest.raises(TokenError, match=r"^identity S\. Spare was revoked \(event \d+\); it can have no API token$"):
        create_token(db, "S. Spare")
    assert {r["id"]: r["state"] for r in list_tokens(db)}[token_id] == "identity revoked"


def test_unknown_and_missing_identity(db, folder):
    with pytest.raises(BadInput, match="^no identity named Nobody in"):
        create_token(db, "Nobody")
    token_id, token = create_token(db, "R. Reviewer")
    cert = folder / "r-reviewer.cert.pem"
    moved = cert.rename(cert.with_suffix(".away"))
    try:
        assert authenticate(db, token) is None
        assert {r["id"]: r["state"] for r in list_tokens(db)}[token_id] == "identity missing"
    finally:
        moved.rename(cert)
    assert authenticate(db, token) is not None


def test_list_never_shows_secrets(db):
    a_id, a_token = create_token(db, "A. Tanaka")
    r_id, _ = create_token(db, "R. Reviewer")
    revoke_token(db, r_id)
    authenticate(db, a_token)
    rows = list_tokens(db)
    assert [r["id"] for r in rows] == [a_id, r_id]
    assert set(rows[0]) == {"id", "identity", "role", "created_at", "last_used_at", "revoked_at", "state"}
    assert rows[0]["state"] == "active" and rows[0]["role"] == "approver" and rows[0]["last_used_at"]
    assert rows[1]["state"] == "revoked" and rows[1]["revoked_at"]
    assert a_token.split("_", 2)[2] not in json.dumps(rows)


def test_verified_cache_is_per_database(db, tmp_path):
    """A token remembered for one database does not open another database whose row has the same id."""
    token_id, token = create_token(db, "A. Tanaka")
    assert authenticate(db, token) is not None
    other = str(tmp_path / "other.db")
    create_token(other, "A. Tanaka")
    with sqlite3.connect(other) as conn:
        conn.execute("UPDATE api_tokens SET id = ?", [token_id])     # same id, another secret's hash
    assert authenticate(other, token) is None
    assert authenticate(db, token) is not None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_refuses_after_n_failures_then_window_expires():
    clock = Clock()
    limiter = FailedAuthLimiter(max_failures=3, window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.allow("10.0.0.1") and limiter.retry_after("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
        clock.now += 10
    assert not limiter.allow("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 30                  # the first failure (t=1000) leaves at t=1060
    assert limiter.allow("10.0.0.2")                              # per address
    clock.now = 1059.5
    assert not limiter.allow("10.0.0.1") and limiter.retry_after("10.0.0.1") == 1
    clock.now = 1060.0
    assert limiter.allow("10.0.0.1")                              # one failure left the window
    limiter.failed("10.0.0.1")
    assert not limiter.allow("10.0.0.1") and limiter.retry_after("10.0.0.1") == 10
    clock.now = 2000.0
    assert limiter.allow("10.0.0.1") and limiter._failures == {}  # all expired and forgotten


def test_limiter_bounds_memory():
    limiter = FailedAuthLimiter(max_failures=1, window_s=60, max_clients=2, clock=Clock())
    for ip in ("a", "b", "c"):
        limiter.failed(ip)
    assert limiter.allow("a") and not limiter.allow("b") and not limiter.allow("c")
    with pytest.raises(ValueError):
        FailedAuthLimiter(max_failures=0)


def test_a_token_is_bound_to_the_certificate_not_only_the_name(db, folder, tmp_path, monkeypatch):
    """An identity re-created under the same name (a new key and certificate) does not inherit the tokens
    of the one it replaced: they stop working and the list says why."""
    import shutil

    from auditor.identity import create_identity

    token_id, token = create_token(db, "S. Spare")
    assert authenticate(db, token) is not None
    other = tmp_path / "other-ids"
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(other))
    create_identity("S. Spare", "preparer", passphrase=PASS)
    replaced = tmp_path / "replaced-ids"
    shutil.copytree(folder, replaced)
    for path in other.iterdir():                  # the new S. Spare's key and certificate over the old ones
        shutil.copy2(path, replaced / path.name)
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(replaced))
    assert authenticate(db, token) is None
    assert {r["id"]: r["state"] for r in list_tokens(db)}[token_id] == "identity replaced"
    fresh_id, fresh = create_token(db, "S. Spare")          # a token made for the new certificate works
    assert authenticate(db, fresh) == Caller(name="S. Spare", role="preparer", token_id=fresh_id)


def test_migration_6_binds_existing_tokens_to_the_certificate_their_event_recorded(db):
    from auditor.store import open_db

    token_id, token = create_token(db, "A. Tanaka")
    with sqlite3.connect(db) as conn:                   # the database as migration 5 left it
        conn.execute("ALTER TABLE api_tokens DROP COLUMN fingerprint")
        conn.execute("DELETE FROM _migrations WHERE id = 6")
    open_db(db).conn.close()
    with sqlite3.connect(db) as conn:
        bound = conn.execute("SELECT fingerprint FROM api_tokens WHERE id = ?", [token_id]).fetchone()[0]
    assert bound == json.loads(_events(db, "token.created")[0][1])["fingerprint"] and len(bound) == 64
    assert authenticate(db, token) is not None
