"""The signed hash chain of events (migration 4) and `auditor verify`'s walk, on audits written through the store."""
import base64
import json
import sqlite3
import time

import pytest

from auditor.errors import BadInput
from auditor.store import chain, open_db, records
from auditor.verify import verify

TEMPLATE = {"name": "quick", "version": "1", "sha256": "ef" * 32, "source": "builtin", "text": "name: quick\n"}


@pytest.fixture
def identities(tmp_path, monkeypatch):
    """Identities and the machine key in a private folder; passphrase from the environment."""
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(tmp_path / "ids"))
    monkeypatch.setenv("AUDITOR_PASSPHRASE", "correct horse battery")
    from auditor.identity import machine_signer

    before = chain._provider
    chain.use_default_signer(machine_signer)
    yield tmp_path / "ids"
    chain.use_default_signer(before)


@pytest.fixture(scope="module")
def reviewer(tmp_path_factory):
    """One real ECDSA P-256 identity (made once: its key derivation is slow on purpose)."""
    import os

    from auditor.identity import create_identity

    folder = tmp_path_factory.mktemp("reviewer") / "ids"
    saved = os.environ.get("AUDITOR_IDENTITY_DIR")
    os.environ["AUDITOR_IDENTITY_DIR"] = str(folder)
    try:
        return create_identity("R. Reviewer", "reviewer", passphrase="correct horse battery")
    finally:
        os.environ.pop("AUDITOR_IDENTITY_DIR") if saved is None else os.environ.update(AUDITOR_IDENTITY_DIR=saved)


def make_audit(db, checks: int = 5, names: int = 10, layers: int = 10) -> str:
    """A completed audit of checks x names x layers figures, evaluated and sealed as audit_run does."""
    audit_id = records.create_audit(
        db, identity={"sha256": "ab" * 32, "format": "onnx", "architecture": "x"},
        probes={"spec": "builtin:text", "sha256": "cd" * 32, "count": 30}, template=TEMPLATE, meta={},
        environment={"device": "cpu"}, seed=0, device="cpu", name="m", model_version="1")
    results = [{"check_id": f"check.{c}", "outcome": "ok", "summary": f"check {c}",
                "metrics": {f"m{n}": [0.1 * n + 0.01 * layer for layer in range(layers)] for n in range(names)}}
               for c in range(checks)]
    records.store_results(db, audit_id, results)
    findings = [{"check_id": "check.0", "key": "k", "severity": "warn", "title": "t", "detail": "m0 is 0.0",
                 "metric": "m0", "value": 0.0, "layer": 0}]
    evaluation = records.store_evaluation(db, audit_id, TEMPLATE, findings, "warn", "initial",
                                          statuses={r["check_id"]: "pass" for r in results})
    records.mark_finished_at(db, audit_id)
    seal = records.evaluation_seal(db, audit_id, evaluation)
    records.finish_audit(db, audit_id, verdict="warn", fingerprint=seal["fingerprint"], seal=seal)
    return audit_id


def _events(db):
    return [dict(zip(("id", "audit_id", "kind", "detail_json", "actor", "at", "prev_hash", "hash", "signature",
                      "signer"), r, strict=True))
            for r in db.execute("SELECT id, audit_id, kind, detail_json, actor, at, prev_hash, hash, signature, "
                                "signer FROM events ORDER BY id").fetchall()]


def test_events_are_chained_hashed_and_signed(identities, fresh_db):
    from auditor.identity import machine_signer, verify_signature

    make_audit(fresh_db)
    events = _events(fresh_db)
    assert [e["kind"] for e in events] == ["created", "completed"]
    assert events[0]["prev_hash"] == chain.GENESIS and events[1]["prev_hash"] == events[0]["hash"]
    machine = machine_signer()
    for e in events:
        assert e["hash"] == chain.event_hash(e["prev_hash"], e["audit_id"], e["kind"], json.loads(e["detail_json"]),
                                             e["actor"], e["at"], e["signer"])
        assert e["signer"] == machine.fingerprint
        assert verify_signature(machine.cert_pem, bytes.fromhex(e["hash"]), base64.b64decode(e["signature"]))
    completed = json.loads(events[1]["detail_json"])
    assert completed["signer_kind"] == "machine" and len(completed["fingerprint"]) == 64
    assert set(completed["parts"]["checks"]) == {f"check.{c}" for c in range(5)}
    assert fresh_db.execute("SELECT name, role FROM certificates").fetchall() == [(machine.name, "machine")]


def test_events_and_certificates_stay_append_only_and_cannot_fork(identities, fresh_db):
    make_audit(fresh_db)
    for sql in ("UPDATE events SET actor = 'x'", "DELETE FROM events", "UPDATE certificates SET role = 'approver'",
                "DELETE FROM certificates"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            fresh_db.execute(sql)
    first = _events(fresh_db)[0]
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):     # a second event linked to the same one
        fresh_db.execute("INSERT INTO events (kind, detail_json, at, prev_hash, hash) VALUES ('x', '{}', 'now', ?, ?)",
                         [first["prev_hash"], "00" * 32])


