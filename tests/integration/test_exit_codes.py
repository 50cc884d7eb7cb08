"""Exit codes that mean what the README says: a problem the user can fix is exit 2 with one line.

Read commands open the database read-only and never create one; an unwritable --out, a database
locked past the busy timeout and a database on read-only media are the user's to fix, not
"internal errors".
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.errors import BadInput
from tests.conftest import AUDITOR, run_cli
from tests.fixtures.stored import make_audit

MOUNT_RO = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'


def exit_2(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("auditor: "), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def copy_db(src: Path, dst: Path) -> Path:
    """A self-contained copy (no -wal beside it), through SQLite's backup API."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(src)) as a, contextlib.closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


def listing(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@functools.cache
def _can_mount_read_only() -> bool:
    if not shutil.which("unshare") or not sys.platform.startswith("linux"):
        return False
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    done = subprocess.run(["unshare", "-m" if os.geteuid() == 0 else "-rm", "sh", "-c", MOUNT_RO, str(probe), "true"],
                          capture_output=True)
    return done.returncode == 0


def run_read_only(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`auditor ARGS` with `folder` read-only: a read-only bind mount (read-only media) in a private mount
    namespace, or where that is not allowed and we are not root, the folder and its files chmod-ed read-only."""
    if _can_mount_read_only():
        flag = "-m" if os.geteuid() == 0 else "-rm"
        return subprocess.run(["unshare", flag, "sh", "-c", MOUNT_RO, str(folder), AUDITOR, *args],
                              capture_output=True, text=True, timeout=300)
    if os.geteuid() == 0:
        pytest.skip("root ignores file modes and no read-only mount is allowed here")
    files = list(folder.iterdir())
    try:
        for f in files:
            f.chmod(0o444)
        folder.chmod(0o555)
        return run_cli(*args)
    finally:
        folder.chmod(0o755)
        for f in files:
            f.chmod(0o644)


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict:
    """A database with one completed audit and a board report of it (recorded in its history)."""
    from reports.commands import build_report

    folder = tmp_path_factory.mktemp("stored")
    db = folder / "audits.db"
    audit_id = make_audit(db)
    pdf = build_report(audit_id, folder / "board.pdf", kind="board", db=str(db))
    return {"db": db, "id": audit_id, "pdf": pdf}


def test_read_commands_never_create_a_database(stored, tmp_path):
    typo = tmp_path / "not-there" / "audtis.db"
    a = stored["id"]
    for args in (("list",), ("show", a), ("compare", a, a), ("report", a, "--out", str(tmp_path / "r.pdf"))):
        exit_2(run_cli(*args, "--db", str(typo)), f"no audit database at {typo}")
    exit_2(run_cli("verify-report", str(stored["pdf"]), "--db", str(typo)), f"--db {typo}: no such database file")
    # commands that act on a stored audit write to the database, but never create one either
    for args in (("sign", a, "--role", "reviewer", "--name", "R. Reviewer"), ("assign", a, "1", "--owner", "T"),
                 ("reevaluate", a, "--template", "standard")):
        exit_2(run_cli(*args, "--db", str(typo)), f"no audit database at {typo}")
    assert not typo.parent.exists() and not (tmp_path / "r.pdf").exists()


def test_list_before_the_first_audit_says_so_and_creates_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AUDITOR_DB"}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    done = subprocess.run([AUDITOR, "list"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("no audits stored yet"), done.stderr
    assert not (tmp_path / "data").exists()


def test_out_in_an_unwritable_place_is_exit_2(stored, tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    out = tmp_path / "notes.txt" / "r.pdf"
    exit_2(run_cli("report", stored["id"], "--db", str(stored["db"]), "--out", str(out)),
           f"--out {out}: {tmp_path / 'notes.txt'} is a file, not a folder")
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    (shelf / "keep.txt").write_text("x")
    for target in (shelf / "r.pdf", shelf / "sub" / "r.pdf"):
        exit_2(run_read_only(shelf, "report", stored["id"], "--db", str(stored["db"]), "--out", str(target)),
               f"--out {target}")
    exit_2(run_read_only(shelf, "demo", "--out", str(shelf / "demo"), "--no-reports"), f"--out {shelf / 'demo'}")
    exit_2(run_cli("demo", "--out", str(tmp_path / "notes.txt" / "demo")), "cannot create the folder")
    assert sorted(p.name for p in shelf.iterdir()) == ["keep.txt"]


def test_a_database_locked_past_the_busy_timeout_is_exit_2(stored, tmp_path, monkeypatch):
    db = copy_db(stored["db"], tmp_path / "audits.db")
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys\n"
                               f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
                               "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()\n"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = dict(os.environ, AUDITOR_BUSY_TIMEOUT="0.5")
        began = time.monotonic()
        signed = subprocess.run([AUDITOR, "sign", stored["id"], "--role", "reviewer", "--name", "R. Viewer",
                                 "--db", str(db)], capture_output=True, text=True, env=env, timeout=300)
        exit_2(signed, f"the database {db} is locked by another process (waited 0.5 s)")
        assert time.monotonic() - began < 60
        # WAL: readers are not blocked by a writer, so a read command still answers
        listed = subprocess.run([AUDITOR, "list", "--db", str(db)], capture_output=True, text=True, env=env,
                                timeout=300)
        assert listed.returncode == 0 and stored["id"] in listed.stdout, listed.stderr
        monkeypatch.setenv("AUDITOR_BUSY_TIMEOUT", "0.2")
        from auditor.store import open_db, records

        handle = open_db(db)
        with pytest.raises(BadInput, match="is locked by another process"):
            records.add_event(handle, stored["id"], "note")
        handle.conn.close()
    finally:
        holder.stdin.close()
        holder.wait()
    assert run_cli("sign", stored["id"], "--role", "reviewer", "--name", "R. Viewer", "--db", str(db)).returncode == 0


def test_a_bad_busy_timeout_setting_is_one_line(stored):
    env = dict(os.environ, AUDITOR_BUSY_TIMEOUT="soon")
    exit_2(subprocess.run([AUDITOR, "list", "--db", str(stored["db"])], capture_output=True, text=True, env=env,
                          timeout=300), "AUDITOR_BUSY_TIMEOUT=soon")


def test_a_database_on_read_only_media_is_read_and_never_written(stored, tmp_path):
    from auditor import api

    media = tmp_path / "media"
    db = copy_db(stored["db"], media / "audits.db")
    shutil.copy(stored["pdf"], media / "board.pdf")
    dead = make_audit(db, complete=False)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:   # its process "died in a power cut"
        conn.execute("UPDATE leases SET boot_id = 'before-the-power-cut' WHERE audit_id = ?", [dead])
    copy_db(db, media / "audits.db.tmp").replace(db)               # no -wal or -shm left beside it
    before = listing(media)
    a, pdf = stored["id"], str(media / "board.pdf")

    listed = run_read_only(media, "list", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert f"{dead}   running" in listed.stdout            # nothing can be marked on read-only media
    for args in (("show", a), ("compare", a, a), ("verify-report", pdf)):
        done = run_read_only(media, *args, "--db", str(db))
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Result:    everything matches" in done.stdout
    exit_2(run_read_only(media, "sign", a, "--role", "reviewer", "--name", "R", "--db", str(db)),
           f"cannot write to the database {db}: it is read-only")
    exit_2(run_read_only(media, "report", a, "--db", str(db), "--out", str(tmp_path / "r.pdf")),
           f"cannot write to the database {db}: it is read-only")
    assert listing(media) == before and not (tmp_path / "r.pdf").exists()
    # writable again: the next read command marks the dead audit
    assert {r["audit_id"]: r["status"] for r in api.list_audits(str(db))}[dead] == "interrupted"


def _schema_1_database(path: Path) -> str:
    """A database as the previous version left it (migration 1 only), with an audit left `running`."""
    import sqlite_utils

    from auditor.store.migrations import MIGRATIONS

    db = sqlite_utils.Database(path)
    db["_migrations"].create({"id": int, "name": str, "applied_at": str}, pk="id")
    MIGRATIONS[0][2](db)
    db["_migrations"].insert({"id": 1, "name": "initial", "applied_at": "2026-01-01T00:00:00+00:00"})
    db["models"].insert({"id": 1, "sha256": "ab" * 32, "format": "onnx", "architecture": "x", "identity_json": "{}"})
    db["probe_sets"].insert({"id": 1, "key": "k", "spec": "builtin:text", "sha256": "cd" * 32, "count": 3,
                             "detail_json": "{}"})
    db["audits"].insert({"id": "20260101-000000-abcdef", "status": "running", "model_id": 1, "probe_set_id": 1,
                         "name": "old", "template_name": "quick", "started_at": "2026-01-01T00:00:00+00:00"})
    db.conn.close()
    return "20260101-000000-abcdef"


def test_migrations_run_only_when_needed(tmp_path):
    from auditor import api
    from auditor.store import open_db

    media = tmp_path / "media"
    media.mkdir()
    old = _schema_1_database(media / "audits.db")
    before = listing(media)
    listed = run_read_only(media, "list", "--db", str(media / "audits.db"))
    assert listed.returncode == 0 and f"{old}   running" in listed.stdout, listed.stderr
    assert listing(media) == before                     # read-only: an old schema is read as it is

    rows = api.list_audits(str(media / "audits.db"))   # writable: migrated, and the lease-less audit marked
    assert [(r["audit_id"], r["status"]) for r in rows] == [(old, "interrupted")]
    with contextlib.closing(sqlite3.connect(media / "audits.db")) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM _migrations ORDER BY id")] == [1, 2, 3, 4, 5, 6]
        size = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    stamp = (media / "audits.db").stat().st_mtime_ns
    open_db(media / "audits.db", read_only=True).conn.close()   # up to date, nothing to mark: nothing written
    assert (media / "audits.db").stat().st_mtime_ns == stamp
    with contextlib.closing(sqlite3.connect(media / "audits.db")) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == size
