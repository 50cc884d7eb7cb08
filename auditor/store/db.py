"""Opening the audit database: location, WAL, busy timeout, read-only opens, migrations, the interrupted sweep.

Migrations (and the network-share check that precedes them) run once per process per database
file: a file this process has brought to the current schema is remembered by its resolved path
and identity (device, inode), so later opens skip them. A read-only open whose file is current
and has no `running` audit to check needs no read-write connection at all.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from auditor.errors import BadInput
from auditor.store import lease
from auditor.store.migrations import latest_version, migrate, version_of

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


# (resolved path, device, inode) of files this process has migrated; a file replaced at the same path
# has another identity (and a current schema is checked on every open anyway)
_MIGRATED: set[tuple[str, int, int]] = set()


def _identity(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path.resolve()), stat.st_dev, stat.st_ino


BUSY_ENV = "AUDITOR_BUSY_TIMEOUT"
_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")


def busy_timeout() -> float:
    """Seconds to wait for a database another process holds locked: $AUDITOR_BUSY_TIMEOUT, else 30."""
    raw = os.environ.get(BUSY_ENV)
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 86400:
        raise BadInput(f"{BUSY_ENV}={raw}: give the number of seconds to wait for a locked database")
    return value


class _Connection(sqlite3.Connection):
    """A connection that reports a locked or read-only database as one clear line (exit 2), wherever it happens."""

    db_path = "the database"
    waited = 30.0

    def _plain(self, exc: sqlite3.OperationalError) -> BadInput | None:
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if name.startswith(_BUSY) or "database is locked" in text:
            return BadInput(f"the database {self.db_path} is locked by another process (waited {self.waited:g} s); "
                            "try again when that process has finished")
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return BadInput(f"cannot write to the database {self.db_path}: it is read-only (file permissions or "
                            "read-only media); copy it to a writable folder and pass that path with --db")
        return None

    def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        # sqlite_utils' atomic() says BEGIN (deferred): a transaction that reads before it writes then cannot
        # take the write lock once another process has written meanwhile (SQLITE_BUSY at once, no busy wait),
        # which happens whenever two processes write during an audit (the service's workers); IMMEDIATE
        # takes the lock up front and waits for it like any other write
        if args and isinstance(args[0], str) and args[0].strip().rstrip(";").upper() == "BEGIN":
            args = ("BEGIN IMMEDIATE", *args[1:])
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            plain = self._plain(exc)
            if plain is None:
                raise
            raise plain from None

    def executemany(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            plain = self._plain(exc)
            if plain is None:
                raise
            raise plain from None

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.OperationalError as exc:
            plain = self._plain(exc)
            if plain is None:
                raise
            raise plain from None

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return super().__exit__(*exc_info)
        except sqlite3.OperationalError as exc:
            plain = self._plain(exc)
            if plain is None:
                raise
            raise plain from None


def _connect(target: str, path: Path, *, uri: bool = False, timeout: float | None = None) -> _Connection:
    wait = busy_timeout() if timeout is None else timeout
    conn = sqlite3.connect(target, uri=uri, timeout=wait, factory=_Connection)
    conn.db_path, conn.waited = str(path), wait
    return conn


def open_db(path: Path | str | None = None, *, memory: bool = False,
            read_only: bool = False, must_exist: bool = False) -> sqlite_utils.Database:
    """The migrated database at `path` (default location when None); in memory for tests.

    `read_only` (the read commands): the file must exist, nothing is created and the connection
    cannot write. A dead process's `running` audits are still marked interrupted, through a short
    separate connection, where the file is writable. `must_exist` (commands on a stored audit: sign,
    assign, re-evaluate): writable, but a mistyped path is refused instead of creating a database.
    """
    if memory:
        db = sqlite_utils.Database(memory=True)
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db)
        return db
    path = Path(path) if path is not None else default_db_path()
    if path.exists() and path.is_dir():
        raise BadInput(f"the database path {path} is a folder; give a file path such as {path / 'audits.db'}")
    if read_only:
        return _open_read_only(path)
    if must_exist and not path.exists():
        raise BadInput(f"no audit database at {path}; check --db or AUDITOR_DB (only an audit creates one)")
    known = _identity(path) in _MIGRATED
    if not known:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create the database folder {path.parent}: {exc.strerror}") from None
        if _filesystem_type(path.parent) in _NETWORK_FS:
            raise BadInput(f"the database {path} is on a network share; SQLite's WAL mode needs a local disk, "
                           "so choose a local path with --db or AUDITOR_DB")
    if path.exists() and not known and not _is_sqlite(path):
        raise BadInput(f"{path} is not an audit database (it is not a SQLite file)")
    if path.exists():
        require_writable(path)
    try:
        conn = _connect(str(path), path)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise BadInput(f"cannot open the database {path}: {exc}") from None
    _settle(db, path)
    _migrate_once(db, path, known)
    lease.sweep(db)
    return db


def _migrate_once(db: sqlite_utils.Database, path: Path, known: bool) -> None:
    """Pending migrations, unless this process already brought this file to the current schema."""
    try:
        if not known or version_of(db) < latest_version():
            migrate(db)
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"the database {path} cannot be used: {exc}") from None
    _check_version(db, path)
    identity = _identity(path)
    if identity is not None:
        _MIGRATED.add(identity)


def require_writable(path: Path | str | None) -> Path:
    """The existing database at `path` (default when None), or BadInput when it is missing or cannot be written.

    For a command that reads and then records an event (`report`): it checks before doing the work.
    """
    path = Path(path) if path is not None else default_db_path()
    if not path.is_file():
        raise BadInput(f"no audit database at {path}; check --db or AUDITOR_DB")
    # SQLite's WAL mode writes -wal and -shm files beside the database, so the folder must be writable too
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise BadInput(f"cannot write to the database {path}: it is read-only (file permissions or read-only media); "
                       "copy it to a writable folder and pass that path with --db")
    return path


def _settle(db: sqlite_utils.Database, path: Path) -> None:
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={int(db.conn.waited * 1000)}")


def _check_version(db: sqlite_utils.Database, path: Path) -> None:
    version = version_of(db)
    if version > latest_version():
        raise BadInput(f"the database {path} was written by a newer version of the auditor "
                       f"(schema {version} > {latest_version()}); upgrade the auditor")


def _open_read_only(path: Path) -> sqlite_utils.Database:
    """`mode=ro`, or `immutable=1` where SQLite cannot even keep its shared-memory file (read-only media)."""
    if not path.exists():
        raise BadInput(f"no audit database at {path}; check --db or AUDITOR_DB (a read command never creates one)")
    if _identity(path) not in _MIGRATED and not _is_sqlite(path):
        raise BadInput(f"{path} is not an audit database (it is not a SQLite file)")
    db = _read_only_connection(path)
    # migrations and the interrupted sweep need a short read-write connection; only when there is work
    if version_of(db) < latest_version() or _has_running(db):
        _maintain(path)
    return db


def _has_running(db: sqlite_utils.Database) -> bool:
    return db.execute("SELECT 1 FROM audits WHERE status = 'running' LIMIT 1").fetchone() is not None


def _read_only_connection(path: Path) -> sqlite_utils.Database:
    uri = path.resolve().as_uri()
    error: sqlite3.Error | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        try:
            conn = _connect(f"{uri}?{query}", path, uri=True)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            error = exc
            continue
        db = sqlite_utils.Database(conn)
        _settle(db, path)
        try:
            version = version_of(db)
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"the database {path} cannot be used: {exc}") from None
        if version == 0:
            raise BadInput(f"{path} is not an audit database (it holds no audit tables)")
        _check_version(db, path)
        return db
    raise BadInput(f"cannot open the database {path}: {error}")


def _maintain(path: Path) -> None:
    """Pending migrations and the interrupted sweep, through a short read-write connection that cannot create.

    Skipped where the file or its folder cannot be written (read-only media), on network shares,
    for a file that is not yet an audit database, and when another process holds the lock: the
    read goes on, and the next open does the sweep.
    """
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return
    if _filesystem_type(path.parent) in _NETWORK_FS:
        return
    try:
        conn = _connect(f"{path.resolve().as_uri()}?mode=rw", path, uri=True, timeout=min(busy_timeout(), 2.0))
    except sqlite3.Error:
        return
    try:
        db = sqlite_utils.Database(conn)
        _settle(db, path)
        version = version_of(db)
        if version == 0 or version > latest_version():
            return
        _migrate_once(db, path, _identity(path) in _MIGRATED)
        lease.sweep(db)
    except (BadInput, sqlite3.Error):
        return
    finally:
        conn.close()


def _is_sqlite(path: Path) -> bool:
    """Whether the file starts with SQLite's header. Only for a file this process has not opened yet: closing
    any descriptor of the file drops every POSIX lock this process holds on it, so in a process where another
    thread has it open (the service) another process could take the file as unused and delete its WAL."""
    try:
        if path.stat().st_size == 0:
            return True
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError as exc:
        raise BadInput(f"cannot read the database {path}: {exc.strerror}") from None
