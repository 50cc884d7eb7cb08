"""Opening the audit database: location, WAL, busy timeout, migrations."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from auditor.errors import BadInput
from auditor.store.migrations import latest_version, migrate

APP_NAME = "transformer-auditor"
# file systems on which SQLite's WAL mode is unsafe (it needs shared memory on a local disk)
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs", "fuse.sshfs", "9p", "afs", "davfs", "fuse.davfs2"}


def default_db_path() -> Path:
    """$AUDITOR_DB, else audits.db in the user's data directory."""
    env = os.environ.get("AUDITOR_DB")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "audits.db"


def _filesystem_type(path: Path) -> str | None:
    """The mount's file-system type from /proc/mounts (Linux); None where unknown."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, fstype = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and (target == parts[1] or target.startswith(parts[1].rstrip("/") + "/")) \
                and len(parts[1]) >= len(best):
            best, fstype = parts[1], parts[2]
    return fstype


def open_db(path: Path | str | None = None, *, memory: bool = False) -> sqlite_utils.Database:
    """The migrated database at `path` (default location when None); in memory for tests."""
    if memory:
        db = sqlite_utils.Database(memory=True)
    else:
        path = Path(path) if path is not None else default_db_path()
        if path.exists() and path.is_dir():
            raise BadInput(f"the database path {path} is a folder; give a file path such as {path / 'audits.db'}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create the database folder {path.parent}: {exc.strerror}") from None
        if _filesystem_type(path.parent) in _NETWORK_FS:
            raise BadInput(f"the database {path} is on a network share; SQLite's WAL mode needs a local disk, "
                           "so choose a local path with --db or AUDITOR_DB")
        if path.exists() and not _is_sqlite(path):
            raise BadInput(f"{path} is not an audit database (it is not a SQLite file)")
        try:
            conn = sqlite3.connect(str(path), timeout=30.0)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise BadInput(f"cannot open the database {path}: {exc}") from None
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    try:
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"the database {path} cannot be used: {exc}") from None
    version = max((r["id"] for r in db["_migrations"].rows), default=0)
    if version > latest_version():
        raise BadInput(f"the database {path} was written by a newer version of the auditor "
                       f"(schema {version} > {latest_version()}); upgrade the auditor")
    return db


def _is_sqlite(path: Path) -> bool:
    if path.stat().st_size == 0:
        return True
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"
