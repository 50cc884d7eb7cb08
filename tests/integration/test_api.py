"""The public API: determinism, the fingerprint, cancellation, failure states."""
import numpy as np
import pytest

from auditor import api
from auditor.errors import Cancelled
from auditor.store import open_db, queries
from auditor.store.fingerprint import fingerprint_of
from tests.fixtures.templates import no_minimum


def _request(model, db, **kw):
    kw.setdefault("template", no_minimum())
    return api.AuditRequest(model=str(model), db=str(db), device="cpu", limit=30, **kw)


def test_same_inputs_give_the_same_figures_and_findings(tmp_path, tiny_bert):
    db = tmp_path / "a.db"
    first = api.show_audit(api.run_audit(_request(tiny_bert, db, seed=3)), str(db))
    second = api.show_audit(api.run_audit(_request(tiny_bert, db, seed=3)), str(db))
    assert first["audit_id"] != second["audit_id"]
    for a, b in zip(first["checks"], second["checks"], strict=True):
        assert a["id"] == b["id"] and a["metrics"].keys() == b["metrics"].keys()
        for name in a["metrics"]:
            np.testing.assert_allclose(_numbers(a["metrics"][name]), _numbers(b["metrics"][name]), rtol=1e-6)
    assert [f["detail"] for f in first["findings"]] == [f["detail"] for f in second["findings"]]
    assert first["probes"]["selection"] == {"limit": 30, "seed": 3, "source_count": 330}


def _numbers(value):
    """A metric as a flat float array; dict metrics (keyed by variant) flatten in key order."""
    if isinstance(value, dict):
        return np.concatenate([_numbers(value[k]).ravel() for k in sorted(value)]) if value else np.array([])
    return np.asarray(value, dtype=float).ravel()


def test_fingerprint_recomputes_from_rows_and_notices_a_change(tmp_path, tiny_bert):
    db_path = tmp_path / "f.db"
    audit_id = api.run_audit(_request(tiny_bert, db_path))
    db = open_db(db_path)
    shown = queries.audit_json(db, audit_id)
    content = queries.stored_content(db, audit_id, shown["evaluation_id"])
    assert fingerprint_of(content) == shown["fingerprint"]
    db.execute("UPDATE metrics SET value = value + 1e-6 WHERE audit_id = ? AND name = 'update_ratio' AND layer = 0",
               [audit_id])
    assert fingerprint_of(queries.stored_content(db, audit_id, shown["evaluation_id"])) != shown["fingerprint"]


def test_assigning_an_owner_does_not_change_the_fingerprint(tmp_path, tiny_bert):
    db_path = tmp_path / "o.db"
    audit_id = api.run_audit(_request(tiny_bert, db_path))
    db = open_db(db_path)
    shown = queries.audit_json(db, audit_id)
    db.execute("UPDATE findings SET owner = 'Head of Model Risk', due = '2027-01-31' WHERE audit_id = ?", [audit_id])
    assert fingerprint_of(queries.stored_content(db, audit_id, shown["evaluation_id"])) == shown["fingerprint"]


def test_cancelling_leaves_a_cancelled_audit_not_a_completed_one(tmp_path, tiny_bert):
    db_path = tmp_path / "c.db"
    calls = {"n": 0}

    def stop_after_two_batches():
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(Cancelled):
        api.run_audit(_request(tiny_bert, db_path, batch_size=4), should_stop=stop_after_two_batches)
    audits = api.list_audits(str(db_path))
    assert [a["status"] for a in audits] == ["cancelled"]
    events = [r["kind"] for r in open_db(db_path)["events"].rows]
    assert events == ["created", "cancelled"]


def test_events_record_creation_and_completion(tmp_path, tiny_bert):
    db_path = tmp_path / "e.db"
    audit_id = api.run_audit(_request(tiny_bert, db_path, meta={"preparer": "A. Officer"}))
    events = list(open_db(db_path)["events"].rows_where("audit_id = ?", [audit_id], order_by="id"))
    assert [e["kind"] for e in events] == ["created", "completed"]
    assert events[0]["actor"] == "A. Officer"
