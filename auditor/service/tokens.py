"""API tokens bound to identities (issue 18): create, revoke, list, authenticate.

A token reads `aud_<token_id>_<secret>`: the id (`T-<8 hex>`) names the api_tokens row, so a request
is checked against one row, never by scanning; the secret is 32 random bytes (urlsafe base64). Only a
random salt and the scrypt hash (n=2**14, r=8, p=1) of the secret are stored; the secret is shown
once, by `auditor token create`. A 256-bit random secret needs no slow hash to resist guessing, but a
slow one keeps a stolen database from being tried offline against weaker secrets, as the design asks;
so that a busy server does not pay scrypt on every request, this process remembers the SHA-256 of
each token it has verified (memory only, bounded) and checks the row's revocation on every request.

A token works while its row is not revoked, its identity's certificate is on this machine, valid
now and not revoked in the database (`identity.revoked` events, the same rule as signing). The
caller's role is the one in that certificate. Creating and revoking a token are signed chain
events (`token.created`, `token.revoked`; database events, no audit), signed by the machine key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from auditor import api
from auditor.errors import BadInput
from auditor.messages import Message, render
from auditor.store import chain, open_db, records

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024 * 1024}
TOKEN_RE = re.compile(r"aud_(T-[0-9a-f]{8})_([A-Za-z0-9_-]{43})")
LAST_USED_EVERY_S = 60.0       # last_used_at is written at most this often per token (a write per request would
                               # compete with the workers for the database's one write lock)
_CACHE_MAX = 4096

_verified: dict[str, bytes] = {}      # "<db>|<token id>" -> SHA-256 of a token this process verified with scrypt
_last_written: dict[str, float] = {}  # "<db>|<token id>" -> monotonic time of its last last_used_at write
# certificate path -> (its file's and folder's stat, facts, parsed certificate): parsing and verifying the
# certificate on every request cost ~1 ms of CPU; a changed, moved or re-moded file is read again
_certs: dict[str, tuple[tuple[Any, ...], dict[str, Any], Any]] = {}
_lock = threading.Lock()


class TokenError(BadInput):
    """A refused token command (exit 2, one line); `message` renders in en or ja."""

    def __init__(self, key: str, **params: Any) -> None:
        self.message = Message(key, params)
        super().__init__(render(self.message, "en"))


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: the identity's name and role (from its certificate) and the token used."""

    name: str
    role: str
    token_id: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("ascii"), salt=salt, **SCRYPT)


def _identity_facts(name: str) -> dict[str, Any]:
    """The certificate facts of identity `name` (IdentityError, exit 2, when there is none), plus `valid_now`."""
    from auditor.identity import certificate_facts, identity_cert
    from auditor.identity.certs import load_certificate, valid_now

    cert_pem = identity_cert(name)
    return {**certificate_facts(cert_pem), "valid_now": valid_now(load_certificate(cert_pem))}


def _identity_facts_cached(name: str) -> dict[str, Any]:
    """`_identity_facts(name)`, the certificate parsed again only when its file or folder changed (validity is
    checked against the clock on every call)."""
    from auditor.identity import certificate_facts, identity_cert
    from auditor.identity.certs import load_certificate, valid_now
    from auditor.identity.keystore import paths

    cert_path = paths(name)[1]
    try:
        info, base = cert_path.stat(), cert_path.parent.stat()
    except OSError:
        return _identity_facts(name)        # gone: its refusal
    stamp = (info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode, base.st_mode, base.st_mtime_ns)
    with _lock:
        known = _certs.get(str(cert_path))
    if known is None or known[0] != stamp:
        cert_pem = identity_cert(name)      # its checks (folder and file modes) and its refusals
        known = (stamp, certificate_facts(cert_pem), load_certificate(cert_pem))
        with _lock:
            if len(_certs) >= _CACHE_MAX:
                _certs.clear()
            _certs[str(cert_path)] = known
    return {**known[1], "valid_now": valid_now(known[2])}


