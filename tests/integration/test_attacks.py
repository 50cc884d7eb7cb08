"""Issue 16's attacks, each on a copy of a real signed audit database, each caught by `auditor verify`.

The attacker can write the database file (sqlite3, triggers dropped) and run the app's own functions
(the fingerprint, the event hash), but holds no person's private key. The database: a real audit of
a tiny BERT (machine-signed), a reviewer's and an approver's signed sign-offs, a signed assignment, a
`reported` event, and a reviewer identity that signed once and was then revoked.
"""
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum

PASSPHRASE = "correct horse battery"


@pytest.fixture(scope="module")
def signed(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("attacks")
    saved = {k: os.environ.get(k) for k in ("AUDITOR_IDENTITY_DIR", "AUDITOR_PASSPHRASE")}
    os.environ.update(AUDITOR_IDENTITY_DIR=str(root / "ids"), AUDITOR_PASSPHRASE=PASSPHRASE)
    try:
        yield _build(root, tiny_bert)
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.update({key: value})


def _build(root: Path, model: Path) -> dict:
    from auditor import api
    from auditor.identity import create_identity

    for name, role in (("R. Reviewer", "reviewer"), ("A. Approver", "approver"), ("X. Revoked", "reviewer")):
        create_identity(name, role, passphrase=PASSPHRASE)
    db = root / "audits.db"
    audit_id = api.run_audit(api.AuditRequest(model=str(model), db=str(db), device="cpu", limit=30,
                                              template=no_minimum("quick")))
    for name, role, decision in (("R. Reviewer", "reviewer", "approve"), ("A. Approver", "approver", "reject"),
                                 ("X. Revoked", "reviewer", "approve")):
        done = run_cli("sign", audit_id, "--role", role, "--name", name, "--identity", name, "--decision", decision,
                       "--db", str(db))
        assert done.returncode == 0, done.stderr
    finding = _rows(db, "SELECT id FROM findings WHERE severity = 'warn' LIMIT 1")[0][0]
    done = run_cli("assign", audit_id, str(finding), "--owner", "O. Owner", "--identity", "R. Reviewer",
                   "--db", str(db))
    assert done.returncode == 0, done.stderr
    api.record_event(audit_id, "reported", {"sha256": "ab" * 32, "kind": "full"}, db=str(db))
    done = run_cli("identity", "revoke", "X. Revoked", "--db", str(db))
    assert done.returncode == 0, done.stderr
    refused = run_cli("sign", audit_id, "--role", "reviewer", "--name", "X. Revoked", "--identity", "X. Revoked",
                      "--db", str(db))
    assert refused.returncode == 2 and "revoked" in refused.stderr      # the app refuses; an attacker writes SQL
    completed = [json.loads(d) for (d,) in _rows(db, "SELECT detail_json FROM events WHERE kind = 'completed'")]
    assert completed[0]["signer_kind"] == "machine"
    return {"db": db, "audit_id": audit_id, "finding": finding}


def _rows(db: Path, sql: str, params=()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def _copy(signed: dict, tmp_path: Path) -> Path:
    target = tmp_path / "copy.db"
    with sqlite3.connect(signed["db"]) as a, sqlite3.connect(target) as b:
        a.backup(b)
    return target


def _tamper(db: Path, *statements: tuple[str, list]) -> None:
    """Runs the statements with the append-only triggers dropped, then puts the triggers back."""
    with sqlite3.connect(db) as conn:
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for name, _sql in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        for sql, params in statements:
            conn.execute(sql, params)
        for _name, sql in triggers:
            conn.execute(sql)


def _events(db: Path) -> list[dict]:
    keys = ("id", "audit_id", "kind", "detail_json", "actor", "at", "prev_hash", "hash", "signature", "signer")
    return [dict(zip(keys, r, strict=True)) for r in _rows(db, f"SELECT {', '.join(keys)} FROM events ORDER BY id")]


def _verify(db: Path, *extra: str) -> tuple[int, dict]:
    done = run_cli("verify", *extra, "--db", str(db), "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_an_untouched_database_verifies(signed, tmp_path):
    db = _copy(signed, tmp_path)
    done = run_cli("verify", "--db", str(db))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Verified: every event, signature and figure checked matches." in done.stdout
    assert "R. Reviewer (reviewer)" in done.stdout and "A. Approver (approver)" in done.stdout
    assert "1 of 1 audits' stored results and 1 evaluations match" in done.stdout
    code, data = _verify(db, signed["audit_id"])
    assert code == 0 and data["ok"] and data["checked"]["signed"] == data["checked"]["events"] >= 8
    assert run_cli("verify", "no-such-audit", "--db", str(db)).returncode == 2


def test_full_forgery_with_a_recomputed_fingerprint(signed, tmp_path):
    """A metric, its finding and the verdict changed, the fingerprint recomputed with the app's own function."""
    import sqlite_utils

    from auditor.store import queries
    from auditor.store.fingerprint import fingerprint_of

    db = _copy(signed, tmp_path)
    audit_id = signed["audit_id"]
    (finding_id, check_id, metric, layer, evaluation_id), = _rows(
        db, "SELECT id, check_id, metric, layer, evaluation_id FROM findings WHERE severity = 'warn' AND metric "
            "IS NOT NULL LIMIT 1")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE metrics SET value = 0.5 WHERE audit_id = ? AND check_id = ? AND name = ? AND layer IS ?",
                     [audit_id, check_id, metric, layer])
        conn.execute("UPDATE findings SET severity = 'pass', value = 0.5 WHERE id = ?", [finding_id])
        conn.execute("UPDATE check_statuses SET status = 'pass' WHERE check_id = ?", [check_id])
        conn.execute("UPDATE evaluations SET verdict = 'pass' WHERE id = ?", [evaluation_id])
    handle = sqlite_utils.Database(db)
    forged = fingerprint_of(queries.stored_content(handle, audit_id, evaluation_id))
    handle.execute("UPDATE evaluations SET fingerprint = ? WHERE id = ?", [forged, evaluation_id])
    handle.execute("UPDATE audits SET fingerprint = ?, verdict = 'pass' WHERE id = ?", [forged, audit_id])
    handle.conn.commit()
    handle.conn.close()
    code, data = _verify(db)
    assert code == 1
    assert data["problem_keys"][:2] == ["verify.problem.check", "verify.problem.evaluation"]
    assert f"the stored results of check {check_id} differ" in data["problems"][0]
    assert {"verify.problem.statuses", "verify.problem.audit_row"} <= set(data["problem_keys"])


def test_a_sign_off_rewritten_with_the_trigger_dropped_and_the_hash_recomputed(signed, tmp_path):
    from auditor.store.chain import event_hash

    db = _copy(signed, tmp_path)
    event = next(e for e in _events(db) if e["kind"] == "signed" and '"reject"' in e["detail_json"])
    detail = json.loads(event["detail_json"])
    detail["decision"] = "approve"
    digest = event_hash(event["prev_hash"], event["audit_id"], "signed", detail, event["actor"], event["at"],
                        event["signer"])
    _tamper(db, ("UPDATE events SET detail_json = ?, hash = ? WHERE id = ?", [json.dumps(detail), digest, event["id"]]))
    code, data = _verify(db)
    assert code == 1 and data["problem_keys"][0] == "verify.problem.signature"
    assert data["problems"][0].startswith(f"event {event['id']} (signed): the signature is not A. Approver's")
    # the attacker who leaves the hash alone is caught by the hash
    (tmp_path / "plain").mkdir()
    db2 = _copy(signed, tmp_path / "plain")
    _tamper(db2, ("UPDATE events SET detail_json = ? WHERE id = ?", [json.dumps(detail), event["id"]]))
    code, data = _verify(db2)
    assert code == 1 and data["problems"][0] == (f"event {event['id']} (signed) was changed after it was recorded: "
                                                 "its hash does not match its content")


def test_an_inserted_reported_event(signed, tmp_path):
    """A `reported` event for an edited PDF, chained with the app's own hash, a real signature copied in."""
    from auditor.store.chain import event_hash

    db = _copy(signed, tmp_path)
    events = _events(db)
    real = next(e for e in events if e["kind"] == "reported")
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    detail = {"sha256": "cd" * 32, "kind": "full"}
    digest = event_hash(events[-1]["hash"], signed["audit_id"], "reported", detail, real["actor"], at, real["signer"])
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO events (audit_id, at, actor, kind, detail_json, prev_hash, hash, signature, signer) "
                     "VALUES (?, ?, ?, 'reported', ?, ?, ?, ?, ?)",
                     [signed["audit_id"], at, real["actor"], json.dumps(detail), events[-1]["hash"], digest,
                      real["signature"], real["signer"]])
    code, data = _verify(db)
    assert code == 1 and data["problem_keys"] == ["verify.problem.signature"]
    assert data["problems"][0].startswith(f"event {events[-1]['id'] + 1} (reported)")


def test_an_event_deleted(signed, tmp_path):
    db = _copy(signed, tmp_path)
    events = _events(db)
    gone = next(i for i, e in enumerate(events) if e["kind"] == "assigned")
    _tamper(db, ("DELETE FROM events WHERE id = ?", [events[gone]["id"]]))
    code, data = _verify(db)
    assert code == 1 and data["problem_keys"][0] == "verify.problem.link"
    assert data["problems"][0].startswith(f"event {events[gone + 1]['id']} ({events[gone + 1]['kind']}) does not "
                                          "follow the event before it")
    assert "verify.problem.assignment" in data["problem_keys"]      # the owner it set has no signed event now


def test_two_events_reordered(signed, tmp_path):
    db = _copy(signed, tmp_path)
    a, b = [e for e in _events(db) if e["kind"] == "signed"][:2]
    columns = [k for k in a if k != "id"]
    sets = ", ".join(f"{k} = ?" for k in columns)
    _tamper(db, ("UPDATE events SET prev_hash = 'x' WHERE id = ?", [b["id"]]),   # keep prev_hash unique meanwhile
            (f"UPDATE events SET {sets} WHERE id = ?", [*(b[k] for k in columns), a["id"]]),
            (f"UPDATE events SET {sets} WHERE id = ?", [*(a[k] for k in columns), b["id"]]))
    code, data = _verify(db)
    assert code == 1 and data["problem_keys"][0] == "verify.problem.link"
    assert data["problems"][0].startswith(f"event {a['id']} (signed) does not follow")


def test_one_metric_changed_and_nothing_else(signed, tmp_path):
    db = _copy(signed, tmp_path)
    (rowid, check_id), = _rows(db, "SELECT rowid, check_id FROM metrics WHERE value IS NOT NULL ORDER BY rowid "
                                   "LIMIT 1 OFFSET 40")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE metrics SET value = value * 1.0001 + 1e-9 WHERE rowid = ?", [rowid])
    code, data = _verify(db, signed["audit_id"])
    assert code == 1 and data["problem_keys"] == ["verify.problem.check"]
    assert data["problems"][0] == (f"audit {signed['audit_id']}: the stored results of check {check_id} differ from "
                                   f"what event 2 signed")


def test_a_signature_copied_from_another_event(signed, tmp_path):
    db = _copy(signed, tmp_path)
    events = _events(db)
    created, completed = events[0], events[1]
    assert created["signer"] == completed["signer"]          # the same key: only the event differs
    _tamper(db, ("UPDATE events SET signature = ? WHERE id = ?", [created["signature"], completed["id"]]))
    code, data = _verify(db)
    assert code == 1 and data["problem_keys"][0] == "verify.problem.signature"
    assert data["problems"][0].startswith(f"event {completed['id']} (completed): the signature is not")


def test_a_revoked_identity_signing_after_its_revocation(signed, tmp_path):
    """The revoked key (stolen, say) signs a sign-off appended by SQL, chained and hashed correctly."""
    import base64

    from auditor.identity import load_identity
    from auditor.store.chain import event_hash, signing_bytes

    db = _copy(signed, tmp_path)
    events = _events(db)
    revocation = next(e for e in events if e["kind"] == "identity.revoked")
    key = load_identity("X. Revoked", PASSPHRASE)
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    detail = {"role": "reviewer", "name": key.name, "decision": "approve"}
    digest = event_hash(events[-1]["hash"], signed["audit_id"], "signed", detail, key.name, at, key.fingerprint)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO events (audit_id, at, actor, kind, detail_json, prev_hash, hash, signature, signer) "
                     "VALUES (?, ?, ?, 'signed', ?, ?, ?, ?, ?)",
                     [signed["audit_id"], at, key.name, json.dumps(detail), events[-1]["hash"], digest,
                      base64.b64encode(key.sign(signing_bytes(digest))).decode(), key.fingerprint])
    code, data = _verify(db)
    assert code == 1 and data["problem_keys"] == ["verify.problem.revoked"]
    assert data["problems"][0] == (f"event {events[-1]['id'] + 1} (signed) is signed by X. Revoked after that "
                                   f"identity was revoked in event {revocation['id']}")
