"""Where identities live and how their files are written and checked: owner-only, never replaced.

The folder is $AUDITOR_IDENTITY_DIR when set (tests, a managed installation), else `identities`
in the user data folder. Rules checked before a private key is used (POSIX; Windows has no
mode bits, its per-user profile folder is the protection there):
- the folder is not writable by group or others (else someone could swap a certificate or key);
- a key file is neither readable nor writable by group or others, and is the user's own;
- a certificate is not writable by group or others.
"""
from __future__ import annotations

import os
import stat
import tempfile
import unicodedata
from pathlib import Path

from auditor.identity.errors import IdentityError

CHECKS_MODES = os.name == "posix"


def identity_dir() -> Path:
    """The identities folder (not created here)."""
    configured = os.environ.get("AUDITOR_IDENTITY_DIR")
    if configured:
        return Path(configured).expanduser()
    from auditor.offline import data_dir

    return data_dir() / "identities"


def ensure_dir() -> Path:
    """The identities folder, created owner-only when missing, and checked."""
    folder = identity_dir()
    if not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True)
            os.chmod(folder, 0o700)     # mkdir's mode is filtered by the umask; say it exactly
        except OSError as exc:
            raise IdentityError("identity.unreadable", path=str(folder), reason=exc.strerror or str(exc)) from None
    check_folder(folder)
    return folder


def check_folder(folder: Path) -> None:
    if not CHECKS_MODES or not folder.exists():
        return
    mode = folder.stat().st_mode
    if mode & 0o022:
        raise IdentityError("identity.folder_exposed", path=str(folder), mode=f"{stat.S_IMODE(mode):04o}")


def check_private_file(path: Path) -> None:
    """A key file: the user's own and closed to everyone else."""
    if not CHECKS_MODES:
        return
    info = path.stat()
    if info.st_uid != os.getuid():
        raise IdentityError("identity.not_owner", path=str(path))
    if info.st_mode & 0o077:
        raise IdentityError("identity.key_exposed", path=str(path), mode=f"{stat.S_IMODE(info.st_mode):04o}")


def check_public_file(path: Path) -> None:
    """A certificate: anyone may read it, nobody else may change it."""
    if CHECKS_MODES and path.stat().st_mode & 0o022:
        raise IdentityError("identity.key_exposed", path=str(path), mode=f"{stat.S_IMODE(path.stat().st_mode):04o}")


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise IdentityError("identity.unreadable", path=str(path),
                            reason=getattr(exc, "strerror", None) or str(exc)) from None


def write_new(path: Path, data: bytes) -> None:
    """Create `path` owner-only (0600) with `data`; FileExistsError when it is already there.

    Written to a private temporary file first and then linked into place, so a reader never sees a
    half-written key and two processes creating the same file at once leave exactly one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".new-", suffix=".pem")   # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)          # fails with FileExistsError when it exists: never replaces
        except FileExistsError:
            raise
        except OSError:                 # a file system without hard links: exclusive create instead
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            out = os.open(path, flags, 0o600)
            with os.fdopen(out, "wb") as handle:
                handle.write(data)
    finally:
        Path(tmp).unlink(missing_ok=True)


def slug(name: str) -> str:
    """The file name stem of an identity: letters and digits of any script, lower case, `-` between."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    parts, word = [], []
    for ch in folded:
        if ch.isalnum():
            word.append(ch)
        elif word:
            parts.append("".join(word))
            word = []
    if word:
        parts.append("".join(word))
    return "-".join(parts)
