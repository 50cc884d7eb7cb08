"""The offline installer end to end on a small wheelhouse: build, verify, install with no network."""
from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
from pathlib import Path

from tests.installer.helpers import app_version, flip_byte, install, offline, run


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheelhouse_has_lock_sums_and_components(wheelhouse: Path):
    wheels = sorted((wheelhouse / "wheels").glob("*.whl"))
    assert {w.name.split("-")[0] for w in wheels} == {"transformer_auditor", "platformdirs", "pyyaml"}
    lock = (wheelhouse / "requirements.lock").read_text()
    for wheel in wheels:
        assert f"--hash=sha256:{_sha256(wheel)}" in lock
    assert f"transformer-auditor=={app_version()} " in lock

    sums = dict(reversed(line.split("  ", 1)) for line in (wheelhouse / "SHA256SUMS").read_text().splitlines())
    listed = {p.relative_to(wheelhouse).as_posix() for p in wheelhouse.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert set(sums) == listed
    assert all(_sha256(wheelhouse / name) == digest for name, digest in sums.items())
    if shutil.which("sha256sum"):   # the administrator's own check
        assert run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=wheelhouse).returncode == 0

    doc = json.loads((wheelhouse / "components.json").read_text())
    by_name = {c["name"].lower(): c for c in doc["components"]}
    assert by_name["transformer-auditor"]["license"] == "LicenseRef-Proprietary"
    assert by_name["transformer-auditor"]["role"] == "application"
    assert by_name["platformdirs"]["license_review"] == "permissive"
    assert all(len(c["sha256"]) == 64 and c["size"] > 0 for c in doc["components"] if c["type"] == "python-wheel")
    assert doc["total_size_bytes"] == sum(w.stat().st_size for w in wheels)
    assert not any(c["type"] == "licence-terms" for c in doc["components"])   # no PySide6 here

    manifest = json.loads((wheelhouse / "wheelhouse.json").read_text())
    assert manifest["app_version"] == app_version() and manifest["complete"] is False


def test_install_ran_offline_and_self_checked(installed):
    out = installed["result"].stdout
    assert "SHA256SUMS verified" in out
    assert f"self-check: auditor {app_version()}" in out
    prefix: Path = installed["prefix"]
    assert (prefix / "current").is_symlink() and (prefix / "current" / "bin" / "auditor").exists()


def test_installed_auditor_version_with_network_cut(installed):
    """`auditor --version` works offline and without torch: the CLI imports lazily."""
    prefix: Path = installed["prefix"]
    result, method = offline([str(prefix / "bin" / "auditor"), "--version"], installed["tmp"])
    assert result.returncode == 0, (method, result.stderr)
    assert result.stdout.strip() == f"auditor {app_version()}"
    no_torch = run([str(prefix / "current" / "bin" / "python"), "-c", "import torch"])
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr


def test_installed_auditor_version_under_socket_guard(installed):
    """The fallback for machines without unshare: the same check with every connection refused.

    The installed console script itself, as the launcher clears PYTHONPATH (which carries the guard).
    """
    prefix: Path = installed["prefix"]
    script = prefix / "current" / "bin" / "auditor"
    result, method = offline([str(script), "--version"], installed["tmp"], method="guard")
    assert method == "socket-guard"
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"auditor {app_version()}"


def test_the_network_cut_is_real(installed):
    """Both ways of cutting the network stop a connection to a port that is open on this machine."""
    python = str(installed["prefix"] / "current" / "bin" / "python")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        probe = [python, "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"]
        assert run(probe).returncode == 0
        for method in ("auto", "guard"):
            result, used = offline(probe, installed["tmp"], method=method)
            assert result.returncode != 0, f"{used} let a connection through"


