"""The manifest hash is reproducible with coreutils (docs/ARCHITECTURE.md, Manifest hash)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.errors import BadInput
from auditor.models.base import FileDigest
from auditor.models.identity import manifest, sha256_file

SHELL = "cd \"$1\" && find {follow} . -type f -printf '%P\\0' | xargs -0 sha256sum | LC_ALL=C sort | sha256sum"
needs_coreutils = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "find", "xargs", "sha256sum", "sort")),
    reason="needs GNU coreutils and findutils",
)


def shell_manifest(folder: Path, follow_links: bool = False) -> str:
    script = SHELL.format(follow="-L" if follow_links else "")
    out = subprocess.run(["bash", "-c", script, "bash", str(folder)], check=True, capture_output=True)
    return out.stdout.split()[0].decode()


def make_folder(root: Path) -> Path:
    """Subfolders, a hidden file, spaces, non-ASCII and case-only differences with equal content,
    so the sort order of lines with the same hash is exercised too."""
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "config.json").write_text('{"model_type": "bert"}\n')
    (root / ".hidden").write_bytes(b"secret-ish\n")
    (root / "sub" / "weights part.bin").write_bytes(os.urandom(3000))
    (root / "sub" / "deeper" / "z.txt").write_bytes(b"same\n")
    for name in ("Same.txt", "same.txt", "sub-x", "\u00e9t\u00e9.txt", "sub/a.txt"):
        (root / name).write_bytes(b"same\n")
    (root / "empty").write_bytes(b"")
    return root


def test_file_hash_equals_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # crosses the 1 MiB chunk boundary
    path = tmp_path / "blob.onnx"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    sha, files = manifest(path)
    assert sha == hashlib.sha256(data).hexdigest()
    assert files == [FileDigest(path="blob.onnx", sha256=sha, size=len(data))]


@needs_coreutils
def test_single_file_matches_sha256sum(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"abc" * 1000)
    out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True)
    assert manifest(path)[0] == out.stdout.split()[0]


@needs_coreutils
def test_folder_manifest_equals_shell_pipeline(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "model")
    sha, files = manifest(folder)
    assert sha == shell_manifest(folder)
    paths = [f.path for f in files]
    assert paths == sorted(paths, key=lambda p: p.encode())
    assert {".hidden", "sub/deeper/z.txt", "sub/weights part.bin", "\u00e9t\u00e9.txt"} <= set(paths)
    assert all(f.sha256 == sha256_file(folder / f.path) and f.size == (folder / f.path).stat().st_size for f in files)


@needs_coreutils
def test_undecodable_file_name_hashes_like_the_shell(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"x")
    with open(os.path.join(os.fsencode(folder), b"\xff.bin"), "wb") as handle:
        handle.write(b"x")
    assert manifest(folder)[0] == shell_manifest(folder)


def test_stable_and_sensitive_to_one_byte(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "model")
    first, again = manifest(folder), manifest(folder)
    assert first == again
    target = folder / "sub" / "weights part.bin"
    data = bytearray(target.read_bytes())
    data[1234] ^= 0x01
    target.write_bytes(bytes(data))
    assert manifest(folder)[0] != first[0]


def test_empty_folder_hashes_no_bytes(tmp_path: Path) -> None:
    assert manifest(tmp_path) == (hashlib.sha256(b"").hexdigest(), [])


@pytest.mark.parametrize("kind", ["file", "folder", "absolute-into-parent"])
def test_symlink_leaving_the_folder_is_refused(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"s")
    if kind == "file":
        (folder / "weights.bin").symlink_to("../outside/secret.bin")
    elif kind == "folder":
        (folder / "extra").symlink_to("../outside", target_is_directory=True)
    else:
        (folder / "weights.bin").symlink_to(outside / "secret.bin")
    with pytest.raises(BadInput, match="points outside the model folder; copy the file into the folder"):
        manifest(folder)


@needs_coreutils
def test_symlink_inside_is_hashed_as_its_target_under_its_own_path(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "model")
    (folder / "alias.bin").symlink_to("sub/weights part.bin")
    (folder / "sub" / "loop").symlink_to("..", target_is_directory=True)  # inside, never descended
    sha, files = manifest(folder)
    by_path = {f.path: f for f in files}
    assert by_path["alias.bin"].sha256 == by_path["sub/weights part.bin"].sha256
    assert not any(p.startswith("sub/loop/") for p in by_path)
    (folder / "sub" / "loop").unlink()  # find -L would walk the loop; the rest is as `find -L` sees it
    assert sha == shell_manifest(folder, follow_links=True)


def test_broken_symlink_and_missing_path_are_refused(tmp_path: Path) -> None:
    (tmp_path / "gone.bin").symlink_to("nowhere.bin")
    with pytest.raises(BadInput, match="gone.bin .*broken symbolic link"):
        manifest(tmp_path)
    with pytest.raises(BadInput, match="no such file or folder"):
        manifest(tmp_path / "absent")
