"""Issue 16's attacks seen through a report: `verify-report --db` catches what `auditor verify` catches.

The database and the attacks are those of tests/integration/test_attacks.py (a real, signed audit of a
tiny BERT). The report is issued from the untouched database; each attack then changes a copy, and
checking the same PDF against the copy must fail (exit 1), while the untouched copy passes (exit 0).
"""
import json
import sqlite3
from datetime import datetime, timezone

import pytest

from tests.conftest import run_cli
from tests.integration.test_attacks import _copy, _events, _rows, _tamper, signed  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def issued(signed, tmp_path_factory):  # noqa: F811 (the imported fixture)
    out = tmp_path_factory.mktemp("report") / "full.pdf"
    done = run_cli("report", signed["audit_id"], "--kind", "full", "--out", str(out), "--db", str(signed["db"]))
    assert done.returncode == 0, done.stderr
    return out


def _check(pdf, db) -> tuple[int, str]:
    done = run_cli("verify-report", str(pdf), "--db", str(db))
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, done.stdout + done.stderr


def test_the_report_verifies_against_the_untouched_database(signed, issued, tmp_path):  # noqa: F811
    code, said = _check(issued, _copy(signed, tmp_path))
    assert code == 0, said


def test_a_forged_figure_fails_the_report_check(signed, issued, tmp_path):  # noqa: F811
    db = _copy(signed, tmp_path)
    (rowid,), = _rows(db, "SELECT rowid FROM metrics WHERE value IS NOT NULL ORDER BY rowid LIMIT 1 OFFSET 40")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE metrics SET value = value * 1.0001 + 1e-9 WHERE rowid = ?", [rowid])
    code, said = _check(issued, db)
    assert code == 1 and "differ" in said, said


def test_an_inserted_reported_event_for_an_edited_pdf_fails(signed, issued, tmp_path):  # noqa: F811
    """The old attack: a text-edited PDF plus a `reported` event with its hash, chained with the app's own hash."""
    import hashlib

    from auditor.store.chain import event_hash

    db = _copy(signed, tmp_path)
    edited = tmp_path / "edited.pdf"
    data = bytearray(issued.read_bytes())
    at = data.find(b"/Producer")
    data[at + 1:at + 2] = b"p"                    # one byte of the document changed
    edited.write_bytes(bytes(data))
    events = _events(db)
    real = next(e for e in events if e["kind"] == "reported")
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    detail = {**json.loads(real["detail_json"]), "sha256": hashlib.sha256(edited.read_bytes()).hexdigest()}
    digest = event_hash(events[-1]["hash"], signed["audit_id"], "reported", detail, real["actor"], when,
                        real["signer"])
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO events (audit_id, at, actor, kind, detail_json, prev_hash, hash, signature, signer) "
                     "VALUES (?, ?, ?, 'reported', ?, ?, ?, ?, ?)",
                     [signed["audit_id"], when, real["actor"], json.dumps(detail), events[-1]["hash"], digest,
                      real["signature"], real["signer"]])
    code, said = _check(edited, db)
    assert code == 1 and "signature" in said, said


def test_a_deleted_event_fails_the_report_check(signed, issued, tmp_path):  # noqa: F811
    db = _copy(signed, tmp_path)
    events = _events(db)
    gone = next(e for e in events if e["kind"] == "assigned")
    _tamper(db, ("DELETE FROM events WHERE id = ?", [gone["id"]]))
    code, said = _check(issued, db)
    assert code == 1, said
