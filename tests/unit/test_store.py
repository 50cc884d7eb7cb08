"""Storage: long-form metrics round-trip, migrations, the append-only log, the fingerprint."""
import json
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
    assert [r["id"] for r in fresh_db["_migrations"].rows] == [1, 2, 3, 4, 5, 6]
    assert migrate(fresh_db) == []
    assert {"models", "probe_sets", "audits", "check_results", "metrics", "evaluations", "findings",
            "events", "leases", "check_statuses"} <= set(fresh_db.table_names())


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


AUDIT = "20260101-000000-abcdef"


def _schema_2_database(path):
    """A database as the version before the read model left it (migrations 1 and 2): a completed audit of three
    checks (one measured with a warn and a pass rule, one skipped, one that raised) and its evaluation."""
    import sqlite_utils

    from auditor.store.migrations import MIGRATIONS

    db = sqlite_utils.Database(path)
    db["_migrations"].create({"id": int, "name": str, "applied_at": str}, pk="id")
    for number, name, step in MIGRATIONS[:2]:
        step(db)
        db["_migrations"].insert({"id": number, "name": name, "applied_at": "2026-01-01T00:00:00+00:00"})
    db["models"].insert({"id": 1, "sha256": "ab" * 32, "format": "onnx", "architecture": "x",
                         "identity_json": '{"sha256": "%s", "format": "onnx"}' % ("ab" * 32)})
    db["probe_sets"].insert({"id": 1, "key": "k", "spec": "builtin:text", "sha256": "cd" * 32, "count": 3,
                             "detail_json": '{"spec": "builtin:text", "count": 3}'})
    db["audits"].insert({"id": AUDIT, "status": "completed", "verdict": "warn", "model_id": 1, "probe_set_id": 1,
                         "name": "old", "template_name": "quick", "template_sha256": "ef" * 32,
                         "started_at": "2026-01-01T00:00:00+00:00", "meta_json": "{}", "environment_json": "{}"})
    for position, (check_id, outcome) in enumerate([("flow.representation", "ok"), ("gradients.flow", "skipped"),
                                                    ("attention.structure", "error")]):
        db["check_results"].insert({"audit_id": AUDIT, "check_id": check_id, "position": position,
                                    "outcome": outcome, "summary": f"{check_id} as stored", "evidence_json": "{}"})
    db["evaluations"].insert({"id": 1, "audit_id": AUDIT, "template_name": "quick", "template_sha256": "ef" * 32,
                              "verdict": "warn", "reason": "initial", "created_at": "2026-01-01T00:00:00+00:00"})
    for position, (check_id, severity) in enumerate([("flow.representation", "warn"), ("flow.representation", "pass"),
                                                     ("gradients.flow", "info"), ("audit", "pass")]):
        db["findings"].insert({"evaluation_id": 1, "audit_id": AUDIT, "position": position, "check_id": check_id,
                               "severity": severity, "title": "t", "detail": f"{severity} as stored",
                               "clauses_json": "[]", "condition_json": "{}"})
    db.conn.close()


def test_migration_3_stores_the_statuses_and_ratings_of_older_audits(tmp_path):
    from auditor import api
    from auditor.ratings import rate
    from auditor.store import queries

    path = tmp_path / "old.db"
    _schema_2_database(path)
    import sqlite_utils

    before = queries.stored_content(sqlite_utils.Database(path), AUDIT, 1)
    db = open_db(path)
    statuses = {r["check_id"]: r["status"] for r in db["check_statuses"].rows_where("evaluation_id = 1")}
    assert statuses == {"flow.representation": "warn", "gradients.flow": "skipped", "attention.structure": "error"}
    stored = json.loads(db["evaluations"].get(1)["ratings_json"])
    # the same rule as auditor.ratings (which `show` applied on every read before)
    live = rate([{"id": c, "status": s} for c, s in statuses.items()])
    assert [r["dimension"] for r in stored] == list(live)
    assert {r["dimension"]: (r["rating"], r["checks"]) for r in stored} == \
        {d: (r["rating"], r["checks"]) for d, r in live.items()}
    assert live["flow"]["rating"] == "warn" and live["transparency"]["rating"] == "warn"
    assert {r["sentences_json"] for r in db["check_results"].rows} == {None}
    assert {r["sentences_json"] for r in db["findings"].rows} == {None}
    # the fingerprint content of an audit stored before is unchanged, so its reports still verify
    assert queries.stored_content(db, AUDIT, 1) == before
    view = api.audit_view(AUDIT, str(path))
    check = view.check("flow.representation")
    assert check.sentences is None and check.summary_in("ja") == "flow.representation as stored"
    assert view.findings[0].detail_in("ja") == "warn as stored"


