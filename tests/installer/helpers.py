"""Helpers for the offline installer tests: running commands with the network cut, tampering."""
from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

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


PYPI = "https://pypi.org/simple"
PROBE_TIMEOUT = 3.0
# pip's precedence for index-url: the environment, then the download command's section, then global
_INDEX_KEYS = (":env:.index-url", "download.index-url", "global.index-url")
_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


def index_url(env: Mapping[str, str] | None = None) -> str:
    """The index pip would download from, as pip's own configuration says (PyPI when none is set)."""
    try:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                timeout=30, env=dict(os.environ if env is None else env)).stdout
    except subprocess.TimeoutExpired:
        listed = ""
    found = dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)
    for key in _INDEX_KEYS:
        if key in found:
            return found[key].strip("'\"").split()[0]
    return PYPI


def _connects(host: str, port: int, timeout: float) -> bool:
    """A TCP connection within `timeout`, name lookup included (getaddrinfo ignores socket timeouts)."""
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 2)
    return outcome == [True]


def registry_problem(env: Mapping[str, str] | None = None) -> str | None:
    """None when pip's index answers a TCP connect (through the proxy when one is set), else the host."""
    env = os.environ if env is None else env
    url = urlsplit(index_url(env))
    if url.scheme == "file":
        return None if Path(url.path).is_dir() else url.path
    proxy = next((env[name] for name in _PROXY_VARIABLES if env.get(name)), None)
    if proxy and "://" not in proxy:
        proxy = f"http://{proxy}"
    target = urlsplit(proxy) if proxy else url
    port = target.port or (443 if target.scheme == "https" else 80)
    host = target.hostname or ""
    return None if host and _connects(host, port, PROBE_TIMEOUT) else f"{host}:{port}"


@functools.lru_cache(maxsize=1)
def registry_skip_reason() -> str | None:
    """Checked once per test session: why the tests that download wheels cannot run, or None."""
    problem = registry_problem()
    return None if problem is None else f"package registry unreachable: {problem}"


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