def create_token(db_path: str | None, identity: str, *, actor: str | None = None) -> tuple[str, str]:
    """A new token for `identity` (a person's identity on this machine, not revoked, certificate valid now):
    returns (token_id, token). The database (created when missing) keeps only the salt and the hash; the
    `token.created` event names the token, the identity and its certificate (actor: `actor`, else the
    identity's name)."""
    facts = _identity_facts(identity)
    if not facts["valid_now"]:
        from auditor.identity import IdentityError

        raise IdentityError("identity.expired", what=facts["name"], not_before=facts["not_before"],
                            not_after=facts["not_after"])
    name = facts["name"] or identity
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
    salt = secrets.token_bytes(16)
    digest = _hash(secret, salt)
    handle = open_db(db_path)
    try:
        with handle.atomic():
            revoked = chain.revocations(handle).get(facts["fingerprint"])
            if revoked is not None:
                raise TokenError("service.token.identity_revoked", name=name, event=revoked)
            token_id = _new_id(handle)
            handle["api_tokens"].insert({"id": token_id, "identity": name, "salt": salt, "hash": digest,
                                         "created_at": _now(), "revoked_at": None, "last_used_at": None,
                                         "fingerprint": facts["fingerprint"]})
            records.add_event(handle, None, "token.created",
                              {"token_id": token_id, "identity": name, "fingerprint": facts["fingerprint"]},
                              actor=actor or name)
    finally:
        handle.conn.close()
    return token_id, f"aud_{token_id}_{secret}"


def _new_id(handle: Any) -> str:
    while True:
        token_id = f"T-{secrets.token_hex(4)}"
        if handle.execute("SELECT 1 FROM api_tokens WHERE id = ?", [token_id]).fetchone() is None:
            return token_id


def revoke_token(db_path: str | None, token_id: str, *, actor: str = "auditor") -> bool:
    """Revokes the token: True when revoked now (a `token.revoked` event), False when it already was.
    TokenError (exit 2) when the database has no such token."""
    handle = open_db(db_path, must_exist=True)
    try:
        with handle.atomic():
            row = handle.execute("SELECT identity, revoked_at FROM api_tokens WHERE id = ?", [token_id]).fetchone()
            if row is None:
                raise TokenError("service.token.unknown", token_id=token_id, db=str(api.db_path(db_path)))
            if row[1] is not None:
                return False
            handle.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [_now(), token_id])
            records.add_event(handle, None, "token.revoked", {"token_id": token_id, "identity": row[0]}, actor=actor)
    finally:
        handle.conn.close()
    with _lock:
        _verified.pop(_key(db_path, token_id), None)
    return True


def _key(db_path: str | None, token_id: str) -> str:
    return f"{api.db_path(db_path)}|{token_id}"


def list_tokens(db_path: str | None) -> list[dict[str, Any]]:
    """Every token, oldest first: id, identity, role, created_at, last_used_at, revoked_at and state
    (active | revoked | identity revoked | identity expired | identity missing | identity replaced: the name
    now has another certificate, so the token no longer works). Never a secret or hash."""
    if db_path is None and not api.db_path(None).exists():
        return []
    handle = open_db(db_path, read_only=True)
    try:
        rows = handle.execute("SELECT id, identity, created_at, last_used_at, revoked_at, fingerprint "
                              "FROM api_tokens ORDER BY rowid").fetchall()      # creation order
        revoked = chain.revocations(handle)
    finally:
        handle.conn.close()
    out = []
    for token_id, identity, created, used, revoked_at, bound in rows:
        role, state = _identity_state(identity, revoked, bound)
        out.append({"id": token_id, "identity": identity, "role": role, "created_at": created,
                    "last_used_at": used, "revoked_at": revoked_at, "state": "revoked" if revoked_at else state})
    return out