def test_a_database_read_only_before_migration_3_is_read_as_its_version_wrote_it(tmp_path):
    import sqlite_utils

    from auditor.store.read_model import audit_view

    path = tmp_path / "old.db"
    _schema_2_database(path)
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    view = audit_view(sqlite_utils.Database(conn), AUDIT)
    assert {c.id: str(c.status) for c in view.checks} == {
        "flow.representation": "warn", "gradients.flow": "skipped", "attention.structure": "error"}
    assert str(view.rating("flow").rating) == "warn" and view.rating("flow").checks == ("flow.representation",)
    assert "check_statuses" not in sqlite_utils.Database(conn).table_names()     # nothing was written


def test_open_db_runs_migrations_once_per_file(tmp_path, monkeypatch):
    from auditor.store import db as store_db

    calls = {"migrate": 0, "mounts": 0}
    migrate_, mounts_ = store_db.migrate, store_db._filesystem_type

    def counted_migrate(db):
        calls["migrate"] += 1
        return migrate_(db)

    def counted_mounts(path):
        calls["mounts"] += 1
        return mounts_(path)

    monkeypatch.setattr(store_db, "migrate", counted_migrate)
    monkeypatch.setattr(store_db, "_filesystem_type", counted_mounts)
    path = tmp_path / "a.db"
    for _ in range(3):
        open_db(path).conn.close()
    for _ in range(2):
        open_db(path, read_only=True).conn.close()
    assert calls == {"migrate": 1, "mounts": 1}
    other = tmp_path / "b.db"
    _schema_2_database(other)
    open_db(other, read_only=True).conn.close()            # an older file: migrated by the read's maintenance
    open_db(other, read_only=True).conn.close()
    open_db(other).conn.close()
    assert calls["migrate"] == 2
    # a file replaced at the same path is a new file: it is migrated again
    path.unlink()
    open_db(path).conn.close()
    assert calls["migrate"] == 3 and [r["id"] for r in open_db(path)["_migrations"].rows] == [1, 2, 3, 4, 5, 6]


def test_intervals_are_variants_of_their_metric_and_read_back_apart():
    """Bounds are rows (check, name, layer, head) with variant ci_low/ci_high (V:ci_low for a variant
    metric): the metrics read back keep their shape, the intervals come back shaped like them."""
    metrics = {"amp": [1.0, 0.5], "cos": 0.7, "rho": {"entropy": 0.9, "sink_share": 0.2}}
    intervals = {"amp": {"ci_low": [0.9, 0.4], "ci_high": [1.1, 0.6]}, "cos": {"ci_low": 0.6, "ci_high": 0.8},
                 "rho": {"entropy": {"ci_low": 0.8, "ci_high": 0.95}}}
    rows = metric_rows.to_rows("a", "c", metrics, intervals)
    assert {(r["name"], r["layer"], r["variant"]) for r in rows if r["name"] == "amp"} == {
        ("amp", 0, None), ("amp", 1, None), ("amp", 0, "ci_low"), ("amp", 1, "ci_low"),
        ("amp", 0, "ci_high"), ("amp", 1, "ci_high")}
    assert {r["variant"] for r in rows if r["name"] == "rho"} == {"entropy", "sink_share", "entropy:ci_low",
                                                                  "entropy:ci_high"}
    assert metric_rows.from_rows(rows) == {"c": metrics}
    assert metric_rows.intervals_from_rows(rows) == {"c": intervals}
    assert metric_rows.intervals_from_rows(metric_rows.to_rows("a", "c", metrics)) == {}
