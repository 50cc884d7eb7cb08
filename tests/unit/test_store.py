"""Storage: long-form metrics round-trip, migrations, the append-only log, the fingerprint."""
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.errors import BadInput
from auditor.store import metrics as metric_rows
from auditor.store import open_db
from auditor.store.fingerprint import canonical_json, fingerprint_of
from auditor.store.migrations import migrate

numbers = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))
values = st.one_of(
    numbers,
    st.lists(numbers, min_size=1, max_size=8),
    st.lists(st.lists(numbers, min_size=2, max_size=2), min_size=1, max_size=5),
    st.dictionaries(st.sampled_from(["mask@0.05", "mask@0.10", "eps=0.01"]),
                    st.one_of(numbers, st.lists(numbers, min_size=1, max_size=4)), min_size=1),
)


@given(st.dictionaries(st.sampled_from(["a", "b", "update_ratio"]), values, min_size=1))
def test_metrics_round_trip_through_the_long_form(metrics):
    rows = metric_rows.to_rows("A1", "flow.x", metrics)
    assert metric_rows.from_rows(rows) == {"flow.x": metrics}


def test_long_form_rows_have_the_contract_columns():
    rows = metric_rows.to_rows("A1", "c", {"s": 1.0, "l": [1.0, 2.0], "h": [[1.0, 2.0]], "v": {"k": 3.0}})
    assert set(rows[0]) == {"audit_id", "check_id", "name", "layer", "head", "variant", "value"}
    assert {(r["name"], r["layer"], r["head"], r["variant"]) for r in rows} == {
        ("s", None, None, None), ("l", 0, None, None), ("l", 1, None, None), ("h", 0, 0, None),
        ("h", 0, 1, None), ("v", None, None, "k")}


def test_migrations_are_recorded_and_idempotent(fresh_db):
    assert [r["id"] for r in fresh_db["_migrations"].rows] == [1, 2]
    assert migrate(fresh_db) == []
    assert {"models", "probe_sets", "audits", "check_results", "metrics", "evaluations", "findings",
            "events", "leases"} <= set(fresh_db.table_names())


def test_events_are_append_only(fresh_db):
    from auditor.store.records import add_event

    add_event(fresh_db, None, "created")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        fresh_db.execute("UPDATE events SET kind = 'edited'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        fresh_db.execute("DELETE FROM events")


def test_file_database_uses_wal(tmp_path):
    db = open_db(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("hello")
    with pytest.raises(BadInput, match="not a SQLite file"):
        open_db(path)


def test_a_folder_is_refused_as_database(tmp_path):
    with pytest.raises(BadInput, match="is a folder"):
        open_db(tmp_path)


def test_fingerprint_is_canonical():
    assert canonical_json({"b": 1, "a": [1.5, None, "é"]}) == '{"a":[1.5,null,"é"],"b":1}'.encode()
    assert fingerprint_of({"a": 1, "b": 2}) == fingerprint_of({"b": 2, "a": 1})
    assert fingerprint_of({"a": 1.0}) != fingerprint_of({"a": 1.0000001})
    with pytest.raises(ValueError):
        canonical_json({"a": float("nan")})
