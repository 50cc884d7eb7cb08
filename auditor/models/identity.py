"""Content hashes of model artifacts: the manifest hash (docs/ARCHITECTURE.md, Core contracts).

The manifest hash must be reproducible with standard tools, so that an auditor can check a
stored `model.sha256` on a machine without this product.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from auditor.errors import BadInput
from auditor.models.base import FileDigest

_CHUNK = 1 << 20  # 1 MiB: constant memory for multi-GB weight files


def sha256_file(path: Path) -> str:
    """Lower-case hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(path: Path) -> tuple[str, list[FileDigest]]:
    """The manifest hash of a model file or folder, and one FileDigest per file (sorted by path).

    A single file: its plain SHA-256, as `sha256sum FILE` prints it.
    A folder: the SHA-256 of the bytewise-sorted lines `<sha256>  <relative path>\\n` of every
    regular file below it (recursive, hidden files included), i.e. exactly::

        cd DIR && find . -type f -printf '%P\\0' | xargs -0 sha256sum | LC_ALL=C sort | sha256sum

    Symbolic links to files inside the folder are hashed as the content they point to, under
    their own path (the shell line above skips them, so it only matches folders without links).
    Links that resolve outside the folder, and broken links, raise BadInput. Links to folders
    inside the folder are not descended (their files are already hashed under their real
    paths, and following them could loop). Sockets, FIFOs and devices are skipped, as `find
    -type f` skips them. An empty folder hashes as the SHA-256 of no bytes.
    """
    path = Path(path)
    if not path.exists():
        raise BadInput(f"no such file or folder: {path}")
    return _folder(path) if path.is_dir() else _single(path)


def _single(path: Path) -> tuple[str, list[FileDigest]]:
    if not path.is_file():  # a FIFO or device would block or never end
        raise BadInput(f"{path} is not a regular file; pass the model file or its folder.")
    sha = _read_digest(path)
    return sha, [FileDigest(path=path.name, sha256=sha, size=path.stat().st_size)]


def _folder(root: Path) -> tuple[str, list[FileDigest]]:
    real_root = root.resolve()
    entries: list[tuple[bytes, FileDigest]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        # os.walk lists links to folders under dirnames; check where they point, never descend.
        for name in list(dirnames):
            if (here / name).is_symlink():
                _target_inside(here / name, root, real_root)
                dirnames.remove(name)
        for name in filenames:
            full = here / name
            if full.is_symlink():
                target = _target_inside(full, root, real_root)
                if target.is_dir():
                    continue
            else:
                target = full
            if not stat.S_ISREG(target.stat().st_mode):
                continue
            rel = full.relative_to(root).as_posix()
            digest = FileDigest(path=rel, sha256=_read_digest(target), size=target.stat().st_size)
            # Encode with the file system's own rules so undecodable names still hash and
            # sort exactly as `sha256sum | LC_ALL=C sort` sees their bytes.
            line = f"{digest.sha256}  ".encode("ascii") + os.fsencode(rel) + b"\n"
            entries.append((line, digest))
    manifest_hash = hashlib.sha256(b"".join(sorted(line for line, _ in entries))).hexdigest()
    files = [digest for _, digest in sorted(entries, key=lambda item: os.fsencode(item[1].path))]
    return manifest_hash, files


def _target_inside(link: Path, root: Path, real_root: Path) -> Path:
    """The resolved target of a link below root; BadInput if it leaves the folder or is broken."""
    rel = link.relative_to(root).as_posix()
    try:
        target = link.resolve()
    except (OSError, RuntimeError) as exc:  # a link loop (RuntimeError before Python 3.13)
        raise BadInput(f"{rel} in {root} is a symbolic link that cannot be resolved ({exc}); replace it with the real file.") from exc
    if target != real_root and real_root not in target.parents:
        raise BadInput(
            f"{rel} in {root} is a symbolic link that points outside the model folder; "
            "copy the file into the folder instead."
        )
    if not target.exists():
        raise BadInput(f"{rel} in {root} is a broken symbolic link; remove it or copy the real file there.")
    return target


def _read_digest(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:  # unreadable files are the user's to fix, not a crash
        raise BadInput(f"{path} cannot be read ({exc.strerror or exc}); check its permissions.") from exc