def _identity_state(name: str, revoked: dict[str, int], bound: str | None) -> tuple[str | None, str]:
    try:
        facts = _identity_facts(name)
    except BadInput:
        return None, "identity missing"
    if facts["fingerprint"] != bound:
        return facts["role"], "identity replaced"
    if facts["fingerprint"] in revoked:
        return facts["role"], "identity revoked"
    return facts["role"], "active" if facts["valid_now"] else "identity expired"


def authenticate(db_path: str | None, token: str) -> Caller | None:
    """The caller a token stands for, or None: malformed, unknown, wrong secret, revoked, or its identity
    missing, revoked or expired. The secret is compared in constant time (hmac.compare_digest)."""
    match = TOKEN_RE.fullmatch(token) if isinstance(token, str) else None
    if match is None:
        return None
    token_id, secret = match.groups()
    row, revoked = _token_row(db_path, token_id)
    if row is None or row[3] is not None:
        return None
    if not _secret_matches(_key(db_path, token_id), token, secret, row[1], row[2]):
        return None
    try:
        facts = _identity_facts_cached(row[0])
    except BadInput:          # the identity's certificate is gone from this machine
        return None
    if not facts["valid_now"] or facts["fingerprint"] in revoked:
        return None
    if row[4] != facts["fingerprint"]:      # the name now belongs to another certificate (a re-created identity)
        return None
    _touch(db_path, token_id)
    return Caller(name=facts["name"] or row[0], role=facts["role"] or "", token_id=token_id)


def _token_row(db_path: str | None, token_id: str) -> tuple[Any, dict[str, int]]:
    """(identity, salt, hash, revoked_at) of the token's row or None, and the revoked certificates, read on a
    plain read-only connection: open_db's checks and upkeep (schema version, the interrupted sweep on a
    read-write connection while audits run) cost several ms per request, and the server brought the schema
    up to date when it started. Where that connection cannot read, open_db's answer (and its refusals)."""
    from auditor.service.queue import read_only_uri

    try:
        conn = sqlite3.connect(read_only_uri(str(api.db_path(db_path))), uri=True, timeout=5.0)
        try:
            row = conn.execute("SELECT identity, salt, hash, revoked_at, fingerprint FROM api_tokens WHERE id = ?",
                               [token_id]).fetchone()
            return row, (chain.revocations(conn) if row is not None and row[3] is None else {})
        finally:
            conn.close()
    except sqlite3.Error:
        pass
    handle = open_db(db_path, read_only=True)
    try:
        row = handle.execute("SELECT identity, salt, hash, revoked_at, fingerprint FROM api_tokens WHERE id = ?",
                             [token_id]).fetchone()
        return row, (chain.revocations(handle) if row is not None and row[3] is None else {})
    finally:
        handle.conn.close()


def _secret_matches(key: str, token: str, secret: str, salt: bytes, stored: bytes) -> bool:
    quick = hashlib.sha256(token.encode("ascii")).digest()
    with _lock:
        known = _verified.get(key)
    if known is not None and hmac.compare_digest(known, quick):
        return True
    if not hmac.compare_digest(_hash(secret, bytes(salt)), bytes(stored)):
        return False
    with _lock:
        if len(_verified) >= _CACHE_MAX:
            _verified.clear()
        _verified[key] = quick
    return True


def _touch(db_path: str | None, token_id: str) -> None:
    """Records last_used_at, at most once a minute per token; a locked database skips it (a usage hint only)."""
    now, key = time.monotonic(), _key(db_path, token_id)
    with _lock:
        if key in _last_written and now - _last_written[key] < LAST_USED_EVERY_S:
            return
        _last_written[key] = now
    try:
        handle = open_db(db_path, must_exist=True)
    except BadInput:
        return
    try:
        with handle.conn:
            handle.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [_now(), token_id])
    except BadInput:
        pass
    finally:
        handle.conn.close()