def test_launchers_and_desktop_entry(installed):
    prefix: Path = installed["prefix"]
    launcher = (prefix / "bin" / "auditor").read_text()
    for variable in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "HF_DATASETS_OFFLINE=1"):
        assert f"export {variable}" in launcher
    assert f"exec '{prefix}/current/bin/auditor' \"$@\"" in launcher
    assert "unset PYTHONPATH PYTHONHOME" in launcher
    assert (prefix / "bin" / "auditor-gui").stat().st_mode & 0o111
    entry = installed["tmp"] / "applications" / "transformer-auditor.desktop"
    text = entry.read_text()
    assert f'Exec="{prefix}/bin/auditor-gui"' in text and "Type=Application" in text
    if shutil.which("desktop-file-validate"):
        assert run(["desktop-file-validate", str(entry)]).returncode == 0
    records = prefix / "current" / "share" / "transformer-auditor-install"
    assert {"requirements.lock", "components.json", "wheelhouse.json", "SHA256SUMS"} <= {p.name for p in
                                                                                         records.iterdir()}


def _one_clear_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_tampered_wheel_fails_verification(wheelhouse_copy: Path, tmp_path: Path):
    wheel = next((wheelhouse_copy / "wheels").glob("platformdirs-*.whl"))
    flip_byte(wheel)
    result = install(wheelhouse_copy, tmp_path / "prefix", tmp_path)
    line = _one_clear_line(result)
    assert line.startswith("install_offline: verification failed: ")
    assert f"wheels/{wheel.name} does not match its SHA-256 in SHA256SUMS" in line
    assert not (tmp_path / "prefix").exists()


def test_tampered_wheel_with_forged_sums_fails_in_pip(wheelhouse_copy: Path, tmp_path: Path):
    """Even with SHA256SUMS rewritten to match, pip's --require-hashes stops it (requirements.lock)."""
    wheel = next((wheelhouse_copy / "wheels").glob("pyyaml-*.whl"))
    old = _sha256(wheel)
    flip_byte(wheel)
    sums = wheelhouse_copy / "SHA256SUMS"
    sums.write_text(sums.read_text().replace(old, _sha256(wheel)))
    result = install(wheelhouse_copy, tmp_path / "prefix", tmp_path)
    line = _one_clear_line(result)
    assert f"verification failed: {wheel.name} does not match its SHA-256 in requirements.lock" in line
    assert not (tmp_path / "prefix").exists()


def test_unlisted_wheel_is_refused(wheelhouse_copy: Path, tmp_path: Path):
    (wheelhouse_copy / "wheels" / "extra-1.0-py3-none-any.whl").write_bytes(b"not listed")
    line = _one_clear_line(install(wheelhouse_copy, tmp_path / "prefix", tmp_path))
    assert "wheels/extra-1.0-py3-none-any.whl is not listed in SHA256SUMS" in line


def test_reinstall_is_idempotent_and_uninstall_keeps_the_database(wheelhouse: Path, tmp_path: Path):
    prefix = tmp_path / "prefix"
    assert install(wheelhouse, prefix, tmp_path).returncode == 0
    again = install(wheelhouse, prefix, tmp_path)
    assert again.returncode == 0 and "already installed" in again.stdout
    database = tmp_path / "data" / "audits.db"
    database.parent.mkdir()
    database.write_bytes(b"")
    result = run(["bash", str(prefix / "uninstall.sh")])
    assert result.returncode == 0, result.stderr
    assert not prefix.exists()
    assert not (tmp_path / "applications" / "transformer-auditor.desktop").exists()
    assert database.exists()


def test_wrong_python_is_refused(wheelhouse_copy: Path, tmp_path: Path):
    manifest = wheelhouse_copy / "wheelhouse.json"
    data = json.loads(manifest.read_text())
    data["python_version"] = "3.99"
    manifest.write_text(json.dumps(data, indent=2))
    line = _one_clear_line(install(wheelhouse_copy, tmp_path / "prefix", tmp_path))
    assert "this wheelhouse is for Python 3.99" in line