def test_an_untouched_audit_verifies_and_names_its_signer(identities, fresh_db):
    audit_id = make_audit(fresh_db)
    result = verify(fresh_db)
    assert result.ok and not result.problems, result.problems
    assert result.checked["events"] == 2 and result.checked["signed"] == 2 and result.checked["audits"] == 1
    (signer,) = result.checked["signers"]
    assert signer["role"] == "machine" and signer["trust"] == "machine" and signer["events"] == 2
    assert verify(fresh_db, audit_id).ok


def test_a_changed_figure_is_named_by_its_check(identities, fresh_db):
    audit_id = make_audit(fresh_db)
    fresh_db.execute("UPDATE metrics SET value = 0.5 WHERE check_id = 'check.3' AND name = 'm2' AND layer = 4")
    result = verify(fresh_db, audit_id)
    assert not result.ok
    assert [(m.key, m.params.get("check")) for m in result.problems] == [("verify.problem.check", "check.3")]


def test_a_status_edited_to_pass_is_noticed(identities, fresh_db):
    make_audit(fresh_db)
    fresh_db.execute("UPDATE check_statuses SET status = 'fail' WHERE check_id = 'check.1'")
    assert [m.key for m in verify(fresh_db).problems] == ["verify.problem.statuses"]


def test_an_owner_written_without_a_signed_assignment_is_noticed(identities, fresh_db):
    audit_id = make_audit(fresh_db)
    (finding_id,) = [r[0] for r in fresh_db.execute("SELECT id FROM findings").fetchall()]
    records.assign_finding(fresh_db, audit_id, finding_id, {"owner": "A. Owner"}, actor="x")
    assert verify(fresh_db).ok
    fresh_db.execute("UPDATE findings SET owner = 'Somebody Else'")
    assert [m.key for m in verify(fresh_db).problems] == ["verify.problem.assignment"]


def test_a_person_signs_and_a_revoked_person_is_refused(identities, fresh_db, reviewer):
    audit_id = make_audit(fresh_db)
    records.add_event(fresh_db, audit_id, "signed", {"role": "reviewer", "name": reviewer.name}, actor=reviewer.name,
                      signer=reviewer)
    records.add_event(fresh_db, None, "identity.revoked", {"fingerprint": reviewer.fingerprint})
    with pytest.raises(BadInput, match="revoked"):
        records.add_event(fresh_db, audit_id, "signed", {"role": "reviewer"}, actor=reviewer.name, signer=reviewer)
    result = verify(fresh_db)
    assert result.ok, result.problems           # the signature made before the revocation stays valid
    people = {s["name"]: s for s in result.checked["signers"]}
    assert people["R. Reviewer"]["role"] == "reviewer" and people["R. Reviewer"]["trust"] == "untrusted"
    assert [m.key for m in result.notes] == ["verify.problem.untrusted"]
    assert [m.key for m in verify(fresh_db, require_trust=True).problems] == ["verify.problem.untrusted"]
    records.add_event(fresh_db, None, "trust.added", {"cert_pem": reviewer.cert_pem})
    assert verify(fresh_db, require_trust=True).ok


def test_events_written_before_migration_4_are_chained_unsigned_and_never_verified(identities, tmp_path):
    from tests.unit.test_store import AUDIT, _schema_2_database

    path = tmp_path / "old.db"
    _schema_2_database(path)
    with sqlite3.connect(path) as conn:
        for kind in ("created", "completed"):
            conn.execute("INSERT INTO events (audit_id, at, actor, kind, detail_json) VALUES (?, ?, 'a', ?, '{}')",
                         [AUDIT, "2026-01-01T00:00:00+00:00", kind])
    db = open_db(path)
    events = _events(db)
    assert events[1]["prev_hash"] == events[0]["hash"] and {e["signature"] for e in events} == {None}
    result = verify(db)
    assert [(m.key, m.params["audit"]) for m in result.problems] == [("verify.problem.unsigned_audit", AUDIT)]
    assert result.checked["unsigned_before_signing"] == 2
    allowed = verify(db, allow_unsigned=True)
    assert allowed.ok and [m.key for m in allowed.notes] == ["verify.problem.unsigned_audit"]
    # signing starts at the next event; an unsigned event after it is a problem
    records.add_event(db, AUDIT, "signed", {"role": "reviewer"})
    assert verify(db, allow_unsigned=True).ok
    chain.use_default_signer(None)
    records.add_event(db, AUDIT, "note", {})
    assert [m.key for m in verify(db, allow_unsigned=True).problems] == ["verify.problem.unsigned"]


def test_verifying_500_figures_takes_well_under_a_second(identities, fresh_db):
    audit_id = make_audit(fresh_db, checks=5, names=10, layers=10)
    assert fresh_db.execute("SELECT count(*) FROM metrics").fetchone()[0] == 500
    began = time.perf_counter()
    assert verify(fresh_db, audit_id).ok
    assert time.perf_counter() - began < 1.0
