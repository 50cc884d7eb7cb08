"""Helpers for the offline installer tests: running commands with the network cut, tampering."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"
SMALL_DEPS = ("platformdirs", "pyyaml")
TIMEOUT = 600

# put in front of sys.path (PYTHONPATH) where unshare cannot cut the network: any connection raises
SOCKET_GUARD = '''
import socket

def _blocked(*args, **kwargs):
    raise OSError("socket guard: network access attempted in an offline test")

socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
'''


def app_version() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert match, "pyproject.toml has no version"
    return match[1]


def run(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def unshare_prefix() -> list[str]:
    """`unshare -n` (as root) or `unshare -r -n` (user namespaces), where this machine allows it."""
    if shutil.which("unshare"):
        for prefix in (["unshare", "-n"], ["unshare", "-r", "-n"]):
            if run([*prefix, "true"]).returncode == 0:
                return prefix
    return []


def guard_dir(tmp: Path) -> Path:
    folder = tmp / "socket-guard"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(SOCKET_GUARD, encoding="utf-8")
    return folder


def offline(cmd: Sequence[str], tmp: Path, *, method: str = "auto",
            env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, str]:
    """Run `cmd` with the network cut: unshare where available (method auto), else the socket guard."""
    env = dict(os.environ if env is None else env)
    prefix = unshare_prefix() if method == "auto" else []
    if prefix:
        return run([*prefix, *cmd], env=env), "unshare"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(guard_dir(tmp)), env.get("PYTHONPATH")]))
    return run(cmd, env=env), "socket-guard"


def install(wheelhouse: Path, prefix: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    """install_offline.sh from `wheelhouse`, itself run with the network cut."""
    cmd = ["bash", str(wheelhouse / "install_offline.sh"), "--prefix", str(prefix), "--python", sys.executable,
           "--skip-demo", "--desktop-dir", str(tmp / "applications"), *extra]
    result, _ = offline(cmd, tmp)
    return result


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
